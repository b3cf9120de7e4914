"""The simulated ActivitySmith account and iPhone: pure state, no I/O.

``SimulatorState.handle()`` takes one API request (method, path below the API root, the
``Authorization`` header and the raw body) and returns a ``Reply``. Time comes from the injected
``SimulatorConfig.clock``, so every rule is testable without a server and without sleeping. Request
bodies are parsed with ``livebar._wire.payload``'s ``from_json``: the spec's rules live there, once.
The account's rate-limit window and iOS's view of each activity (update budget, throttle, the
8-hour limit, dismissal) are ``livebar.simulator._model``'s, shared with the pacing benchmark.

Two surfaces. By default the simulator speaks what SDK 1.14 speaks: it accepts the newer request
surface (``tags``, ``metadata``, a push's ``icon`` and ``interruption_level``, the ``value``
type, ``http://`` open-url and redirection links, ``PUT /push-notification/{id}``), answers with
the newer fields (``notification_id``, ``devices_updated``/``users_updated`` beside the
documented names, ``tags``, ``ignored``, ``code: "rate_limited"``), answers "no recipients" with
422 and can be put in a billing block (402). ``SimulatorConfig(strict=True)`` is the published
spec exactly: the newer request surface is a 400, the replace route does not exist, answers hold
only documented fields, "no recipients" is 404 and there is no billing block.

Decisions the spec leaves open, which the simulator makes as follows:

- Checks run in this order: API key (401) → account rate limit (429) → billing block (402; push,
  replace, start, stream PUT, badge) → body (400) → channel scope (403) → recipients (422, strict
  404) → concurrent Live Activities (429). A request refused for its key costs nothing; every
  request the rate limiter admits counts, bad bodies included; a request the rate limiter refuses
  does not count. The window is sliding: ``rate_limit`` requests per ``rate_window`` seconds.
- A body error about targeting (``target``, ``channels``) answers ``"Invalid channel
  targeting"``; a bad metric value answers ``{"error": "value must be a finite number"}``; other
  body errors ``"Bad Request"``. Every 400 names the ``field``.
- Activity ids look like the service's (32 URL-safe characters), as do notification ids; both
  are deterministic per simulator (a counter, hashed).
- A channel-scoped key may update, end or delete (stream DELETE) only an activity whose
  recipients it could have chosen: one whose effective channels all lie in its scope (so never
  an activity started for the whole account). Otherwise, and for an ``activity_id`` this account
  never started, 403 ``"This API key cannot update|end this Live Activity"``; the same for
  replacing another scope's push. An ``update`` of an ended activity is 403 too; an ``end`` of an
  ended activity answers 200 and changes nothing (``ignored: true``), so a retried end is
  harmless.
- An update or end that omits ``type``, ``number_of_steps``, ``upper_limit``,
  ``duration_seconds`` or ``counts_down`` keeps the current value; every other field is replaced.
  One that omits ``type`` on a ``value`` activity is read as type ``value`` (SDKs send bare
  readouts). ``tags`` and ``metadata`` left out keep theirs; ``[]`` / ``{}`` clear them.
- A stream PUT that starts an activity (first PUT, after a DELETE, after a rotation's
  predecessor) obeys the start rules: ``type`` required, ``number_of_steps`` for segmented
  progress, ``duration_seconds`` for a countdown. A PUT whose state (with the same carry-over),
  actions, tags and metadata equal the current ones answers ``noop`` (``ignored: true``): it
  costs a request but is not an update. A PUT that changes an activity counts as an update, like
  ``/live-activity/update``. DELETE of a stream key never seen answers 404; of a stream whose
  activity already ended, 200 with ``activity_id: null`` (``ignored: true``). A DELETE's answer
  counts the devices in ``devices_queued`` (end events are queued).
- Time, like iOS: an activity still open ``activity_max_age`` (8 h) after it started is ended by
  iOS ("expired"): the phone shows nothing new of it, it no longer counts against the concurrent
  limit, and it leaves the lock screen ``ended_linger`` (4 h) later. The API does not know: a
  manual update or end of it still answers 200 (this is what a manual lifecycle must rotate
  around). An ended activity leaves the phone ``min(auto_dismiss, ended_linger)`` after its end
  (``auto_dismiss_minutes`` defaults to 3, the end schema's default); ending frees its slot at
  once.
- Rotation: a stream PUT to a stream whose activity has run ``stream_rotate_after`` (7 h 30 min)
  or more, or that iOS has already ended at the limit, replaces it: the old activity ends and
  leaves the lock screen at once, a new one starts on the same devices with the PUT's state
  (carried over from the old one, start rules applied, tags and metadata kept), and the answer is
  ``operation: "rotated"`` with the new ``activity_id`` and the ``previous_activity_id``. The new
  activity's iOS budget starts afresh. Any PUT rotates once due, even one equal to the current
  state. A stream PUT'd at least every half hour therefore never reaches the limit.
- ``warning`` (on update responses and stream ``updated`` responses) and the iOS throttle follow
  ``_model``'s rules: more than ``ios_budget_updates`` updates averaging more than one per
  ``ios_budget_interval`` seconds; a throttled phone keeps the last state it accepted for
  ``throttle_seconds`` while the API still answers 200, then the budget starts afresh; an end is
  always shown (unless iOS already ended the activity) and lifts the throttle.
- ``POST /badge`` is scoped and targeted like a push and sets the app-icon count of every device
  it reaches; ``badges()`` shows each device's count. Its answer carries ``devices_updated`` and
  ``users_updated`` as well as the documented names, and ``effective_channel_slugs`` is always a
  list (``[]``: no channel filter) since SDK 1.14 refuses null there (strict: null).
- ``POST /metrics/{key}/value`` knows only the metric keys in ``SimulatorConfig.metrics`` (the
  real API needs each metric created in the web app first): any other valid key answers 404
  ``{"error": "Metric not found", ...}``; ``metrics=None`` knows every valid key. An invalid key
  answers 400 ``{"error": "Invalid metric key", ...}``. The latest value per key, with its
  ``timestamp`` (the request's, else the receive time) and an update count, is kept for
  ``metrics()``. Both endpoints draw from the account rate limit like every other request.
- ``PUT /push-notification/{notification_id}`` (newer surface) replaces a push the account sent:
  its content as a whole (``tags``/``metadata`` kept unless given), in place on the lock screen,
  to the same devices, silently; an unknown id is 404 ``"Push notification not found"``.
- A billing block (``billing_blocked`` or ``set_billing()``: ``trial_expired``,
  ``trial_exhausted`` or ``billing_overage_cap_reached``) answers 402 to every request that
  would send something new; updates, ends, stream DELETEs and metrics still work.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import http
import json
import math
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Callable, TypeVar

from livebar._defaults import (
    ACCOUNT_REQUESTS_PER_MINUTE,
    DEFAULT_MAX_CONCURRENT_ACTIVITIES,
    IOS_BUDGET_INTERVAL,
    IOS_BUDGET_UPDATES,
)
from livebar._wire.errors import ConfigurationError, ValidationError
from livebar._wire.model import Model
from livebar._wire.payload import (
    BadgeCount,
    EndActivity,
    MetricValue,
    PushNotification,
    PushReplace,
    StartActivity,
    StreamEnd,
    StreamUpdate,
    UpdateActivity,
    validate_metric_key,
    validate_notification_id,
    validate_stream_key,
)
from livebar.simulator._model import (
    ACTIVE,
    DISMISSED,
    EXPIRED,
    AccountWindow,
    IOSLimits,
    LiveActivityModel,
)

JSON = dict[str, Any]
_P = TypeVar("_P", bound=Model)

DEFAULT_API_KEY = "ask_sim_default"
"""The key every simulator accepts unless configured otherwise; scoped to all recipients."""
DEFAULT_DEVICES: Mapping[str, tuple[str, ...]] = {"iPhone": ("devs", "ops")}
DEFAULT_METRICS: tuple[str, ...] = ("cpu", "queue_depth")
"""The widget metric keys a simulated account has unless configured otherwise."""
SERVER_AUTO_DISMISS_MINUTES = 3
_LONGEST_DISMISS = 10**9
"""Seconds: any auto-dismiss beyond this (decades) is the same to the iOS model, which keeps an
ended card a few hours at most; clamping first keeps a huge integer from overflowing a float."""
"""What the end schema documents when ``auto_dismiss_minutes`` is absent."""
THROTTLE_SECONDS = IOSLimits().throttle_seconds
"""How long iOS keeps an over-budget activity frozen ("roughly an hour")."""
ACTIVITY_MAX_AGE = IOSLimits().max_age
"""iOS ends a Live Activity this long (8 h) after it started."""
ENDED_LINGER = IOSLimits().ended_linger
"""An ended Live Activity leaves the lock screen after at most this long (4 h)."""
STREAM_ROTATE_AFTER = 7.5 * 3600.0
"""A stream PUT replaces an activity that has run this long (half an hour before the limit)."""
DISMISSING_SECONDS = 10.0
"""An ended activity this close to its dismissal is drawn as fading."""
LOG_LIMIT = 1000
"""Request log entries kept; older ones are forgotten."""
BILLING_REASONS = ("trial_expired", "trial_exhausted", "billing_overage_cap_reached")
BILLING_MESSAGES = {
    "trial_expired": "Your free trial has ended. Upgrade to keep sending.",
    "trial_exhausted": "Your free trial's sends are used up. Upgrade to keep sending.",
    "billing_overage_cap_reached": "This account reached its overage cap for the billing period.",
}
UPGRADE_URL = "https://activitysmith.com/app/billing"
TRIAL_DAYS = 14

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
        _check_billing(self.billing_blocked, strict=self.strict)

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


def _check_billing(reason: str | None, *, strict: bool) -> None:
    if reason is None:
        return
    if strict:
        raise ConfigurationError("billing_blocked", "the published spec has no 402: not strict")
    if reason not in BILLING_REASONS:
        raise ConfigurationError("billing_blocked", f"must be one of {', '.join(BILLING_REASONS)}")


@dataclass(frozen=True)
class Reply:
    """What the API answers: status, JSON body and extra headers."""

    status: int
    body: JSON
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RawAnswer:
    """An answer sent byte for byte, whatever it is (an empty body, HTML, broken JSON)."""

    status: int
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class FaultDecision:
    """What the HTTP shell must do with one API request before (or instead of) handling it.

    ``delay`` holds the request before anything is answered; ``drip`` sends the answer's bytes
    one at a time over that many seconds (each read is quick, the whole answer is slow).
    ``raw`` replaces the answer with these bytes; ``handled`` says whether the simulated account
    handles the request first (an answer garbled on its way back) or not at all. ``amend`` adds
    fields to the real answer (fields and values a newer server might send).
    """

    delay: float = 0.0
    drop: bool = False
    reply: Reply | None = None
    drip: float = 0.0
    raw: RawAnswer | None = None
    handled: bool = False
    amend: JSON | None = None

    @property
    def answered(self) -> bool:
        """Whether the fault answers (or drops) the request instead of the simulated account."""
        return self.drop or self.reply is not None or (self.raw is not None and not self.handled)


@dataclass
class Faults:
    """Injected failures; counters count down as requests consume them."""

    fail_next: int = 0
    status: int = 503
    retry_after: float | str | None = None
    """Seconds, or the header's text as it is sent (an HTTP-date, garbage)."""
    delay: float = 0.0
    drop_next: int = 0
    down: bool = False
    drip: float = 0.0
    slow_next: int = 0
    """``delay`` and ``drip`` apply to the next ``slow_next`` requests only (0: to every one)."""
    answer_next: int = 0
    answer: RawAnswer | None = None
    answer_handled: bool = False
    amend_next: int = 0
    amend: JSON | None = None

    def to_json(self) -> JSON:
        return {
            "fail_next": self.fail_next,
            "status": self.status,
            "retry_after": self.retry_after,
            "delay": self.delay,
            "drop_next": self.drop_next,
            "down": self.down,
            "drip": self.drip,
            "slow_next": self.slow_next,
            "answer_next": self.answer_next,
            "amend_next": self.amend_next,
        }


@dataclass
class _Activity:
    activity_id: str
    stream_key: str | None
    content_state: JSON
    action: JSON | None
    secondary_action: JSON | None
    alert: JSON | None
    devices: list[str]
    effective_channel_slugs: list[str] | None
    ios: LiveActivityModel
    displayed: JSON
    displayed_action: JSON | None
    displayed_secondary_action: JSON | None
    tags: list[str] | None = None
    metadata: JSON | None = None
    auto_dismiss_minutes: int | None = None
    previous_activity_id: str | None = None
    next_activity_id: str | None = None
    history: list[JSON] = field(default_factory=list)
    shown: list[JSON] = field(default_factory=list)


@dataclass
class _Stream:
    activity_id: str | None = None


@dataclass(frozen=True)
class _Scope:
    channels: tuple[str, ...] | None

    def covers(self, channels: Sequence[str] | None) -> bool:
        """Whether this key could have chosen recipients ``channels`` (None: the whole account)."""
        if self.channels is None:
            return True
        return channels is not None and set(channels) <= set(self.channels)


class SimulatorState:
    """One simulated account with its devices, activities, limits and faults.

    Thread-safe: every public method holds one lock, so the server thread and the test thread can
    both use it.
    """

    def __init__(self, config: SimulatorConfig | None = None) -> None:
        self.config = config if config is not None else SimulatorConfig()
        self._lock = threading.RLock()
        self._next_id = 0
        self._billing = self.config.billing_blocked
        self.reset()

    # ------------------------------------------------------------------ control

    def reset(self) -> None:
        """Forget every activity, push, badge, metric value, request and fault (ids keep
        counting; a billing block stays)."""
        with self._lock:
            self._window = AccountWindow(self.config.rate_limit, self.config.rate_window)
            self._activities: dict[str, _Activity] = {}
            self._streams: dict[str, _Stream] = {}
            self._pushes: list[JSON] = []
            self._badges: dict[str, int] = {}
            self._metrics: dict[str, JSON] = {}
            self._log: list[JSON] = []
            self._log_count = 0
            self.faults = Faults()

    def set_billing(self, blocked: str | None) -> None:
        """Put the account in a billing block (a reason of ``BILLING_REASONS``) or lift it."""
        _check_billing(blocked, strict=self.config.strict)
        with self._lock:
            self._billing = blocked

    def set_faults(
        self,
        *,
        fail_next: int | None = None,
        status: int | None = None,
        retry_after: float | str | None = None,
        delay: float | None = None,
        drop_next: int | None = None,
        down: bool | None = None,
        drip: float | None = None,
        slow_next: int | None = None,
    ) -> JSON:
        """Change the injected faults (``None`` keeps a setting) and return them all.

        ``retry_after`` goes with ``fail_next``: seconds, or the header's exact text (an
        HTTP-date, a negative or garbage value). ``drip`` makes every answer arrive one byte at a
        time over that many seconds (a slow drip; the requests are handled). ``slow_next``
        limits ``delay`` and ``drip`` to that many requests (0: every request until changed).
        """
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
                faults.delay = _non_negative_seconds("delay", delay)
            if drop_next is not None:
                faults.drop_next = _non_negative_int("drop_next", drop_next)
            if down is not None:
                faults.down = down
            if drip is not None:
                faults.drip = _non_negative_seconds("drip", drip)
            if slow_next is not None:
                faults.slow_next = _non_negative_int("slow_next", slow_next)
            return faults.to_json()

    def answer_next(
        self,
        n: int = 1,
        *,
        body: bytes | str | JSON = b"",
        status: int = 200,
        headers: Mapping[str, str] | None = None,
        handled: bool = False,
    ) -> None:
        """Answer the next ``n`` API requests with exactly ``body`` (bytes or text as they are,
        a dict as JSON) and ``status``. ``handled=True``: the account handles each request first,
        as if the answer were garbled on its way back (the start happened, its answer is lost).
        """
        if isinstance(body, dict):
            raw = json.dumps(body).encode()
            kind = {"Content-Type": "application/json"}
        else:
            raw = body.encode() if isinstance(body, str) else bytes(body)
            kind = {"Content-Type": "application/json"} if raw[:1] in (b"{", b"[") else {}
        answer = RawAnswer(status, raw, {**kind, **dict(headers or {})})
        with self._lock:
            self.faults.answer_next = _non_negative_int("answer_next", n)
            self.faults.answer = answer
            self.faults.answer_handled = handled

    def amend_next(self, n: int = 1, **fields: Any) -> None:
        """Handle the next ``n`` API requests as usual and add ``fields`` to each answer (what a
        newer server might send: unknown fields, an unknown ``operation``)."""
        with self._lock:
            self.faults.amend_next = _non_negative_int("amend_next", n)
            self.faults.amend = dict(fields)

    def clear_faults(self) -> JSON:
        """Remove every injected fault."""
        with self._lock:
            self.faults = Faults()
            return self.faults.to_json()

    def take_fault(self) -> FaultDecision:
        """Consume the fault (if any) that applies to the next API request."""
        with self._lock:
            faults = self.faults
            delay, drip = faults.delay, faults.drip
            if faults.slow_next > 0 and (delay or drip):
                faults.slow_next -= 1
                if not faults.slow_next:
                    faults.delay = faults.drip = 0.0
            if faults.down:
                return FaultDecision(delay=delay, drop=True)
            if faults.drop_next > 0:
                faults.drop_next -= 1
                return FaultDecision(delay=delay, drop=True)
            if faults.fail_next > 0:
                faults.fail_next -= 1
                return FaultDecision(
                    delay=delay,
                    drip=drip,
                    reply=_fault_reply(faults, strict=self.config.strict),
                )
            if faults.answer_next > 0 and faults.answer is not None:
                faults.answer_next -= 1
                return FaultDecision(
                    delay=delay, drip=drip, raw=faults.answer, handled=faults.answer_handled
                )
            if faults.amend_next > 0:
                faults.amend_next -= 1
                return FaultDecision(delay=delay, drip=drip, amend=faults.amend)
            return FaultDecision(delay=delay, drip=drip)

    def record_fault(self, method: str, path: str, body: bytes, decision: FaultDecision) -> None:
        """Log an API request that an injected fault answered (or dropped)."""
        with self._lock:
            now = self.config.clock()
            reply = decision.reply
            status: int | None = None if reply is None else reply.status
            response: Any = None if reply is None else reply.body
            if decision.raw is not None:
                status, response = decision.raw.status, _loggable(decision.raw.body)
            self._record(
                now,
                method,
                path,
                body,
                status=status,
                response=response,
                counted=False,
                fault="dropped" if decision.drop else "failed",
            )

    # ------------------------------------------------------------------ the API

    def handle(
        self,
        method: str,
        path: str,
        *,
        authorization: str | None,
        body: bytes,
        fault: FaultDecision | None = None,
    ) -> Reply:
        """Answer one API request; ``path`` is below the API root (``/live-activity/start``).

        ``fault`` (a decision of ``take_fault``) amends the answer, or says it will be replaced
        by raw bytes after the request was handled; the log shows what was really answered.
        """
        with self._lock:
            now = self.config.clock()
            reply, counted = self._handle(now, method.upper(), path, authorization, body)
            status, response, marked = reply.status, reply.body, None
            if fault is not None and fault.amend is not None:
                reply = Reply(reply.status, {**reply.body, **fault.amend}, reply.headers)
                response, marked = reply.body, "amended"
            if fault is not None and fault.raw is not None:
                status, response, marked = fault.raw.status, _loggable(fault.raw.body), "garbled"
            if fault is not None and fault.drip > 0 and marked is None:
                marked = "dripped"
            if fault is not None and fault.delay > 0 and marked is None:
                marked = "delayed"
            self._record(
                now,
                method.upper(),
                path,
                body,
                status=status,
                response=response,
                counted=counted,
                fault=marked,
            )
            return reply

    def _handle(
        self, now: float, method: str, path: str, authorization: str | None, body: bytes
    ) -> tuple[Reply, bool]:
        route = _route(method, path, strict=self.config.strict)
        if isinstance(route, Reply):
            return route, False
        scope = self._authenticate(authorization)
        if isinstance(scope, Reply):
            return scope, False
        limited = self._admit(now)
        if limited is not None:
            return limited, False
        name, path_key = route
        if self._billing is not None and name in _BILLED:
            return self._billing_reply(now), True
        try:
            data = _parse_body(body, optional=name == "stream_end")
            if path_key is not None:
                _PATH_KEYS[name](path_key)
        except ValidationError as exc:
            return _bad_request(exc, path_key=exc.field in _PATH_KEY_ERRORS), True
        try:
            if name == "push":
                return self._push(now, scope, data), True
            if name == "badge":
                return self._badge(now, scope, data), True
            if name == "start":
                return self._start(now, scope, data), True
            if name == "update":
                return self._update(now, scope, data), True
            if name == "end":
                return self._end(now, scope, data), True
            assert path_key is not None
            if name == "replace":
                return self._replace(now, scope, path_key, data), True
            if name == "metric":
                return self._metric(now, path_key, data), True
            if name == "stream":
                return self._stream(now, scope, path_key, data), True
            return self._stream_end(now, scope, path_key, data), True
        except ValidationError as exc:
            return _bad_request(exc, metric=name == "metric"), True

    def _parse(self, cls: type[_P], data: object) -> _P:
        return cls.from_json(data, newer=not self.config.strict)

    def _newer(self, body: JSON, **fields: Any) -> JSON:
        """``body`` with the newer fields added (those not None), unless strict."""
        if not self.config.strict:
            body.update((key, value) for key, value in fields.items() if value is not None)
        return body

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
        if self._window.admit(now):
            return None
        headers: dict[str, str] = {}
        if self.config.retry_after_header:
            headers["Retry-After"] = str(max(1, math.ceil(self._window.wait(now))))
        return Reply(429, self._newer(dict(RATE_LIMITED), code="rate_limited"), headers)

    def _billing_reply(self, now: float) -> Reply:
        reason = self._billing
        assert reason is not None
        body: JSON = {
            "error": reason,
            "message": BILLING_MESSAGES[reason],
            "upgrade_url": UPGRADE_URL,
        }
        if reason.startswith("trial_"):
            began = now - TRIAL_DAYS * 86400.0
            body["trial_period"] = {"started_at": _iso(began), "ends_at": _iso(now)}
        return Reply(402, body)

    def _new_id(self) -> str:
        self._next_id += 1
        digest = hashlib.sha256(f"livebar-simulator:{self._next_id}".encode()).digest()
        return base64.urlsafe_b64encode(digest[:24]).decode()

    def _recipients(
        self, scope: _Scope, channels: Sequence[str] | None, *, what: str
    ) -> Reply | tuple[list[str] | None, list[str]]:
        allowed = scope.channels
        if channels is None:
            effective = None if allowed is None else list(allowed)
        else:
            if not scope.covers(channels):
                return Reply(403, {"error": "Invalid channel targeting", "message": SCOPE_MESSAGE})
            effective = list(channels)
        devices = [
            name
            for name, device_channels in self.config.devices.items()
            if effective is None or set(device_channels) & set(effective)
        ]
        if not devices:
            return Reply(
                404 if self.config.strict else 422,
                {
                    "error": "No recipients found",
                    "message": f"No {what} matched the effective channel target",
                    "effective_channel_slugs": effective,
                },
            )
        return effective, devices

    def _push(self, now: float, scope: _Scope, data: JSON) -> Reply:
        request = self._parse(PushNotification, data)
        resolved = self._recipients(scope, request.channels, what="devices")
        if isinstance(resolved, Reply):
            return resolved
        effective, devices = resolved
        notification = request.to_json()
        notification.pop("target", None)
        notification["id"] = len(self._pushes) + 1
        notification["notification_id"] = self._new_id()
        notification["received_at"] = now
        notification["devices"] = devices
        notification["effective_channel_slugs"] = effective
        notification["replaced"] = 0
        self._pushes.append(notification)
        body: JSON = {
            "success": True,
            "devices_notified": len(devices),
            "users_notified": 1,
            "effective_channel_slugs": effective,
            "timestamp": _iso(now),
        }
        return Reply(
            200,
            self._newer(body, notification_id=notification["notification_id"], tags=request.tags),
        )

    def _replace(self, now: float, scope: _Scope, notification_id: str, data: JSON) -> Reply:
        request = self._parse(PushReplace, data)
        found = [push for push in self._pushes if push["notification_id"] == notification_id]
        if not found:
            return Reply(
                404,
                {
                    "error": "Push notification not found",
                    "message": f"No push notification found for notification_id: {notification_id}",
                },
            )
        push = found[0]
        if not scope.covers(push["effective_channel_slugs"]):
            return Reply(
                403,
                {
                    "error": "Forbidden",
                    "message": "This API key cannot replace this Push Notification",
                },
            )
        for name in _PUSH_CONTENT:  # replaced as a whole; tags and metadata only when given
            push.pop(name, None)
        push.update(request.to_json())
        push["received_at"] = now
        push["replaced"] += 1
        body: JSON = {
            "success": True,
            "notification_id": notification_id,
            "devices_notified": len(push["devices"]),
            "users_notified": 1,
            "effective_channel_slugs": push["effective_channel_slugs"],
            "timestamp": _iso(now),
        }
        return Reply(200, self._newer(body, tags=push.get("tags")))

    def _badge(self, now: float, scope: _Scope, data: JSON) -> Reply:
        request = self._parse(BadgeCount, data)
        resolved = self._recipients(scope, request.channels, what="devices")
        if isinstance(resolved, Reply):
            return resolved
        effective, devices = resolved
        for device in devices:
            self._badges[device] = request.badge
        body: JSON = {
            "success": True,
            "badge": request.badge,
            "devices_notified": len(devices),
            "users_notified": 1,
            "effective_channel_slugs": effective,
            "timestamp": _iso(now),
        }
        if not self.config.strict:  # SDK 1.14 needs these names, and a list
            body.update(
                devices_updated=len(devices),
                users_updated=1,
                effective_channel_slugs=effective or [],
            )
        return Reply(200, body)

    def _metric(self, now: float, key: str, data: JSON) -> Reply:
        request = self._parse(MetricValue, data)
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
        request = self._parse(StartActivity, data)
        resolved = self._recipients(scope, request.channels, what="Live Activity devices")
        if isinstance(resolved, Reply):
            return resolved
        created = self._create(
            now,
            resolved,
            stream_key=None,
            content_state=request.content_state.to_json(),
            action=_to_json(request.action),
            secondary_action=_to_json(request.secondary_action),
            alert=_to_json(request.alert),
            tags=_listed(request.tags),
            metadata=_mapped(request.metadata),
        )
        if isinstance(created, Reply):
            return created
        body: JSON = {
            "success": True,
            "devices_notified": len(created.devices),
            "users_notified": 1,
            "activity_id": created.activity_id,
            "effective_channel_slugs": created.effective_channel_slugs,
            "timestamp": _iso(now),
        }
        return Reply(200, self._newer(body, tags=created.tags))

    def _open_activities(self, now: float) -> int:
        return sum(1 for activity in self._activities.values() if activity.ios.is_open(now))

    def _create(
        self,
        now: float,
        recipients: tuple[list[str] | None, list[str]],
        *,
        stream_key: str | None,
        content_state: JSON,
        action: JSON | None,
        secondary_action: JSON | None,
        alert: JSON | None,
        tags: list[str] | None,
        metadata: JSON | None,
        replacing: _Activity | None = None,
    ) -> Reply | _Activity:
        effective, devices = recipients
        active = self._open_activities(now)
        if replacing is not None and replacing.ios.is_open(now):
            active -= 1
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
        activity = _Activity(
            activity_id=self._new_id(),
            stream_key=stream_key,
            content_state=content_state,
            action=action,
            secondary_action=secondary_action,
            alert=alert,
            devices=devices,
            effective_channel_slugs=effective,
            ios=LiveActivityModel(now, self.config.ios_limits),
            displayed=content_state,
            displayed_action=action,
            displayed_secondary_action=secondary_action,
            tags=tags,
            metadata=metadata,
        )
        if replacing is not None:
            replacing.ios.replaced(now)
            replacing.next_activity_id = activity.activity_id
            activity.previous_activity_id = replacing.activity_id
            self._event(replacing, now, "rotated", replacing.content_state, displayed=False)
        self._activities[activity.activity_id] = activity
        self._event(activity, now, "start", content_state, displayed=True)
        return activity

    def _addressed(
        self, scope: _Scope, data: JSON, cls: type[_P], verb: str
    ) -> Reply | tuple[_Activity, _P]:
        """The activity an update or end names and the parsed request, or the answer instead:
        400 for the body first, then 403 for an id this key may not touch."""
        activity_id = data.get("activity_id")
        activity = self._activities.get(activity_id) if isinstance(activity_id, str) else None
        request = self._parse(cls, self._with_current_type(data, activity))
        if activity is None or not scope.covers(activity.effective_channel_slugs):
            return _forbidden(verb)
        return activity, request

    def _update(self, now: float, scope: _Scope, data: JSON) -> Reply:
        addressed = self._addressed(scope, data, UpdateActivity, "update")
        if isinstance(addressed, Reply):
            return addressed
        activity, request = addressed
        if activity.ios.ended_at is not None:
            return _forbidden("update")
        warning = self._apply_update(
            now,
            activity,
            request.content_state.to_json(),
            _to_json(request.action),
            _to_json(request.secondary_action),
        )
        self._apply_labels(activity, request.tags, request.metadata)
        body = _delivered(activity, now)
        if warning is not None:
            body["warning"] = warning
        return Reply(200, self._newer(body, tags=activity.tags))

    def _with_current_type(self, data: JSON, activity: _Activity | None) -> JSON:
        """An update of a ``value`` activity that omits ``type`` is read as type ``value``."""
        state = data.get("content_state")
        if (
            activity is None
            or self.config.strict
            or activity.content_state.get("type") != "value"
            or not isinstance(state, dict)
            or "type" in state
        ):
            return data
        return {**data, "content_state": {**state, "type": "value"}}

    def _apply_labels(
        self,
        activity: _Activity,
        tags: Sequence[str] | None,
        metadata: Mapping[str, Any] | None,
    ) -> None:
        if tags is not None:
            activity.tags = list(tags)
        if metadata is not None:
            activity.metadata = dict(metadata)

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
        verdict = activity.ios.update(now)
        if verdict.shown:
            activity.displayed = state
            activity.displayed_action = action
            activity.displayed_secondary_action = secondary_action
        self._event(activity, now, "update", state, displayed=verdict.shown)
        if not verdict.warned:
            return None
        elapsed = now - activity.ios.started_at
        return (
            f"This Live Activity has received {activity.ios.updates} updates in "
            f"{elapsed / 60:.1f} minutes. iOS throttles Live Activities updated more often than "
            f"once every {self.config.ios_budget_interval / 60:g} minutes on average; "
            "new states may not appear on devices."
        )

    def _end(self, now: float, scope: _Scope, data: JSON) -> Reply:
        addressed = self._addressed(scope, data, EndActivity, "end")
        if isinstance(addressed, Reply):
            return addressed
        activity, request = addressed
        body = _delivered(activity, now)
        if activity.ios.ended_at is not None:
            return Reply(
                200,
                self._newer(body, ignored=True, message="This Live Activity has already ended"),
            )
        self._finish(
            now,
            activity,
            request.content_state.to_json(),
            _to_json(request.action),
            _to_json(request.secondary_action),
            request.auto_dismiss_minutes,
        )
        self._apply_labels(activity, request.tags, request.metadata)
        return Reply(200, body)

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
        # iOS keeps an ended card a few hours at most: a larger value (even one too large for a
        # float, which the spec allows) is only "as long as iOS keeps it"
        if auto_dismiss_seconds is not None:
            dismiss_after = float(min(auto_dismiss_seconds, _LONGEST_DISMISS))
        elif auto_dismiss_minutes is not None:
            dismiss_after = min(auto_dismiss_minutes, _LONGEST_DISMISS // 60) * 60.0
        else:
            dismiss_after = SERVER_AUTO_DISMISS_MINUTES * 60.0
        activity.auto_dismiss_minutes = auto_dismiss_minutes
        shown = activity.ios.end(now, dismiss_after)
        if shown:
            activity.displayed = activity.content_state
            activity.displayed_action = activity.action
            activity.displayed_secondary_action = activity.secondary_action
        self._event(activity, now, "end", activity.content_state, displayed=shown)

    def _stream(self, now: float, scope: _Scope, key: str, data: JSON) -> Reply:
        stream = self._streams.get(key)
        current = None
        if stream is not None and stream.activity_id is not None:
            current = self._activities[stream.activity_id]
            if current.ios.ended_at is not None:  # ended through /live-activity/end
                current = None
        request = self._parse(StreamUpdate, self._with_current_type(data, current))
        if request.channels is not None and not scope.covers(request.channels):
            return Reply(403, {"error": "Invalid channel targeting", "message": SCOPE_MESSAGE})
        if current is not None and not scope.covers(current.effective_channel_slugs):
            return _forbidden("update")
        content_state = request.content_state.to_json()
        action = _to_json(request.action)
        secondary_action = _to_json(request.secondary_action)
        body: JSON = {"success": True, "stream_key": key}
        if current is None or current.ios.needs_rotation(now, self.config.stream_rotate_after):
            if current is None:
                recipients = self._recipients(scope, request.channels, what="Live Activity devices")
                if isinstance(recipients, Reply):
                    return recipients
                tags, metadata = _listed(request.tags), _mapped(request.metadata)
            else:
                recipients = (current.effective_channel_slugs, current.devices)
                content_state = _carry_over(current.content_state, content_state)
                tags = current.tags if request.tags is None else list(request.tags)
                metadata = current.metadata if request.metadata is None else dict(request.metadata)
            _check_start_rules(content_state)
            created = self._create(
                now,
                recipients,
                stream_key=key,
                content_state=content_state,
                action=action,
                secondary_action=secondary_action,
                alert=_to_json(request.alert),
                tags=tags,
                metadata=metadata,
                replacing=current,
            )
            if isinstance(created, Reply):
                return created
            self._streams[key] = _Stream(created.activity_id)
            body.update(
                operation="started" if current is None else "rotated",
                activity_id=created.activity_id,
                devices_notified=len(created.devices),
                users_notified=1,
                effective_channel_slugs=created.effective_channel_slugs,
            )
            if current is not None:
                body["previous_activity_id"] = current.activity_id
            self._newer(body, tags=created.tags)
        elif (
            _carry_over(current.content_state, content_state) == current.content_state
            and action == current.action
            and secondary_action == current.secondary_action
            and (request.tags is None or list(request.tags) == current.tags)
            and (request.metadata is None or dict(request.metadata) == current.metadata)
        ):
            body.update(operation="noop", activity_id=current.activity_id)
            self._newer(body, ignored=True)
            self._event(current, now, "noop", current.content_state, displayed=False)
        else:
            warning = self._apply_update(now, current, content_state, action, secondary_action)
            self._apply_labels(current, request.tags, request.metadata)
            body.update(
                operation="updated",
                activity_id=current.activity_id,
                devices_notified=len(current.devices),
            )
            if warning is not None:
                body["warning"] = warning
            self._newer(body, tags=current.tags)
        body["timestamp"] = _iso(now)
        return Reply(200, body)

    def _stream_end(self, now: float, scope: _Scope, key: str, data: JSON | None) -> Reply:
        request = None if data is None else self._parse(StreamEnd, data)
        stream = self._streams.get(key)
        if stream is None:
            return Reply(
                404,
                {
                    "error": "Live Activity stream not found",
                    "message": f"No Live Activity stream found for stream_key: {key}",
                },
            )
        activity = None if stream.activity_id is None else self._activities[stream.activity_id]
        if activity is not None and not scope.covers(activity.effective_channel_slugs):
            return _forbidden("end")
        stream.activity_id = None
        body: JSON = {"success": True, "operation": "ended", "stream_key": key}
        if activity is None or activity.ios.ended_at is not None:
            body.update(activity_id=None, timestamp=_iso(now))
            return Reply(200, self._newer(body, ignored=True))
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
            self._apply_labels(activity, request.tags, request.metadata)
        body.update(
            activity_id=activity.activity_id,
            devices_queued=len(activity.devices),
            timestamp=_iso(now),
        )
        return Reply(200, body)

    # ------------------------------------------------------------------ inspection

    def requests(self) -> list[JSON]:
        """Every API request logged so far (oldest first, at most ``LOG_LIMIT``)."""
        with self._lock:
            return [dict(entry) for entry in self._log]

    def pushes(self) -> list[JSON]:
        """Every push notification the phone received (oldest first)."""
        with self._lock:
            return [_shown_push(push) for push in self._pushes]

    def badges(self) -> dict[str, int]:
        """The app-icon badge count of each device that has been sent one."""
        with self._lock:
            return dict(self._badges)

    def metrics(self) -> dict[str, JSON]:
        """The latest value of each metric key set so far: ``value``, ``timestamp`` (measured),
        ``received_at`` and ``updates``."""
        with self._lock:
            return {key: dict(entry) for key, entry in self._metrics.items()}

    def activities(self) -> list[JSON]:
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
            if activity.ios.phase(now) != DISMISSED
        ]
        notifications = [_shown_push(push) for push in reversed(self._pushes[-5:])]
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
            return {
                "now": _iso(now),
                "phone": self._phone(now),
                "account": {
                    "requests_in_window": self._window.count(now),
                    "rate_limit": config.rate_limit,
                    "rate_window": config.rate_window,
                    "active_activities": self._open_activities(now),
                    "max_activities": config.max_activities,
                    "devices": {name: list(chs) for name, chs in config.devices.items()},
                    "strict": config.strict,
                    "billing_blocked": self._billing,
                },
                "budget": {
                    "updates": config.ios_budget_updates,
                    "interval": config.ios_budget_interval,
                    "throttle_seconds": config.throttle_seconds,
                    "max_age": config.activity_max_age,
                },
                "faults": self.faults.to_json(),
                "activities": [
                    self._budget_row(activity, now)
                    for activity in reversed(list(self._activities.values()))
                ],
                "requests": [dict(entry) for entry in self._log[-40:]][::-1],
            }

    def _card(self, activity: _Activity, now: float) -> JSON:
        dismiss_at = activity.ios.dismiss_at(now)
        return {
            "activity_id": activity.activity_id,
            "stream_key": activity.stream_key,
            "state": _phase(activity, now),
            "content_state": activity.displayed,
            "action": activity.displayed_action,
            "secondary_action": activity.displayed_secondary_action,
            "dismiss_in": None if dismiss_at is None else dismiss_at - now,
            "ends_in": activity.ios.expires_at - now if activity.ios.is_open(now) else None,
            "rotated_from": activity.previous_activity_id,
        }

    def _budget_row(self, activity: _Activity, now: float) -> JSON:
        ios = activity.ios
        elapsed = (ios.ended_at if ios.ended_at is not None else now) - ios.started_at
        throttled_until = ios.throttled_until(now)
        return {
            "activity_id": activity.activity_id,
            "stream_key": activity.stream_key,
            "title": activity.content_state.get("title"),
            "state": _phase(activity, now),
            "updates": ios.updates,
            "updates_per_minute": ios.updates / max(elapsed, _TINY) * 60.0 if ios.updates else 0.0,
            "dropped": ios.dropped,
            "warnings": ios.warnings,
            "throttled": throttled_until is not None,
            "throttled_for": None if throttled_until is None else throttled_until - now,
            "throttles": len(ios.throttles),
        }

    def _describe(self, activity: _Activity, now: float) -> JSON:
        ios = activity.ios
        row = self._budget_row(activity, now)
        dismiss_at = ios.dismiss_at(now)
        row.update(
            started_at=_iso(ios.started_at),
            ended_at=None if ios.ended_at is None else _iso(ios.ended_at),
            ended_by=_ended_by(activity, now),
            expires_at=_iso(ios.expires_at),
            dismissed_at=None if dismiss_at is None or now < dismiss_at else _iso(dismiss_at),
            auto_dismiss_minutes=activity.auto_dismiss_minutes,
            content_state=activity.content_state,
            displayed=activity.displayed,
            action=activity.action,
            secondary_action=activity.secondary_action,
            alert=activity.alert,
            devices=list(activity.devices),
            effective_channel_slugs=activity.effective_channel_slugs,
            tags=activity.tags,
            metadata=activity.metadata,
            previous_activity_id=activity.previous_activity_id,
            next_activity_id=activity.next_activity_id,
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
        if len(self._log) > LOG_LIMIT:
            del self._log[: len(self._log) - LOG_LIMIT]


_ROUTES = {
    ("POST", "/push-notification"): "push",
    ("POST", "/live-activity/start"): "start",
    ("POST", "/live-activity/update"): "update",
    ("POST", "/live-activity/end"): "end",
    ("POST", "/badge"): "badge",
}
_BILLED = frozenset({"push", "replace", "start", "stream", "badge"})
"""What a billing block refuses: everything that sends something new."""
_PATH_KEYS: dict[str, Callable[[object], str]] = {
    "metric": validate_metric_key,
    "stream": validate_stream_key,
    "stream_end": validate_stream_key,
    "replace": validate_notification_id,
}
_PATH_KEY_ERRORS = {
    "stream_key": "Invalid stream_key",
    "key": "Invalid metric key",
    "notification_id": "Invalid notification_id",
}
_PUSH_CONTENT = (
    "title",
    "message",
    "subtitle",
    "payload",
    "badge",
    "media",
    "redirection",
    "actions",
    "icon",
)
"""What a replacement replaces as a whole (tags and metadata only when given)."""
_STREAM_PREFIX = "/live-activity/stream/"
_PUSH_PREFIX = "/push-notification/"
_METRIC_PREFIX = "/metrics/"
_METRIC_SUFFIX = "/value"


def _route(method: str, path: str, *, strict: bool) -> Reply | tuple[str, str | None]:
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
    if not strict and path.startswith(_PUSH_PREFIX) and "/" not in path[len(_PUSH_PREFIX) :]:
        notification_id = path[len(_PUSH_PREFIX) :]
        return (
            ("replace", notification_id) if method == "PUT" else _method_not_allowed(method, path)
        )
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


def _bad_request(exc: ValidationError, *, path_key: bool = False, metric: bool = False) -> Reply:
    if path_key:
        error = _PATH_KEY_ERRORS[exc.field]
    elif exc.field.split(".", 1)[0].split("[", 1)[0] in ("target", "channels"):
        error = "Invalid channel targeting"
        return Reply(
            400, {"error": error, "message": f"{exc.field} {exc.detail}", "field": exc.field}
        )
    elif metric and exc.field == "value":
        reason = "must be a finite number" if exc.rule == "type" else exc.detail
        return Reply(400, {"error": f"value {reason}", "field": exc.field})
    else:
        error = "Bad Request"
    return Reply(400, {"error": error, "message": str(exc), "field": exc.field})


def _check_start_rules(content_state: JSON) -> None:
    """A stream PUT that starts an activity obeys /live-activity/start's rules (400 otherwise)."""
    if "type" not in content_state:
        raise ValidationError(
            "content_state.type", "required", "is required to start a new stream activity"
        )
    StartActivity.from_json({"content_state": content_state}, newer=True)


def _forbidden(verb: str) -> Reply:
    return Reply(
        403, {"error": "Forbidden", "message": f"This API key cannot {verb} this Live Activity"}
    )


def _fault_reply(faults: Faults, *, strict: bool) -> Reply:
    headers: dict[str, str] = {}
    if isinstance(faults.retry_after, str):
        headers["Retry-After"] = faults.retry_after
    elif faults.retry_after is not None:
        headers["Retry-After"] = f"{faults.retry_after:g}"
    if faults.status == 429:
        body = dict(RATE_LIMITED) if strict else dict(RATE_LIMITED, code="rate_limited")
        return Reply(429, body, headers)
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
    """What the card shows: active, ended, dismissing, expired (ended by iOS) or dismissed."""
    phase = activity.ios.phase(now)
    dismiss_at = activity.ios.dismiss_at(now)
    if phase in (ACTIVE, DISMISSED, EXPIRED) or dismiss_at is None:
        return phase
    return "dismissing" if dismiss_at - now <= DISMISSING_SECONDS else phase


def _delivered(activity: _Activity, now: float) -> JSON:
    """The answer to a manual update or end: sent straight to every device."""
    return {
        "success": True,
        "activity_id": activity.activity_id,
        "devices_notified": len(activity.devices),
        "devices_queued": 0,
        "timestamp": _iso(now),
    }


def _ended_by(activity: _Activity, now: float) -> str | None:
    if activity.next_activity_id is not None:
        return "rotation"
    if activity.ios.expired(now):
        return "ios"
    return None if activity.ios.ended_at is None else "request"


def _shown_push(push: JSON) -> JSON:
    shown = dict(push, received_at=_iso(push["received_at"]))
    shown.pop("effective_channel_slugs", None)
    return shown


def _listed(values: Sequence[str] | None) -> list[str] | None:
    return None if values is None else list(values)


def _mapped(values: Mapping[str, Any] | None) -> JSON | None:
    return None if values is None else dict(values)


def _to_json(value: Any) -> JSON | None:
    if value is None:
        return None
    result: JSON = value.to_json()
    return result


def _non_negative_int(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValidationError(name, "minimum", "must be a non-negative integer")
    return value


def _non_negative_seconds(name: str, value: float) -> float:
    if not value >= 0:  # NaN too
        raise ValidationError(name, "minimum", "must not be negative")
    return float(value)


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
