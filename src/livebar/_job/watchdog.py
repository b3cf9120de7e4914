"""The watchdog: whether a job has stopped moving (stalled) or run past its expected time
(overrun), what its card says then, and when that could next change. Pure.

``decide(WatchFacts) -> Reading`` is the one place these are decided. It takes the engine's
``now`` and the moment the engine first saw the job's current position (``moved_at``); it reads
no clock and no activity. The engine (``_engine/jobs.ActivityJob.look``) keeps ``moved_at``,
renders the reading (``view.render``), sleeps until ``Reading.look_at`` and queues the pushes
``notify_on`` asks for; pacing keeps updates in reserve for the notices and their recovery
(``reserve``, ``_engine/freshness``). See "The watchdog" in ``docs/design.md``.
"""

from __future__ import annotations

import bisect
import enum
import math
from typing import NamedTuple

from livebar import _defaults

__all__ = [
    "Reading",
    "Watch",
    "WatchFacts",
    "decide",
    "format_span",
    "reserve",
]


class Watch(str, enum.Enum):
    """What the watchdog shows on a running job's card. A ``str`` enum, so ``notify_on``
    takes ``"stalled"`` and ``"overrun"`` beside the outcomes."""

    NORMAL = "normal"
    OVERRUN = "overrun"
    STALLED = "stalled"

    def __str__(self) -> str:
        return self.value

    @property
    def severity(self) -> int:
        """How bad it is: a move up is a notice, a move down a recovery (pacing weighs the
        two differently: ``freshness``). A stall outranks an overrun: it is the one to act on,
        and the one that recovers."""
        return _SEVERITY[self]

    @property
    def verb(self) -> str:
        """``"Upload stalled"``: the words of a push."""
        return _VERBS[self]


_SEVERITY = {Watch.NORMAL: 0, Watch.OVERRUN: 1, Watch.STALLED: 2}
_VERBS = {
    Watch.NORMAL: "is moving again",
    Watch.OVERRUN: "is running long",
    Watch.STALLED: "stalled",
}
COLORS = {Watch.STALLED: "orange", Watch.OVERRUN: "yellow"}
"""The card's colour in each watched state (the API's colours; red is a failure's)."""


class WatchFacts(NamedTuple):
    """What the watchdog reads: times on the engine's clock, seconds."""

    now: float
    started_at: float
    moved_at: float
    """When the engine first saw the job's current position (its start, if it never moved)."""
    stall_after: float | None = None
    expected: float | None = None
    fraction: float | None = None
    where: str | None = None
    """What the card says besides (the running stage, the job's subtitle)."""


class Reading(NamedTuple):
    """The watchdog's answer for one look."""

    state: Watch
    """What the card shows (a stall outranks an overrun)."""
    stalled: bool
    overrun: bool
    text: str | None
    """The card's subtitle in that state (None: the job's own)."""
    look_at: float
    """The engine's next look for the watchdog's sake (``inf``: none): a threshold, or, while
    stalled, soon (a job that moves again is only seen when the engine looks)."""
    step: int = 0
    """How far along ``LADDER`` the stall (or the overrun) has gone: the phone's words are
    brought up to date when it climbs a rung ("for 10m" does not stay for an hour), and only
    then (a minute's change of words is not worth an update of its own)."""

    @property
    def color(self) -> str | None:
        return COLORS.get(self.state)


NOT_WATCHED = Reading(Watch.NORMAL, False, False, None, math.inf)

LADDER = (
    60.0,
    120.0,
    300.0,
    600.0,
    900.0,
    1200.0,
    1800.0,
    2700.0,
    3600.0,
    5400.0,
    7200.0,
    10800.0,
    14400.0,
    21600.0,
    28800.0,
    43200.0,
    86400.0,
)
"""The durations at which a stall's or an overrun's words on the phone are brought up to date:
about twice as often as the figure doubles, a handful of updates in a day."""


def decide(
    facts: WatchFacts,
    *,
    recheck: float = _defaults.DEFAULT_LONGEST_NAP,
    precision: float = _defaults.DEFAULT_WATCH_PRECISION,
) -> Reading:
    """The watch state at ``facts.now``, its text, and when the engine should look again.

    A job is stalled once its position has not changed for ``stall_after`` seconds; it is
    overrun once ``expected`` seconds have passed since its start. While it is not stalled the
    engine looks at it at least every ``precision x stall_after`` (so when it last moved is
    known that closely) and at the threshold itself; while stalled, every ``recheck`` seconds,
    so its recovery is seen that soon.
    """
    now, stall_after, expected = facts.now, facts.stall_after, facts.expected
    if stall_after is None and expected is None:
        return NOT_WATCHED
    look_at = math.inf
    still = now - facts.moved_at
    stalled = stall_after is not None and still >= stall_after
    if stall_after is not None:
        if stalled:
            look_at = now + recheck
        else:
            look_at = min(facts.moved_at + stall_after, now + max(stall_after * precision, recheck))
    overrun = False
    if expected is not None:
        due = facts.started_at + expected
        overrun = now >= due
        if not overrun:
            look_at = min(look_at, due)
    if stalled:
        text = _stall_text(still, facts.fraction, facts.where)
        step, rung = _rung(still)
        look_at = min(look_at, facts.moved_at + rung)
        return Reading(Watch.STALLED, True, overrun, text, look_at, step)
    if overrun:
        assert expected is not None
        over = now - facts.started_at - expected
        text = _overrun_text(over, expected, facts.where)
        step, rung = _rung(over)
        look_at = min(look_at, facts.started_at + expected + rung)
        return Reading(Watch.OVERRUN, False, True, text, look_at, step)
    return Reading(Watch.NORMAL, False, False, None, look_at)


def _rung(seconds: float) -> tuple[int, float]:
    """How many of ``LADDER``'s rungs ``seconds`` has climbed, and when the next one is."""
    step = bisect.bisect_right(LADDER, seconds)
    return step, LADDER[step] if step < len(LADDER) else math.inf


def _stall_text(still: float, fraction: float | None, where: str | None) -> str:
    text = f"No progress for {format_span(still)}"
    if fraction is not None:
        text += f" at {fraction * 100:.0f}%"
    return text + (f" \u00b7 {where}" if where else "")


def _overrun_text(over: float, expected: float, where: str | None) -> str:
    said = f"{format_span(over)} over" if over >= 60 else "over"
    text = f"Running {said} (expected {format_span(expected)})"
    return text + (f" \u00b7 {where}" if where else "")


def format_span(seconds: float) -> str:
    """A duration as a card says it in words that change at most once a minute: ``45s``,
    ``12m``, ``2h``, ``2h 03m`` (``endings.format_duration`` without the seconds once there
    are minutes)."""
    if not seconds >= 0:
        seconds = 0.0
    if seconds < 60:
        return f"{int(seconds)}s"
    hours, minutes = divmod(int(seconds // 60), 60)
    if not hours:
        return f"{minutes}m"
    return f"{hours}h" if not minutes else f"{hours}h {minutes:02d}m"


def reserve(stall_after: float | None, expected: float | None) -> int:
    """How many of its iOS updates a watched job's ordinary progress keeps in hand.

    Two when it may stall: the notice, and the update that shows its recovery (a notice may
    spend the first, never the second: ``freshness``). One when only an overrun can come (its
    notice; an overrun does not recover). None for a job that is not watched.
    """
    if stall_after is not None:
        return 2
    return 1 if expected is not None else 0
