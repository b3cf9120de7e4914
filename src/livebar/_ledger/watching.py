"""What the account ledger answers about other processes' cards: hung owners and their marks.

Module functions over ``AccountLedger.call`` (its failure handling: a ledger that does not
answer answers "nothing now"), so the ledger's class stays the size of one room.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from livebar._ledger.backend import Watched
    from livebar._ledger.ledger import AccountLedger

__all__ = ["mark", "take_marks", "watch"]


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
