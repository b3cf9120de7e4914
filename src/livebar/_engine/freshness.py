"""Where the updates go: which of an activity's states is worth one of its few updates. Pure.

Each activity gets a progress threshold equal to the part of the bar still to show divided by the
updates it can still afford before its estimated end, so updates are spread evenly over the job
instead of burning iOS's burst in the first seconds; a small gap that stays on the phone for long
(a stall) is sent once the error it has shown (gap x seconds) is worth an update; structural
changes (a title or colour) go out at the first chance, a moving subtitle only adds a little
weight, and a change the phone cannot show (under ``min_visible_change``) is never sent.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple, Protocol

if TYPE_CHECKING:
    from livebar._engine.budgets import Budgets
    from livebar._wire.payload import ContentState

__all__ = ["Showing", "Snapshot", "next_look", "ready_at", "snapshot_of", "update_score"]


@dataclass(frozen=True)
class Snapshot:
    """What the phone would show for one state, reduced to what pacing weighs.

    ``fraction`` is the share of the bar that is full (``None`` when the total is unknown);
    ``count`` moves when work is done even without a total; ``structure`` holds what changes
    rarely and matters (title, colour, number of steps); ``detail`` what changes often and matters
    little (the subtitle).
    """

    fraction: float | None = None
    count: float = 0.0
    structure: tuple[object, ...] = ()
    detail: tuple[object, ...] = ()
    watch: int = 0
    """How bad the watchdog's state is (``watchdog.Watch.severity``; 0: normal or unwatched). A
    rise is a notice, a fall a recovery: each may spend updates ordinary progress keeps back."""
    watch_step: int = 0
    """How far the state's duration has climbed (``watchdog.Reading.step``): a new rung brings
    the phone's words up to date, as an ordinary update (it keeps the reserve)."""


def snapshot_of(state: ContentState, watch: int = 0, watch_step: int = 0) -> Snapshot:
    """What pacing weighs of a content state."""
    count = 0.0
    if state.metrics:
        first = state.metrics[0].value
        count = float(first) if isinstance(first, (int, float)) else 0.0
    return Snapshot(
        fraction=state.fraction(),
        count=count,
        structure=(state.type, state.title, state.color, state.number_of_steps),
        detail=(state.subtitle, state.step_color, state.step_colors),
        watch=watch,
        watch_step=watch_step,
    )


class Showing(Protocol):
    """What the update decision reads (and keeps) of one activity: pacing's slot."""

    latest: Snapshot | None
    shown: Snapshot | None
    started_at: float
    base_fraction: float
    updates_sent: int
    last_update_at: float
    rotates: bool
    renew_at: float
    stale_area: float
    stale_since: float
    stale_gap: float
    seen_at: float
    seen_fraction: float
    reserve: int


def update_score(slot: Showing, budgets: Budgets, now: float) -> float:
    """How much this update is worth against its threshold (send when at least 1).

    Two measures, whichever is larger: how far the bar moved against the threshold, and how
    much error the stale bar has shown since it last changed (gap times seconds) against what
    a uniform job would show between two updates. The second catches a small gap that stays
    for a long time, as when a job stalls just short of the threshold.
    """
    accumulate_staleness(slot, now)
    return _weigh(slot, budgets, now).score


class _Weight(NamedTuple):
    """What the update decision found: the score, and what it was measured against."""

    score: float
    threshold: float = math.inf
    """How far the bar must move for an update (``inf``: not measured by the bar)."""
    interval: float = math.inf
    """The time a uniform job would leave between two updates from now."""
    change: float = 0.0
    """How far the bar has moved since the phone last changed."""
    not_before: float = -math.inf
    """When an update that is worth sending may be spent (``_spend_no_sooner``)."""


def ready_at(slot: Showing, budgets: Budgets) -> float:
    """When the budgets next allow this activity an update (iOS's spacing and the gap)."""
    return max(
        budgets.ios_ready_at(slot.started_at, _spent(slot)),
        slot.last_update_at + budgets.min_update_gap,
    )


def _spent(slot: Showing) -> int:
    """The updates an activity has spent, as its next update counts them: those sent, plus
    those it must keep in hand after it. A watched job's ordinary progress keeps
    ``slot.reserve`` (``watchdog.reserve``); a notice (the watchdog's state rising) may spend
    all but one of them, kept for the recovery; a recovery may spend the last one."""
    reserve = slot.reserve
    if reserve:
        latest, shown = slot.latest, slot.shown
        if latest is not None and shown is not None and latest.watch != shown.watch:
            reserve = reserve - 1 if latest.watch > shown.watch else 0
    return slot.updates_sent + reserve


def _weigh(slot: Showing, budgets: Budgets, now: float) -> _Weight:
    latest, shown = slot.latest, slot.shown
    b = budgets
    if now < ready_at(slot, b):
        return _Weight(0.0)
    if not slot.rotates and now >= slot.renew_at:
        return _Weight(math.inf)  # a stream's PUT now lets the server renew it before iOS ends it
    if latest is None or shown is None:
        return _Weight(0.0)
    if latest == shown and latest.fraction is None:
        return _Weight(0.0)  # no total and nothing new: nothing to spread
    elapsed = max(now - slot.started_at, 1e-9)
    if (latest.structure, latest.watch, latest.watch_step) != (
        shown.structure,
        shown.watch,
        shown.watch_step,
    ):
        return _Weight(math.inf)  # a new title, colour, step count or watch: show it at once
    remaining = estimated_remaining(slot, latest, elapsed, budgets)
    left = max(b.ios_allowance(elapsed + remaining) - _spent(slot), 1)
    if latest.fraction is not None and shown.fraction is not None:
        change = abs(latest.fraction - shown.fraction)
        span = max(1.0 - shown.fraction, change)
        threshold = max(b.min_visible_change, span / (left + 1))
        interval = max(remaining / (left + 1), b.min_update_gap)
        if change < b.min_visible_change and latest.detail == shown.detail:
            return _Weight(0.0, threshold, interval, change)
        moved = change / threshold
        if latest.detail != shown.detail:
            moved += b.detail_weight  # new text helps, but is not worth an update on its own
        stale = slot.stale_area / max(threshold * interval / 2, 1e-9)
        if change < b.min_visible_change:
            return _Weight(moved, threshold, interval, change)
        score = max(moved, stale)
        if score >= 1.0 and moved < _JUMP:
            not_before = _spend_no_sooner(slot, b, now, interval, remaining)
            if now < not_before:  # worth it, but not yet: it would spend an update too early
                return _Weight(_ALMOST, threshold, interval, change, not_before)
        return _Weight(score, threshold, interval, change)
    # No total: nothing on the bar to weigh, so spread updates evenly in time.
    interval = max(remaining / (left + 1), b.min_update_gap)
    return _Weight((now - max(slot.last_update_at, slot.started_at)) / interval, interval=interval)


_JUMP = 2.0
"""A move worth this many thresholds goes out as soon as the budgets allow, whatever the time."""
_ALMOST = 0.999


def _spend_no_sooner(
    slot: Showing, budgets: Budgets, now: float, interval: float, remaining: float
) -> float:
    """When an update that is worth sending may be spent (a move of ``_JUMP`` thresholds may
    be spent at once). Two floors, both about time, which the bar's threshold alone ignores:

    * the even spacing in time (``interval``): a job that speeds up for a while (a first
      epoch three times slower than the rest, a link that swings 10x) would otherwise spend
      several updates in quick succession and leave the phone dark later (iOS allows update k
      past the 12th only 120 x k s after the start); not for jobs so short that the spacing is
      the minimum gap anyway;
    * the midpoint of the gap it leaves: once the next update after this one must wait for
      iOS (``ios_ready_at``), this one goes no sooner than halfway between the last update and
      that moment (or the job's estimated end, if sooner), so the phone's dark stretches are
      split evenly when a job runs longer than it looked (a total that grows).
    """
    last = max(slot.last_update_at, slot.started_at)
    floor = last + interval if interval > 2 * budgets.min_update_gap else -math.inf
    after = budgets.ios_ready_at(slot.started_at, _spent(slot) + 1)
    return max(floor, (last + min(after, now + remaining)) / 2)


def next_look(
    slot: Showing, budgets: Budgets, now: float, *, shortest: float, longest: float
) -> float:
    """The earliest moment this activity's update decision could change, from what the engine
    has seen: when the budgets next allow an update; when they allow one now, when the bar
    should have moved far enough at the pace it keeps (the faster of its average and its pace
    since the last look). Far from that crossing the engine looks again after half the
    distance, so a job that speeds up is caught; near it (``_NEAR`` naps) at every
    ``shortest``; a job that does not move is looked at less and less often, at most
    ``longest`` apart.

    An ending, a new activity or a push wakes the engine by itself, and a step, stage, title
    or colour change nudges it (``Dispatcher.nudge``); counts never do.
    """
    due = ready_at(slot, budgets)
    if now < due:
        return due
    weight = _weigh(slot, budgets, now)
    if weight.score >= 1.0:
        return now  # worth sending now: only the account's window holds it back
    renew = slot.renew_at if not slot.rotates and slot.renew_at > now else math.inf
    if weight.not_before > now:  # worth sending, once its time has come
        return min(weight.not_before, renew)
    if math.isinf(weight.threshold):  # no total: due once the even spacing in time has passed
        last = max(slot.last_update_at, slot.started_at)
        wait = last + weight.interval - now if math.isfinite(weight.interval) else longest
        return min(now + min(max(wait, shortest), longest), renew)
    pace = _pace(slot, slot.latest, now)
    if weight.score > 0:
        need = weight.threshold * (1.0 - weight.score)
    else:
        need = weight.threshold - weight.change
    target = weight.threshold * weight.interval / 2 - slot.stale_area
    visible = weight.change >= budgets.min_visible_change
    stalling = max(target, 0.0) / weight.change if visible else math.inf
    if pace > 0:
        crossing = min(max(need, 0.0) / pace, stalling)
    else:  # not moving (yet): look soon after the start, less often as the stall lasts
        crossing = min(max(now - slot.started_at, 0.0) / 2, 2 * longest, stalling)
    # Near the crossing look at the shortest interval (where it falls between two looks is
    # what the phone's error pays for); far from it, halve the distance at each look.
    nap = shortest if crossing <= _NEAR * shortest else crossing / 2
    return min(now + max(nap, shortest), renew)


_NEAR = 16
"""Within this many of the shortest naps of a predicted crossing the engine looks at every one."""


def _pace(slot: Showing, latest: Snapshot | None, now: float) -> float:
    """How fast the bar moves (a fraction per second): the faster of the job's average since
    the start and its pace since the engine's last look, which the look then moves on to."""
    fraction = latest.fraction if latest is not None else None
    if fraction is None:
        return 0.0
    average = (fraction - slot.base_fraction) / max(now - slot.started_at, 1e-9)
    recent = 0.0
    if now > slot.seen_at:
        recent = (fraction - slot.seen_fraction) / (now - slot.seen_at)
    slot.seen_at, slot.seen_fraction = now, fraction
    return max(average, recent, 0.0)


def accumulate_staleness(slot: Showing, now: float) -> None:
    """Add the error the stale bar showed since the last look (gap times seconds)."""
    latest, shown = slot.latest, slot.shown
    if (
        latest is not None
        and shown is not None
        and latest.fraction is not None
        and shown.fraction is not None
        and now > slot.stale_since
    ):
        gap = abs(latest.fraction - shown.fraction)
        # The trapezoid between two looks: the same area however rarely the engine looks.
        slot.stale_area += (gap + slot.stale_gap) / 2 * (now - slot.stale_since)
        slot.stale_gap = gap
    slot.stale_since = now


def estimated_remaining(slot: Showing, latest: Snapshot, elapsed: float, budgets: Budgets) -> float:
    """Seconds the job still needs, from its average rate; its age when that is unknown."""
    floor = budgets.ios_interval / 2
    if latest.fraction is not None:
        done = latest.fraction - slot.base_fraction
        if done > 0:
            return max((1.0 - latest.fraction) * elapsed / done, 0.0)
    return max(elapsed, floor)
