"""What a simulated account is configured with: ``SimulatorConfig`` and its defaults."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Callable

from livebar._defaults import (
    ACCOUNT_REQUESTS_PER_MINUTE,
    DEFAULT_MAX_CONCURRENT_ACTIVITIES,
    IOS_BUDGET_INTERVAL,
    IOS_BUDGET_UPDATES,
)
from livebar._wire.errors import ConfigurationError, ValidationError
from livebar._wire.payload import validate_metric_key
from livebar.simulator._model import IOSLimits

DEFAULT_API_KEY = "ask_sim_default"
"""The key every simulator accepts unless configured otherwise; scoped to all recipients."""
DEFAULT_DEVICES: Mapping[str, tuple[str, ...]] = {"iPhone": ("devs", "ops")}
DEFAULT_METRICS: tuple[str, ...] = ("cpu", "queue_depth")
"""The widget metric keys a simulated account has unless configured otherwise."""
THROTTLE_SECONDS = IOSLimits().throttle_seconds
"""How long iOS keeps an over-budget activity frozen ("roughly an hour")."""
ACTIVITY_MAX_AGE = IOSLimits().max_age
"""iOS ends a Live Activity this long (8 h) after it started."""
ENDED_LINGER = IOSLimits().ended_linger
"""An ended Live Activity leaves the lock screen after at most this long (4 h)."""
STREAM_ROTATE_AFTER = 7.5 * 3600.0
"""A stream PUT replaces an activity that has run this long (half an hour before the limit)."""
BILLING_REASONS = ("trial_expired", "trial_exhausted", "billing_overage_cap_reached")


@dataclass(frozen=True)
class SimulatorConfig:
    """Everything a simulated account can be configured with.

    ``keys`` maps each accepted API key to the channel slugs it may target (``None``: the whole
    account). ``devices`` maps each device name to the channels it belongs to. ``metrics`` lists
    the widget metric keys that exist (``None``: every valid key). Limits default to
    ActivitySmith's and iOS's; shrink ``rate_window`` and friends to test a minute in a second.
    ``retry_after_header`` adds ``Retry-After`` to rate-limit 429s (the real API documents none).
    ``strict`` answers exactly as the published spec documents (see the module docstring).
    ``billing_blocked`` starts the account in a billing block. ``clock`` returns wall-clock
    seconds (timestamps and every window use it).
    """

    keys: Mapping[str, Sequence[str] | None] = field(
        default_factory=lambda: {DEFAULT_API_KEY: None}
    )
    devices: Mapping[str, Sequence[str]] = field(default_factory=lambda: dict(DEFAULT_DEVICES))
    metrics: Sequence[str] | None = DEFAULT_METRICS
    rate_limit: int = ACCOUNT_REQUESTS_PER_MINUTE
    rate_window: float = 60.0
    max_activities: int = DEFAULT_MAX_CONCURRENT_ACTIVITIES
    ios_budget_updates: int = IOS_BUDGET_UPDATES
    ios_budget_interval: float = IOS_BUDGET_INTERVAL
    throttle_seconds: float = THROTTLE_SECONDS
    activity_max_age: float = ACTIVITY_MAX_AGE
    ended_linger: float = ENDED_LINGER
    stream_rotate_after: float = STREAM_ROTATE_AFTER
    retry_after_header: bool = False
    strict: bool = False
    billing_blocked: str | None = None
    clock: Callable[[], float] = time.time

    def __post_init__(self) -> None:
        if not self.keys:
            raise ConfigurationError("keys", "at least one API key is required")
        keys = {key: None if scope is None else tuple(scope) for key, scope in self.keys.items()}
        object.__setattr__(self, "keys", keys)
        devices = {name: tuple(channels) for name, channels in self.devices.items()}
        object.__setattr__(self, "devices", devices)
        if self.metrics is not None:
            if isinstance(self.metrics, str):
                raise ConfigurationError("metrics", "must be a list of metric keys, not a string")
            for key in self.metrics:
                try:
                    validate_metric_key(key)
                except ValidationError as exc:
                    raise ConfigurationError("metrics", f"{key!r} is not a metric key") from exc
            object.__setattr__(self, "metrics", tuple(self.metrics))
        for name in ("rate_limit", "max_activities", "ios_budget_updates"):
            if getattr(self, name) < 1:
                raise ConfigurationError(name, "must be at least 1")
        for name in ("rate_window", "ios_budget_interval", "activity_max_age"):
            if not getattr(self, name) > 0:
                raise ConfigurationError(name, "must be positive")
        for name in ("throttle_seconds", "ended_linger", "stream_rotate_after"):
            if not getattr(self, name) >= 0:
                raise ConfigurationError(name, "must not be negative")
        check_billing(self.billing_blocked, strict=self.strict)

    @property
    def api_key(self) -> str:
        """The first configured key: the one ``serve()`` hands out."""
        return next(iter(self.keys))

    @property
    def ios_limits(self) -> IOSLimits:
        """The per-activity limits handed to ``_model``."""
        return IOSLimits(
            budget_updates=self.ios_budget_updates,
            budget_interval=self.ios_budget_interval,
            throttle_seconds=self.throttle_seconds,
            max_age=self.activity_max_age,
            ended_linger=self.ended_linger,
        )

    def replace(self, **changes: Any) -> SimulatorConfig:
        """A copy with ``changes`` applied."""
        return replace(self, **changes)


def check_billing(reason: str | None, *, strict: bool) -> None:
    """Refuse (``ConfigurationError``) a billing block the account cannot be put in."""
    if reason is None:
        return
    if strict:
        raise ConfigurationError("billing_blocked", "the published spec has no 402: not strict")
    if reason not in BILLING_REASONS:
        raise ConfigurationError("billing_blocked", f"must be one of {', '.join(BILLING_REASONS)}")
