"""The account's rate-limit window and iOS's view of one Live Activity: pure, on your clock.

This is the one model of ActivitySmith's and iOS's limits that the simulator (``_state.py``) and
the pacing benchmark both use. It does no I/O, reads no clock (every method takes ``now``, in
seconds) and imports nothing beyond the standard library, so importing it needs neither
starlette nor uvicorn::

    from livebar.simulator._model import AccountWindow, IOSLimits, LiveActivityModel

    window = AccountWindow(limit=60, window=60.0)
    window.admit(now)                         # False (and not counted) when the window is full

    activity = LiveActivityModel(started_at=now, limits=IOSLimits())
    verdict = activity.update(now + 30.0)     # UpdateVerdict(shown=..., warned=...)
    activity.end(now + 90.0, dismiss_after=180.0)
    activity.phase(now + 100.0)               # "active" | "ended" | "expired" | "dismissed"

The rules, with the defaults of ``IOSLimits``:

- Warning (the server's rule): an update warns once the activity has had more than
  ``budget_updates`` (12) updates and averaged more than one per ``budget_interval`` (120 s)
  since it started: ``updates > 12 and updates / elapsed > 1 / 120``.
- Throttle (iOS): the update that first meets the same condition, counted since the start or
  since the last throttle lifted, is the first one the phone drops; for ``throttle_seconds``
  (3600) afterwards the phone keeps showing the last state it accepted. When the throttle lifts
  the activity gets a fresh budget. An end is always shown and lifts the throttle.
- The 8-hour limit (iOS): ``max_age`` (8 h) after it started, iOS ends an activity that is still
  open ("expired"); from then on the phone shows nothing new of it (updates and ends are
  dropped) and it no longer counts as open. It stays on the lock screen ``ended_linger`` (4 h)
  more, then leaves.
- Dismissal: an ended activity leaves the lock screen ``min(dismiss_after, ended_linger)``
  seconds after its end.
"""

from __future__ import annotations

import collections
from typing import NamedTuple

__all__ = [
    "ACTIVE",
    "DISMISSED",
    "ENDED",
    "EXPIRED",
    "AccountWindow",
    "IOSLimits",
    "LiveActivityModel",
    "UpdateVerdict",
    "over_budget",
]

ACTIVE = "active"
"""Open and on the lock screen."""
ENDED = "ended"
"""Ended by a request; still on the lock screen until its dismissal."""
EXPIRED = "expired"
"""Ended by iOS at the 8-hour limit; still on the lock screen for ``ended_linger``."""
DISMISSED = "dismissed"
"""Gone from the lock screen."""

_TINY = 1e-9


class IOSLimits(NamedTuple):
    """iOS's (and the server's) limits on one Live Activity; seconds unless said otherwise."""

    budget_updates: int = 12
    budget_interval: float = 120.0
    throttle_seconds: float = 3600.0
    max_age: float = 8 * 3600.0
    ended_linger: float = 4 * 3600.0


class UpdateVerdict(NamedTuple):
    """What became of one update: did the phone show it, did the server warn about it."""

    shown: bool
    warned: bool


def over_budget(updates: int, elapsed: float, limits: IOSLimits) -> bool:
    """More than ``budget_updates`` updates averaging more than one per ``budget_interval``."""
    return (
        updates > limits.budget_updates
        and updates / max(elapsed, _TINY) > 1.0 / limits.budget_interval
    )


class AccountWindow:
    """A sliding-window rate limit: at most ``limit`` admitted requests in any ``window`` seconds.

    A request the window refuses is not counted.
    """

    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        self._times: collections.deque[float] = collections.deque()

    def _slide(self, now: float) -> None:
        times = self._times
        while times and times[0] <= now - self.window:
            times.popleft()

    def admit(self, now: float) -> bool:
        """Count a request at ``now`` if the window has room; False (not counted) if it is full."""
        self._slide(now)
        if len(self._times) >= self.limit:
            return False
        self._times.append(now)
        return True

    def count(self, now: float) -> int:
        """Requests counted in the window that ends at ``now``."""
        return sum(1 for t in self._times if t > now - self.window)

    def wait(self, now: float) -> float:
        """Seconds from ``now`` until a request would be admitted (0.0 when it would be now)."""
        inside = [t for t in self._times if t > now - self.window]
        if len(inside) < self.limit:
            return 0.0
        return inside[len(inside) - self.limit] + self.window - now

    def clear(self) -> None:
        """Forget every counted request."""
        self._times.clear()


class LiveActivityModel:
    """One Live Activity as iOS and the server see it: its update budget, throttles, the 8-hour
    limit and its dismissal. Counters are public and read-only for callers."""

    def __init__(self, started_at: float, limits: IOSLimits | None = None) -> None:
        self.limits = limits if limits is not None else IOSLimits()
        self.started_at = started_at
        self.updates = 0
        """Updates the server accepted, since the start (the warning rule counts these)."""
        self.dropped = 0
        """Updates (and ends) the phone did not show."""
        self.warnings = 0
        self.throttles: list[list[float]] = []
        """``[start, end]`` of each throttle; the end moves earlier if an end lifts it."""
        self.ended_at: float | None = None
        self.ended_by_ios = False
        self._dismiss_at: float | None = None
        self._budget_since = started_at
        self._budget_updates = 0
        self._throttled_until: float | None = None
        self._removed_at: float | None = None

    @property
    def expires_at(self) -> float:
        """When iOS ends the activity if nothing else has."""
        return self.started_at + self.limits.max_age

    def expired(self, now: float) -> bool:
        """iOS has ended the activity at its limit (it was still open then)."""
        return now >= self.expires_at and (self.ended_at is None or self.ended_by_ios)

    def is_open(self, now: float) -> bool:
        """Neither ended by a request nor by iOS: it counts against the concurrency limit."""
        return self.ended_at is None and now < self.expires_at

    def throttled_until(self, now: float) -> float | None:
        """The end of the throttle in force at ``now``, if any."""
        until = self._throttled_until
        return until if until is not None and now < until else None

    def throttled_time(self, until: float) -> float:
        """Seconds spent throttled up to ``until``."""
        return sum(max(0.0, min(end, until) - start) for start, end in self.throttles)

    def update(self, now: float) -> UpdateVerdict:
        """The server accepts an update at ``now``: does the phone show it, does the server warn."""
        self.updates += 1
        warned = over_budget(self.updates, now - self.started_at, self.limits)
        self.warnings += warned
        shown = self._phone_accepts(now)
        self.dropped += not shown
        return UpdateVerdict(shown, warned)

    def _phone_accepts(self, now: float) -> bool:
        if not self.is_open(now):
            return False
        if self._throttled_until is not None:
            if now < self._throttled_until:
                return False
            self._throttled_until = None  # the throttle lifted: a fresh budget from now
            self._budget_since = now
            self._budget_updates = 0
        self._budget_updates += 1
        if over_budget(self._budget_updates, now - self._budget_since, self.limits):
            self._throttled_until = now + self.limits.throttle_seconds
            self.throttles.append([now, self._throttled_until])
            return False
        return True

    def end(self, now: float, dismiss_after: float) -> bool:
        """End the activity at ``now``; it leaves ``min(dismiss_after, ended_linger)`` later.

        Returns whether the phone shows the end (not once iOS ended the activity itself). An end
        of an ended activity changes nothing and returns False.
        """
        if self.ended_at is not None:
            return False
        if now >= self.expires_at:
            self.ended_at = self.expires_at
            self.ended_by_ios = True
            self.dropped += 1
            return False
        self.ended_at = now
        self._dismiss_at = now + min(max(dismiss_after, 0.0), self.limits.ended_linger)
        if self._throttled_until is not None and self._throttled_until > now:
            self.throttles[-1][1] = now
        self._throttled_until = None
        return True

    def dismiss_at(self, now: float) -> float | None:
        """When the card leaves the lock screen (None while the activity is open)."""
        if self._removed_at is not None:
            return self._removed_at
        if self.expired(now):
            return self.expires_at + self.limits.ended_linger
        return self._dismiss_at

    def replaced(self, now: float) -> None:
        """The server replaced this activity with a new one (a stream rotation): it ends, if it
        is still open, and leaves the lock screen at once."""
        if self.ended_at is None:
            if now >= self.expires_at:
                self.ended_at = self.expires_at
                self.ended_by_ios = True
            else:
                self.end(now, 0.0)
        self._removed_at = now

    def phase(self, now: float) -> str:
        """``ACTIVE``, ``ENDED``, ``EXPIRED`` or ``DISMISSED`` at ``now``."""
        dismiss_at = self.dismiss_at(now)
        if dismiss_at is not None and now >= dismiss_at:
            return DISMISSED
        if self.expired(now):
            return EXPIRED
        return ENDED if self.ended_at is not None else ACTIVE

    def needs_rotation(self, now: float, rotate_after: float) -> bool:
        """Whether a stream should replace this activity at ``now``: it has run ``rotate_after``
        seconds, or iOS has already ended it at its limit."""
        return self.ended_at is None and now - self.started_at >= min(
            rotate_after, self.limits.max_age
        )
