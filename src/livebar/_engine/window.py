"""What pacing knows of the account's request window, and how much of it each request may fill.

Pure: ``now`` comes from the caller. The window itself is the ledger's (every livebar process
on the account writes there); this keeps livebar's share of it (lowered for a while by AIMD
after a 429 the ledger did not predict: ``share.ShareController``), the room each kind of
request may fill (``room``), what the ledger refused during the current plan and when the
window frees for it, and the pause every request of the account takes after a plain 429.
"""

from __future__ import annotations

import math

from livebar import _defaults
from livebar._engine.budgets import Budgets
from livebar._engine.messages import Kind
from livebar._engine.share import ShareController

__all__ = ["Window"]


class Window:
    """The account's window as one pacing policy sees it."""

    def __init__(self, budgets: Budgets) -> None:
        self.budgets = budgets
        self._share = _share_for(budgets)
        self._refused: dict[int, float] = {}  # room asked for -> when the window frees for it
        self.paused_until = -math.inf
        """After a plain 429 every request of the account waits until then."""
        self.rate_failures = 0
        """Plain 429s in a row (their backoff grows)."""

    def rebudget(self, budgets: Budgets) -> None:
        """New budgets; livebar's share starts afresh when its size or its window changed."""
        old, self.budgets = self.budgets, budgets
        if (old.requests_per_window, old.window) != (budgets.requests_per_window, budgets.window):
            self._share = _share_for(budgets)

    def share(self, now: float) -> int:
        """livebar's share of the account's window now (lowered after unforeseen 429s)."""
        return min(self._share.limit(now), self.budgets.requests_per_window)

    def room(self, kind: Kind, now: float) -> tuple[int, int]:
        """How much of the account's window a request of ``kind`` may fill: ``(limit, floor)``,
        as the ledger takes them (it admits while fewer than ``limit - floor`` are in it).

        Updates keep to livebar's share, less the reserve. What the phone must show reaches
        beyond it when the budgets know the whole window: a start, a renewal or a push borrows
        half of what the share leaves to other tools, an end may use it all (an update can
        wait for the window, a card that never appears or never ends is a lie). Nothing is
        borrowed while the share is cut (another tool on the key was seen).
        """
        b = self.budgets
        share = self.share(now)
        floor = {
            Kind.END: 0,
            Kind.START: b.end_reserve,
            Kind.ROTATE: b.end_reserve + 1,  # its start follows at once
            Kind.PUSH: b.end_reserve,
            Kind.UPDATE: b.reserve,
        }[kind]
        whole = b.whole_window
        if kind is Kind.UPDATE or whole is None:
            return share, floor
        if kind is Kind.END:
            return whole, floor
        borrowed = (whole - b.requests_per_window) // 2 if share >= b.requests_per_window else 0
        return share + borrowed, floor

    # -- within one plan ------------------------------------------------------------------------

    def new_plan(self) -> None:
        """A new plan asks the ledger afresh."""
        self._refused = {}

    def full_for(self, limit: int, floor: int) -> bool:
        """Whether a request with as much room or more was refused during this plan."""
        return any(refused >= limit - floor for refused in self._refused)

    def refused(self, limit: int, floor: int, retry_at: float) -> None:
        """The ledger refused a request of that room; the window frees for it at ``retry_at``."""
        self._refused[limit - floor] = retry_at

    def frees_at(self, kind: Kind, now: float) -> float:
        """When the window next has room for a request of ``kind`` (as the ledger answered the
        last look; ``now`` when nothing was refused)."""
        limit, floor = self.room(kind, now)
        known = [at for refused, at in self._refused.items() if refused >= limit - floor]
        return max(known) if known else now

    # -- what the account's answers say -------------------------------------------------------

    def answered(self, now: float) -> None:
        self.rate_failures = 0

    def rate_limited(self, now: float, delay: float, used: int | None) -> None:
        """A plain 429: every request waits ``delay``; and unless the ledger's count (``used``,
        when the request was admitted) predicted it, someone else spends the window, so
        livebar's share is cut (``ShareController.on_rate_limited``)."""
        self.paused_until = max(self.paused_until, now + delay)
        self._share.on_rate_limited(now, used=used)


def _share_for(budgets: Budgets) -> ShareController:
    ceiling = budgets.requests_per_window
    return ShareController(
        ceiling=ceiling,
        floor=min(ceiling, _defaults.DEFAULT_RESERVED_REQUESTS + 2),
        window=budgets.window,
    )
