"""Dask: ``progress()`` for the distributed scheduler, ``LivebarCallback`` for the local ones.

With ``distributed`` (a ``Client``), dask's local callbacks never fire (tqdm's callback shows
nothing there: tqdm #1230). ``livebar.dask.progress(futures_or_collection, title=...)`` watches
futures from the client side instead::

    futures = client.map(process, files)
    livebar.dask.progress(futures, title="Process files")     # returns at once
    results = client.gather(futures)

    frame = client.persist(frame)                              # collections: persist first
    livebar.dask.progress(frame, title="Load")

It returns the ``LiveActivity`` at once (``.wait()`` if you like): one activity in the client
process, advanced by each future's done callback. The first task error ends it failed with the
task's exception, decoded as ``distributed`` does it (``Future.exception()``: "ZeroDivisionError:
division by zero", not a pickled blob); a cancelled future ends it cancelled; else done.

The local schedulers (threads, processes, synchronous)::

    with livebar.dask.LivebarCallback(title="Compute"):
        total.compute()

count finished tasks against the graph's size, and, unlike ``tqdm.dask.TqdmCallback``, honour
the scheduler's ``errored`` flag: a failing task ends the activity failed with its exception
(Ctrl-C: cancelled), never "done".
"""

from __future__ import annotations

import sys
import threading
from typing import TYPE_CHECKING, Any

import dask.callbacks

from livebar._activity import LiveActivity, checked_options, live_activity

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from livebar._job.options import IntegrationOptions

__all__ = ["LivebarCallback", "progress"]


def progress(
    *futures_or_collections: Any,
    title: str | None = None,
    **options: Unpack[IntegrationOptions],
) -> LiveActivity:
    """Mirror ``distributed`` futures (or persisted collections) to one Live Activity.

    Non-blocking: returns the started activity. Keywords go to ``livebar.live_activity``.
    Raises ``ValueError`` when there is nothing to watch (a collection that was not persisted).
    """
    from distributed import futures_of

    futures = list({future.key: future for future in futures_of(futures_or_collections)}.values())
    if not futures:
        raise ValueError(
            "progress() needs distributed futures or persisted collections "
            "(x = client.persist(x) first)"
        )
    activity = live_activity(title or "Dask", total=len(futures), **options)
    activity.start()
    watch = _FutureWatch(activity, len(futures))
    for future in futures:
        future.add_done_callback(watch.done)
    return activity


class _FutureWatch:
    """Counts finished futures (done callbacks run on the client's callback thread)."""

    def __init__(self, activity: LiveActivity, total: int) -> None:
        self.activity = activity
        self.remaining = total
        self.lock = threading.Lock()

    def done(self, future: Any) -> None:
        activity = self.activity
        try:
            with self.lock:
                self.remaining -= 1
                last = self.remaining == 0
            status = getattr(future, "status", "finished")
            if status == "error":
                activity.close(_task_exception(future), outcome="failed")
                return
            if status == "cancelled":
                activity.close(outcome="cancelled")
                return
            activity.advance()
            if last:
                activity.close()
        except Exception as exc:  # never break distributed's callback thread
            activity.close(exc, outcome="failed")


def _task_exception(future: Any) -> BaseException | None:
    try:
        error = future.exception(timeout=5)
    except Exception:
        return None
    return error if isinstance(error, BaseException) else None


class LivebarCallback(dask.callbacks.Callback):  # type: ignore[misc]
    """A local-scheduler callback: one Live Activity per ``compute()`` in the ``with`` block.

    Keywords go to ``livebar.live_activity`` (``title`` defaults to "Dask").
    """

    def __init__(self, title: str | None = None, **options: Unpack[IntegrationOptions]) -> None:
        super().__init__()
        self.title = title
        self.options = checked_options(options)
        self.activity: LiveActivity | None = None

    def _start_state(self, dsk: Any, state: Any) -> None:
        total = sum(len(state[part]) for part in ("ready", "waiting", "running", "finished"))
        activity = live_activity(self.title or "Dask", total=total or None, **self.options)
        activity.start()
        self.activity = activity

    def _posttask(self, key: Any, result: Any, dsk: Any, state: Any, worker_id: Any) -> None:
        activity = self.activity
        if activity is not None:
            activity.advance()

    def _finish(self, dsk: Any, state: Any, errored: bool) -> None:
        activity, self.activity = self.activity, None
        if activity is None:
            return
        if not errored:
            activity.close()
            return
        # Called from the scheduler's ``finally``: the exception on its way out is the cause.
        error = sys.exc_info()[1]
        if error is not None:
            activity.close(error)  # KeyboardInterrupt -> cancelled, a task's error -> failed
        else:
            activity.close(outcome="failed")
