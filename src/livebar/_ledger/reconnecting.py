"""A shared backend that could not be opened yet (a Redis that did not answer at start).

``open_ledger`` wraps it in an ``AccountLedger`` that starts degraded: the process paces itself
alone (as it always did when the shared ledger was out) and the wrapper tries the backend again
every ``recover_every``; each try opens it here, and once it opens the wrapper hands its shadow
over as after any outage. So a process started while Redis was down joins the account's shared
budget, and its fleets, once Redis answers.
"""

from __future__ import annotations

from typing import Any, Callable

from livebar._ledger.backend import (
    Backend,
    FleetJoin,
    FleetRecord,
    FleetReport,
    LedgerUnavailable,
    Orphan,
    SlotGrant,
    Tracked,
    _Grant,
)
from livebar._ledger.owner import Owner

__all__ = ["Reconnecting"]


class Reconnecting(Backend):
    """``opener()`` on first use (again on every call until it succeeds), then its backend."""

    def __init__(
        self, opener: Callable[[], Backend], *, name: str, window: float, owner: Owner
    ) -> None:
        self._opener = opener
        self._backend: Backend | None = None
        self.name = name
        self.window = window
        self.owner = owner

    def _real(self) -> Backend:
        if self._backend is None:
            try:
                self._backend = self._opener()
            except Exception as exc:
                raise LedgerUnavailable(f"{type(exc).__name__}: {exc}") from exc
        return self._backend

    def acquire(self, now: float, *, limit: int, floor: int) -> _Grant:
        return self._real().acquire(now, limit=limit, floor=floor)

    def refund(self, ticket: int) -> None:
        self._real().refund(ticket)

    def landed(self, ticket: int, now: float) -> None:
        self._real().landed(ticket, now)

    def used(self, now: float) -> int:
        return self._real().used(now)

    def request_slot(self, key: str, now: float, **options: Any) -> SlotGrant:
        return self._real().request_slot(key, now, **options)

    def yield_slot(self, key: str) -> None:
        self._real().yield_slot(key)

    def record_state(self, key: str, now: float, **options: Any) -> None:
        self._real().record_state(key, now, **options)

    def close_activity(self, key: str) -> None:
        self._real().close_activity(key)

    def heartbeat(self, now: float) -> tuple[str, ...]:
        return self._real().heartbeat(now)

    def claim_orphans(self, now: float, *, stale_after: float) -> list[Orphan]:
        return self._real().claim_orphans(now, stale_after=stale_after)

    def settle_orphan(self, orphan_id: str, *, ended: bool) -> None:
        self._real().settle_orphan(orphan_id, ended=ended)

    def restore(self, tracked: list[Tracked], ages: list[float], now: float) -> None:
        self._real().restore(tracked, ages, now)

    def close(self) -> None:
        if self._backend is not None:
            self._backend.close()

    def fleet_join(self, fleet: str, member: str, now: float, join: FleetJoin) -> str:
        return self._real().fleet_join(fleet, member, now, join)

    def fleet_report(self, run: str, member: str, now: float, report: FleetReport) -> bool:
        return self._real().fleet_report(run, member, now, report)

    def fleet_read(self, run: str, now: float) -> FleetRecord | None:
        return self._real().fleet_read(run, now)

    def fleet_card(self, run: str, now: float, **options: Any) -> bool:
        return self._real().fleet_card(run, now, **options)
