"""Worker functions for the cross-process tests (importable by spawned children)."""

from __future__ import annotations

import os
import time

from livebar._integrations.handle import ProgressHandle


def count_items(handle: ProgressHandle, n: int) -> int:
    """Advance ``handle`` once per item, as a worker doing ``n`` small items would."""
    for _ in range(n):
        handle.advance()
    time.sleep(0.05)  # long enough that the pool spreads the tasks over its workers
    return os.getpid()


def count_in_chunks(args: tuple[ProgressHandle, int]) -> int:
    """``Pool.map`` flavour: one argument tuple; advances by 2 at a time."""
    handle, n = args
    for _ in range(n // 2):
        handle.advance(2)
    return n


def count_then_die(handle: ProgressHandle, n: int) -> None:
    """Send ``n`` counts, then die without any cleanup (as a killed worker would)."""
    for _ in range(n):
        handle.advance()
    handle.flush()
    os._exit(9)


def slow_count(handle: ProgressHandle, n: int, pause: float) -> int:
    """Advance slowly, so counts go out one by one."""
    for _ in range(n):
        handle.advance()
        time.sleep(pause)
    return n
