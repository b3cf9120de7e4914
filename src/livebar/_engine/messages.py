"""What the pacing policy and its shell say to each other.

The shell tells the policy what each request's answer meant (``Heard``, from the verdicts); the
policy asks the shell to put its questions to the account's ledger (``AskSlot``, ``AskRoom``;
answered with a ``bool`` and a ``Room``) and returns what the ledger must be told afterwards
(``Refund``, ``Landed``, ``YieldSlot``, ``Release``). ``Send`` is one request to make now, of a
``Kind``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import NamedTuple, Union

__all__ = [
    "AskRoom",
    "AskSlot",
    "Effect",
    "Heard",
    "Kind",
    "Landed",
    "Question",
    "Refund",
    "Release",
    "Room",
    "Send",
    "YieldSlot",
]


class Kind(str, enum.Enum):
    """What a request does; the order of the members is the priority order."""

    END = "end"
    START = "start"
    ROTATE = "rotate"
    """End a manual-lifecycle activity before iOS does (8 hours) and start it afresh."""
    PUSH = "push"
    UPDATE = "update"


class Heard(enum.Enum):
    """What pacing is told of an answer."""

    OK = "ok"
    """It went through, or as good as: already gone, or it arrived and its answer was lost."""
    RETRY = "retry"
    """The same request may succeed after a backoff."""
    RATE_LIMITED = "rate limited"
    """The account's window is full: every request of the account waits."""
    SLOT_TAKEN = "slot taken"
    """The account's concurrent-activity limit: the start waits for a slot."""
    NEVER = "never"
    """This request will never go through."""
    FORBIDDEN = "forbidden"
    """The key was refused: nothing more is sent for it."""
    BLOCKED = "blocked"
    """The account's billing refuses anything new; the ends of what runs still go."""
    NEVER_STARTED = "never started"
    """The activity was never on the phone after all (a stream end answered 404 with no start
    ever confirmed): its outcome goes out as a push."""


@dataclass(frozen=True)
class Send:
    """One request the dispatcher should make now."""

    key: int
    kind: Kind


class AskSlot(NamedTuple):
    """A question for the account's ledger: may activity ``key`` hold a concurrent slot?
    (It joins the account's queue of starts, first come first served across processes.)"""

    key: int
    max_active: int
    title: str
    stream_key: str | None


class AskRoom(NamedTuple):
    """A question for the account's ledger: is there room in the window for one request that
    may not use its last ``floor`` of ``limit``? (Recorded there if so.)"""

    limit: int
    floor: int


class Room(NamedTuple):
    """The ledger's answer to ``AskRoom``: ``ticket`` to refund if the request never arrives,
    ``retry_at`` when to ask again if refused, ``used`` what the window held."""

    admitted: bool
    used: int
    retry_at: float
    ticket: int | None = None


class Refund(NamedTuple):
    """Give request ``ticket`` back to the window: it certainly never reached the server."""

    ticket: int


class Landed(NamedTuple):
    """Request ``ticket`` reached the server by now (its answer is back, or lost on the way):
    the window counts it from now, as the server does from its arrival."""

    ticket: int


class YieldSlot(NamedTuple):
    """Activity ``key`` gives its concurrent slot back and keeps its place in the queue."""

    key: int


class Release(NamedTuple):
    """Activity ``key`` is over for pacing: its slot and its record on the account go."""

    key: int


Question = Union[AskSlot, AskRoom]
Effect = Union[Refund, Landed, YieldSlot, Release]
