"""livebar's share of an account that other tools use too: additive increase, multiplicative
decrease.

The ledger makes every livebar process on an account see every livebar request, but the
official CLI, a GitHub Action or a curl in a cron job draw from the same 60 requests a minute
and write nothing down. A plain rate-limit 429 that livebar's own accounting did not predict
(the ledger said the account had room) means someone else is spending the budget. A fixed share
then keeps colliding every minute; halving the share on each such collision and growing it back
by a request per window per window (TCP's rule) makes the shared account converge: the
collisions become rare, and two adaptive tools end up with about equal shares (each halving
shrinks the gap between them, each additive step keeps it).

Several 429s in quick succession (the requests already in flight when the account filled up)
are one collision: the share is cut at most once per ``cooldown``.

Pure: ``now`` comes from the caller, nothing reads a clock.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from livebar import _defaults

__all__ = ["ShareController"]


@dataclass
class ShareController:
    """The number of requests per window livebar may use on one account.

    ``ceiling`` is the configured share (``requests_per_minute``), ``floor`` the least it may
    shrink to (above the reserve, so starts and ends still go out), ``decrease`` the factor
    applied on a collision, ``increase`` the requests per window regained per ``window``
    seconds, ``cooldown`` (default one window) the least time between two cuts.
    """

    ceiling: int = _defaults.DEFAULT_REQUESTS_PER_MINUTE
    floor: int = _defaults.DEFAULT_RESERVED_REQUESTS + 2
    decrease: float = 0.5
    increase: float = 1.0
    window: float = 60.0
    cooldown: float | None = None
    account_limit: int = _defaults.ACCOUNT_REQUESTS_PER_MINUTE
    _share: float = field(init=False, repr=False)
    _updated: float | None = field(init=False, repr=False, default=None)
    _cut_at: float = field(init=False, repr=False, default=-math.inf)
    collisions: int = field(init=False, default=0)
    """Unpredicted 429s that cut the share."""

    def __post_init__(self) -> None:
        if not 1 <= self.floor <= self.ceiling:
            raise ValueError("floor must be between 1 and ceiling")
        if not 0 < self.decrease < 1:
            raise ValueError("decrease must be between 0 and 1 (exclusive)")
        if self.increase < 0 or self.window <= 0:
            raise ValueError("increase must be >= 0 and window > 0")
        self._share = float(self.ceiling)

    @property
    def cooldown_seconds(self) -> float:
        return self.window if self.cooldown is None else self.cooldown

    def limit(self, now: float) -> int:
        """The share in force at ``now``: pass it as ``limit`` to ``AccountLedger.acquire``."""
        self._grow(now)
        return max(self.floor, int(self._share))

    def share(self, now: float) -> float:
        """The share at ``now`` before rounding (for reports and tests)."""
        self._grow(now)
        return self._share

    def on_rate_limited(self, now: float, *, used: int | None = None) -> bool:
        """A plain rate-limit 429 came back. ``used`` is what the ledger counted in the window
        when the request was admitted (``Admission.used``): when that already exceeded the
        account's limit the 429 was predicted (livebar's own doing) and the share stays.
        Answers whether the share was cut."""
        self._grow(now)
        if used is not None and used > self.account_limit:
            return False
        if now - self._cut_at < self.cooldown_seconds:
            return False  # the same collision, seen by another request in flight
        self._share = max(float(self.floor), self._share * self.decrease)
        self._cut_at = now
        self.collisions += 1
        return True

    def _grow(self, now: float) -> None:
        if self._updated is not None and now > self._updated:
            gained = self.increase * (now - self._updated) / self.window
            self._share = min(float(self.ceiling), self._share + gained)
        if self._updated is None or now > self._updated:
            self._updated = now
