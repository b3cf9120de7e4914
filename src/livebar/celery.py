"""Celery: a card for the tasks you choose, and one card over a group or a chord.

A task opts in with livebar's base class and ``live=True`` (the account shows at most 4 Live
Activities at once, so a card per task is never the default)::

    import livebar.celery

    @app.task(bind=True, base=livebar.celery.Task, live=True)
    def resize(self, paths):
        for path in self.track(paths):          # or self.progress(i, total)
            ...

``live`` may also be a dict of ``live_activity`` options (``{"title": "Resize", "channels":
["ops"]}``); without it ``self.track`` / ``self.progress`` cost nothing and send nothing, so a
task's code is the same either way. The card starts when the task does (Celery's
``task_prerun``) and ends by Celery's own signals: ``task_success`` done, ``task_failure``
failed with the task's exception, ``task_retry`` "Retry in 10s: …" (each attempt is its own
card), ``task_revoked`` "Revoked". A revoked task whose pool process the worker terminated
cannot end its own card: the worker's main process ends it, on the same stream key
(``celery-<task id>-<attempt>``).

In the caller, one card over many tasks::

    result = group(resize.s(batch) for batch in batches)()
    values = livebar.celery.track(result, title="Resize")     # blocks, like result.get()

``track`` takes a ``GroupResult`` or a chord's result (the header's tasks, then the callback),
counts finished tasks as the result backend reports them (one look every ``poll`` seconds),
and returns what ``get()`` would. A failed task ends the card failed with its exception and
raises it (with the worker's traceback, as ``get()`` does); a revoked one ends it cancelled.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

import celery
from celery import signals

import livebar

if TYPE_CHECKING:
    from livebar._activity import LiveActivity

__all__ = ["DEFAULT_POLL", "Task", "track"]

T = TypeVar("T")

DEFAULT_POLL = 0.5
"""Seconds between two looks at a group's results in ``track``."""
END_WAIT = 2.0
"""Seconds a pool process waits for a task's end to reach the phone: a pool process may be
replaced (``max_tasks_per_child``) without running exit hooks."""

_cards: dict[str, LiveActivity] = {}
"""The open card of each task id running in this process."""
_lock = threading.Lock()


class Task(celery.Task):  # type: ignore[misc]
    """A task base: ``self.progress(i, total)`` and ``self.track(items)``, mirrored when the
    task says ``live=True`` (or a dict of ``live_activity`` options)."""

    live: bool | Mapping[str, Any] = False

    @property
    def card(self) -> LiveActivity | None:
        """This run's Live Activity (None when the task is not live, or called directly)."""
        request_id = getattr(self.request, "id", None)
        return None if request_id is None else _cards.get(request_id)

    def progress(self, done: float, total: float | None = None) -> None:
        """``done`` of ``total`` items (or steps) so far."""
        card = self.card
        if card is not None:
            card.update(done, total=total)

    def track(self, iterable: Iterable[T], total: float | None = None) -> Iterator[T]:
        """Iterate ``iterable``, counting items on the card (as ``LiveActivity.track``)."""
        card = self.card
        if card is None:
            return iter(iterable)
        return card.track(iterable, total=total)


def stream_key(task_id: str, attempt: int) -> str:
    """One stream per attempt: a retry's card is a new card, never a reopened one."""
    return f"celery-{task_id}-{attempt}"


def _options(task: Task) -> dict[str, Any]:
    options = dict(task.live) if isinstance(task.live, Mapping) else {}
    options.setdefault("title", task.name.rsplit(".", 1)[-1])
    return options


def _is_live(task: object) -> bool:
    return isinstance(task, Task) and bool(task.live)


def _card_for(task: Task, request: Any) -> LiveActivity:
    """A new card for this attempt of the task, on its stream key."""
    options = _options(task)
    title = options.pop("title")
    key = stream_key(str(request.id), int(getattr(request, "retries", 0) or 0))
    return livebar.live_activity(title, stream_key=key, **options)


# -- Celery's signals ---------------------------------------------------------------------------
# Connected when this module is imported (the worker imports the task modules that use it).
# Each handler returns at once for tasks that are not live, and never raises into Celery.


def _on_prerun(sender: Any = None, task_id: str | None = None, task: Any = None, **_: Any) -> None:
    if not _is_live(task) or task_id is None:
        return
    try:
        card = _card_for(task, task.request)
        card.start()
    except livebar.LivebarError:
        return  # bad live= options: the task runs without its card (logged by livebar)
    with _lock:
        _cards[task_id] = card


def _on_success(sender: Any = None, **_: Any) -> None:
    if _is_live(sender):
        _end(sender.request.id, None)


def _on_failure(
    sender: Any = None,
    task_id: str | None = None,
    exception: BaseException | None = None,
    **_: Any,
) -> None:
    if _is_live(sender) and task_id is not None:
        _end(task_id, exception or RuntimeError("task failed"), task=sender)


def _on_retry(sender: Any = None, request: Any = None, reason: Any = None, **_: Any) -> None:
    if _is_live(sender) and request is not None:
        _end(request.id, None, outcome="stopped", subtitle=str(reason) or "Retrying")


def _on_revoked(
    sender: Any = None, request: Any = None, terminated: bool = False, **_: Any
) -> None:
    if not _is_live(sender) or request is None:
        return
    text = "Revoked (terminated)" if terminated else "Revoked"
    if not terminated and request.id not in _cards:
        return  # revoked before it ran: it never had a card
    _end(request.id, None, outcome="cancelled", subtitle=text, task=sender, request=request)


def _on_postrun(
    sender: Any = None, task_id: str | None = None, state: Any = None, **_: Any
) -> None:
    if not _is_live(sender) or task_id is None or task_id not in _cards:
        return
    if state is None and _pool_process_terminating():
        # revoke(terminate=True): billiard turned SIGTERM into SystemExit, and the worker's main
        # process ends the card (task_revoked), the one that knows it was a revocation.
        with _lock:
            _cards.pop(task_id, None)
        return
    if state is None:  # left by a BaseException: the task did not finish
        _end(task_id, None, outcome="cancelled")
    else:
        _end(task_id, None, outcome="stopped", subtitle=f"Ended: {state}")  # Ignore, Reject


def _pool_process_terminating() -> bool:
    """Whether this pool process is exiting on a terminate signal (billiard's handler ran)."""
    try:
        from billiard import common
    except ImportError:
        return False
    fired = getattr(common, "terminate_handler_fired", None)
    if fired is not None:
        return bool(fired())
    return bool(getattr(common, "_should_have_exited", [False])[0])  # billiard before 4.3


def _end(
    task_id: str,
    exc: BaseException | None,
    *,
    outcome: str | None = None,
    subtitle: str | None = None,
    task: Task | None = None,
    request: Any = None,
) -> None:
    """End the task's card: here if this process runs it, else (the worker's main process, its
    pool process gone) on the same stream key."""
    with _lock:
        card = _cards.pop(task_id, None)
    try:
        if card is None:
            if task is None:
                return
            card = _card_for(task, request if request is not None else _Request(task_id))
        if outcome is None:
            card.close(exc)
        else:
            card.close(exc, outcome=outcome, subtitle=subtitle)
        card.wait(END_WAIT)
    except Exception:  # never raise into Celery's signal dispatch
        return


signals.task_prerun.connect(_on_prerun, weak=False)
signals.task_success.connect(_on_success, weak=False)
signals.task_failure.connect(_on_failure, weak=False)
signals.task_retry.connect(_on_retry, weak=False)
signals.task_revoked.connect(_on_revoked, weak=False)
signals.task_postrun.connect(_on_postrun, weak=False)


class _Request:
    """The little of a request ``_card_for`` reads, for a task whose request we do not hold."""

    def __init__(self, task_id: str) -> None:
        self.id = task_id
        self.retries = 0


# -- the caller's card ----------------------------------------------------------------------------


def track(
    result: Any,
    *,
    title: str | None = None,
    poll: float = DEFAULT_POLL,
    **options: Any,
) -> Any:
    """Block until ``result`` (a ``GroupResult`` or a chord's ``AsyncResult``) is ready,
    counting finished tasks on one card; returns ``result.get()``.

    Keywords go to ``livebar.live_activity``.
    """
    if isinstance(poll, bool) or not isinstance(poll, (int, float)) or not poll > 0:
        raise livebar.ValidationError("poll", "exclusiveMinimum", "must be a number > 0")
    tasks = _tasks_of(result)
    options.setdefault("show_count", True)
    card = livebar.live_activity(title or "Celery", total=len(tasks), **options)
    card.start()
    try:
        while True:
            finished = 0
            for task in tasks:
                if not task.ready():
                    continue
                finished += 1
                if task.failed() or task.state == "REVOKED":
                    _fail(card, task, tasks)
            card.update(finished)
            if finished == len(tasks):
                break
            time.sleep(poll)
        values = result.get(disable_sync_subtasks=False)
    except BaseException as exc:
        card.close(exc)
        raise
    card.close()
    return values


def _tasks_of(result: Any) -> list[Any]:
    """A group's tasks; for a chord, its header's tasks and then the callback."""
    children = getattr(result, "results", None)
    if children is not None:  # a GroupResult
        return list(children)
    parent = getattr(result, "parent", None)
    header = getattr(parent, "results", None)
    if header is None:
        raise livebar.ValidationError(
            "result", "type", "must be a GroupResult or a chord's AsyncResult"
        )
    return [*header, result]


def _fail(card: LiveActivity, task: Any, tasks: list[Any]) -> None:
    """End the card by a finished task that failed or was revoked, and raise its exception."""
    if task.state == "REVOKED":
        revoked = sum(t.state == "REVOKED" for t in tasks)
        card.close(outcome="cancelled", subtitle=f"Cancelled: {revoked} of {len(tasks)} revoked")
    else:
        error = task.result
        card.close(error if isinstance(error, BaseException) else None, outcome="failed")
    task.maybe_throw()  # the task's own exception, with the worker's traceback
    raise RuntimeError(f"task {task.id} ended {task.state}")  # maybe_throw always raises
