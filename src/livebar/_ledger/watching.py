"""What the account ledger answers about other processes' jobs: hung owners and their marks,
and the scheduled jobs that missed a start.

Module functions over ``AccountLedger.call`` (its failure handling: a ledger that does not
answer answers "nothing now"), so the ledger's class stays the size of one room.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from livebar._ledger.backend import Watched
    from livebar._ledger.ledger import AccountLedger
    from livebar._ledger.schedules import Schedule

__all__ = [
    "claim_missed",
    "forget_schedule",
    "mark",
    "schedule_ended",
    "schedule_started",
    "schedules",
    "take_marks",
    "watch",
]


def watch(ledger: AccountLedger, now: float) -> list[Watched]:
    """Other processes' open cards, each with its owner's liveness and silence
    (``Backend.watch``); empty while the ledger does not answer."""
    stale_after = ledger.stale_after
    return ledger.call(now, lambda b, t: b.watch(t, stale_after=stale_after)) or []


def mark(ledger: AccountLedger, record: str, now: float, *, marked: bool = True) -> bool:
    """Claim (or clear) the not-responding mark of ``record``: True if this call did it."""
    return bool(ledger.call(now, lambda b, t: b.mark(record, t, marked=marked)))


def take_marks(ledger: AccountLedger, now: float) -> tuple[str, ...]:
    """The keys of this process's cards another process marked not responding (the marks are
    cleared: this process shows its own state again)."""
    return ledger.call(now, lambda b, t: b.take_marks(t)) or ()


# -- scheduled jobs (``livebar._ledger.schedules``; times on the wall clock) ------------------


def schedule_started(
    ledger: AccountLedger,
    name: str,
    now: float,
    wall: float,
    *,
    title: str,
    expect_every: float,
    grace: float,
) -> None:
    """A run of the scheduled job ``name`` started (at ``wall``)."""
    ledger.call(
        now,
        lambda b, _t: b.schedules.started(
            name, wall, title=title, expect_every=expect_every, grace=grace
        ),
    )


def schedule_ended(ledger: AccountLedger, name: str, now: float, wall: float, outcome: str) -> None:
    """The run of ``name`` ended (at ``wall``) with ``outcome``."""
    ledger.call(now, lambda b, _t: b.schedules.ended(name, wall, outcome=outcome))


def schedules(ledger: AccountLedger, now: float) -> list[Schedule]:
    """Every scheduled job of the account (empty while the ledger does not answer)."""
    return ledger.call(now, lambda b, _t: b.schedules.read()) or []


def claim_missed(ledger: AccountLedger, schedule: Schedule, period: int, now: float) -> bool:
    """Claim the push of ``schedule``'s missed ``period``: True for exactly one caller."""
    name, start = schedule.name, schedule.last_start
    return bool(ledger.call(now, lambda b, _t: b.schedules.claim_missed(name, period, start)))


def forget_schedule(ledger: AccountLedger, name: str, now: float) -> bool | None:
    """Drop the schedule of ``name``: True if there was one, False if not, None when the ledger
    does not answer."""
    answer = ledger.call(now, lambda b, _t: b.schedules.forget(name))
    return None if answer is None else bool(answer)
