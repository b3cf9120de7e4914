"""Task functions for the pool tests (importable by spawned children)."""

from __future__ import annotations

import time


def square(x: int) -> int:
    """x squared."""
    return x * x


def add(x: int, y: int) -> int:
    """x + y."""
    return x + y


def explode_on_seven(x: int) -> int:
    """Fail for 7, as one bad record in a batch would."""
    if x == 7:
        raise LookupError(f"no record {x}")
    return x


def slowly(x: int) -> int:
    """Take a while, so the job can be interrupted."""
    time.sleep(0.2)
    return x
