"""What every backend of the account ledger implements, and the answers it gives.

The backends (``MemoryBackend`` in ``livebar._ledger.ledger``, ``SqliteBackend``, ``RedisBackend``)
import this module; ``livebar._ledger.ledger`` builds the ``AccountLedger`` the engine holds on top.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Callable, NamedTuple

from livebar._ledger.owner import Owner
from livebar._ledger.schedules import ScheduleStore

__all__ = [
    "Admission",
    "Backend",
    "FleetEntry",
    "FleetJoin",
    "FleetRecord",
    "FleetReport",
    "FleetsUnsupported",
    "LedgerUnavailable",
    "Orphan",
    "SlotGrant",
    "Tracked",
    "Watched",
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


@dataclass(frozen=True)
class Watched:
    """An open activity of another process, as a watcher of hung ones sees it (``Backend.watch``).

    ``alive``: its owner is alive as the reader can tell (``Owner.alive``: its pid on this
    host, its heartbeat's age elsewhere). ``silent_for``: seconds since the owner's last
    heartbeat or state, on the backend's clock. ``marked``: some process has already shown
    its card as not responding. ``recorded_at``: when its state was last written (backend's
    clock), ``started_at`` when it took its slot. ``state`` is the last content state the
    phone was sent (JSON, as the owner recorded it).
    """

    id: str
    owner: Owner
    alive: bool
    same_host: bool
    title: str
    stream_key: str | None
    activity_id: str | None
    started_at: float
    recorded_at: float
    silent_for: float
    state: Mapping[str, Any] | None
    marked: bool


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


class FleetEntry(NamedTuple):
    """One member in a fleet's record: its last state (JSON, as it wrote it), the owner that
    wrote it (a token), its last write and its first, on the backend's clock."""

    state: Mapping[str, Any]
    owner: str
    beat: float
    started: float


@dataclass(frozen=True)
class FleetRecord:
    """One run of a fleet as the ledger holds it, read at ``now`` (the backend's clock).

    ``meta`` is what the first member wrote of the fleet (title, expected members);
    ``deadline`` when every member should have started; ``card`` what the senders wrote of the
    card (when it started, how many updates it had); ``over`` once its end was delivered;
    ``leader`` the holder of the sender's lease, if any. ``alive`` names the members whose
    owner the reading process knows to be alive (filled in by ``AccountLedger``).
    """

    run: str
    now: float
    created: float
    deadline: float | None
    meta: Mapping[str, Any]
    members: Mapping[str, FleetEntry]
    over: bool = False
    card: Mapping[str, Any] | None = None
    leader: str | None = None
    alive: frozenset[str] = frozenset()


class FleetJoin(NamedTuple):
    """What a member brings when it joins a run of a fleet (``Backend.fleet_join``)."""

    run: str | None
    """The run id it was given (``None``: the fleet's current run, if it may join it)."""
    meta: Mapping[str, Any]
    """What the run's first member writes of the fleet (title, expected members)."""
    deadline: float | None
    """Seconds from now by which every member should have started (the first member's)."""
    join_window: float
    """Without a deadline, how long after its first member a run takes new members."""
    lost_after: float
    """How old a running member's heartbeat may be before its name is free again."""


class FleetReport(NamedTuple):
    """One member's write (``Backend.fleet_report``): its state, and its bid for the lease."""

    state: Mapping[str, Any]
    holder: str
    """The member's name for the lease (unique to one member's job)."""
    lease: float
    """Seconds the lease lasts from this write, if it holds it."""
    lead: bool = True
    """Take the lease if it is free."""
    release: bool = False
    """Give the lease back if it holds it."""


class FleetsUnsupported(LedgerUnavailable):
    """This ledger keeps no fleets (one that is off, or stands in for a shared one that failed)."""


def fleet_run_name(fleet: str, run: str | int) -> str:
    """The ledger's name of one run of ``fleet``: ``nightly#3`` (counted), ``nightly@<id>``."""
    return f"{fleet}#{run}" if isinstance(run, int) else f"{fleet}@{run}"


def may_join(
    *,
    over: bool,
    join_until: float | None,
    now: float,
    entry: FleetEntry | None,
    lost_after: float,
) -> bool:
    """Whether a member joins a fleet's current run (else it starts the next one): not once
    the run's card has ended or its time to join has passed, nor when a member of the same name
    still runs in it (yesterday's run, still going: today's member is not part of it)."""
    if over or (join_until is not None and now > join_until):
        return False
    if entry is None:
        return True
    running = not entry.state.get("outcome")
    return not (running and now - entry.beat <= lost_after)


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
    schedules: ScheduleStore
    """The account's scheduled jobs (``livebar._ledger.schedules``)."""

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

    # -- watching: cards of live owners that stopped turning (``livebar._engine.hung``) ------

    def watch(self, now: float, *, stale_after: float) -> list[Watched]:
        """Every open activity of other owners that is on the phone and claimed by no reaper,
        with its owner's liveness, silence and mark. Drops marks whose activity is gone."""
        return []  # a backend of this process alone: nothing of another process to watch

    def mark(self, record: str, now: float, *, marked: bool) -> bool:
        """Set (``marked``) or clear the not-responding mark of ``record``, atomically: answers
        whether this call changed it (of two racing markers, one wins)."""
        return False

    def take_marks(self, now: float) -> tuple[str, ...]:
        """Clear the marks on this owner's activities and answer their keys (the owner is back:
        it shows its own state again)."""
        return ()

    # -- fleets: one card for a job run by many members (``livebar._job.fleet``) ---------------

    def fleet_join(self, fleet: str, member: str, now: float, join: FleetJoin) -> str:
        """Join a run of ``fleet`` as ``member`` and answer its name: run ``join.run`` when
        given, else the current one if ``may_join`` says so, else a new one (which becomes
        current). The first member sets the run's ``meta`` and deadline."""
        raise FleetsUnsupported(self.name)

    def fleet_report(self, run: str, member: str, now: float, report: FleetReport) -> bool:
        """Write ``member``'s state (and heartbeat); then the sender's lease: renewed when the
        report's ``holder`` holds it (given back when ``release``), taken when it is free and
        ``lead`` (``SET NX PX``), never once the run is over. Answers whether the holder holds
        it now."""
        raise FleetsUnsupported(self.name)

    def fleet_read(self, run: str, now: float) -> FleetRecord | None:
        """The whole record of ``run`` (None when there is none)."""
        raise FleetsUnsupported(self.name)

    def fleet_card(
        self, run: str, now: float, *, holder: str, card: Mapping[str, Any] | None, over: bool
    ) -> bool:
        """What the sender ``holder`` wrote of the card (``over``: its end was delivered);
        only while it holds the lease. Answers whether it was written."""
        raise FleetsUnsupported(self.name)
