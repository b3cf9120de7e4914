"""Notebooks: a failing or interrupted cell ends its activities failed or cancelled.

IPython runs each cell under its own ``try`` and never calls ``sys.excepthook``, and a kernel
lives on after a cell fails, so the engine's two safety nets (the except hook and ``atexit``)
never fire there. Without this, a bare ``for x in livebar.auto.tqdm(...)`` that raises in a cell
ends "Stopped at 25%", and a training callback's activity (which has no exception hook of its
own) stays open until the kernel dies.

``watch(shell)`` registers two callbacks on IPython's event manager:

- ``pre_run_cell`` notes when the cell started;
- ``post_run_cell`` looks at ``result.error_in_exec``. When the cell raised, every activity that
  the cell left "stopped" (its loop was left by the exception) and every activity the cell
  started and left open ends with that exception: ``KeyboardInterrupt`` (the kernel's
  interrupt) reads "Cancelled", anything else "Failed: ValueError: ...". Activities opened by
  earlier cells and still open are the user's to end and are left alone.

The engine installs this with its process hooks (``_hooks.install``), if IPython is already
imported and a shell is running (livebar never imports IPython itself), handing it its
registry of unsettled activities: this module imports nothing of the engine.
"""

from __future__ import annotations

import contextlib
import sys
import time
import weakref
from typing import Any, Callable, Protocol

__all__ = ["watch", "watch_running_shell"]


class LiveActivity(Protocol):
    """What the cell hook needs of an activity (``livebar._activity.LiveActivity``)."""

    @property
    def closed(self) -> bool: ...

    def close(self, exc: BaseException | None = None) -> None: ...

    def correct(self, exc: BaseException) -> bool: ...


Unsettled = Callable[[], "list[Any]"]
"""The engine's registry of activities whose ending is not settled (``_hooks._activities``)."""

_watching: weakref.WeakSet[Any] = weakref.WeakSet()


def watch_running_shell(unsettled: Unsettled) -> bool:
    """Watch the running IPython shell, if there is one; True if one is watched now."""
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    try:
        shell = ipython.get_ipython()
    except Exception:
        return False
    if shell is None:
        return False
    return watch(shell, unsettled)


def watch(shell: Any, unsettled: Unsettled) -> bool:
    """Register livebar's cell callbacks on ``shell`` (idempotent); False if it has no events.

    ``unsettled()`` lists the activities a failing cell may have to end (the engine's registry).
    """
    events = getattr(shell, "events", None)
    if events is None:
        return False
    if shell in _watching:
        return True
    cells = _CellWatch(unsettled)
    events.register("pre_run_cell", cells.pre_run_cell)
    events.register("post_run_cell", cells.post_run_cell)
    _watching.add(shell)
    return True


class _CellWatch:
    """Per shell: when the running cell started, and what to do when it failed."""

    def __init__(self, unsettled: Unsettled) -> None:
        self.unsettled = unsettled
        # Registered from inside the cell that opened the first activity: that cell counts.
        self.cell_started = float("-inf")

    def pre_run_cell(self, info: Any = None) -> None:
        self.cell_started = time.monotonic()

    def post_run_cell(self, result: Any = None) -> None:
        error: BaseException | None = getattr(result, "error_in_exec", None)
        if error is None:
            return
        with contextlib.suppress(Exception):  # never make a cell's failure worse
            _end_after_failed_cell(self.unsettled(), error, since=self.cell_started)


def _end_after_failed_cell(
    activities: list[LiveActivity], error: BaseException, *, since: float
) -> int:
    """End what a failing cell left of ``activities``; how many it ended.

    ``correct()`` is what ``sys.excepthook`` does for a loop left by an exception livebar
    could not see. Not ``_hooks.report_uncaught()``: that also records the exception for the
    exit, and a kernel outlives its failing cells.
    """
    ended = 0
    for activity in activities:
        if activity.correct(error):
            ended += 1
            continue
        started = getattr(activity, "started_at", None)
        if not activity.closed and started is not None and started >= since:
            activity.close(error)  # KeyboardInterrupt -> cancelled, anything else -> failed
            ended += 1
    return ended
