"""The dispatcher: one background thread per process that samples activities and sends.

It is the only part of the engine that does I/O. Each turn it samples every open activity (a
few attribute reads; the owner's thread is never locked or interrupted), hands the samples to the
pure pacing policy, and makes the requests the policy asks for, one at a time, through livebar's
own client with its retries turned off (pacing decides when to try again). Results go back to the
policy and onto ``activity.stats``. Nothing here raises into user code: trouble is logged once
on ``logging.getLogger("livebar")`` and counted.

Endings are guaranteed as far as the network allows: ``atexit`` ends what is still open and waits
up to the flush deadline; SIGTERM is turned into ``SystemExit`` (when nobody else handles it) so
``with`` blocks unwind and say "Cancelled"; an exception that escapes the program marks a loop that
stopped early as failed. After ``fork`` the child starts from nothing: it never shares the
parent's thread, connections or activities.
"""

from __future__ import annotations

import atexit
import collections
import logging
import os
import signal
import sys
import threading
import time
import weakref
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from livebar import _defaults
from livebar._activity import OUTCOMES, LiveActivity, raise_terminated
from livebar._errors import (
    ActivityLimitError,
    APIError,
    AuthenticationError,
    ConfigurationError,
    ConnectError,
    LivebarError,
    NotFoundError,
    PaymentRequiredError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    StreamNotFoundError,
    TransportError,
)
from livebar._pacing import Budgets, Kind, Outcome, PacingPolicy, Send, Snapshot
from livebar._payload import (
    ContentState,
    EndActivity,
    PushNotification,
    StartActivity,
    StreamEnd,
    StreamUpdate,
    UpdateActivity,
)

__all__ = ["Dispatcher", "attach", "configure", "flush", "flush_timeout", "push"]

log = logging.getLogger("livebar")

_OUTCOME_WORDS = {
    "done": "finished",
    "failed": "failed",
    "cancelled": "was cancelled",
    "stopped": "stopped",
}


@dataclass
class _Account:
    """One API key at one base URL: its own budgets, its own policy."""

    client: Any
    policy: PacingPolicy
    activities: dict[int, LiveActivity] = field(default_factory=dict)
    states: dict[int, Any] = field(default_factory=dict)
    pushes: dict[int, PushNotification] = field(default_factory=dict)
    push_owner: dict[int, LiveActivity] = field(default_factory=dict)
    refused: bool = False


class Dispatcher:
    """Samples, paces and sends for every activity of this process."""

    def __init__(
        self,
        *,
        budgets: Optional[Budgets] = None,
        sample_interval: float = _defaults.DEFAULT_SAMPLE_INTERVAL,
        stop_grace: float = _defaults.DEFAULT_STOP_GRACE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.budgets = budgets or Budgets()
        self.sample_interval = sample_interval
        self.stop_grace = stop_grace
        self.clock = clock
        self._accounts: dict[tuple[str, ...], _Account] = {}
        self._inbox: collections.deque[tuple[str, Any]] = collections.deque()
        self._wake = threading.Event()
        self._idle = threading.Condition()
        self._busy = False
        self._flushing = False
        self._uncaught: Optional[BaseException] = None
        self._logged: set[tuple[int, Kind, type[BaseException]]] = set()
        self._thread = threading.Thread(target=self._run, name="livebar-dispatcher", daemon=True)
        self._thread.start()

    # -- called from user threads (never blocks on I/O) --------------------------------------

    def opened(self, activity: LiveActivity, client: Any, account: tuple[str, ...]) -> None:
        self._inbox.append(("open", (activity, client, account)))
        self._wake.set()

    def closed(self, activity: LiveActivity) -> None:
        self._wake.set()

    def push(self, notification: PushNotification, client: Any, account: tuple[str, ...]) -> None:
        self._inbox.append(("push", (notification, client, account, None)))
        self._wake.set()

    def set_budgets(self, budgets: Budgets) -> None:
        """Use ``budgets`` from the next turn on, for every account (what was sent still counts)."""
        self._inbox.append(("budgets", budgets))
        self._wake.set()

    def uncaught(self, exc: BaseException) -> None:
        """An exception escaped the program: loops that stopped just now failed with it."""
        self._uncaught = exc
        # Every activity of this process, including those the worker has not picked up yet.
        with _open_lock:
            candidates = list(_open.values())
        for activity in candidates:
            if activity.outcome == "stopped" and not activity._handed_over:
                activity.outcome = None
                activity.close(exc)  # issue-14: was outcome="failed"; Ctrl-C is cancelled
        self._wake.set()

    def flush(self, timeout: float) -> bool:
        """Wait until every end and push is delivered or given up on; True if all were."""
        deadline = time.monotonic() + timeout
        self._flushing = True
        self._wake.set()
        with self._idle:
            while self._pending():
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._idle.wait(min(left, 0.05))
                self._wake.set()
        self._flushing = False
        return not self._pending()

    def _pending(self) -> bool:
        """Anything closed or queued not yet delivered? (Read from user threads: copies only.)"""
        if self._inbox or self._busy:
            return True
        for account in list(self._accounts.values()):
            if account.pushes:
                return True
            if any(activity.closed for activity in list(account.activities.values())):
                return True
        return False

    # -- the worker ---------------------------------------------------------------------------

    def _run(self) -> None:
        while True:  # a daemon thread: it ends with the interpreter
            self._wake.clear()  # before the turn, so a wake-up during it is not lost
            timeout = self._turn_safely()
            self._wake.wait(timeout)

    def _turn_safely(self) -> Optional[float]:
        self._busy = True
        try:
            return self._turn()
        except Exception:  # a bug here must never take the user's job down
            log.exception("livebar: internal error in the dispatcher; carrying on")
            return self.sample_interval
        finally:
            self._busy = False
            with self._idle:
                self._idle.notify_all()

    def _turn(self) -> Optional[float]:
        now = self.clock()
        self._intake(now)
        any_open = False
        wake = float("inf")
        for account in list(self._accounts.values()):
            any_open |= self._sample(account, now)
            self._send(account)
            wake = min(wake, account.policy.next_wake(self.clock()))
        if any_open:
            return max(0.0, min(self.sample_interval, wake - self.clock()))
        if wake != float("inf"):
            return max(0.0, min(wake - self.clock(), 1.0))
        return None

    def _intake(self, now: float) -> None:
        while self._inbox:
            what, item = self._inbox.popleft()
            if what == "budgets":
                self.budgets = item
                for account in self._accounts.values():
                    account.policy.budgets = item
            elif what == "open":
                activity, client, key = item
                account = self._account(key, client)
                if account.refused:
                    self._give_up(activity, "the account refused our key earlier")
                    continue
                state = self._state_of(activity)
                if state is None:
                    self._give_up(activity, activity.stats.last_error or "no state")
                    continue
                akey = id(activity)
                account.activities[akey] = activity
                account.states[akey] = state
                account.policy.open(akey, now, _snapshot(state))
            else:
                notification, client, key, owner = item
                account = self._account(key, client)
                if account.refused:
                    continue  # the key was refused: said once already, nothing more to send
                pkey = id(notification)
                account.pushes[pkey] = notification
                if owner is not None:
                    account.push_owner[pkey] = owner
                account.policy.push(pkey)

    def _account(self, key: tuple[str, ...], client: Any) -> _Account:
        account = self._accounts.get(key)
        if account is None:
            account = _Account(client=client, policy=PacingPolicy(self.budgets))
            self._accounts[key] = account
        return account

    def _sample(self, account: _Account, now: float) -> bool:
        """Feed the policy the latest state of each activity; True if any is still open."""
        any_open = False
        policy = account.policy
        for key, activity in list(account.activities.items()):
            if activity._handed_over:
                continue
            if activity.outcome is None:
                any_open = True
                state = self._state_of(activity)
                if state is not None:
                    account.states[key] = state
                    policy.observe(key, _snapshot(state))
                continue
            if (
                activity.outcome == "stopped"
                and not self._flushing
                and activity.ended_at is not None
                and time.monotonic() - activity.ended_at < self.stop_grace
            ):
                any_open = True  # an uncaught exception may still turn this into a failure
                continue
            ending = self._state_of(activity, ending=True)
            if ending is None:  # cannot happen for states we built before; never spin on it
                policy.abandon(key)
                self._settle(account, key)
                continue
            account.states[key] = ending
            activity._handed_over = True
            policy.close(key, _snapshot(ending))
        return any_open

    def _state_of(self, activity: LiveActivity, *, ending: bool = False) -> Optional[Any]:
        try:
            return activity.content_state(ending=activity.ending if ending else None)
        except Exception as exc:
            activity.stats.last_error = f"could not build the state: {exc}"
            return None

    def _notify(self, account: _Account, activity: LiveActivity) -> None:
        notification = _outcome_push(activity)
        pkey = id(notification)
        account.pushes[pkey] = notification
        account.push_owner[pkey] = activity
        account.policy.push(pkey)

    # -- sending ------------------------------------------------------------------------------

    def _send(self, account: _Account) -> None:
        policy = account.policy
        while True:
            sends = policy.next_sends(self.clock())
            if not sends:
                return
            for send in sends:
                self._perform(account, send)

    def _perform(self, account: _Account, send: Send) -> None:
        key = send.key
        assert isinstance(key, int)
        activity = account.activities.get(key)
        owner = activity if activity is not None else account.push_owner.get(key)
        try:
            result = self._request(account, send, activity)
        except LivebarError as exc:
            outcome, retry_after, reached = _classify(exc, send, activity)
            if owner is not None:
                owner.stats.requests += int(reached)
                owner.stats.last_error = _describe(exc)
            self._failed(account, send, activity, exc, outcome)
            account.policy.result(
                send, self.clock(), outcome, retry_after=retry_after, reached_server=reached
            )
        except Exception as exc:  # not ours to crash on; count it and move on
            log.exception("livebar: unexpected error while sending")
            if owner is not None:
                owner.stats.last_error = _describe(exc)
                owner.stats.dropped += 1
            account.policy.result(send, self.clock(), Outcome.REJECTED)
        else:
            if owner is not None:
                owner.stats.requests += 1
            self._succeeded(account, send, activity, result)
            account.policy.result(send, self.clock(), Outcome.OK)
        self._settle(account, key)

    def _request(self, account: _Account, send: Send, activity: Optional[LiveActivity]) -> Any:
        client = account.client
        if activity is None:
            return client.push(account.pushes[_key(send)], retry=False)
        if send.kind is Kind.PUSH:
            return client.push(_outcome_push(activity), retry=False)
        state: ContentState = account.states[_key(send)]
        buttons = (activity.action, activity.secondary_action)
        stream_key = activity.stream_key
        if stream_key is not None:
            if send.kind is Kind.END:
                end = StreamEnd(
                    content_state=state,
                    auto_dismiss_minutes=activity.dismiss_minutes(),
                    action=buttons[0],
                    secondary_action=buttons[1],
                )
                return client.end_stream(stream_key, end, retry=False)
            put = StreamUpdate(
                content_state=state,
                channels=activity.channels,
                action=buttons[0],
                secondary_action=buttons[1],
            )
            return client.stream(stream_key, put, retry=False)
        if send.kind is Kind.START:
            start = StartActivity(
                content_state=state,
                channels=activity.channels,
                action=buttons[0],
                secondary_action=buttons[1],
            )
            return client.start(start, retry=False)
        activity_id = activity.stats.activity_id
        assert activity_id is not None  # set by the start that made the policy send this
        if send.kind is Kind.UPDATE:
            update = UpdateActivity(
                activity_id=activity_id,
                content_state=state,
                action=buttons[0],
                secondary_action=buttons[1],
            )
            return client.update(update, retry=False)
        ending = EndActivity(
            activity_id=activity_id,
            content_state=state,
            auto_dismiss_minutes=activity.dismiss_minutes(),
            action=buttons[0],
            secondary_action=buttons[1],
        )
        return client.end(ending, retry=False)

    def _succeeded(
        self, account: _Account, send: Send, activity: Optional[LiveActivity], result: Any
    ) -> None:
        if activity is None:
            account.pushes.pop(_key(send), None)
            account.push_owner.pop(_key(send), None)
            return
        stats = activity.stats
        if getattr(result, "warning", None):
            stats.warnings += 1
        if send.kind is Kind.START:
            stats.started = True
            stats.activity_id = getattr(result, "activity_id", None) or stats.activity_id
        elif send.kind is Kind.UPDATE:
            stats.updates += 1
        elif send.kind is Kind.PUSH:
            stats.delivered_by_push = True
            stats.end_delivered = True
            log.warning(
                "livebar: no Live Activity could start for %r (the account's concurrent limit); "
                "its outcome went out as a push notification instead",
                activity.title,
            )
        else:
            stats.end_delivered = True
            if activity.outcome in activity.notify_on:
                self._notify(account, activity)

    def _failed(
        self,
        account: _Account,
        send: Send,
        activity: Optional[LiveActivity],
        exc: LivebarError,
        outcome: Outcome,
    ) -> None:
        owner = activity if activity is not None else account.push_owner.get(_key(send))
        if outcome in (Outcome.TRANSIENT, Outcome.RATE_LIMITED, Outcome.ACTIVITY_LIMIT):
            if owner is not None:
                owner.stats.retried += 1
            return
        if outcome is Outcome.FORBIDDEN:
            if not account.refused:
                account.refused = True
                log.error(
                    "livebar: ActivitySmith refused the API key (%s); Live Activities are off "
                    "for this key until the process restarts",
                    _describe(exc),
                )
            for other in list(account.activities.values()):
                other.stats.dropped += 1
                other.stats.last_error = _describe(exc)
            for pkey in list(account.pushes):
                account.policy.forget(pkey)
            account.pushes.clear()
            account.push_owner.clear()
            for akey in list(account.activities):
                account.policy.abandon(akey)
                self._settle(account, akey)
            return
        if send.kind is Kind.END and isinstance(exc, (NotFoundError, StreamNotFoundError)):
            return  # the activity is already gone: there is nothing left to end
        if owner is not None:
            owner.stats.dropped += 1
        if activity is None:
            account.pushes.pop(_key(send), None)
            account.push_owner.pop(_key(send), None)
        said = (id(owner), send.kind, type(exc))
        if said not in self._logged:  # once per activity and kind of trouble, never a flood
            self._logged.add(said)
            log.warning("livebar: %s request dropped: %s", send.kind.value, _describe(exc))

    def _settle(self, account: _Account, key: int) -> None:
        """Forget an activity whose story is over, and wake whoever waits for it."""
        phase = account.policy.phase(key)
        activity = account.activities.get(key)
        if activity is None or phase not in ("ended", "abandoned"):
            return
        activity.stats.coalesced = account.policy.coalesced(key)
        account.policy.forget(key)
        del account.activities[key]
        account.states.pop(key, None)
        with _open_lock:
            _open.pop(key, None)
        activity._done_event.set()

    def _give_up(self, activity: LiveActivity, why: str) -> None:
        activity.stats.dropped += 1
        activity.stats.last_error = why
        activity._done_event.set()


# -- classifying results -----------------------------------------------------------------------


def _classify(
    exc: LivebarError, send: Send, activity: Optional[LiveActivity]
) -> tuple[Outcome, Optional[float], bool]:
    """(what pacing should do, Retry-After, whether the request reached the server)."""
    if isinstance(exc, ActivityLimitError):
        return Outcome.ACTIVITY_LIMIT, None, True
    if isinstance(exc, RateLimitError):
        return Outcome.RATE_LIMITED, exc.retry_after, True
    if isinstance(exc, ConnectError):
        return Outcome.TRANSIENT, None, False
    if isinstance(exc, TransportError):
        if send.kind is Kind.START and activity is not None and activity.stream_key is None:
            log.warning(
                "livebar: starting %r timed out; trying again may leave a duplicate activity "
                "on the phone (stream_key= makes starts safe to repeat)",
                activity.title,
            )
        return Outcome.TRANSIENT, None, True
    if isinstance(exc, ServerError):
        return Outcome.TRANSIENT, None, True
    if isinstance(exc, (AuthenticationError, PermissionDeniedError, PaymentRequiredError)):
        return Outcome.FORBIDDEN, None, True
    if isinstance(exc, (StreamNotFoundError, NotFoundError)) and send.kind is Kind.END:
        return Outcome.OK, None, True
    if isinstance(exc, APIError):
        return Outcome.REJECTED, None, True
    return Outcome.REJECTED, None, False


def _key(send: Send) -> int:
    key = send.key
    assert isinstance(key, int)  # the dispatcher only ever opens keys made by id()
    return key


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _snapshot(state: ContentState) -> Snapshot:
    fraction: Optional[float]
    if state.current_step is not None and state.number_of_steps:
        fraction = state.current_step / state.number_of_steps
    elif state.percentage is not None:
        fraction = state.percentage / 100
    elif state.value is not None and state.upper_limit:
        fraction = min(max(state.value / state.upper_limit, 0.0), 1.0)
    else:
        fraction = None
    count = 0.0
    if state.metrics:
        first = state.metrics[0].value
        count = float(first) if isinstance(first, (int, float)) else 0.0
    return Snapshot(
        fraction=fraction,
        count=count,
        structure=(state.type, state.title, state.color, state.number_of_steps),
        detail=(state.subtitle, state.step_color, state.step_colors),
    )


def _outcome_push(activity: LiveActivity) -> PushNotification:
    """ "Deploy failed" with the ending's text: for ``notify_on`` and when no activity started."""
    ending = activity.ending
    outcome = ending.outcome if ending is not None else "done"
    return PushNotification(
        title=f"{activity.title} {_OUTCOME_WORDS.get(outcome, outcome)}",
        message=ending.subtitle if ending is not None else None,
        channels=activity.channels,
    )


# -- the process-wide dispatcher ---------------------------------------------------------------

_lock = threading.Lock()
_dispatcher: Optional[Dispatcher] = None
_budgets: Optional[Budgets] = None
_flush_timeout: Optional[float] = None
_warned_no_key = False
_warned_config = False
_hooks_installed = False
_clients: dict[tuple[str, ...], Any] = {}


def configure(
    *,
    budgets: Optional[Budgets] = None,
    requests_per_minute: Optional[int] = None,
    flush_timeout: Optional[float] = None,
) -> None:
    """Set process-wide pacing budgets and the flush deadline (takes effect for new activities).

    ``requests_per_minute`` is livebar's share of the account's 60 (default 40, or
    ``LIVEBAR_REQUESTS_PER_MINUTE``); ``budgets`` sets every limit at once (tests shrink them).
    Bad values raise ``ConfigurationError``.
    """
    global _budgets, _flush_timeout
    from livebar._config import resolve_engine

    settings = resolve_engine(flush_timeout=flush_timeout, requests_per_minute=requests_per_minute)
    with _lock:
        if budgets is None and requests_per_minute is not None:
            budgets = _budgets_for(settings.requests_per_minute)
        if budgets is not None:
            _budgets = budgets
            if _dispatcher is not None:
                _dispatcher.set_budgets(budgets)  # open activities keep their sender
        if flush_timeout is not None:
            _flush_timeout = settings.flush_timeout


def _engine_settings() -> Any:
    """The environment's settings; on a bad value, one error line and the defaults."""
    global _warned_config
    from livebar._config import resolve_engine

    try:
        return resolve_engine()
    except ConfigurationError as exc:
        if not _warned_config:
            _warned_config = True
            log.error("livebar: %s; using the default", exc)
        return resolve_engine(environ={})


def flush_timeout() -> float:
    """The flush deadline in force: ``configure()``, else ``LIVEBAR_FLUSH_TIMEOUT``, else 5 s."""
    if _flush_timeout is not None:
        return _flush_timeout
    value: float = _engine_settings().flush_timeout
    return value


def _budgets_for(requests_per_minute: int) -> Budgets:
    reserve = min(_defaults.DEFAULT_RESERVED_REQUESTS, requests_per_minute - 1)
    return Budgets(requests_per_window=requests_per_minute, reserve=reserve)


def _default_budgets() -> Budgets:
    if _budgets is not None:
        return _budgets
    return _budgets_for(_engine_settings().requests_per_minute)


def _get_dispatcher() -> Dispatcher:
    global _dispatcher
    with _lock:
        if _dispatcher is None:
            _dispatcher = Dispatcher(budgets=_default_budgets())
            _install_hooks()
        return _dispatcher


def _resolve_client(
    *,
    client: Any,
    api_key: Optional[str],
    base_url: Optional[str],
    disable: Optional[bool],
    ranks: Optional[str] = None,
) -> Optional[tuple[Any, tuple[str, ...]]]:
    """The client to send with and its account key; None when mirroring is off.

    Mirroring is off when disabled (argument or ``LIVEBAR_DISABLE``, silently), when there is no
    API key (one warning per process), or when the environment holds an unusable setting (one
    error line): a phone that is not paired must never fail the job.
    """
    global _warned_no_key, _warned_config
    from livebar._config import resolve_config

    try:
        config = resolve_config(api_key=api_key, base_url=base_url, disable=disable)
    except ConfigurationError as exc:
        if not _warned_config:
            _warned_config = True
            log.error("livebar: %s; running with Live Activities off", exc)
        return None
    if config.disabled:
        return None
    from livebar._ranks import mirrors_here  # issue-14: only a distributed job's main process

    if not mirrors_here(ranks):
        return None
    if client is not None:
        client_config = getattr(client, "config", None)
        base = getattr(client_config, "base_url", "")
        key = getattr(client_config, "api_key", None) or ""
        return client, ("client", str(id(client)), base, _fingerprint(key))
    if not config.api_key:
        if not _warned_no_key:
            _warned_no_key = True
            log.warning(
                "livebar: no API key (set %s or pass api_key=); running with Live Activities "
                "off. Set %s=1 to silence this.",
                _defaults.ENV_API_KEY,
                _defaults.ENV_DISABLE,
            )
        return None
    from livebar._client import Client

    account = ("key", config.base_url, _fingerprint(config.api_key))
    with _lock:
        existing = _clients.get(account)
        if existing is None:
            existing = Client(
                api_key=config.api_key,
                base_url=config.base_url,
                timeout=config.timeout,
                retry=False,
            )
            _clients[account] = existing
    return existing, account


def _fingerprint(key: str) -> str:
    import hashlib

    return hashlib.sha256(key.encode()).hexdigest()[:16]


def attach(activity: LiveActivity) -> Optional[Dispatcher]:
    """Register a starting activity; None when it is not mirrored (disabled or no key)."""
    resolved = _resolve_client(
        client=activity._client_arg,
        api_key=activity._api_key,
        base_url=activity._base_url,
        disable=activity._disable_arg,
        ranks=activity._ranks_arg,  # issue-14
    )
    if resolved is None:
        return None
    client, account = resolved
    dispatcher = _get_dispatcher()
    _track_open(activity)
    dispatcher.opened(activity, client, account)
    return dispatcher


def push(
    title: str,
    *,
    message: Optional[str] = None,
    channels: Optional[list[str]] = None,
    client: Any = None,
    api_key: Optional[str] = None,
    base_url: Optional[str] = None,
    disable: Optional[bool] = None,
    **fields: Any,
) -> bool:
    """Queue a push notification, paced with the activities; False if mirroring is off."""
    notification = PushNotification(title=title, message=message, channels=channels, **fields)
    resolved = _resolve_client(client=client, api_key=api_key, base_url=base_url, disable=disable)
    if resolved is None:
        return False
    dispatcher = _get_dispatcher()
    dispatcher.push(notification, resolved[0], resolved[1])
    return True


def flush(timeout: Optional[float] = None) -> bool:
    """Wait (at most ``timeout``, default the flush deadline) until every end and push is out."""
    dispatcher = _dispatcher
    if dispatcher is None:
        return True
    return dispatcher.flush(flush_timeout() if timeout is None else timeout)


# -- endings at exit, signals, uncaught exceptions, fork ---------------------------------------

_open: weakref.WeakValueDictionary[int, LiveActivity] = weakref.WeakValueDictionary()
"""This process's mirrored activities that have not settled yet (for exit and excepthook)."""
_open_lock = threading.Lock()


def _track_open(activity: LiveActivity) -> None:
    with _open_lock:
        _open[id(activity)] = activity


def _install_hooks() -> None:
    global _hooks_installed
    if _hooks_installed:
        return
    _hooks_installed = True
    atexit.register(_at_exit)
    previous = sys.excepthook

    def excepthook(tp: type[BaseException], exc: BaseException, tb: Any) -> None:
        dispatcher = _dispatcher
        if dispatcher is not None and exc is not None:
            dispatcher.uncaught(exc)
        previous(tp, exc, tb)

    sys.excepthook = excepthook
    previous_thread_hook = threading.excepthook

    def thread_excepthook(args: Any) -> None:
        dispatcher = _dispatcher
        if dispatcher is not None and args.exc_value is not None:
            dispatcher.uncaught(args.exc_value)
        previous_thread_hook(args)

    threading.excepthook = thread_excepthook
    from livebar._ipython import watch_running_shell  # issue-14: IPython skips sys.excepthook

    watch_running_shell()
    if threading.current_thread() is threading.main_thread():
        try:
            if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
                signal.signal(signal.SIGTERM, raise_terminated)
        except (ValueError, OSError):  # not the main interpreter, or no signals here
            pass


def _at_exit() -> None:
    dispatcher = _dispatcher
    if dispatcher is None:
        return
    pid = os.getpid()
    with _open_lock:
        leftovers = [a for a in _open.values() if a._pid == pid and not a.closed]
        _open.clear()
    for activity in leftovers:
        if dispatcher._uncaught is not None:
            activity.close(dispatcher._uncaught)  # issue-14: an uncaught Ctrl-C is cancelled
        else:
            fraction = activity.fraction()
            activity.close(outcome="done" if fraction is None or fraction >= 1 else "stopped")
    timeout = flush_timeout()
    if dispatcher.flush(timeout):
        return
    undelivered = []
    for account in list(dispatcher._accounts.values()):
        for activity in list(account.activities.values()):
            if activity.closed and not activity.stats.end_delivered:
                activity.stats.dropped += 1
                undelivered.append(activity.title)
        for notification in list(account.pushes.values()):
            undelivered.append(f"push {notification.title!r}")
    if undelivered:
        log.warning(
            "livebar: gave up after %.1fs; not delivered: %s", timeout, ", ".join(undelivered)
        )


def _after_fork_in_child() -> None:
    global _dispatcher, _lock, _open_lock
    _dispatcher = None
    _lock = threading.Lock()
    _open_lock = threading.Lock()
    _clients.clear()
    _open.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)

assert set(OUTCOMES) == set(_OUTCOME_WORDS)
