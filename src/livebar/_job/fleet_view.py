"""How a fleet reads on the phone: ``render_fleet`` and ``fleet_ending``, pure.

Beside ``view.render`` (one job's card), for the card of a whole fleet (``fleet.Fleet``, read
from the ledger by the member that leads). While it runs, a segmented bar with one segment per
member when the fleet is small enough to count on the lock screen (``steps``), else a progress
bar over the members' summed items (``items``); it turns red once a member failed or was lost
and orange once the deadline passed with members missing (a colour is sent at once, where a
subtitle waits for the bar to move); the subtitle sums it up::

    12 of 20 done · 2 failed (db3, db7) · 6 running

Its end: ``Done 18/20 · failed: db3, db7`` in red; ``Done 18/20 · 2 never started (web4,
web9)``; a member that went silent (SIGKILL, a lost node) is named as ``lost``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from livebar._defaults import DEFAULT_FLEET_MAX_SEGMENTS, FLEET_BARS
from livebar._job.endings import MAX_SUBTITLE, MAX_TITLE, Ending, Outcome, truncate

if TYPE_CHECKING:
    from livebar._job.fleet import Fleet, Tally
    from livebar._job.options import ActivitySpec
    from livebar._wire.payload import ContentState

__all__ = ["fleet_ending", "names", "render_fleet", "segmented"]

MAX_NAMED = 4
"""Members named in one list before the rest are counted ("+3")."""
TROUBLE_COLOR = "red"
MISSING_COLOR = "orange"


def segmented(bar: str, expected: int) -> bool:
    """Whether the card is one segment per member (``bar``: ``auto``, ``steps`` or ``items``)."""
    assert bar in FLEET_BARS
    if bar == "auto":
        return expected <= DEFAULT_FLEET_MAX_SEGMENTS
    return bar == "steps"


def render_fleet(
    spec: ActivitySpec, bar: str, fleet: Fleet, counted: Tally, ending: Ending | None
) -> ContentState:
    """The card for ``fleet`` as ``counted``; its end once ``ending`` is set."""
    from livebar._wire.payload import ContentState

    title = truncate(fleet.title, MAX_TITLE)
    subtitle = ending.subtitle if ending is not None else running_subtitle(fleet, counted)
    color = spec.color
    if ending is not None:
        color = ending.color or color
    elif counted.trouble:  # news worth a send at once: a colour is the card's structure
        color = TROUBLE_COLOR
    elif counted.missing_count and fleet.deadline_in is not None and fleet.deadline_in <= 0:
        color = MISSING_COLOR
    common: dict[str, Any] = {
        "subtitle": subtitle,
        "color": color,
        "icon": spec.icon,
        "badge": spec.badge,
    }
    if segmented(bar, counted.expected):
        good = spec.step_color or "green"
        colors = [good] * len(counted.done) + [TROUBLE_COLOR] * (counted.ended - len(counted.done))
        return ContentState.segmented_progress(
            title,
            number_of_steps=max(counted.expected, 1),
            current_step=min(counted.ended, max(counted.expected, 1)),
            step_colors=colors or None,
            **common,
        )
    complete = ending is not None and ending.complete
    if counted.items_total:
        shown = counted.items_total if complete else min(counted.items, counted.items_total)
        return ContentState.progress(
            title, value=_plain(shown), upper_limit=_plain(counted.items_total), **common
        )
    fraction = 1.0 if complete else counted.fraction
    return ContentState.progress(title, percentage=round(fraction * 100, 1), **common)


def running_subtitle(fleet: Fleet, counted: Tally) -> str:
    """``12 of 20 done · 2 failed (db3, db7) · 1 lost (db5) · 6 running · 1 not started``."""
    parts = [f"{len(counted.done)} of {counted.expected} done"]
    if counted.failed:
        parts.append(f"{len(counted.failed)} failed ({names(counted.failed)})")
    if counted.lost:
        parts.append(f"{len(counted.lost)} lost ({names(counted.lost)})")
    if counted.running:
        parts.append(f"{len(counted.running)} running")
    if counted.missing_count:
        late = fleet.deadline_in is not None and fleet.deadline_in <= 0
        parts.append(_missing(counted, "never started" if late else "not started"))
    return truncate(" \u00b7 ".join(parts), MAX_SUBTITLE)


def fleet_ending(spec: ActivitySpec, counted: Tally, *, at: float) -> Ending:
    """How the card ends: ``Done 18/20 · failed: db3, db7 · 2 never started (web4, web9)``."""
    parts = [f"Done {len(counted.done)}/{counted.expected}"]
    if counted.failed:
        parts.append(f"failed: {names(counted.failed)}")
    if counted.lost:
        parts.append(f"lost: {names(counted.lost)}")
    if counted.missing_count:
        parts.append(_missing(counted, "never started"))
    if counted.trouble:
        outcome, color = Outcome.FAILED, TROUBLE_COLOR
    elif counted.missing_count:
        outcome, color = Outcome.STOPPED, MISSING_COLOR
    else:
        outcome, color = Outcome.DONE, None
    return Ending(
        outcome,
        truncate(" \u00b7 ".join(parts), MAX_SUBTITLE),
        spec.dismiss_minutes(outcome),
        at,
        color=color,
        complete=not counted.trouble and not counted.missing_count,
    )


def names(listed: Sequence[str], limit: int = MAX_NAMED) -> str:
    """``db3, db7`` or ``db1, db2, db3, db4, +3``."""
    shown = ", ".join(listed[:limit])
    rest = len(listed) - limit
    return f"{shown}, +{rest}" if rest > 0 else shown


def _missing(counted: Tally, words: str) -> str:
    text = f"{counted.missing_count} {words}"
    return f"{text} ({names(counted.missing)})" if counted.missing else text


def _plain(x: float) -> int | float:
    return int(x) if float(x).is_integer() else round(x, 2)
