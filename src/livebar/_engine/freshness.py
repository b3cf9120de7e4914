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
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from livebar._engine.budgets import Budgets
    from livebar._wire.payload import ContentState

__all__ = ["Showing", "Snapshot", "snapshot_of", "update_score"]


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


def snapshot_of(state: ContentState) -> Snapshot:
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


def update_score(slot: Showing, budgets: Budgets, now: float) -> float:
    """How much this update is worth against its threshold (send when at least 1).

    Two measures, whichever is larger: how far the bar moved against the threshold, and how
    much error the stale bar has shown since it last changed (gap times seconds) against what
    a uniform job would show between two updates. The second catches a small gap that stays
    for a long time, as when a job stalls just short of the threshold.
    """
    latest, shown = slot.latest, slot.shown
    accumulate_staleness(slot, now)
    b = budgets
    if now < b.ios_ready_at(slot.started_at, slot.updates_sent):
        return 0.0
    if now < slot.last_update_at + b.min_update_gap:
        return 0.0
    if not slot.rotates and now >= slot.renew_at:
        return math.inf  # a stream's PUT now lets the server renew it before iOS ends it
    if latest is None or shown is None or latest == shown:
        return 0.0
    elapsed = max(now - slot.started_at, 1e-9)
    if latest.structure != shown.structure:
        return math.inf  # a new title, colour or step count: show it as soon as budgets allow
    remaining = estimated_remaining(slot, latest, elapsed, budgets)
    left = max(b.ios_allowance(elapsed + remaining) - slot.updates_sent, 1)
    if latest.fraction is not None and shown.fraction is not None:
        change = abs(latest.fraction - shown.fraction)
        if change < b.min_visible_change and latest.detail == shown.detail:
            return 0.0
        span = max(1.0 - shown.fraction, change)
        threshold = max(b.min_visible_change, span / (left + 1))
        moved = change / threshold
        if latest.detail != shown.detail:
            moved += b.detail_weight  # new text helps, but is not worth an update on its own
        interval = max(remaining / (left + 1), b.min_update_gap)
        stale = slot.stale_area / max(threshold * interval / 2, 1e-9)
        if change < b.min_visible_change:
            return moved
        return max(moved, stale)
    # No total: nothing on the bar to weigh, so spread updates evenly in time.
    interval = remaining / (left + 1)
    return (now - max(slot.last_update_at, slot.started_at)) / max(interval, b.min_update_gap)


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
        slot.stale_area += abs(latest.fraction - shown.fraction) * (now - slot.stale_since)
    slot.stale_since = now


def estimated_remaining(slot: Showing, latest: Snapshot, elapsed: float, budgets: Budgets) -> float:
    """Seconds the job still needs, from its average rate; its age when that is unknown."""
    floor = budgets.ios_interval / 2
    if latest.fraction is not None:
        done = latest.fraction - slot.base_fraction
        if done > 0:
            return max((1.0 - latest.fraction) * elapsed / done, 0.0)
    return max(elapsed, floor)
