"""The limits pacing keeps: the account's window, its concurrent slots, iOS's update budget.

``Budgets`` is one frozen value (every number can be shrunk for tests); ``budgets_for`` gives the
defaults for a share of the account's requests per minute. Pure.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

from livebar import _defaults
from livebar._wire import checks
from livebar._wire.errors import ConfigurationError

__all__ = ["Budgets", "budgets_for"]


@dataclass(frozen=True)
class Budgets:
    """The limits the policy keeps. Every number can be shrunk for tests."""

    requests_per_window: int = _defaults.DEFAULT_REQUESTS_PER_MINUTE
    window: float = _defaults.ACCOUNT_WINDOW
    reserve: int = _defaults.DEFAULT_RESERVED_REQUESTS
    end_reserve: int = _defaults.DEFAULT_END_RESERVE
    max_activities: int = _defaults.DEFAULT_MAX_CONCURRENT_ACTIVITIES
    ios_burst: int = _defaults.IOS_BUDGET_UPDATES
    ios_interval: float = _defaults.IOS_BUDGET_INTERVAL
    ios_margin: float = _defaults.DEFAULT_IOS_MARGIN
    min_update_gap: float = _defaults.DEFAULT_MIN_UPDATE_GAP
    min_visible_change: float = _defaults.DEFAULT_MIN_VISIBLE_CHANGE
    detail_weight: float = _defaults.DEFAULT_DETAIL_WEIGHT
    backoff_initial: float = _defaults.DEFAULT_BACKOFF_INITIAL
    backoff_max: float = _defaults.DEFAULT_BACKOFF_MAX
    activity_limit_initial: float = _defaults.DEFAULT_ACTIVITY_LIMIT_BACKOFF_INITIAL
    activity_limit_max: float = _defaults.DEFAULT_ACTIVITY_LIMIT_BACKOFF_MAX
    rotate_after: float = _defaults.DEFAULT_ROTATE_AFTER
    whole_window: int | None = None
    """The account's whole window (its requests per ``window``), when what the phone must show
    may reach beyond livebar's share: starts, renewals and pushes borrow half of what the share
    leaves to other tools, ends all of it (see ``PacingPolicy._room``). None: livebar keeps to
    its share for everything. ``budgets_for`` (the engine's default) sets the account's 60."""
    fleet_lease: float = _defaults.DEFAULT_FLEET_LEASE
    fleet_report_every: float = _defaults.DEFAULT_FLEET_REPORT_EVERY
    fleet_min_write: float = _defaults.DEFAULT_FLEET_MIN_WRITE
    fleet_read_every: float = _defaults.DEFAULT_FLEET_READ_EVERY
    fleet_lost_after: float = _defaults.DEFAULT_FLEET_LOST_AFTER
    fleet_late_grace: float = _defaults.DEFAULT_FLEET_LATE_GRACE
    hang_after: float = _defaults.DEFAULT_HANG_AFTER
    """A live process silent this long is shown as not responding (``LIVEBAR_HANG_AFTER``)."""

    def __post_init__(self) -> None:
        whole = ("requests_per_window", "reserve", "end_reserve", "max_activities")
        for item in fields(self):
            if item.name == "whole_window":
                continue  # optional, checked below
            check = checks.integer if item.name in whole else checks.number
            checks.setting(check, getattr(self, item.name), item.name, minimum=0)
            if item.name in whole and not isinstance(getattr(self, item.name), int):
                raise ConfigurationError(item.name, "must be a whole number")
        if self.requests_per_window < 1 or self.max_activities < 1:
            raise ConfigurationError("requests_per_window", "must be at least 1")
        if not self.reserve < self.requests_per_window:
            raise ConfigurationError("reserve", "must be between 0 and requests_per_window - 1")
        if not self.end_reserve <= self.reserve:
            raise ConfigurationError("end_reserve", "must be between 0 and reserve")
        if self.whole_window is not None and not (
            isinstance(self.whole_window, int) and self.whole_window >= self.requests_per_window
        ):
            raise ConfigurationError(
                "whole_window", "must be a whole number >= requests_per_window"
            )
        if self.window <= 0 or self.ios_interval <= 0:
            raise ConfigurationError("window", "window and ios_interval must be positive")
        if not self.hang_after > 0:
            raise ConfigurationError("hang_after", "must be positive")
        if not 0 < self.fleet_report_every < self.fleet_lease:
            raise ConfigurationError("fleet_report_every", "must be positive and under fleet_lease")
        if not 0 <= self.fleet_late_grace < math.inf:
            raise ConfigurationError("fleet_late_grace", "must be a number of seconds >= 0")

    @property
    def heartbeat_every(self) -> float:
        """How often the engine says it is alive: every 30 s, and ten times per ``hang_after``
        at least (a threshold shrunk for tests shrinks it too)."""
        return min(_defaults.DEFAULT_HEARTBEAT_INTERVAL, self.hang_after / 10)

    @property
    def watch_every(self) -> float:
        """How often the engine looks for orphans and hung cards on its account."""
        return min(_defaults.DEFAULT_REAP_INTERVAL, self.hang_after / 30)

    def ios_allowance(self, elapsed: float) -> int:
        """How many updates an activity that started ``elapsed`` seconds ago may have had."""
        spaced = int(elapsed / (self.ios_interval * self.ios_margin)) if elapsed > 0 else 0
        return max(self.ios_burst, spaced)

    def ios_ready_at(self, started_at: float, updates_sent: int) -> float:
        """When update number ``updates_sent + 1`` fits in the iOS budget."""
        k = updates_sent + 1
        if k <= self.ios_burst:
            return started_at
        return started_at + k * self.ios_interval * self.ios_margin


def budgets_for(requests_per_minute: int) -> Budgets:
    """The default budgets for a share of ``requests_per_minute`` of the account's 60 (what the
    phone must show may reach beyond it: ``Budgets.whole_window``)."""
    reserve = min(_defaults.DEFAULT_RESERVED_REQUESTS, requests_per_minute - 1)
    end_reserve = min(_defaults.DEFAULT_END_RESERVE, reserve)
    return Budgets(
        requests_per_window=requests_per_minute,
        reserve=reserve,
        end_reserve=end_reserve,
        whole_window=max(_defaults.ACCOUNT_REQUESTS_PER_MINUTE, requests_per_minute),
    )
