"""How a job ends: the one decision, and the words the phone shows for it. Pure.

An ``Outcome`` is what happened (``done``, ``failed``, ``cancelled``, ``stopped``); an ``Ending``
is how the phone should show it (subtitle, colour, whether the bar fills, how long the card stays
on the lock screen). ``decide(Facts)`` is the one place an outcome is decided: every path that
ends a job (``with``, the decorator, bare loops, ``livebar.tqdm``, the training callbacks, the
exit and signal hooks) only gathers the facts. ``outcome_of(exc)`` is the one mapping from an
exception to an outcome, and ``Terminated`` is what SIGTERM raises. No I/O, no clock.
"""

from __future__ import annotations

import enum
from typing import Callable, NamedTuple, Protocol

from livebar._defaults import DEFAULT_SIGTERM_GRACE
from livebar._job.loops import LoopExit

__all__ = [
    "Decision",
    "Ending",
    "Facts",
    "Outcome",
    "Terminated",
    "decide",
    "ending_for",
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


class Looks(Protocol):
    """What an ending reads of the job's progress (``progress.ProgressView``)."""

    @property
    def stage(self) -> str | None: ...

    @property
    def segmented(self) -> bool: ...

    @property
    def fraction(self) -> float | None: ...

    @property
    def reached_the_end(self) -> bool: ...

    @property
    def stopped_early(self) -> bool: ...

    @property
    def complete(self) -> bool | None: ...


class Facts(NamedTuple):
    """Everything known about how a job ended; ``decide`` turns it into an outcome."""

    exception: BaseException | None = None
    """What left the job (its own exception, or the one that escaped the program at exit)."""
    asked: Outcome | None = None
    """The job said how it ended (``close(outcome=...)``, ``cancel()``, a framework's hook)."""
    left: LoopExit | None = None
    """A bare loop owning the activity was left before its end, and how."""
    stopped_early: bool = False
    """A tracked loop inside the job was left before its end."""
    signal_at: float | None = None
    """When SIGTERM arrived while the job ran (the engine's clock), if it did."""
    ended_at: float = 0.0
    complete: bool | None = None
    """Whether the work the job declared is all done (None: it declared none)."""
    at_exit: bool = False
    """The interpreter is exiting with the job still open."""


class Decision(NamedTuple):
    outcome: Outcome
    provisional: bool = False
    """A later, better-informed event may still correct it (a bare loop left by an exception
    whose type is not known yet: ``sys.excepthook`` tells)."""


def decide(facts: Facts) -> Decision:
    """How a job ended, from what is known. The rows of ``docs/design.md``'s "Endings":

    * the job said so (``outcome=``): that; an exception: ``outcome_of`` it;
    * a bare loop left by ``break``: stopped; left by an exception livebar cannot see yet:
      failed, provisionally (stopped when it cannot tell at all);
    * still open at exit: done when its work is done (or it declared none), else stopped;
    * otherwise done; a tracked loop inside it left early makes done stopped;
    * and a SIGTERM that arrived while it ran and that it did not survive makes done or stopped
      cancelled: it stopped with its work not done, or (declaring no work) within
      ``DEFAULT_SIGTERM_GRACE`` of the signal. A job whose own handler absorbed the signal and
      that went on to finish is not cancelled, nor is any job that started after the signal.
    """
    signalled = facts.signal_at is not None and (
        facts.complete is False
        or (facts.complete is None and facts.ended_at - facts.signal_at <= DEFAULT_SIGTERM_GRACE)
    )
    provisional = False
    if facts.asked is not None:
        outcome = facts.asked
    elif facts.exception is not None:
        outcome = outcome_of(facts.exception)
    elif facts.left is LoopExit.DELIBERATE:
        outcome = Outcome.STOPPED
    elif facts.left is not None:
        if facts.signal_at is not None:  # SIGTERM is unwinding the loop: nothing to wait for
            return Decision(Outcome.CANCELLED)
        outcome = Outcome.FAILED if facts.left is LoopExit.EXCEPTION else Outcome.STOPPED
        provisional = True
    elif facts.at_exit:
        outcome = Outcome.STOPPED if facts.complete is False else Outcome.DONE
    else:
        outcome = Outcome.DONE
    if outcome is Outcome.DONE and facts.stopped_early:
        outcome = Outcome.STOPPED
    if outcome in (Outcome.DONE, Outcome.STOPPED) and signalled:
        return Decision(Outcome.CANCELLED)
    return Decision(outcome, provisional)


def ending_of(
    facts: Facts,
    view: Looks,
    *,
    started_at: float | None,
    ended_at: float,
    signal_at: float | None,
    dismiss_minutes: Callable[[Outcome], int],
    subtitle: str | None = None,
) -> Ending:
    """The whole ending of a job that looked like ``view`` when it ended at ``ended_at``: the
    ``facts`` completed by what the view and the clock say, decided, and worded (``subtitle``:
    the job's own words instead). ``dismiss_minutes`` gives the minutes for an outcome."""
    facts = facts._replace(
        stopped_early=facts.stopped_early or view.stopped_early,
        signal_at=signal_at,
        ended_at=ended_at,
        complete=view.complete,
    )
    decision = decide(facts)
    took = ended_at - (started_at if started_at is not None else ended_at)
    ending = ending_for(
        decision,
        facts.exception,
        view,
        dismiss_minutes=dismiss_minutes(decision.outcome),
        took=took,
        at=ended_at,
    )
    if subtitle:
        ending = ending._replace(subtitle=truncate(subtitle, MAX_SUBTITLE))
    return ending


def ending_for(
    decision: Decision,
    exc: BaseException | None,
    view: Looks,
    *,
    dismiss_minutes: int,
    took: float,
    at: float,
) -> Ending:
    """How the phone shows ``decision`` for a job that looked like ``view`` when it ended
    ``took`` seconds after it started: "Done in 4m 12s", "Failed at upload: OSError: …"."""
    outcome, provisional = decision
    duration = format_duration(took)
    where = view.stage
    fraction = view.fraction
    if outcome is Outcome.DONE:
        return Ending(
            outcome, f"Done in {duration}", dismiss_minutes, at, complete=view.reached_the_end
        )
    if outcome is Outcome.FAILED:
        text = "Failed"
        if where:
            text += f" at {where}"
        if exc is not None:
            text += f": {describe_exception(exc)}"
        elif fraction is not None and not view.segmented:
            text += f" at {fraction * 100:.0f}% after {duration}"
        text = truncate(text, MAX_FAILURE_TEXT)
        return Ending(outcome, text, dismiss_minutes, at, color="red", provisional=provisional)
    if outcome is Outcome.CANCELLED:
        text = "Cancelled" + (f" at {where}" if where else "") + f" after {duration}"
        return Ending(outcome, text, dismiss_minutes, at, color="gray", provisional=provisional)
    at_text = f" at {fraction * 100:.0f}%" if fraction is not None else ""
    text = f"Stopped{at_text} after {duration}"
    return Ending(outcome, text, dismiss_minutes, at, provisional=provisional)


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
