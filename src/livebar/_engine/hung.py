"""What another process does about a card whose own process stopped turning: pure.

A process that hangs entirely (a deadlock holding the GIL in C code, SIGSTOP, a frozen VM)
cannot report its own stall: its heartbeat in the ledger goes stale while it is still alive.
Any other livebar process on the account (its engine, where it looks for orphans) and
``livebar reap`` read the ledger's facts about each card (``Watched``) and ``decide``:

============  ============================  ========  =========================================
owner alive   silent for                    marked    action
============  ============================  ========  =========================================
no            any                           any       ``LOST``: the orphan path ends it "Lost"
yes           more than ``hang_after``      no        ``MARK``: "Not responding for 5m at 61%"
yes           more than ``hang_after``      yes       ``NOTHING``: already shown, once is enough
yes           ``hang_after`` or less        yes       ``RESTORE``: its owner shows its own state
yes           ``hang_after`` or less        no        ``NOTHING``
============  ============================  ========  =========================================

"Alive" is ``Owner.alive``: on the same host, the pid exists (a stopped process exists: it is
never Lost); on another host, where only the heartbeat can tell, silent for at most the stale
bound (``DEFAULT_STALE_AFTER``, 600 s). So across hosts a card is not responding between
``hang_after`` (300 s) and 600 s of silence, and Lost after that.

The mark is one update of the owner's card, claimed in the ledger first so nobody sends it
twice, and only when iOS's budget for that card has room (``ios_room``): the owner records,
with each state, how old its card is and how many updates it has had (``with_budget``). The
restore is the owner's: its heartbeat takes the mark back (``AccountLedger.take_marks``), its
pacing counts the marker's update against the card's budget and sends its own state again.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

from livebar import _defaults
from livebar._job.endings import format_duration
from livebar._wire.errors import ValidationError
from livebar._wire.payload import ContentState, state_fraction

if TYPE_CHECKING:
    from livebar._engine.budgets import Budgets
    from livebar._ledger.backend import Watched

__all__ = [
    "BUDGET_KEY",
    "Action",
    "Facts",
    "Mark",
    "decide",
    "facts_of",
    "hung_message",
    "ios_room",
    "mark_of",
    "progress_text",
    "shown_state",
    "with_budget",
]

BUDGET_KEY = "_ios"
"""Where a recorded state keeps its card's iOS facts: ``{"age": s, "updates": n}``."""


class Action(enum.Enum):
    """What a watcher does about one card."""

    NOTHING = "nothing"
    MARK = "mark"
    RESTORE = "restore"
    LOST = "lost"


class Facts(NamedTuple):
    """What the ledger tells a watcher about one card's owner."""

    alive: bool
    silent_for: float
    marked: bool


def decide(facts: Facts, *, hang_after: float) -> Action:
    """The table in the module docstring."""
    if not facts.alive:
        return Action.LOST
    hung = facts.silent_for > hang_after
    if hung and not facts.marked:
        return Action.MARK
    if not hung and facts.marked:
        return Action.RESTORE
    return Action.NOTHING


def facts_of(watched: Watched) -> Facts:
    return Facts(watched.alive, watched.silent_for, watched.marked)


# -- the card's iOS budget, as its owner recorded it --------------------------------------------


def with_budget(state: dict[str, Any], *, age: float, updates: int) -> dict[str, Any]:
    """``state`` (a content state's JSON) with its card's age and update count."""
    return {**state, BUDGET_KEY: {"age": round(max(age, 0.0), 3), "updates": updates}}


def shown_state(state: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The content state the phone was sent, without the budget facts recorded beside it."""
    if not isinstance(state, Mapping):
        return None
    return {k: v for k, v in state.items() if k != BUDGET_KEY}


def ios_room(watched: Watched, budgets: Budgets) -> bool:
    """Whether one more update of ``watched``'s card fits in iOS's budget now.

    The owner's recorded count may miss one update: the one in flight when it stopped (it
    reached the phone; its answer was never recorded). So the mark is counted as the update
    after that one. A card whose state was never recorded (its start's answer in flight) has
    had at most that one; a state recorded without the facts (an older livebar) is not marked.
    """
    state = watched.state
    facts = state.get(BUDGET_KEY) if isinstance(state, Mapping) else None
    if isinstance(facts, Mapping):
        try:
            age, updates = float(facts["age"]), int(facts["updates"])
        except (KeyError, TypeError, ValueError):
            return False
    elif state is None:
        age, updates = max(watched.recorded_at - watched.started_at, 0.0), 0
    else:
        return False
    # The card's age now, never overestimated: the record's age plus the owner's silence
    # (the time since its last write, at most).
    now = age + max(watched.silent_for, 0.0)
    in_flight = 1
    return math.isfinite(now) and budgets.ios_ready_at(0.0, updates + in_flight) <= now


# -- what the phone is told ---------------------------------------------------------------------


class Mark(NamedTuple):
    """The update that shows a card as not responding."""

    watched: Watched
    content_state: ContentState


def hung_message(watched: Watched) -> str:
    """``Not responding for 5m at 61%`` (``… on build-7 …`` for another host's process)."""
    where = ""
    if not watched.same_host:
        where = f" on {watched.owner.hostname}" if watched.owner.hostname else " on another host"
    text = f"Not responding{where} for {format_duration(watched.silent_for)}"
    at = progress_text(shown_state(watched.state))
    return f"{text} at {at}" if at else text


def mark_of(watched: Watched) -> Mark:
    """The card as it was, in ``HUNG_COLOR``, with ``hung_message`` as its subtitle."""
    message, color = hung_message(watched), _defaults.HUNG_COLOR
    last = shown_state(watched.state)
    if last is not None and "ended" not in last:
        try:
            state = ContentState.from_json(last)
            changes: dict[str, Any] = {"subtitle": message, "color": color}
            if state.type == "segmented_progress":
                changes.update(step_color=color, step_colors=None)
            return Mark(watched, state.replace(**changes))
        except (ValidationError, TypeError, ValueError):
            pass  # a state this version cannot read: say what is known without it
    return Mark(watched, ContentState(title=watched.title or "Job", subtitle=message, color=color))


def progress_text(state: Mapping[str, Any] | None) -> str:
    """``61%``, ``step 2 of 3``, or ``""`` when the state says nothing of progress."""
    if not isinstance(state, Mapping):
        return ""
    step, steps = state.get("current_step"), state.get("number_of_steps")
    if isinstance(step, int) and isinstance(steps, int) and steps > 0:
        return f"step {min(step + 1, steps)} of {steps}"
    fraction = state_fraction(state)
    return "" if fraction is None else f"{math.floor(100 * fraction + 1e-9)}%"
