"""An activity as pacing sees it (``Slot``), and where each answer leaves it.

Pure data and tables: ``Phase`` and the slot's fields, and the transitions an answer makes
(``succeeded``, ``retrying``, ``failed``, with the tables ``SUCCEEDED`` and ``FAILED``), read
by ``pacing.PacingPolicy.result``. Why a start waits is ``Held``.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from typing import NamedTuple

from livebar import _defaults
from livebar._engine.freshness import Snapshot
from livebar._engine.messages import Effect, Heard, Kind, YieldSlot

__all__ = [
    "FAILED",
    "RETRYING",
    "SUCCEEDED",
    "UNKNOWN",
    "Held",
    "Phase",
    "Slot",
    "Wait",
    "adopted",
    "card_of",
    "overwritten",
    "failed",
    "maybe_started",
    "retrying",
    "succeeded",
]


class Phase(enum.Enum):
    """Where an activity stands, as far as pacing knows.

    ``WAITING`` → ``STARTING`` → ``ACTIVE`` → ``ENDED``; ``FALLBACK`` when its outcome goes out
    as a push because it never got a Live Activity; ``ABANDONED`` when nothing more will be sent.
    """

    WAITING = "waiting"
    STARTING = "starting"
    ACTIVE = "active"
    ENDED = "ended"
    FALLBACK = "fallback"
    ABANDONED = "abandoned"

    @property
    def settled(self) -> bool:
        """Nothing more will be sent for an activity in this phase."""
        return self in (Phase.ENDED, Phase.ABANDONED)


@dataclass
class Slot:
    """The policy's view of one activity."""

    key: int
    opened_at: float
    latest: Snapshot | None = None
    shown: Snapshot | None = None
    latest_sent: Snapshot | None = None
    phase: Phase = Phase.WAITING
    started_at: float = 0.0
    base_fraction: float = 0.0
    updates_sent: int = 0
    last_update_at: float = -math.inf
    closing: bool = False
    blocked: bool = False  # the server said its concurrent-activity limit is reached
    in_flight: Kind | None = None
    retry_at: float = -math.inf
    failures: int = 0
    coalesced: int = 0
    stale_area: float = 0.0  # integral of |true - shown| over time since the phone last changed
    stale_since: float = 0.0
    stale_gap: float = 0.0  # |true - shown| at stale_since
    seen_at: float = -math.inf  # the last look that measured the job's pace
    seen_fraction: float = 0.0
    rotates: bool = False  # ours to renew before iOS's 8 hours (the manual lifecycle)
    granted: bool = False  # holds one of the account's concurrent slots (in the ledger)
    renew_at: float = math.inf  # when a stream asks the server to renew it (a PUT)
    title: str = ""
    stream_key: str | None = None
    held: Held | None = None  # why its start did not go at the last plan
    reserve: int = 0  # iOS updates ordinary progress keeps in hand (``watchdog.reserve``)


class Wait(enum.Enum):
    """Why an activity's start is held back."""

    SLOTS = "slots"
    """The account's concurrent Live Activities are all running (this process's or others')."""
    ROOM = "room"
    """The account's window is full, as far as a start may fill it."""


class Held(NamedTuple):
    """An activity's start held back: why, and until when at least (``inf``: a slot frees)."""

    why: Wait
    until: float


RETRYING = (Heard.RETRY, Heard.RATE_LIMITED, Heard.SLOT_TAKEN)

SUCCEEDED = {
    Kind.START: Phase.ACTIVE,
    Kind.ROTATE: Phase.WAITING,  # the old card is gone: the new one starts at once
    Kind.END: Phase.ENDED,
    Kind.PUSH: Phase.ENDED,
}
"""Where an activity stands after a request of each kind went through (an update: no change)."""

FAILED = {
    (Heard.NEVER, Kind.START): Phase.ABANDONED,
    (Heard.NEVER, Kind.ROTATE): Phase.WAITING,  # the old card cannot be ended: start the new one
    (Heard.NEVER, Kind.END): Phase.ENDED,  # an end (or its push) the server will never take
    (Heard.NEVER, Kind.PUSH): Phase.ENDED,
    (Heard.NEVER_STARTED, Kind.END): Phase.FALLBACK,  # say how it went in a push instead
    (Heard.BLOCKED, Kind.START): Phase.ABANDONED,  # what runs keeps running, and will be ended
    (Heard.BLOCKED, Kind.ROTATE): Phase.ABANDONED,
    (Heard.BLOCKED, Kind.END): Phase.ABANDONED,
    (Heard.BLOCKED, Kind.PUSH): Phase.ABANDONED,
    **{(Heard.FORBIDDEN, kind): Phase.ABANDONED for kind in Kind},
}
"""Where an activity stands after a request of each kind will not go through (else: no change;
a request worth retrying is ``retrying``'s)."""


def succeeded(slot: Slot, kind: Kind, now: float, rotate_after: float) -> None:
    slot.failures = 0
    slot.retry_at = -math.inf
    slot.stale_area = slot.stale_gap = 0.0
    slot.stale_since = now
    slot.phase = SUCCEEDED.get(kind, slot.phase)
    if kind is Kind.START:
        slot.started_at = now
        slot.renew_at = now + rotate_after
        slot.updates_sent = 0
        slot.shown = slot.latest_sent
        slot.base_fraction = (slot.shown.fraction or 0.0) if slot.shown is not None else 0.0
    elif kind is Kind.ROTATE:
        slot.shown = None  # the old card is gone: start the new one at once
    elif kind is Kind.UPDATE:
        slot.updates_sent += 1
        slot.last_update_at = now
        slot.shown = slot.latest_sent
        if now >= slot.renew_at:  # asked the server to renew; it did not (yet): ask later
            slot.renew_at = now + _defaults.DEFAULT_RENEW_RETRY
    else:
        slot.shown = slot.latest_sent


def retrying(
    slot: Slot, kind: Kind, heard: Heard, now: float, arrived: bool | None, delay: float
) -> list[Effect]:
    """A request worth trying again after ``delay`` (its failures already counted)."""
    effects: list[Effect] = []
    if kind is Kind.START and heard is Heard.SLOT_TAKEN:
        effects.append(YieldSlot(slot.key))  # keep our place in the queue
        slot.granted = False
    if kind is Kind.UPDATE and arrived is not False and heard is Heard.RETRY:
        # A timed-out update may well have reached the phone: iOS counts it, so do we.
        slot.updates_sent += 1
        slot.last_update_at = now
    slot.blocked |= heard is Heard.SLOT_TAKEN
    slot.retry_at = now + delay
    if kind is Kind.START and arrived is None and not slot.rotates:
        maybe_started(slot, now)
    elif kind is Kind.START:
        slot.phase = Phase.WAITING  # to be started again once the backoff is over
    if slot.closing and slot.phase is Phase.ACTIVE and kind is not Kind.END:
        slot.retry_at = -math.inf  # the end's first try waits for nothing before it
    return effects


def maybe_started(slot: Slot, now: float) -> None:
    """A stream's start whose answer was lost probably reached the phone. A stream PUT both
    starts and updates, so the activity goes on as started: its next PUTs are paced as updates
    (iOS counts them, answered or not), and once the job is over its end goes out (safe even if
    the start never arrived). What the phone shows is unknown, so the next state is worth
    sending."""
    slot.phase = Phase.ACTIVE
    slot.started_at = now
    slot.updates_sent = 0
    slot.base_fraction = 0.0
    slot.shown = UNKNOWN


def adopted(slot: Slot, started_at: float, updates: int, rotate_after: float) -> None:
    """A card already on the phone, started at ``started_at`` and updated ``updates`` times."""
    slot.phase, slot.granted = Phase.ACTIVE, True
    slot.started_at = started_at
    slot.renew_at = started_at + rotate_after
    slot.updates_sent = max(updates, 0)
    slot.shown = UNKNOWN


def card_of(slot: Slot | None, now: float, landed: Kind | None = None) -> tuple[float, int] | None:
    """How old the slot's card is and how many updates it has had (None: not on the phone),
    counting ``landed``, a start or update that went through but is not yet heard by pacing."""
    if slot is not None and landed is Kind.START:
        return 0.0, 0
    if slot is None or slot.phase is not Phase.ACTIVE:
        return None
    return now - slot.started_at, slot.updates_sent + (landed is Kind.UPDATE)


def overwritten(slot: Slot | None) -> None:
    """Another process updated the card (it showed it as not responding): that update counts
    against the card's iOS budget, and the phone no longer shows the job's state, so its next
    state is worth a send."""
    if slot is not None and slot.phase is Phase.ACTIVE:
        slot.updates_sent += 1
        slot.shown = UNKNOWN


def failed(slot: Slot, kind: Kind, heard: Heard) -> None:
    """A request that will not succeed: where the activity stands now (``FAILED``)."""
    if heard is Heard.NEVER and kind is Kind.UPDATE:
        # This state can never be shown; pretend it was so the next change goes out.
        slot.shown = slot.latest
    slot.phase = FAILED.get((heard, kind), slot.phase)


UNKNOWN = Snapshot(structure=("unknown",))
"""What the phone shows after a start whose answer was lost: unknown, unlike any state."""
