"""The account ledger: one account's budgets shared by every livebar process that uses it.

An ActivitySmith account allows 60 requests in any minute and 4 concurrent Live Activities,
whoever sends them. The ledger is where every livebar process on the account writes down each
request *before* sending it, takes a concurrency slot before starting an activity (first come,
first served across processes), and keeps a record of each open activity with its owner and the
last state the phone shows, so that when an owner is killed another process can end the
activity truthfully ("Lost: process 4121 was killed after 2h 13m at 61%").

Backends, one interface:

* ``MemoryBackend``: this process only (today's behaviour; ``LIVEBAR_LEDGER=off``, and the
  fallback whenever a shared backend cannot be used). Pure: it takes ``now`` and reads no clock;
* ``SqliteBackend`` (``livebar._ledger.sqlite``): every process on one machine; a file per
  account under the user's runtime or cache directory, standard library only;
* ``RedisBackend`` (``livebar._ledger.redis``, the ``redis`` extra): every machine pointed at
  one Redis, each operation one Lua script, on the server's clock.

``AccountLedger`` is what the engine holds: it wraps one backend and never raises. A call that
cannot be answered within its short wait (a busy file, a slow Redis) answers conservatively
("not now, ask again in ``busy_retry``"), and the writes that must not be lost (a slot released,
a state recorded) are replayed in order on the next call. When the backend keeps failing for
``degrade_after`` seconds the ledger logs once and paces this process on its own (from a
shadow it always keeps of its own requests and activities) until the backend answers again,
then hands the shadow back to it.

Times: callers pass ``now`` from their own clock (the dispatcher's monotonic clock) and get
times back on that clock. Shared backends keep their own clock (the wall clock, or Redis's),
because their entries must compare across processes and hosts; they only ever answer in
durations, which the wrapper adds to the caller's ``now``. ``Orphan`` times are on the
backend's clock and only meaningful as differences.
"""

from __future__ import annotations

import math
from collections import OrderedDict, deque
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Callable, TypeVar

from livebar import _defaults
from livebar._ledger.backend import (
    Admission,
    Backend,
    FleetJoin,
    FleetRecord,
    FleetReport,
    FleetsUnsupported,
    Orphan,
    SlotGrant,
    Tracked,
)
from livebar._ledger.memory import MemoryBackend
from livebar._ledger.owner import Owner
from livebar._log import log

__all__ = [
    "DEFAULT_BUSY_RETRY",
    "DEFAULT_DEGRADE_AFTER",
    "DEFAULT_HEARTBEAT_INTERVAL",
    "DEFAULT_STALE_AFTER",
    "AccountLedger",
]


_T = TypeVar("_T")


DEFAULT_BUSY_RETRY = 0.05
"""How soon to ask again after the backend could not answer in time."""
DEFAULT_DEGRADE_AFTER = 1.0
"""How long the backend may keep failing before this process paces on its own."""
DEFAULT_RECOVER_EVERY = 30.0
"""How often a degraded ledger tries its backend again."""
DEFAULT_STALE_AFTER = 600.0
"""How old another host's heartbeat must be before its owner counts as gone. Generous: a
paused process that comes back must find its activities where it left them."""
DEFAULT_HEARTBEAT_INTERVAL = _defaults.DEFAULT_HEARTBEAT_INTERVAL
"""How often an owner should call ``heartbeat`` (well under ``DEFAULT_STALE_AFTER``)."""


@dataclass
class _Shadow:
    """What this process has done, on the caller's clock: enough to carry on alone."""

    sent: OrderedDict[int, float] = field(default_factory=OrderedDict)  # ticket → time, in order
    tracked: dict[str, Tracked] = field(default_factory=dict)


class AccountLedger:
    """One account's ledger as the dispatcher uses it: never raises, every wait bounded.

    All methods take ``now`` from the caller's clock (the same one for every call). Build one
    with ``open_ledger``; ``AccountLedger(MemoryBackend(window=...))`` is the in-process ledger
    (pure: tests drive it with a fake clock).
    """

    def __init__(
        self,
        backend: Backend,
        *,
        busy_retry: float = DEFAULT_BUSY_RETRY,
        degrade_after: float = DEFAULT_DEGRADE_AFTER,
        recover_every: float = DEFAULT_RECOVER_EVERY,
        stale_after: float = DEFAULT_STALE_AFTER,
        description: str = "",
        fleets: bool = True,
        degraded: bool = False,
    ) -> None:
        self._backend = backend
        self._fleets = fleets
        self._fallback: MemoryBackend | None = None
        self._busy_retry = busy_retry
        self._degrade_after = degrade_after
        self._recover_every = recover_every
        self._stale_after = stale_after
        self._description = description or backend.name
        self._shadow = _Shadow()
        self._backend_tickets: dict[int, int | None] = {}  # our ticket → the backend's
        self._next_ticket = 0
        self._unshared: set[int] = set()  # tickets of requests admitted while degraded
        self._pending: deque[Callable[[Backend, float], None]] = deque()
        self._failing_since: float | None = None
        self._retry_backend_at = -math.inf
        self._warned = False
        if degraded:  # the backend could not be opened (said once): pace alone, try it later
            self._fallback = MemoryBackend(window=backend.window, owner=backend.owner)
            self._warned = True
            self._retry_backend_at = math.inf  # the first call schedules the first try

    # -- introspection ----------------------------------------------------------------------

    @property
    def window(self) -> float:
        """The sliding window the request limit applies to, in seconds."""
        return self._backend.window

    @property
    def backend(self) -> str:
        """The backend answering now: ``memory``, ``sqlite`` or ``redis`` (``memory`` while a
        shared backend is out)."""
        return "memory" if self._fallback is not None else self._backend.name

    @property
    def shared(self) -> bool:
        """Whether other processes see what this one records."""
        return self.backend != "memory"

    def __repr__(self) -> str:
        return f"AccountLedger({self._description}, answering={self.backend})"

    # -- the request window -----------------------------------------------------------------

    def acquire(self, now: float, *, limit: int, floor: int = 0) -> Admission:
        """Record one request at ``now`` if fewer than ``limit - floor`` requests are in the
        account's window; atomic across every process on the ledger.

        ``limit`` is livebar's share of the account (it may change from call to call, e.g.
        under AIMD); ``floor`` the part of it this kind of request may not use (ends 0,
        starts and pushes ``end_reserve``, updates ``reserve``).
        """
        if limit < 1 or floor < 0:
            raise ValueError("limit must be at least 1 and floor at least 0")
        answer = self._call(now, lambda b, t: b.acquire(t, limit=limit, floor=floor))
        if answer is None:
            return Admission(False, self._shadow_used(now), now + self._busy_retry, busy=True)
        if not answer.admitted:
            return Admission(False, answer.used, now + answer.wait)
        self._trim(now)
        self._next_ticket += 1
        ticket = self._next_ticket
        self._shadow.sent[ticket] = now
        self._backend_tickets[ticket] = answer.ticket
        if self._fallback is not None:
            self._unshared.add(ticket)  # to hand to the backend when it is back
        return Admission(True, answer.used, now, self._next_ticket)

    def refund(self, ticket: int, now: float) -> None:
        """The request admitted with ``ticket`` certainly never reached the server: free its
        place (an unknown or old ticket is ignored)."""
        if self._shadow.sent.pop(ticket, None) is None:
            return
        self._unshared.discard(ticket)
        backend_ticket = self._backend_tickets.pop(ticket, None)
        if backend_ticket is not None:
            self._write(now, lambda b, _t: b.refund(backend_ticket))

    def landed(self, ticket: int, now: float) -> None:
        """The request admitted with ``ticket`` got its answer at ``now``: it counts in the
        window from then (the server counted it on arrival, after it was admitted)."""
        if ticket not in self._shadow.sent:
            return
        self._shadow.sent[ticket] = now
        self._shadow.sent.move_to_end(ticket)
        backend_ticket = self._backend_tickets.get(ticket)
        if backend_ticket is not None:
            self._write(now, lambda b, t: b.landed(backend_ticket, t))

    def used(self, now: float) -> int:
        """Requests in the account's window now (this process's own while degraded or busy)."""
        answer = self._call(now, lambda b, t: b.used(t))
        return self._shadow_used(now) if answer is None else answer

    # -- concurrent activities ----------------------------------------------------------------

    def request_slot(
        self,
        key: str,
        now: float,
        *,
        max_active: int,
        title: str,
        stream_key: str | None = None,
    ) -> SlotGrant:
        """Ask for one of the account's ``max_active`` concurrent slots for activity ``key``.

        The first call puts the start in the account's queue; a slot goes to the oldest waiting
        start of any process, so starts are served in order. Call again (same key) until it is
        granted; a granted key stays granted.
        """
        entry = self._shadow.tracked.get(key)
        if entry is None:
            entry = self._shadow.tracked[key] = Tracked(key, title, stream_key)
        answer = self._call(
            now,
            lambda b, t: b.request_slot(
                key, t, max_active=max_active, title=title, stream_key=stream_key
            ),
        )
        if answer is None:
            return SlotGrant(False, 0, 0, busy=True)
        if answer.granted and not entry.active:
            entry.active = True
            entry.started_at = now
        return answer

    def yield_slot(self, key: str, now: float) -> None:
        """Give back ``key``'s slot (the server refused the start: its account is full) while
        keeping its place at the head of the queue."""
        entry = self._shadow.tracked.get(key)
        if entry is not None:
            entry.active = False
        self._write(now, lambda b, _t: b.yield_slot(key))

    def record_state(
        self,
        key: str,
        now: float,
        *,
        activity_id: str | None = None,
        state: Mapping[str, Any] | None = None,
    ) -> None:
        """Remember what the phone shows for ``key`` (after a start or update went through):
        the server's ``activity_id`` and the content state as JSON. A reaper ends the
        activity from this if this process dies."""
        copied = None if state is None else dict(state)
        entry = self._shadow.tracked.get(key)
        if entry is not None:
            entry.activity_id = activity_id if activity_id is not None else entry.activity_id
            entry.state = copied if copied is not None else entry.state
        self._write(now, lambda b, t: b.record_state(key, t, activity_id=activity_id, state=copied))

    def close_activity(self, key: str, now: float) -> None:
        """``key`` has ended, or will never start: drop its record and free its slot."""
        self._shadow.tracked.pop(key, None)
        self._write(now, lambda b, _t: b.close_activity(key))

    # -- owners and orphans -------------------------------------------------------------------

    def heartbeat(self, now: float) -> tuple[str, ...]:
        """Say this process is alive (call every ``DEFAULT_HEARTBEAT_INTERVAL``). Answers the
        keys of this process's activities that another process has reaped meanwhile (only
        possible across hosts, after a pause longer than the stale bound): they are over."""
        answer = self._call(now, lambda b, t: b.heartbeat(t))
        if not answer:
            return ()
        for key in answer:
            self._shadow.tracked.pop(key, None)
        return answer

    def claim_orphans(self, now: float) -> list[Orphan]:
        """Claim the account's activities whose owners are gone. Each is answered to exactly
        one caller however many race; the caller ends it, then calls ``settle_orphan``. If the
        claimer dies first, its claim lapses and another process claims it again."""
        answer = self._call(now, lambda b, t: b.claim_orphans(t, stale_after=self._stale_after))
        return answer or []

    def settle_orphan(self, orphan_id: str, now: float, *, ended: bool) -> None:
        """The end of a claimed orphan went out (``ended``: drop it) or failed for now (give the
        claim back, so this or another process tries again later)."""
        self._write(now, lambda b, _t: b.settle_orphan(orphan_id, ended=ended))

    def call(self, now: float, operation: Callable[[Backend, float], _T]) -> _T | None:
        """``operation(backend, backend_now)`` with this ledger's failure handling (None: no
        answer now); ``livebar._ledger.watching`` asks its questions through it."""
        return self._call(now, operation)

    @property
    def stale_after(self) -> float:
        return self._stale_after

    def close(self, now: float) -> None:
        """Drop this process's records (a clean exit: every activity has ended)."""
        self._drain(now)
        try:
            self._backend.close()
        except Exception as exc:
            log.debug("livebar: closing the ledger failed: %r", exc)

    # -- fleets -------------------------------------------------------------------------------
    # Only ever on the backend itself: a fleet is coordinated through the shared ledger or not
    # at all. While it is out (and on a ledger built without fleets) these answer None: a member
    # reports once it can, and nobody stands in as the sender of a fleet it cannot see.

    @property
    def fleets(self) -> bool:
        """Whether fleets can be coordinated here now (the backend answers, and keeps them)."""
        return self._fleets and self._fallback is None

    def fleet_join(self, fleet: str, member: str, now: float, join: FleetJoin) -> str | None:
        """Join a run of ``fleet`` as ``member`` (``Backend.fleet_join``); None: not now."""
        return self._fleet_call(now, lambda b, t: b.fleet_join(fleet, member, t, join))

    def fleet_report(self, run: str, member: str, now: float, report: FleetReport) -> bool | None:
        """Write ``member``'s state (``Backend.fleet_report``); answers whether the holder
        holds the sender's lease now (None: the ledger did not answer, nothing is known)."""
        return self._fleet_call(now, lambda b, t: b.fleet_report(run, member, t, report))

    def fleet_read(self, run: str, now: float, *, lost_after: float) -> FleetRecord | None:
        """The record of ``run``, each member's owner judged alive or not as for orphans (its
        process on this host, else its heartbeat against ``lost_after``); None: not now."""
        record = self._fleet_call(now, lambda b, t: b.fleet_read(run, t))
        if record is None:
            return None
        me = self._backend.owner
        alive = frozenset(
            name
            for name, entry in record.members.items()
            if Owner.from_token(entry.owner).alive(
                me, heartbeat_age=record.now - entry.beat, stale_after=lost_after
            )
        )
        return replace(record, alive=alive)

    def fleet_card(self, run: str, now: float, **options: Any) -> bool | None:
        """Write what the sender knows of the card (``Backend.fleet_card``: only while it
        leads); None: not now."""
        return self._fleet_call(now, lambda b, t: b.fleet_card(run, t, **options))

    def _fleet_call(self, now: float, operation: Callable[[Backend, float], _T]) -> _T | None:
        if not self.fleets or self._active_backend(now) is self._fallback:
            return None
        try:
            self._drain_or_raise(now)
            answer = operation(self._backend, self._backend_now(now))
        except FleetsUnsupported:
            return None
        except Exception as exc:
            self._failed(now, exc)
            return None
        self._failing_since = None
        return answer

    # -- failure handling ---------------------------------------------------------------------

    def _backend_now(self, now: float) -> float:
        clock = self._backend.clock
        return clock() if clock is not None else now

    def _active_backend(self, now: float) -> Backend:
        if self._fallback is not None and self._retry_backend_at == math.inf:
            self._retry_backend_at = now + self._recover_every
        elif self._fallback is not None and now >= self._retry_backend_at:
            self._recover(now)
        return self._fallback if self._fallback is not None else self._backend

    def _call(self, now: float, operation: Callable[[Backend, float], _T]) -> _T | None:
        """``operation`` on the answering backend, or None when it could not answer."""
        backend = self._active_backend(now)
        if backend is self._fallback:
            return operation(backend, now)
        try:
            self._drain_or_raise(now)
            answer = operation(backend, self._backend_now(now))
        except Exception as exc:
            self._failed(now, exc)
            if self._fallback is not None:
                return operation(self._fallback, now)
            return None
        self._failing_since = None
        return answer

    def _write(self, now: float, operation: Callable[[Backend, float], None]) -> None:
        """A write that must happen: done now, or replayed before the next call."""
        backend = self._active_backend(now)
        if backend is self._fallback:
            operation(backend, now)
            return
        self._pending.append(operation)
        self._drain(now)  # on a degrade, the fallback is rebuilt from the shadow, which has it

    def _drain(self, now: float) -> None:
        if self._fallback is not None:
            return
        try:
            self._drain_or_raise(now)
        except Exception as exc:
            self._failed(now, exc)
        else:
            self._failing_since = None

    def _drain_or_raise(self, now: float) -> None:
        while self._pending:
            self._pending[0](self._backend, self._backend_now(now))
            self._pending.popleft()

    def _failed(self, now: float, exc: Exception) -> None:
        if self._failing_since is None:
            self._failing_since = now
        log.debug("livebar: the %s ledger did not answer: %r", self._backend.name, exc)
        if now - self._failing_since >= self._degrade_after:
            self._degrade(now, exc)

    def _degrade(self, now: float, exc: Exception) -> None:
        if not self._warned:
            self._warned = True
            log.warning(
                "livebar: the shared ledger (%s) is not answering (%s); this process paces "
                "itself alone until it answers again",
                self._description,
                type(exc).__name__,
            )
        fallback = MemoryBackend(window=self._backend.window, owner=self._backend.owner)
        self._trim(now)
        fallback.restore(
            list(self._shadow.tracked.values()),
            [now - at for at in self._shadow.sent.values()],
            now,
        )
        self._fallback = fallback
        self._pending.clear()
        self._forget_backend_tickets()
        self._retry_backend_at = now + self._recover_every

    def _recover(self, now: float) -> None:
        self._trim(now)
        try:
            there = self._backend_now(now)
            self._backend.restore(
                [
                    replace(
                        t, started_at=None if t.started_at is None else there - now + t.started_at
                    )
                    for t in self._shadow.tracked.values()
                ],
                [now - at for t, at in self._shadow.sent.items() if t in self._unshared],
                there,
            )
        except Exception as exc:
            log.debug("livebar: the %s ledger still does not answer: %r", self._backend.name, exc)
            self._retry_backend_at = now + self._recover_every
            return
        log.info("livebar: the shared ledger (%s) answers again", self._description)
        self._fallback = None
        self._failing_since = None
        self._unshared.clear()
        self._forget_backend_tickets()

    def _forget_backend_tickets(self) -> None:
        """After a switch of backend, old tickets name nothing there (the shadow still knows)."""
        for ticket in self._backend_tickets:
            self._backend_tickets[ticket] = None

    def _trim(self, now: float) -> None:
        """Forget own requests that have left the window (they are in time order)."""
        horizon = now - self._backend.window
        sent = self._shadow.sent
        while sent:
            ticket, at = next(iter(sent.items()))
            if at > horizon:
                break
            del sent[ticket]
            self._backend_tickets.pop(ticket, None)
            self._unshared.discard(ticket)

    def _shadow_used(self, now: float) -> int:
        self._trim(now)
        return len(self._shadow.sent)
