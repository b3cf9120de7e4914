"""The simulated ActivitySmith account and iPhone: pure state, no I/O.

``SimulatorState.handle()`` takes one API request (method, path below the API root, the
``Authorization`` header and the raw body) and returns a ``Reply``. Time comes from the injected
``SimulatorConfig.clock``, so every rule is testable without a server and without sleeping.
Requests are routed by the wire's operations table (``_router``) and their bodies parsed with
the payload classes' ``from_json``: the spec's rules live there, once. The account's rate-limit
window and iOS's view of each activity (update budget, throttle, the 8-hour limit, dismissal)
are ``livebar.simulator._model``'s, shared with the pacing benchmark.

``SimulatorState`` is the facade (one lock, the checks every request goes through, the
controls); the state lives by endpoint family: ``_account`` (keys, rate window, billing,
recipients), ``_activities`` (start / update / end and the stream), ``_notifications`` (pushes,
badges, metrics), ``_inspect`` (the log and what tests and the page see) and ``_faults``
(injected faults and the plan of a faulted exchange, which both HTTP shells perform).

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

import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Callable

from livebar._wire.errors import Operation, ValidationError
from livebar.simulator._account import Account, KeyScope
from livebar.simulator._activities import Activities
from livebar.simulator._answers import JSON, Reply
from livebar.simulator._config import SimulatorConfig, check_billing
from livebar.simulator._faults import FaultDecision, Faults, RawAnswer
from livebar.simulator._inspect import RequestLog, describe, lock_screen, loggable, page, shown_push
from livebar.simulator._notifications import Notifications
from livebar.simulator._router import bad_request, check_parameters, parse_body, route

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from livebar.simulator._faults import FaultSettings

__all__ = ["SimulatorState"]

Handler = Callable[..., Reply]
"""``(now, scope, body, **path parameters) -> Reply``: what the account does for an operation."""


class SimulatorState:
    """One simulated account with its devices, activities, limits and faults.

    Thread-safe: every public method holds one lock, so the server thread and the test thread can
    both use it.
    """

    def __init__(self, config: SimulatorConfig | None = None) -> None:
        self.config = config if config is not None else SimulatorConfig()
        self._lock = threading.RLock()
        self._account = Account(self.config)
        self.reset()

    # ------------------------------------------------------------------ control

    def reset(self) -> None:
        """Forget every activity, push, badge, metric value, request and fault (ids keep
        counting; a billing block stays)."""
        with self._lock:
            self._account.reset()
            self._activities = Activities(self._account)
            self._notifications = Notifications(self._account)
            self._log = RequestLog()
            self.faults = Faults()
            self._handlers: Mapping[Operation, Handler] = {
                Operation.PUSH: self._notifications.push,
                Operation.REPLACE_PUSH: self._notifications.replace,
                Operation.SET_BADGE: self._notifications.badge,
                Operation.SET_METRIC: self._notifications.metric,
                Operation.START: self._activities.start,
                Operation.UPDATE: self._activities.update,
                Operation.END: self._activities.end,
                Operation.STREAM: self._activities.stream,
                Operation.END_STREAM: self._activities.stream_end,
            }

    def set_billing(self, blocked: str | None) -> None:
        """Put the account in a billing block (a reason of ``BILLING_REASONS``) or lift it."""
        check_billing(blocked, strict=self.config.strict)
        with self._lock:
            self._account.billing = blocked

    def set_faults(self, **settings: Unpack[FaultSettings]) -> JSON:
        """Change the injected faults (a setting left out or ``None`` is kept) and return them.

        ``fail_next`` answers that many requests with ``status``; ``retry_after`` goes with it:
        seconds, or the header's exact text (an HTTP-date, a negative or garbage value).
        ``delay`` holds every request; ``drop_next`` closes that many connections unanswered;
        ``down`` drops every request until False. ``drip`` makes every answer arrive one byte at
        a time over that many seconds (a slow drip; the requests are handled). ``slow_next``
        limits ``delay`` and ``drip`` to that many requests (0: every request until changed).
        """
        with self._lock:
            self.faults.change(settings)
            return self.faults.to_json()

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
        answer = RawAnswer.of(body, status, headers)
        with self._lock:
            self.faults.answer_with(n, answer, handled=handled)

    def amend_next(self, n: int = 1, **fields: Any) -> None:
        """Handle the next ``n`` API requests as usual and add ``fields`` to each answer (what a
        newer server might send: unknown fields, an unknown ``operation``)."""
        with self._lock:
            self.faults.amend_with(n, fields)

    def clear_faults(self) -> JSON:
        """Remove every injected fault."""
        with self._lock:
            self.faults = Faults()
            return self.faults.to_json()

    def take_fault(self) -> FaultDecision:
        """Consume the fault (if any) that applies to the next API request."""
        with self._lock:
            return self.faults.take(strict=self.config.strict)

    def record_fault(self, method: str, path: str, body: bytes, decision: FaultDecision) -> None:
        """Log an API request that an injected fault answered (or dropped)."""
        with self._lock:
            reply = decision.reply
            status: int | None = None if reply is None else reply.status
            response: Any = None if reply is None else reply.body
            if decision.raw is not None:
                status, response = decision.raw.status, loggable(decision.raw.body)
            self._log.record(
                self.config.clock(),
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
                status, response, marked = fault.raw.status, loggable(fault.raw.body), "garbled"
            if fault is not None and fault.drip > 0 and marked is None:
                marked = "dripped"
            if fault is not None and fault.delay > 0 and marked is None:
                marked = "delayed"
            self._log.record(
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
        """The reply, and whether the request counted against the rate limit. The order of the
        checks is the module docstring's."""
        routed = route(method, path, strict=self.config.strict)
        if isinstance(routed, Reply):
            return routed, False
        scope = self._account.authenticate(authorization)
        if isinstance(scope, Reply):
            return scope, False
        limited = self._account.admit(now)
        if limited is not None:
            return limited, False
        endpoint, parameters = routed
        blocked = self._account.blocks(endpoint.name, now)
        if blocked is not None:
            return blocked, True
        try:
            data = parse_body(body, optional=not endpoint.body_required)
            check_parameters(parameters)
        except ValidationError as exc:
            return bad_request(exc, path_key=exc.field in parameters), True
        return self._answer(now, endpoint.name, scope, data, parameters), True

    def _answer(
        self,
        now: float,
        operation: Operation,
        scope: KeyScope,
        data: Any,
        parameters: Mapping[str, str],
    ) -> Reply:
        try:
            return self._handlers[operation](now, scope, data, **parameters)
        except ValidationError as exc:
            return bad_request(exc, metric=operation is Operation.SET_METRIC)

    # ------------------------------------------------------------------ inspection

    def requests(self) -> list[JSON]:
        """Every API request logged so far (oldest first, at most ``LOG_LIMIT``)."""
        with self._lock:
            return [dict(entry) for entry in self._log.entries]

    def pushes(self) -> list[JSON]:
        """Every push notification the phone received (oldest first)."""
        with self._lock:
            return [shown_push(push) for push in self._notifications.pushes]

    def badges(self) -> dict[str, int]:
        """The app-icon badge count of each device that has been sent one."""
        with self._lock:
            return dict(self._notifications.badges)

    def metrics(self) -> dict[str, JSON]:
        """The latest value of each metric key set so far: ``value``, ``timestamp`` (measured),
        ``received_at`` and ``updates``."""
        with self._lock:
            return {key: dict(entry) for key, entry in self._notifications.metrics.items()}

    def activities(self) -> list[JSON]:
        """Every activity with its request history and what the phone displayed when."""
        with self._lock:
            now = self.config.clock()
            return [describe(activity, now) for activity in self._activities.by_id.values()]

    def phone(self) -> JSON:
        """What the lock screen shows now: Live Activities (newest first) and notifications."""
        with self._lock:
            return lock_screen(self.config.clock(), self._activities, self._notifications)

    def snapshot(self) -> JSON:
        """Everything the lock-screen page draws: the phone, the budget panel and the log."""
        with self._lock:
            return page(
                self.config.clock(),
                self._account,
                self._activities,
                self._notifications,
                self.faults,
                self._log,
            )
