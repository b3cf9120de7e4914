"""livebar's own log lines, which never raise into livebar.

The ``livebar`` logger's records pass through the program's handlers and filters. One that
raises (a filter with a bug, a handler whose ``emit`` does not catch, ``logging.raiseExceptions``
with a handler that re-raises) must not kill the engine's thread or fail a job's ``close()``:
every line livebar logs goes through ``log``, which drops a line that cannot be logged and
counts it (``log.failures``).
"""

from __future__ import annotations

import logging
from typing import Any

__all__ = ["SafeLogger", "log"]


class SafeLogger:
    """``logging.Logger``'s methods, minus the exceptions the program's logging may raise."""

    def __init__(self, name: str) -> None:
        self.logger = logging.getLogger(name)
        self.failures = 0
        """Lines that could not be logged (the program's logging raised)."""

    def log(self, level: int, message: str, *args: object, **options: Any) -> None:
        try:
            self.logger.log(level, message, *args, **options)
        except Exception:  # the program's handler or filter failed: never ours to crash on
            self.failures += 1

    def debug(self, message: str, *args: object, **options: Any) -> None:
        self.log(logging.DEBUG, message, *args, **options)

    def info(self, message: str, *args: object, **options: Any) -> None:
        self.log(logging.INFO, message, *args, **options)

    def warning(self, message: str, *args: object, **options: Any) -> None:
        self.log(logging.WARNING, message, *args, **options)

    def error(self, message: str, *args: object, **options: Any) -> None:
        self.log(logging.ERROR, message, *args, **options)

    def exception(self, message: str, *args: object, **options: Any) -> None:
        self.log(logging.ERROR, message, *args, exc_info=True, **options)


log = SafeLogger("livebar")
"""The one ``livebar`` logger every part of livebar logs through."""
