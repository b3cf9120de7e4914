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

The engine installs this when it installs its process hooks, if IPython is already imported
and a shell is running (livebar never imports IPython itself). All engine internals are reached
through ``_end_after_failed_cell`` alone.
"""

from __future__ import annotations

import contextlib
import sys
import time
import weakref
from typing import Any, Optional

__all__ = ["watch", "watch_running_shell"]

_watching: weakref.WeakSet[Any] = weakref.WeakSet()


def watch_running_shell() -> bool:
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
    return watch(shell)


def watch(shell: Any) -> bool:
    """Register livebar's cell callbacks on ``shell`` (idempotent); False if it has no events."""
    events = getattr(shell, "events", None)
    if events is None:
        return False
    if shell in _watching:
        return True
    cells = _CellWatch()
    events.register("pre_run_cell", cells.pre_run_cell)
    events.register("post_run_cell", cells.post_run_cell)
    _watching.add(shell)
    return True


class _CellWatch:
    """Per shell: when the running cell started, and what to do when it failed."""

    def __init__(self) -> None:
        # Registered from inside the cell that opened the first activity: that cell counts.
        self.cell_started = float("-inf")

    def pre_run_cell(self, info: Any = None) -> None:
        self.cell_started = time.monotonic()

    def post_run_cell(self, result: Any = None) -> None:
        error: Optional[BaseException] = getattr(result, "error_in_exec", None)
        if error is None:
            return
        with contextlib.suppress(Exception):  # never make a cell's failure worse
            _end_after_failed_cell(error, since=self.cell_started)


def _end_after_failed_cell(error: BaseException, *, since: float) -> int:
    """ENGINE SEAM (the lead re-points this onto the new engine). End what a failing cell left.

    Today: the engine's set of unsettled activities is ``_dispatch._open``; an activity whose
    ending is not yet handed to the dispatcher (``_handed_over``) can still be re-closed, as
    ``Dispatcher.uncaught`` does for ``sys.excepthook``. Returns how many activities it ended.
    """
    from livebar import _dispatch

    with _dispatch._open_lock:
        candidates = list(_dispatch._open.values())
    ended = 0
    for activity in candidates:
        if activity._handed_over:
            continue
        left_stopped = activity.outcome == "stopped"
        started_here = activity.started_at is not None and activity.started_at >= since
        if left_stopped or (activity.outcome is None and started_here):
            activity.outcome = None
            activity.close(error)  # KeyboardInterrupt -> cancelled, anything else -> failed
            ended += 1
    return ended
