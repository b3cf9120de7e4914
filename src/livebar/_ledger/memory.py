"""The in-process ledger: this process only (``LIVEBAR_LEDGER=off``, and the fallback whenever
a shared backend cannot be used). Pure: it takes ``now`` and reads no clock."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from livebar._ledger.backend import (
    Backend,
    FleetEntry,
    FleetJoin,
    FleetRecord,
    FleetReport,
    Orphan,
    SlotGrant,
    Tracked,
    _Grant,
    fleet_run_name,
    may_join,
)
from livebar._ledger.owner import Owner
from livebar._ledger.schedules import MemorySchedules

__all__ = ["MemoryBackend"]


@dataclass
class _Run:
    """One run of a fleet, in memory."""

    created: float
    deadline: float | None
    join_until: float | None
    meta: dict[str, Any]
    members: dict[str, FleetEntry] = field(default_factory=dict)
    over: bool = False
    card: dict[str, Any] | None = None
    holder: str | None = None
    lease_until: float = 0.0


class MemoryBackend(Backend):
    """This process only: a sliding window of request times and a FIFO of starts. Pure."""

    name = "memory"

    def __init__(self, *, window: float, owner: Owner | None = None) -> None:
        if not window > 0:
            raise ValueError("window must be positive")
        self.window = window
        self.owner = owner if owner is not None else Owner("memory", 0, 0, "")
        self._sent: OrderedDict[int, float] = OrderedDict()
        self._tickets = 0
        self._tracked: dict[str, Tracked] = {}  # insertion order is queue order
        self._runs: dict[str, _Run] = {}
        self._current: dict[str, int] = {}
        self.schedules = MemorySchedules()

    def _expire(self, now: float) -> None:
        horizon = now - self.window
        while self._sent:
            ticket, at = next(iter(self._sent.items()))
            if at > horizon:
                break
            del self._sent[ticket]

    def acquire(self, now: float, *, limit: int, floor: int) -> _Grant:
        self._expire(now)
        room = limit - floor
        used = len(self._sent)
        if used < room:
            self._tickets += 1
            self._sent[self._tickets] = now
            return _Grant(True, used + 1, 0.0, self._tickets, now)
        wait = _wait(list(self._sent.values()), used - room, now, self.window)
        return _Grant(False, used, wait, None, now)

    def refund(self, ticket: int) -> None:
        self._sent.pop(ticket, None)

    def landed(self, ticket: int, now: float) -> None:
        if self._sent.pop(ticket, None) is not None:
            self._sent[ticket] = now  # the latest time: it keeps the window's order

    def used(self, now: float) -> int:
        self._expire(now)
        return len(self._sent)

    def request_slot(
        self, key: str, now: float, *, max_active: int, title: str, stream_key: str | None
    ) -> SlotGrant:
        entry = self._tracked.get(key)
        if entry is None:
            entry = self._tracked[key] = Tracked(key, title, stream_key)
        active = sum(1 for t in self._tracked.values() if t.active)
        if entry.active:
            return SlotGrant(True, active, 0)
        ahead = 0
        for other in self._tracked.values():
            if other is entry:
                break
            ahead += not other.active
        if active + ahead < max_active:
            entry.active = True
            entry.started_at = now
            return SlotGrant(True, active + 1, 0)
        return SlotGrant(False, active, ahead)

    def yield_slot(self, key: str) -> None:
        entry = self._tracked.get(key)
        if entry is not None:
            entry.active = False

    def record_state(
        self, key: str, now: float, *, activity_id: str | None, state: dict[str, Any] | None
    ) -> None:
        entry = self._tracked.get(key)
        if entry is None:
            return
        if activity_id is not None:
            entry.activity_id = activity_id
        if state is not None:
            entry.state = state

    def close_activity(self, key: str) -> None:
        self._tracked.pop(key, None)

    def heartbeat(self, now: float) -> tuple[str, ...]:
        return ()

    def claim_orphans(self, now: float, *, stale_after: float) -> list[Orphan]:
        return []  # every record here belongs to this process, which is alive

    def settle_orphan(self, orphan_id: str, *, ended: bool) -> None:
        return None

    def close(self) -> None:
        self._tracked.clear()

    def restore(self, tracked: list[Tracked], ages: list[float], now: float) -> None:
        self._tracked = {t.key: replace(t) for t in tracked}
        for age in sorted(ages, reverse=True):
            self._tickets += 1
            self._sent[self._tickets] = now - age
        self._expire(now)

    # -- fleets (members in this process only) --------------------------------------------------

    def fleet_join(self, fleet: str, member: str, now: float, join: FleetJoin) -> str:
        run, deadline = join.run, join.deadline
        if run is None:
            number = self._current.get(fleet, 0)
            current = self._runs.get(fleet_run_name(fleet, number))
            if current is None or not may_join(
                over=current.over,
                join_until=current.join_until,
                now=now,
                entry=current.members.get(member),
                lost_after=join.lost_after,
            ):
                number = self._current[fleet] = number + 1
            name = fleet_run_name(fleet, number)
        else:
            name = fleet_run_name(fleet, run)
        if name not in self._runs:
            at = None if deadline is None else now + deadline
            until = at if at is not None else (now + join.join_window if run is None else None)
            self._runs[name] = _Run(now, at, until, dict(join.meta))
        return name

    def fleet_report(self, run: str, member: str, now: float, report: FleetReport) -> bool:
        record = self._runs.get(run)
        if record is None:
            return False
        known = record.members.get(member)
        started = known.started if known is not None else now
        record.members[member] = FleetEntry(dict(report.state), self.owner.token, now, started)
        free = record.holder is None or record.lease_until <= now
        if record.holder == report.holder and not free:
            if report.release:
                record.holder = None
                return False
            record.lease_until = now + report.lease
            return True
        if free and report.lead and not report.release and not record.over:
            record.holder, record.lease_until = report.holder, now + report.lease
            return True
        return False

    def fleet_read(self, run: str, now: float) -> FleetRecord | None:
        record = self._runs.get(run)
        if record is None:
            return None
        leader = record.holder if record.lease_until > now else None
        return FleetRecord(
            run,
            now,
            record.created,
            record.deadline,
            dict(record.meta),
            dict(record.members),
            record.over,
            None if record.card is None else dict(record.card),
            leader,
        )

    def fleet_card(
        self, run: str, now: float, *, holder: str, card: Mapping[str, Any] | None, over: bool
    ) -> bool:
        record = self._runs.get(run)
        if record is None or record.holder != holder or record.lease_until <= now:
            return False
        if card is not None:
            record.card = dict(card)
        record.over |= over
        return True


def _wait(times: list[float], excess: int, now: float, window: float) -> float:
    """Seconds until ``excess + 1`` of ``times`` have left the window (how long a refused
    request must wait)."""
    if excess < 0:
        return 0.0
    ordered = sorted(times)
    if excess >= len(ordered):  # the limit is at or below the floor: nothing frees a place
        return window
    return max(ordered[excess] + window - now, 0.0)


# -- the wrapper the engine holds -------------------------------------------------------------
