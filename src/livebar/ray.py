"""Ray: ``results = livebar.ray.track(refs, title=...)`` on the driver.

Waits for the object refs with ``ray.wait`` (a batch of whatever finished every half second,
so a million refs cost a few thousand calls, not a million), advancing one Live Activity in
the driver process, and returns ``ray.get`` of every ref, in input order. The workers never
talk to ActivitySmith. Endings: every ref ready -> done; a task raised -> failed with the
task's own exception ("ZeroDivisionError: division by zero", unwrapped from Ray's
``RayTaskError``), and the ``RayTaskError`` propagates unchanged; Ctrl-C -> cancelled.

For progress from inside long tasks (one task, many items), pass ``act.handle()`` to the
tasks instead: it pickles, and works from Ray workers on the same machine.
"""

from __future__ import annotations

import collections
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import ray

from livebar._activity import live_activity

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from livebar._job.options import IntegrationOptions

__all__ = ["DEFAULT_WAIT", "track"]

DEFAULT_WAIT = 0.5
"""Seconds one ``ray.wait`` may take before the finished refs are counted."""


def track(
    object_refs: Iterable[Any],
    *,
    title: str | None = None,
    wait: float = DEFAULT_WAIT,
    **options: Unpack[IntegrationOptions],
) -> list[Any]:
    """Block until every ref is ready, counting them on a Live Activity; their values in order.

    Keywords go to ``livebar.live_activity``.
    """
    refs = list(object_refs)
    activity = live_activity(title or "Ray", total=len(refs), **options)
    activity.start()
    values: dict[Any, Any] = {}
    copies = collections.Counter(refs)  # a ref given twice counts twice, as in the result
    pending = list(copies)
    try:
        while pending:
            ready, pending = ray.wait(pending, num_returns=len(pending), timeout=wait)
            if ready:
                for ref, value in zip(ready, ray.get(ready)):  # a failed task raises here
                    values[ref] = value
                activity.advance(sum(copies[ref] for ref in ready))
    except BaseException as exc:
        activity.close(_task_cause(exc))
        raise
    activity.close()
    return [values[ref] for ref in refs]


def _task_cause(exc: BaseException) -> BaseException:
    """The task's own exception inside Ray's ``RayTaskError`` (which names Ray's wrapper)."""
    if isinstance(exc, ray.exceptions.RayTaskError):
        cause = getattr(exc, "cause", None)
        if isinstance(cause, BaseException):
            return cause
    return exc
