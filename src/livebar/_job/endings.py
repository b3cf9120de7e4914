"""How a job ends, in words the phone shows: the vocabulary the activity and the engine share.

An ``Outcome`` is what happened (``done``, ``failed``, ``cancelled``, ``stopped``); an ``Ending``
is how the phone should show it (subtitle, colour, whether the bar fills, how long the card stays
on the lock screen). ``outcome_of(exc)`` is the one mapping from an exception to an outcome, and
``Terminated`` is what SIGTERM raises. Pure: no I/O, no clock.
"""

from __future__ import annotations

import enum
from typing import NamedTuple

__all__ = [
    "Ending",
    "Outcome",
    "Terminated",
    "describe_exception",
    "format_duration",
    "format_rate",
    "outcome_of",
    "truncate",
]

MAX_FAILURE_TEXT = 80
"""Longest failure subtitle: about two lines of a lock-screen card."""
MAX_TITLE = 64
"""Longest title livebar sends: more than a lock-screen card can show on one line is cut."""
MAX_SUBTITLE = 120
"""Longest subtitle livebar sends (about three lines of a card)."""


class Outcome(str, enum.Enum):
    """What happened to a job. A ``str`` enum: ``act.outcome == "done"`` works."""

    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"
    STOPPED = "stopped"

    def __str__(self) -> str:
        return self.value

    @property
    def verb(self) -> str:
        """``"Deploy failed"``, ``"Deploy was cancelled"``: the words of an outcome push."""
        return _VERBS[self]

    @property
    def is_trouble(self) -> bool:
        """Failures and cancellations stay on the lock screen longer."""
        return self in (Outcome.FAILED, Outcome.CANCELLED)


_VERBS = {
    Outcome.DONE: "finished",
    Outcome.FAILED: "failed",
    Outcome.CANCELLED: "was cancelled",
    Outcome.STOPPED: "stopped",
}


class Ending(NamedTuple):
    """How an activity ended, as the phone should show it.

    ``complete`` fills the bar; ``provisional`` marks an ending that a later, better-informed
    event may still replace (a bare loop left by an exception whose type is not known yet);
    ``at`` is when the job ended, on the engine's clock.
    """

    outcome: Outcome
    subtitle: str
    dismiss_minutes: int
    at: float
    color: str | None = None
    complete: bool = False
    provisional: bool = False


class Terminated(SystemExit):
    """Raised in the main thread on SIGTERM (when nobody else handles it), so that ``with``
    blocks unwind and say "Cancelled"; the exit status is 128 + the signal number."""


def outcome_of(exc: BaseException | None) -> Outcome:
    """How an exception that ends a job should read on the phone (``None``: it finished)."""
    if exc is None:
        return Outcome.DONE
    if isinstance(exc, GeneratorExit):  # the consumer of a generator stopped early
        return Outcome.STOPPED
    if isinstance(exc, (KeyboardInterrupt, Terminated)) or _is_cancellation(exc):
        return Outcome.CANCELLED
    if isinstance(exc, SystemExit):  # sys.exit(): the job chose its own status
        return Outcome.DONE if exc.code in (None, 0) else Outcome.FAILED
    return Outcome.FAILED


def _is_cancellation(exc: BaseException) -> bool:
    name = type(exc).__name__
    module = type(exc).__module__
    return (name == "CancelledError" and module.startswith(("asyncio", "concurrent"))) or (
        name == "Cancelled" and module.startswith("trio")
    )


def describe_exception(exc: BaseException) -> str:
    """``ValueError: bad row`` (or just the type when there is no message).

    ``SystemExit`` reads as ``exit code 3``: the phone shows what happened, not a class name.
    """
    if isinstance(exc, SystemExit):
        if isinstance(exc, Terminated):
            return "cancelled"
        return exc.code if isinstance(exc.code, str) else f"exit code {exc.code}"
    try:
        text = str(exc).strip()
    except Exception:  # a broken __str__ belongs to user code; never let it break an ending
        text = ""
    message = text.splitlines()[0] if text else ""
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def format_duration(seconds: float) -> str:
    """``4m 12s``, ``2h 03m``, ``0.4s``."""
    if not seconds >= 0:  # NaN or negative: a clock that went backwards
        seconds = 0.0
    if seconds < 10:
        return f"{seconds:.1f}s"
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


def format_rate(per_second: float) -> str:
    """``12.3/s``, ``4.5k/s``, ``2.0/min`` for slow jobs."""
    if per_second < 0.1:
        return f"{per_second * 60:.1f}/min"
    for unit in ("", "k", "M", "G"):
        if per_second < 1000:
            return f"{per_second:.1f}{unit}/s"
        per_second /= 1000
    return f"{per_second:.1f}T/s"


def truncate(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, with an ellipsis when cut."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "\u2026"
