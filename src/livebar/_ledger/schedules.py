"""The account's scheduled jobs as the ledger keeps them: one record per stable job name.

A job started with ``name=`` (or ``stream_key=``) and ``expect_every=`` writes its schedule at
each start (``started``: title, period, grace, when) and its outcome at each end (``ended``).
Watchers read them (``read``) and claim each missed period once (``claim_missed``: atomic, so
of two processes that find it overdue one pushes). Times here are wall-clock seconds, given by
the caller: a schedule outlives reboots, which the sqlite ledger's monotonic clock does not.

``ScheduleStore`` is what each backend holds as ``schedules``; ``MemorySchedules`` is the
in-process one (this process's own jobs only).
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, replace

__all__ = ["MemorySchedules", "Schedule", "ScheduleStore"]


@dataclass(frozen=True)
class Schedule:
    """One scheduled job: its last start and end (wall clock), how that end went, and the last
    missed period already pushed (0: none since its last start)."""

    name: str
    title: str
    expect_every: float
    grace: float
    last_start: float
    last_end: float | None = None
    outcome: str | None = None
    missed: int = 0

    @property
    def running(self) -> bool:
        """Started and not ended since (or its process died before it could say)."""
        return self.last_end is None or self.last_end < self.last_start


class ScheduleStore(abc.ABC):
    """Where a backend keeps schedules; every method may raise (the ledger turns that into
    "no answer now")."""

    @abc.abstractmethod
    def started(
        self, name: str, wall: float, *, title: str, expect_every: float, grace: float
    ) -> None:
        """A run of ``name`` started at ``wall``: its schedule as given, nothing missed since."""

    @abc.abstractmethod
    def ended(self, name: str, wall: float, *, outcome: str) -> None:
        """The run of ``name`` ended at ``wall`` with ``outcome`` (``done``, ``failed``, …)."""

    @abc.abstractmethod
    def read(self) -> list[Schedule]:
        """Every schedule of the account, by name."""

    @abc.abstractmethod
    def claim_missed(self, name: str, period: int, last_start: float) -> bool:
        """Record that missed ``period`` (counted from ``last_start``) was pushed, if nobody did
        and no run started since: True for exactly one caller."""

    @abc.abstractmethod
    def forget(self, name: str) -> bool:
        """Drop the schedule of ``name`` (a job renamed or retired: nobody will push its missed
        runs again, until a run with ``expect_every`` writes it anew). True if there was one."""


class MemorySchedules(ScheduleStore):
    """This process's schedules only."""

    def __init__(self) -> None:
        self._by_name: dict[str, Schedule] = {}

    def started(
        self, name: str, wall: float, *, title: str, expect_every: float, grace: float
    ) -> None:
        known = self._by_name.get(name)
        fresh = Schedule(name, title, expect_every, grace, wall)
        if known is not None:
            fresh = replace(fresh, last_end=known.last_end, outcome=known.outcome)
        self._by_name[name] = fresh

    def ended(self, name: str, wall: float, *, outcome: str) -> None:
        known = self._by_name.get(name)
        if known is not None:
            self._by_name[name] = replace(known, last_end=wall, outcome=outcome)

    def read(self) -> list[Schedule]:
        return sorted(self._by_name.values(), key=lambda s: s.name)

    def claim_missed(self, name: str, period: int, last_start: float) -> bool:
        known = self._by_name.get(name)
        if known is None or known.missed >= period or known.last_start != last_start:
            return False
        self._by_name[name] = replace(known, missed=period)
        return True

    def forget(self, name: str) -> bool:
        return self._by_name.pop(name, None) is not None
