"""The simulated ActivitySmith account and iPhone: pure state, no I/O.

``SimulatorState.handle()`` takes one API request (method, path below the API root, the
``Authorization`` header and the raw body) and returns a ``Reply``. Time comes from the injected
``SimulatorConfig.clock``, so every rule is testable without a server and without sleeping. Request
bodies are parsed with ``livebar._payload``'s ``from_json``: the spec's rules live there, once.

Decisions the spec leaves open, which the simulator makes as follows:

- Checks run in this order: API key (401) → account rate limit (429) → body (400) → channel scope
  (403) → recipients (404) → concurrent Live Activities (429). A request refused for its key costs
  nothing; every request the rate limiter admits counts, bad bodies included; a request the rate
  limiter refuses does not count. The window is sliding: ``rate_limit`` requests per
  ``rate_window`` seconds.
- ``update``/``end`` of an ``activity_id`` this account never started answers 403
  (``ForbiddenError``, the only error the spec documents for them besides 429); so does an
  ``update`` of an activity that has ended. An ``end`` of an ended activity answers 200 and changes
  nothing, so a retried end is harmless.
- An update or end that omits ``type``, ``number_of_steps``, ``upper_limit``,
  ``duration_seconds`` or ``counts_down`` keeps the current value; every other field is replaced.
- A stream PUT whose state (with the same carry-over) and actions equal the current ones answers
  ``noop``: it costs a request but is not an update. A stream PUT that changes an activity counts
  as an update, like ``/live-activity/update``. DELETE of a stream key never seen answers 404;
  of a stream whose activity already ended, 200 with ``activity_id: null``.
- An ended activity stays on the phone for ``auto_dismiss_minutes`` (default 3, the end schema's
  default), then disappears. Ending frees its slot in the concurrent-activity limit at once.
- ``warning`` (on update responses and stream ``updated`` responses) once an activity has had more
  than ``ios_budget_updates`` updates and averaged more than one update per
  ``ios_budget_interval`` seconds since it started:
  ``updates > ios_budget_updates and updates / elapsed > 1 / ios_budget_interval``.
- iOS model: the update that first meets that condition (counted since the start, or since the
  last throttle lifted) is the first one the phone drops. For ``throttle_seconds`` afterwards the
  phone keeps showing the last state it accepted while the API still answers 200. When the
  throttle lifts, the activity gets a fresh budget. An end is always shown (iOS delivers end
  events) and lifts the throttle.
- ``POST /badge`` is scoped and targeted like a push (403 outside the key's channels, 404 "No
  recipients found" when no device matches) and sets the app-icon count of every device it
  reaches; ``badges()`` shows each device's count.
- ``POST /metrics/{key}/value`` knows only the metric keys in ``SimulatorConfig.metrics`` (the
  real API needs each metric created in the web app first): any other valid key answers 404
  ``{"error": "Metric not found", ...}``; ``metrics=None`` knows every valid key. An invalid key
  answers 400 ``{"error": "Invalid metric key", ...}``. The latest value per key, with its
  ``timestamp`` (the request's, else the receive time) and an update count, is kept for
  ``metrics()``. Both endpoints draw from the account rate limit like every other request.
"""

from __future__ import annotations

import collections
import datetime
import http
import json
import math
import threading
import time
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from livebar._defaults import (
    ACCOUNT_REQUESTS_PER_MINUTE,
    DEFAULT_MAX_CONCURRENT_ACTIVITIES,
    IOS_BUDGET_INTERVAL,
    IOS_BUDGET_UPDATES,
)
from livebar._errors import ConfigurationError, ValidationError
from livebar._payload import (
    BadgeCount,
    EndActivity,
    MetricValue,
    PushNotification,
    StartActivity,
    StreamEnd,
    StreamUpdate,
    UpdateActivity,
    validate_metric_key,
    validate_stream_key,
)

JSON = Dict[str, Any]

DEFAULT_API_KEY = "ask_sim_default"
"""The key every simulator accepts unless configured otherwise; scoped to all recipients."""
DEFAULT_DEVICES: Mapping[str, Tuple[str, ...]] = {"iPhone": ("devs", "ops")}
DEFAULT_METRICS: Tuple[str, ...] = ("cpu", "queue_depth")
"""The widget metric keys a simulated account has unless configured otherwise."""
SERVER_AUTO_DISMISS_MINUTES = 3
"""What the end schema documents when ``auto_dismiss_minutes`` is absent."""
THROTTLE_SECONDS = 3600.0
"""How long iOS keeps an over-budget activity frozen ("roughly an hour")."""
DISMISSING_SECONDS = 10.0
"""An ended activity this close to its dismissal is drawn as fading."""
LOG_LIMIT = 1000
"""Request log entries kept; older ones are forgotten."""

RATE_LIMITED = {
    "error": "Rate limit exceeded",
    "message": "Too many requests, please try again later.",
}
ACTIVITY_LIMIT_MESSAGE = "Only {limit} concurrent Live Activities are allowed per account"
SCOPE_MESSAGE = (
    "This API key can only target assigned channels. "
    "Requested channels include channels outside this key scope."
)
CARRIED_FIELDS = ("type", "number_of_steps", "upper_limit", "duration_seconds", "counts_down")
"""Content-state fields an update or end may omit to keep their current value."""
_TINY = 1e-9


@dataclass(frozen=True)
class SimulatorConfig:
    """Everything a simulated account can be configured with.

    ``keys`` maps each accepted API key to the channel slugs it may target (``None``: the whole
    account). ``devices`` maps each device name to the channels it belongs to. ``metrics`` lists
    the widget metric keys that exist (``None``: every valid key). Limits default to
    ActivitySmith's; shrink ``rate_window`` and friends to test a minute in a second.
    ``retry_after_header`` adds ``Retry-After`` to rate-limit 429s (the real API documents none).
    ``clock`` returns wall-clock seconds (timestamps and every window use it).
    """

    keys: Mapping[str, Optional[Sequence[str]]] = field(
        default_factory=lambda: {DEFAULT_API_KEY: None}
    )
    devices: Mapping[str, Sequence[str]] = field(default_factory=lambda: dict(DEFAULT_DEVICES))
    metrics: Optional[Sequence[str]] = DEFAULT_METRICS
    rate_limit: int = ACCOUNT_REQUESTS_PER_MINUTE
    rate_window: float = 60.0
    max_activities: int = DEFAULT_MAX_CONCURRENT_ACTIVITIES
    ios_budget_updates: int = IOS_BUDGET_UPDATES
    ios_budget_interval: float = IOS_BUDGET_INTERVAL
    throttle_seconds: float = THROTTLE_SECONDS
    retry_after_header: bool = False
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
        for name in ("rate_window", "ios_budget_interval"):
            if not getattr(self, name) > 0:
                raise ConfigurationError(name, "must be positive")
        if self.throttle_seconds < 0:
            raise ConfigurationError("throttle_seconds", "must not be negative")

    @property
    def api_key(self) -> str:
        """The first configured key: the one ``serve()`` hands out."""
        return next(iter(self.keys))

    def replace(self, **changes: Any) -> SimulatorConfig:
        """A copy with ``changes`` applied."""
        return replace(self, **changes)


@dataclass(frozen=True)
class Reply:
    """What the API answers: status, JSON body and extra headers."""

    status: int
    body: JSON
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class FaultDecision:
    """What the HTTP shell must do with one API request before (or instead of) handling it."""

    delay: float = 0.0
    drop: bool = False
    reply: Optional[Reply] = None


@dataclass
class Faults:
    """Injected failures; counters count down as requests consume them."""

    fail_next: int = 0
    status: int = 503
    retry_after: Optional[float] = None
    delay: float = 0.0
    drop_next: int = 0
    down: bool = False

    def to_json(self) -> JSON:
        return {
            "fail_next": self.fail_next,
            "status": self.status,
            "retry_after": self.retry_after,
            "delay": self.delay,
            "drop_next": self.drop_next,
            "down": self.down,
        }


@dataclass
class _Activity:
    activity_id: str
    stream_key: Optional[str]
    started_at: float
    content_state: JSON
    action: Optional[JSON]
    secondary_action: Optional[JSON]
    alert: Optional[JSON]
    devices: List[str]
    effective_channel_slugs: Optional[List[str]]
    displayed: JSON
    displayed_action: Optional[JSON]
    displayed_secondary_action: Optional[JSON]
    updates: int = 0
    dropped: int = 0
    warnings: int = 0
    ended_at: Optional[float] = None
    dismiss_at: Optional[float] = None
    auto_dismiss_minutes: Optional[int] = None
    throttled_until: Optional[float] = None
    throttles: int = 0
    budget_since: float = 0.0
    budget_updates: int = 0
    history: List[JSON] = field(default_factory=list)
    shown: List[JSON] = field(default_factory=list)


@dataclass
class _Stream:
    activity_id: Optional[str] = None


class SimulatorState:
    """One simulated account with its devices, activities, limits and faults.

    Thread-safe: every public method holds one lock, so the server thread and the test thread can
    both use it.
    """

    def __init__(self, config: SimulatorConfig | None = None) -> None:
        self.config = config if config is not None else SimulatorConfig()
        self._lock = threading.RLock()
        self._next_id = 0
        self.reset()

    # ------------------------------------------------------------------ control

    def reset(self) -> None:
        """Forget every activity, push, badge, metric value, request and fault (activity ids keep
        counting)."""
        with self._lock:
            self._window: collections.deque[float] = collections.deque()
            self._activities: Dict[str, _Activity] = {}
            self._streams: Dict[str, _Stream] = {}
            self._pushes: List[JSON] = []
            self._badges: Dict[str, int] = {}
            self._metrics: Dict[str, JSON] = {}
            self._log: collections.deque[JSON] = collections.deque(maxlen=LOG_LIMIT)
            self._log_count = 0
            self.faults = Faults()

    def set_faults(
        self,
        *,
        fail_next: int | None = None,
        status: int | None = None,
        retry_after: float | None = None,
        delay: float | None = None,
        drop_next: int | None = None,
        down: bool | None = None,
    ) -> JSON:
        """Change the injected faults (``None`` keeps a setting) and return them all."""
        with self._lock:
            faults = self.faults
            if fail_next is not None:
                faults.fail_next = _non_negative_int("fail_next", fail_next)
                faults.retry_after = retry_after
            if status is not None:
                if not 400 <= status <= 599:
                    raise ValidationError("status", "range", "must be an HTTP error status")
                faults.status = status
            if delay is not None:
                if not delay >= 0:
                    raise ValidationError("delay", "minimum", "must not be negative")
                faults.delay = float(delay)
            if drop_next is not None:
                faults.drop_next = _non_negative_int("drop_next", drop_next)
            if down is not None:
                faults.down = down
            return faults.to_json()

    def clear_faults(self) -> JSON:
        """Remove every injected fault."""
        with self._lock:
            self.faults = Faults()
            return self.faults.to_json()

    def take_fault(self) -> FaultDecision:
        """Consume the fault (if any) that applies to the next API request."""
        with self._lock:
            faults = self.faults
            if faults.down:
                return FaultDecision(delay=faults.delay, drop=True)
            if faults.drop_next > 0:
                faults.drop_next -= 1
                return FaultDecision(delay=faults.delay, drop=True)
            if faults.fail_next > 0:
                faults.fail_next -= 1
                return FaultDecision(delay=faults.delay, reply=_fault_reply(faults))
            return FaultDecision(delay=faults.delay)

    def record_fault(self, method: str, path: str, body: bytes, decision: FaultDecision) -> None:
        """Log an API request that an injected fault answered (or dropped)."""
        with self._lock:
            now = self.config.clock()
            reply = decision.reply
            self._record(
                now,
                method,
                path,
                body,
                status=None if reply is None else reply.status,
                response=None if reply is None else reply.body,
                counted=False,
                fault="dropped" if decision.drop else "failed",
            )

    # ------------------------------------------------------------------ the API

    def handle(self, method: str, path: str, *, authorization: str | None, body: bytes) -> Reply:
        """Answer one API request; ``path`` is below the API root (``/live-activity/start``)."""
        with self._lock:
            now = self.config.clock()
            reply, counted = self._handle(now, method.upper(), path, authorization, body)
            self._record(
                now,
                method.upper(),
                path,
                body,
                status=reply.status,
                response=reply.body,
                counted=counted,
                fault=None,
            )
            return reply

    def _handle(
        self, now: float, method: str, path: str, authorization: str | None, body: bytes
    ) -> Tuple[Reply, bool]:
        route = _route(method, path)
        if isinstance(route, Reply):
            return route, False
        scope = self._authenticate(authorization)
        if isinstance(scope, Reply):
            return scope, False
        limited = self._admit(now)
        if limited is not None:
            return limited, False
        name, path_key = route
        try:
            data = _parse_body(body, optional=name == "stream_end")
            if path_key is not None:
                validate = validate_metric_key if name == "metric" else validate_stream_key
                validate(path_key)
        except ValidationError as exc:
            return _bad_request(exc, path_key_error=exc.field in ("stream_key", "key")), True
        try:
            if name == "push":
                return self._push(now, scope, data), True
            if name == "badge":
                return self._badge(now, scope, data), True
            if name == "start":
                return self._start(now, scope, data), True
            if name == "update":
                return self._update(now, data), True
            if name == "end":
                return self._end(now, data), True
            assert path_key is not None
            if name == "metric":
                return self._metric(now, path_key, data), True
            if name == "stream":
                return self._stream(now, scope, path_key, data), True
            return self._stream_end(now, path_key, data), True
        except ValidationError as exc:
            return _bad_request(exc), True

    def _authenticate(self, authorization: str | None) -> Reply | _Scope:
        scheme, _, token = (authorization or "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or token not in self.config.keys:
            return Reply(
                401,
                {"error": "Unauthorized", "message": "Missing or invalid API key"},
            )
        channels = self.config.keys[token]
        return _Scope(None if channels is None else tuple(channels))

    def _admit(self, now: float) -> Reply | None:
        window = self._window
        while window and window[0] <= now - self.config.rate_window:
            window.popleft()
        if len(window) >= self.config.rate_limit:
            headers: Dict[str, str] = {}
            if self.config.retry_after_header:
                wait = window[0] + self.config.rate_window - now
                headers["Retry-After"] = str(max(1, math.ceil(wait)))
            return Reply(429, dict(RATE_LIMITED), headers)
        window.append(now)
        return None

    def _recipients(
        self, scope: _Scope, channels: Sequence[str] | None, *, what: str
    ) -> Reply | Tuple[Optional[List[str]], List[str]]:
        allowed = scope.channels
        if channels is None:
            effective = None if allowed is None else list(allowed)
        else:
            if allowed is not None and not set(channels) <= set(allowed):
                return Reply(403, {"error": "Invalid channel targeting", "message": SCOPE_MESSAGE})
            effective = list(channels)
        devices = [
            name
            for name, device_channels in self.config.devices.items()
            if effective is None or set(device_channels) & set(effective)
        ]
        if not devices:
            return Reply(
                404,
                {
                    "error": "No recipients found",
                    "message": f"No {what} matched the effective channel target",
                    "effective_channel_slugs": effective,
                },
            )
        return effective, devices

    def _push(self, now: float, scope: _Scope, data: JSON) -> Reply:
        request = PushNotification.from_json(data)
        resolved = self._recipients(scope, request.channels, what="devices")
        if isinstance(resolved, Reply):
            return resolved
        effective, devices = resolved
        notification = request.to_json()
        notification.pop("target", None)
        notification["id"] = len(self._pushes) + 1
        notification["received_at"] = now
        notification["devices"] = devices
        self._pushes.append(notification)
        return Reply(
            200,
            {
                "success": True,
                "devices_notified": len(devices),
                "users_notified": 1,
                "effective_channel_slugs": effective,
                "timestamp": _iso(now),
            },
        )

    def _badge(self, now: float, scope: _Scope, data: JSON) -> Reply:
        request = BadgeCount.from_json(data)
        resolved = self._recipients(scope, request.channels, what="devices")
        if isinstance(resolved, Reply):
            return resolved
        effective, devices = resolved
        for device in devices:
            self._badges[device] = request.badge
        return Reply(
            200,
            {
                "success": True,
                "badge": request.badge,
                "devices_notified": len(devices),
                "users_notified": 1,
                "effective_channel_slugs": effective,
                "timestamp": _iso(now),
            },
        )

    def _metric(self, now: float, key: str, data: JSON) -> Reply:
        request = MetricValue.from_json(data)
        known = self.config.metrics
        if known is not None and key not in known:
            return Reply(
                404, {"error": "Metric not found", "message": f"No metric with key: {key}"}
            )
        previous = self._metrics.get(key)
        self._metrics[key] = {
            "value": request.value,
            "timestamp": request.timestamp if request.timestamp is not None else _iso(now),
            "received_at": _iso(now),
            "updates": 1 if previous is None else previous["updates"] + 1,
        }
        return Reply(200, {"success": True})

    def _start(self, now: float, scope: _Scope, data: JSON) -> Reply:
        request = StartActivity.from_json(data)
        created = self._create(
            now,
            scope,
            stream_key=None,
            content_state=request.content_state.to_json(),
            action=_to_json(request.action),
            secondary_action=_to_json(request.secondary_action),
            alert=_to_json(request.alert),
            channels=request.channels,
        )
        if isinstance(created, Reply):
            return created
        return Reply(
            200,
            {
                "success": True,
                "devices_notified": len(created.devices),
                "users_notified": 1,
                "activity_id": created.activity_id,
                "effective_channel_slugs": created.effective_channel_slugs,
                "timestamp": _iso(now),
            },
        )

    def _create(
        self,
        now: float,
        scope: _Scope,
        *,
        stream_key: str | None,
        content_state: JSON,
        action: JSON | None,
        secondary_action: JSON | None,
        alert: JSON | None,
        channels: Sequence[str] | None,
    ) -> Reply | _Activity:
        resolved = self._recipients(scope, channels, what="Live Activity devices")
        if isinstance(resolved, Reply):
            return resolved
        effective, devices = resolved
        active = sum(1 for activity in self._activities.values() if activity.ended_at is None)
        limit = self.config.max_activities
        if active >= limit:
            return Reply(
                429,
                {
                    "error": "Live Activity limit reached",
                    "message": ACTIVITY_LIMIT_MESSAGE.format(limit=limit),
                    "limit": limit,
                    "active": active,
                },
            )
        self._next_id += 1
        activity = _Activity(
            activity_id=f"sim-{self._next_id:04d}",
            stream_key=stream_key,
            started_at=now,
            content_state=content_state,
            action=action,
            secondary_action=secondary_action,
            alert=alert,
            devices=devices,
            effective_channel_slugs=effective,
            displayed=content_state,
            displayed_action=action,
            displayed_secondary_action=secondary_action,
            budget_since=now,
        )
        self._activities[activity.activity_id] = activity
        self._event(activity, now, "start", content_state, displayed=True)
        return activity

    def _update(self, now: float, data: JSON) -> Reply:
        request = UpdateActivity.from_json(data)
        activity = self._activities.get(request.activity_id)
        if activity is None or activity.ended_at is not None:
            return _forbidden("update")
        warning = self._apply_update(
            now,
            activity,
            request.content_state.to_json(),
            _to_json(request.action),
            _to_json(request.secondary_action),
        )
        body: JSON = {
            "success": True,
            "activity_id": activity.activity_id,
            "devices_notified": len(activity.devices),
            "devices_queued": 0,
            "timestamp": _iso(now),
        }
        if warning is not None:
            body["warning"] = warning
        return Reply(200, body)

    def _apply_update(
        self,
        now: float,
        activity: _Activity,
        content_state: JSON,
        action: JSON | None,
        secondary_action: JSON | None,
    ) -> str | None:
        state = _carry_over(activity.content_state, content_state)
        activity.content_state = state
        activity.action = action
        activity.secondary_action = secondary_action
        activity.updates += 1
        shown = self._phone_accepts_update(now, activity)
        if shown:
            activity.displayed = state
            activity.displayed_action = action
            activity.displayed_secondary_action = secondary_action
        else:
            activity.dropped += 1
        self._event(activity, now, "update", state, displayed=shown)
        warning = self._budget_warning(now, activity)
        if warning is not None:
            activity.warnings += 1
        return warning

    def _phone_accepts_update(self, now: float, activity: _Activity) -> bool:
        if activity.throttled_until is not None:
            if now < activity.throttled_until:
                return False
            activity.throttled_until = None
            activity.budget_since = now
            activity.budget_updates = 0
        activity.budget_updates += 1
        if self._over_budget(activity.budget_updates, now - activity.budget_since):
            activity.throttled_until = now + self.config.throttle_seconds
            activity.throttles += 1
            return False
        return True

    def _over_budget(self, updates: int, elapsed: float) -> bool:
        rate = updates / max(elapsed, _TINY)
        return (
            updates > self.config.ios_budget_updates
            and rate > 1.0 / self.config.ios_budget_interval
        )

    def _budget_warning(self, now: float, activity: _Activity) -> str | None:
        elapsed = now - activity.started_at
        if not self._over_budget(activity.updates, elapsed):
            return None
        return (
            f"This Live Activity has received {activity.updates} updates in "
            f"{elapsed / 60:.1f} minutes. iOS throttles Live Activities updated more often than "
            f"once every {self.config.ios_budget_interval / 60:g} minutes on average; "
            "new states may not appear on devices."
        )

    def _end(self, now: float, data: JSON) -> Reply:
        request = EndActivity.from_json(data)
        activity = self._activities.get(request.activity_id)
        if activity is None:
            return _forbidden("end")
        if activity.ended_at is None:
            self._finish(
                now,
                activity,
                request.content_state.to_json(),
                _to_json(request.action),
                _to_json(request.secondary_action),
                request.auto_dismiss_minutes,
            )
        return Reply(
            200,
            {
                "success": True,
                "activity_id": activity.activity_id,
                "devices_notified": len(activity.devices),
                "devices_queued": 0,
                "timestamp": _iso(now),
            },
        )

    def _finish(
        self,
        now: float,
        activity: _Activity,
        content_state: JSON | None,
        action: JSON | None,
        secondary_action: JSON | None,
        auto_dismiss_minutes: int | None,
        auto_dismiss_seconds: int | None = None,
    ) -> None:
        if content_state is not None:
            activity.content_state = _carry_over(activity.content_state, content_state)
        if action is not None:
            activity.action = action
        if secondary_action is not None:
            activity.secondary_action = secondary_action
        if auto_dismiss_seconds is not None:
            dismiss_after = float(auto_dismiss_seconds)
        elif auto_dismiss_minutes is not None:
            dismiss_after = auto_dismiss_minutes * 60.0
        else:
            dismiss_after = SERVER_AUTO_DISMISS_MINUTES * 60.0
        activity.ended_at = now
        activity.auto_dismiss_minutes = auto_dismiss_minutes
        activity.dismiss_at = now + dismiss_after
        activity.throttled_until = None
        activity.displayed = activity.content_state
        activity.displayed_action = activity.action
        activity.displayed_secondary_action = activity.secondary_action
        self._event(activity, now, "end", activity.content_state, displayed=True)

    def _stream(self, now: float, scope: _Scope, key: str, data: JSON) -> Reply:
        request = StreamUpdate.from_json(data)
        content_state = request.content_state.to_json()
        action = _to_json(request.action)
        secondary_action = _to_json(request.secondary_action)
        if request.channels is not None:
            resolved = self._recipients(scope, request.channels, what="Live Activity devices")
            if isinstance(resolved, Reply) and resolved.status == 403:
                return resolved
        stream = self._streams.get(key)
        current = None
        if stream is not None and stream.activity_id is not None:
            current = self._activities[stream.activity_id]
            if current.ended_at is not None:  # ended through /live-activity/end
                current = None
        body: JSON = {"success": True, "stream_key": key}
        if current is None:
            if "type" not in content_state:
                raise ValidationError(
                    "content_state.type", "required", "is required to start a new stream activity"
                )
            created = self._create(
                now,
                scope,
                stream_key=key,
                content_state=content_state,
                action=action,
                secondary_action=secondary_action,
                alert=_to_json(request.alert),
                channels=request.channels,
            )
            if isinstance(created, Reply):
                return created
            self._streams[key] = _Stream(created.activity_id)
            body.update(
                operation="started",
                activity_id=created.activity_id,
                devices_notified=len(created.devices),
                users_notified=1,
                effective_channel_slugs=created.effective_channel_slugs,
            )
        elif (
            _carry_over(current.content_state, content_state) == current.content_state
            and action == current.action
            and secondary_action == current.secondary_action
        ):
            body.update(operation="noop", activity_id=current.activity_id)
            self._event(current, now, "noop", current.content_state, displayed=False)
        else:
            warning = self._apply_update(now, current, content_state, action, secondary_action)
            body.update(
                operation="updated",
                activity_id=current.activity_id,
                devices_notified=len(current.devices),
            )
            if warning is not None:
                body["warning"] = warning
        body["timestamp"] = _iso(now)
        return Reply(200, body)

    def _stream_end(self, now: float, key: str, data: JSON | None) -> Reply:
        request = None if data is None else StreamEnd.from_json(data)
        stream = self._streams.get(key)
        if stream is None:
            return Reply(
                404,
                {
                    "error": "Live Activity stream not found",
                    "message": f"No Live Activity stream found for stream_key: {key}",
                },
            )
        body: JSON = {"success": True, "operation": "ended", "stream_key": key}
        activity = None if stream.activity_id is None else self._activities[stream.activity_id]
        stream.activity_id = None
        if activity is None or activity.ended_at is not None:
            body.update(activity_id=None, timestamp=_iso(now))
            return Reply(200, body)
        if request is None:
            self._finish(now, activity, None, None, None, None)
        else:
            self._finish(
                now,
                activity,
                _to_json(request.content_state),
                _to_json(request.action),
                _to_json(request.secondary_action),
                request.auto_dismiss_minutes,
                request.auto_dismiss_seconds,
            )
        body.update(
            activity_id=activity.activity_id,
            devices_notified=len(activity.devices),
            timestamp=_iso(now),
        )
        return Reply(200, body)

    # ------------------------------------------------------------------ inspection

    def requests(self) -> List[JSON]:
        """Every API request logged so far (oldest first, at most ``LOG_LIMIT``)."""
        with self._lock:
            return [dict(entry) for entry in self._log]

    def pushes(self) -> List[JSON]:
        """Every push notification the phone received (oldest first)."""
        with self._lock:
            return [dict(push, received_at=_iso(push["received_at"])) for push in self._pushes]

    def badges(self) -> Dict[str, int]:
        """The app-icon badge count of each device that has been sent one."""
        with self._lock:
            return dict(self._badges)

    def metrics(self) -> Dict[str, JSON]:
        """The latest value of each metric key set so far: ``value``, ``timestamp`` (measured),
        ``received_at`` and ``updates``."""
        with self._lock:
            return {key: dict(entry) for key, entry in self._metrics.items()}

    def activities(self) -> List[JSON]:
        """Every activity with its request history and what the phone displayed when."""
        with self._lock:
            now = self.config.clock()
            return [self._describe(activity, now) for activity in self._activities.values()]

    def phone(self) -> JSON:
        """What the lock screen shows now: Live Activities (newest first) and notifications."""
        with self._lock:
            return self._phone(self.config.clock())

    def _phone(self, now: float) -> JSON:
        cards = [
            self._card(activity, now)
            for activity in reversed(list(self._activities.values()))
            if _phase(activity, now) != "dismissed"
        ]
        notifications = [
            dict(push, received_at=_iso(push["received_at"]))
            for push in reversed(self._pushes[-5:])
        ]
        return {
            "activities": cards,
            "notifications": notifications,
            "badges": dict(self._badges),
            "metrics": {key: dict(entry) for key, entry in self._metrics.items()},
        }

    def snapshot(self) -> JSON:
        """Everything the lock-screen page draws: the phone, the budget panel and the log."""
        with self._lock:
            now = self.config.clock()
            config = self.config
            window = [t for t in self._window if t > now - config.rate_window]
            return {
                "now": _iso(now),
                "phone": self._phone(now),
                "account": {
                    "requests_in_window": len(window),
                    "rate_limit": config.rate_limit,
                    "rate_window": config.rate_window,
                    "active_activities": sum(
                        1 for activity in self._activities.values() if activity.ended_at is None
                    ),
                    "max_activities": config.max_activities,
                    "devices": {name: list(chs) for name, chs in config.devices.items()},
                },
                "budget": {
                    "updates": config.ios_budget_updates,
                    "interval": config.ios_budget_interval,
                    "throttle_seconds": config.throttle_seconds,
                },
                "faults": self.faults.to_json(),
                "activities": [
                    self._budget_row(activity, now)
                    for activity in reversed(list(self._activities.values()))
                ],
                "requests": [dict(entry) for entry in list(self._log)[-40:]][::-1],
            }

    def _card(self, activity: _Activity, now: float) -> JSON:
        phase = _phase(activity, now)
        return {
            "activity_id": activity.activity_id,
            "stream_key": activity.stream_key,
            "state": phase,
            "content_state": activity.displayed,
            "action": activity.displayed_action,
            "secondary_action": activity.displayed_secondary_action,
            "dismiss_in": None if activity.dismiss_at is None else activity.dismiss_at - now,
        }

    def _budget_row(self, activity: _Activity, now: float) -> JSON:
        elapsed = (activity.ended_at or now) - activity.started_at
        throttled = activity.throttled_until is not None and now < activity.throttled_until
        return {
            "activity_id": activity.activity_id,
            "stream_key": activity.stream_key,
            "title": activity.content_state.get("title"),
            "state": _phase(activity, now),
            "updates": activity.updates,
            "updates_per_minute": activity.updates / max(elapsed, _TINY) * 60.0
            if activity.updates
            else 0.0,
            "dropped": activity.dropped,
            "warnings": activity.warnings,
            "throttled": throttled,
            "throttled_for": _remaining(activity.throttled_until, now) if throttled else None,
            "throttles": activity.throttles,
        }

    def _describe(self, activity: _Activity, now: float) -> JSON:
        row = self._budget_row(activity, now)
        row.update(
            started_at=_iso(activity.started_at),
            ended_at=None if activity.ended_at is None else _iso(activity.ended_at),
            dismissed_at=None
            if activity.dismiss_at is None or now < activity.dismiss_at
            else _iso(activity.dismiss_at),
            auto_dismiss_minutes=activity.auto_dismiss_minutes,
            content_state=activity.content_state,
            displayed=activity.displayed,
            action=activity.action,
            secondary_action=activity.secondary_action,
            alert=activity.alert,
            devices=list(activity.devices),
            effective_channel_slugs=activity.effective_channel_slugs,
            history=[dict(event) for event in activity.history],
            shown=[dict(event) for event in activity.shown],
        )
        return row

    def _event(
        self, activity: _Activity, now: float, kind: str, state: JSON, *, displayed: bool
    ) -> None:
        event = {"t": now, "at": _iso(now), "kind": kind, "content_state": state}
        activity.history.append(dict(event, displayed=displayed))
        if displayed:
            activity.shown.append(event)

    def _record(
        self,
        now: float,
        method: str,
        path: str,
        body: bytes,
        *,
        status: int | None,
        response: JSON | None,
        counted: bool,
        fault: str | None,
    ) -> None:
        self._log_count += 1
        self._log.append(
            {
                "id": self._log_count,
                "t": now,
                "at": _iso(now),
                "method": method,
                "path": path,
                "status": status,
                "body": _loggable(body),
                "response": response,
                "counted": counted,
                "fault": fault,
            }
        )


@dataclass(frozen=True)
class _Scope:
    channels: Optional[Tuple[str, ...]]


_ROUTES = {
    ("POST", "/push-notification"): "push",
    ("POST", "/live-activity/start"): "start",
    ("POST", "/live-activity/update"): "update",
    ("POST", "/live-activity/end"): "end",
    ("POST", "/badge"): "badge",
}
_STREAM_PREFIX = "/live-activity/stream/"
_METRIC_PREFIX = "/metrics/"
_METRIC_SUFFIX = "/value"


def _route(method: str, path: str) -> Reply | Tuple[str, Optional[str]]:
    path = path.rstrip("/") or "/"
    name = _ROUTES.get((method, path))
    if name is not None:
        return name, None
    known_paths = {route_path for _, route_path in _ROUTES}
    if path.startswith(_STREAM_PREFIX) and "/" not in path[len(_STREAM_PREFIX) :]:
        key = path[len(_STREAM_PREFIX) :]
        if method == "PUT":
            return "stream", key
        if method == "DELETE":
            return "stream_end", key
        return _method_not_allowed(method, path)
    if path.startswith(_METRIC_PREFIX) and path.endswith(_METRIC_SUFFIX):
        key = path[len(_METRIC_PREFIX) : -len(_METRIC_SUFFIX)]
        if key and "/" not in key:
            return ("metric", key) if method == "POST" else _method_not_allowed(method, path)
    if path in known_paths:
        return _method_not_allowed(method, path)
    return Reply(404, {"error": "Not Found", "message": f"No route for {method} {path}"})


def _method_not_allowed(method: str, path: str) -> Reply:
    return Reply(
        405, {"error": "Method Not Allowed", "message": f"{method} is not allowed on {path}"}
    )


def _parse_body(body: bytes, *, optional: bool = False) -> Any:
    if not body.strip():
        if optional:
            return None
        raise ValidationError("", "type", "the request body must be a JSON object")
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValidationError("", "type", "the request body is not valid JSON") from exc
    if not isinstance(data, dict):
        raise ValidationError("", "type", "the request body must be a JSON object")
    return data


def _bad_request(exc: ValidationError, *, path_key_error: bool = False) -> Reply:
    if path_key_error:
        error = "Invalid stream_key" if exc.field == "stream_key" else "Invalid metric key"
    else:
        error = "Bad Request"
    return Reply(400, {"error": error, "message": str(exc), "field": exc.field})


def _forbidden(verb: str) -> Reply:
    return Reply(
        403, {"error": "Forbidden", "message": f"This API key cannot {verb} this Live Activity"}
    )


def _fault_reply(faults: Faults) -> Reply:
    headers: Dict[str, str] = {}
    if faults.retry_after is not None:
        headers["Retry-After"] = f"{faults.retry_after:g}"
    if faults.status == 429:
        return Reply(429, dict(RATE_LIMITED), headers)
    phrase = _status_phrase(faults.status)
    return Reply(
        faults.status, {"error": phrase, "message": "Simulated failure (fault injection)"}, headers
    )


def _status_phrase(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _carry_over(current: JSON, new: JSON) -> JSON:
    state = dict(new)
    for name in CARRIED_FIELDS:
        if name not in state and name in current:
            state[name] = current[name]
    return state


def _phase(activity: _Activity, now: float) -> str:
    if activity.ended_at is None:
        return "active"
    assert activity.dismiss_at is not None
    if now >= activity.dismiss_at:
        return "dismissed"
    if activity.dismiss_at - now <= DISMISSING_SECONDS:
        return "dismissing"
    return "ended"


def _remaining(deadline: float | None, now: float) -> float | None:
    return None if deadline is None else deadline - now


def _to_json(value: Any) -> JSON | None:
    if value is None:
        return None
    result: JSON = value.to_json()
    return result


def _non_negative_int(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValidationError(name, "minimum", "must be a non-negative integer")
    return value


def _loggable(body: bytes) -> Any:
    if not body:
        return None
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return body[:1000].decode("utf-8", "replace")


def _iso(t: float) -> str:
    moment = datetime.datetime.fromtimestamp(t, tz=datetime.timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
