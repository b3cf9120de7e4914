"""What every backend of the account ledger implements, and the answers it gives.

The backends (``MemoryBackend`` in ``livebar._ledger.ledger``, ``SqliteBackend``, ``RedisBackend``)
import this module; ``livebar._ledger.ledger`` builds the ``AccountLedger`` the engine holds on top.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Callable

from livebar._ledger.owner import Owner

__all__ = [
    "Admission",
    "Backend",
    "LedgerUnavailable",
    "Orphan",
    "SlotGrant",
    "Tracked",
]


class LedgerUnavailable(Exception):
    """The backend could not answer in time (busy file, lost connection). Internal: the wrapper
    turns it into a conservative answer."""


# -- answers ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Admission:
    """The answer to ``acquire``.

    ``admitted``: the request was recorded and may be sent now. ``used``: requests in the
    account's window after this call (counting this one). ``retry_at``: when asking again can
    succeed (the caller's clock; ``now`` when admitted). ``ticket``: hand it to ``refund`` if
    the request then certainly never reached the server. ``busy``: the ledger could not answer
    in time; nothing was recorded.
    """

    admitted: bool
    used: int
    retry_at: float
    ticket: int | None = None
    busy: bool = False


@dataclass(frozen=True)
class SlotGrant:
    """The answer to ``request_slot``.

    ``granted``: the activity holds one of the account's concurrent slots (it stays held until
    ``yield_slot`` or ``close_activity``). ``active``: activities holding a slot on the account.
    ``ahead``: starts queued before this one that are still waiting. ``busy``: no answer in time.
    """

    granted: bool
    active: int
    ahead: int
    busy: bool = False


@dataclass(frozen=True)
class Orphan:
    """An open activity whose owner is gone, claimed by this process to be ended.

    ``id`` is the ledger's name for it (give it to ``settle_orphan``). ``same_host``: the owner
    was on this host and its process is gone (killed); otherwise it went silent on another host.
    ``started_at`` and ``last_seen`` (the owner's last heartbeat or state, whichever is later)
    are on the backend's clock. ``state`` is the last content state the phone was sent (JSON).
    """

    id: str
    owner: Owner
    same_host: bool
    title: str
    stream_key: str | None
    activity_id: str | None
    started_at: float
    last_seen: float
    state: Mapping[str, Any] | None


@dataclass
class Tracked:
    """One of this process's activities as a backend stores it (also the wrapper's shadow)."""

    key: str
    title: str
    stream_key: str | None = None
    activity_id: str | None = None
    state: dict[str, Any] | None = None
    active: bool = False
    started_at: float | None = None
    """When the slot was granted, on the clock of whoever holds this copy."""


@dataclass(frozen=True)
class _Grant:
    """A backend's answer to ``acquire``: like ``Admission`` but with a delay, not a time."""

    admitted: bool
    used: int
    wait: float
    ticket: int | None = None
    at: float | None = None
    """When the ledger recorded it, on the backend's clock (tests check the window with it)."""


# -- backends ---------------------------------------------------------------------------------


class Backend(abc.ABC):
    """Where the ledger lives. Every method may raise (``LedgerUnavailable`` when it could not
    answer in time); ``AccountLedger`` is the only caller and turns failures into answers.

    ``now`` is on the backend's clock (``clock()``; the caller's own when ``clock`` is None).
    A backend with a clock of its own reads it inside its atomic section instead, so that the
    order of the times it records is the order in which it recorded them.
    """

    name: str = "?"
    window: float
    owner: Owner
    clock: Callable[[], float] | None = None

    @abc.abstractmethod
    def acquire(self, now: float, *, limit: int, floor: int) -> _Grant:
        """Record one request at ``now`` if fewer than ``limit - floor`` are in the window."""

    @abc.abstractmethod
    def refund(self, ticket: int) -> None:
        """Forget a recorded request that never reached the server."""

    @abc.abstractmethod
    def landed(self, ticket: int, now: float) -> None:
        """A recorded request's answer came back at ``now``: it reached the server by then, so
        it counts in the window from ``now`` (the server counted it when it arrived, which may
        be well after it was recorded: a slow network, a retried connection)."""

    @abc.abstractmethod
    def used(self, now: float) -> int:
        """Requests in the window ending at ``now``."""

    @abc.abstractmethod
    def request_slot(
        self, key: str, now: float, *, max_active: int, title: str, stream_key: str | None
    ) -> SlotGrant:
        """Join the start queue (first call) and take a slot when this start is at its head."""

    @abc.abstractmethod
    def yield_slot(self, key: str) -> None:
        """Give the slot back but keep the place in the queue (the server said it is full)."""

    @abc.abstractmethod
    def record_state(
        self, key: str, now: float, *, activity_id: str | None, state: dict[str, Any] | None
    ) -> None:
        """Remember the activity's id and the last state the phone was sent."""

    @abc.abstractmethod
    def close_activity(self, key: str) -> None:
        """The activity ended (or never will start): drop its record and free its slot."""

    @abc.abstractmethod
    def heartbeat(self, now: float) -> tuple[str, ...]:
        """Say this owner is alive; answer the keys of its records another process claimed."""

    @abc.abstractmethod
    def claim_orphans(self, now: float, *, stale_after: float) -> list[Orphan]:
        """Claim, atomically and for this process alone, every open activity whose owner (and
        previous claimer, if any) is gone; drop the records of gone owners that hold no
        activity on the phone. Each orphan is answered to exactly one caller."""

    @abc.abstractmethod
    def settle_orphan(self, orphan_id: str, *, ended: bool) -> None:
        """Drop a claimed orphan (``ended``) or give the claim back for a later pass."""

    @abc.abstractmethod
    def restore(self, tracked: list[Tracked], ages: list[float], now: float) -> None:
        """Replace this owner's records by ``tracked`` and add requests sent ``ages`` seconds
        before ``now`` (after an outage, from the wrapper's shadow: the records as they are
        now, and the requests admitted while the backend was out)."""

    @abc.abstractmethod
    def close(self) -> None:
        """Drop this owner's records and release resources (a clean exit)."""
