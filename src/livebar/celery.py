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

import time
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

import celery
from celery import signals

import livebar
from livebar._integrations.keyed import KeyedCards

if TYPE_CHECKING:
    from livebar._activity import LiveActivity

__all__ = ["DEFAULT_POLL", "Task", "track"]

T = TypeVar("T")

DEFAULT_POLL = 0.5
"""Seconds between two looks at a group's results in ``track``."""
_cards = KeyedCards()
"""The open card of each task attempt running in this process, by stream key."""


class Task(celery.Task):  # type: ignore[misc]
    """A task base: ``self.progress(i, total)`` and ``self.track(items)``, mirrored when the
    task says ``live=True`` (or a dict of ``live_activity`` options)."""

    live: bool | Mapping[str, Any] = False

    @property
    def card(self) -> LiveActivity | None:
        """This run's Live Activity (None when the task is not live, or called directly)."""
        request = self.request
        return None if request.id is None else _cards.get(_key(request))

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


def _key(request: Any) -> str:
    return stream_key(str(request.id), int(getattr(request, "retries", 0) or 0))


def _options(task: Task) -> dict[str, Any]:
    options = dict(task.live) if isinstance(task.live, Mapping) else {}
    options.setdefault("title", task.name.rsplit(".", 1)[-1])
    return options


def _is_live(task: object) -> bool:
    return isinstance(task, Task) and bool(task.live)


def _end(
    task: Task,
    request: Any,
    exc: BaseException | None = None,
    *,
    outcome: str | None = None,
    subtitle: str | None = None,
) -> None:
    options = _options(task)
    title = options.pop("title")
    _cards.end(_key(request), title, exc, outcome=outcome, subtitle=subtitle, **options)


# -- Celery's signals ---------------------------------------------------------------------------
# Connected when this module is imported (the worker imports the task modules that use it).
# Each handler returns at once for tasks that are not live, and never raises into Celery.


def _on_prerun(sender: Any = None, task: Any = None, **_: Any) -> None:
    if _is_live(task) and task.request.id is not None:
        options = _options(task)
        _cards.open(_key(task.request), options.pop("title"), **options)


def _on_success(sender: Any = None, **_: Any) -> None:
    if _is_live(sender):
        _end(sender, sender.request)


def _on_failure(
    sender: Any = None,
    task_id: str | None = None,
    exception: BaseException | None = None,
    **_: Any,
) -> None:
    """In the pool process (the task raised), or in the worker's main process (its pool
    process was lost, a time limit): there a fresh card on the first attempt's key ends it."""
    if not _is_live(sender) or task_id is None:
        return
    request = sender.request if sender.request.id == task_id else _Request(task_id)
    _end(sender, request, exception, outcome="failed")


def _on_retry(sender: Any = None, request: Any = None, reason: Any = None, **_: Any) -> None:
    if _is_live(sender) and request is not None:
        _end(sender, request, outcome="stopped", subtitle=str(reason) or "Retrying")


def _on_revoked(
    sender: Any = None, request: Any = None, terminated: bool = False, **_: Any
) -> None:
    """In the worker's main process. A task revoked before it ran never had a card; one
    revoked while running keeps running unless terminated, and then its pool process leaves
    the card to this (see ``_on_postrun``)."""
    if _is_live(sender) and request is not None and terminated:
        _end(sender, request, outcome="cancelled", subtitle="Revoked (terminated)")


def _on_postrun(sender: Any = None, task: Any = None, state: Any = None, **_: Any) -> None:
    if not _is_live(task) or _cards.get(_key(task.request)) is None:
        return  # ended by its success, failure or retry
    if state is None and _pool_process_terminating():
        # revoke(terminate=True): billiard turned SIGTERM into SystemExit, and the worker's main
        # process ends the card (task_revoked), the one that knows it was a revocation.
        _cards.forget(_key(task.request))
    elif state is None:  # left by a BaseException: the task did not finish
        _end(task, task.request, outcome="cancelled")
    else:
        _end(task, task.request, outcome="stopped", subtitle=f"Ended: {state}")  # Ignore, Reject


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


signals.task_prerun.connect(_on_prerun, weak=False)
signals.task_success.connect(_on_success, weak=False)
signals.task_failure.connect(_on_failure, weak=False)
signals.task_retry.connect(_on_retry, weak=False)
signals.task_revoked.connect(_on_revoked, weak=False)
signals.task_postrun.connect(_on_postrun, weak=False)


class _Request:
    """What ``_key`` reads of a request, for a task whose request this process does not hold."""

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
