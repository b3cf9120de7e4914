"""The one at-fork registry: what each part of livebar does around ``os.fork()``.

A forked child inherits the parent's memory but none of its threads: the engine's thread, the
handles' flushers and listeners do not exist there, and a lock held by one of them at the fork
stays held forever. Each part that keeps such state registers here once, at import; the registry
calls them in order (``before`` in reverse, as ``os.register_at_fork`` does).
"""

from __future__ import annotations

import os
from typing import Callable

__all__ = ["at_fork"]

_before: list[Callable[[], object]] = []
_after_in_parent: list[Callable[[], object]] = []
_after_in_child: list[Callable[[], object]] = []


def at_fork(
    *,
    before: Callable[[], object] | None = None,
    after_in_parent: Callable[[], object] | None = None,
    after_in_child: Callable[[], object] | None = None,
) -> None:
    """Call ``before`` in the parent just before a fork, and the others just after it."""
    if before is not None:
        _before.insert(0, before)
    if after_in_parent is not None:
        _after_in_parent.append(after_in_parent)
    if after_in_child is not None:
        _after_in_child.append(after_in_child)


def _run(calls: list[Callable[[], object]]) -> None:
    for call in list(calls):
        call()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(
        before=lambda: _run(_before),
        after_in_parent=lambda: _run(_after_in_parent),
        after_in_child=lambda: _run(_after_in_child),
    )
