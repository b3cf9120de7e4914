"""The process's engine: the background thread that runs the dispatcher, and the settings,
hooks and hand-overs every activity of the process shares.

``open_activity`` and ``push`` hand work to the engine (created on first use, with its thread);
``flush`` waits for it; ``configure`` sets the process-wide budgets and flush deadline;
``install`` swaps the driver (``livebar.testing.virtual_time`` runs the same dispatcher on a
virtual clock). The process-wide state of livebar lives here and nowhere else.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import TYPE_CHECKING, Any, Callable, Protocol

from livebar import _defaults
from livebar._engine.budgets import Budgets, budgets_for
from livebar._engine.dispatcher import Dispatcher
from livebar._engine.ranks import mirrors_here
from livebar._ledger import ledger as _ledger
from livebar._wire.config import (
    Config,
    disabled_setting,
    flush_timeout_setting,
    requests_per_minute_setting,
    resolve_config,
)
from livebar._wire.errors import ConfigurationError, LivebarError, detached

if TYPE_CHECKING:
    from livebar._engine.jobs import ActivityJob, Sampler
    from livebar._job.options import ActivitySpec
    from livebar._ledger.ledger import AccountLedger
    from livebar._wire.account import Account
    from livebar._wire.client import Client

__all__ = [
    "budgets_for",
    "clock",
    "close",
    "configure",
    "flush",
    "flush_timeout",
    "install",
    "open_activity",
    "push",
    "report_undelivered",
    "running",
    "wait_for",
    "wake",
]

log = logging.getLogger("livebar")


def _shared_ledger(account: Account, window: float) -> AccountLedger:
    """The account's ledger as ``LIVEBAR_LEDGER`` says: shared on this machine by default.

    Opened for the engine alone (its thread is the only one that touches it), not taken from
    ``ledger_for``'s cache, which other code in the process may close."""
    return _ledger.open_ledger(account, window=window)


_importing = threading.Lock()
"""Held while the engine's thread imports the client (httpx): a fork waits for it, so a child
never inherits a half-imported module."""


def _connect(config: Config) -> Client:
    with _importing:
        from livebar._wire.client import Client

    return Client(
        api_key=config.api_key, base_url=config.base_url, timeout=config.timeout, retry=False
    )


# -- drivers: who runs the turns ----------------------------------------------------------------


class Driver(Protocol):
    """Runs a dispatcher's turns: the background thread, or a virtual clock in tests."""

    dispatcher: Dispatcher

    def flush(self, timeout: float) -> bool: ...

    def wait_for(self, mirror: ActivityJob, timeout: float) -> bool: ...

    def resolve(self, spec: ActivitySpec) -> Config | None: ...


class _Sender:
    """The background thread: a short shell that calls ``turn`` when due or woken."""

    def __init__(self, dispatcher: Dispatcher) -> None:
        self.dispatcher = dispatcher
        self._event = threading.Event()
        dispatcher.waker = self._event.set
        self._thread = threading.Thread(target=self._run, name="livebar-dispatcher", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:  # a daemon thread: it ends with the interpreter
            self._event.clear()  # before the turn, so a wake-up during it is not lost
            timeout = self.dispatcher.turn(self.dispatcher.clock())
            self._event.wait(timeout)

    def flush(self, timeout: float) -> bool:
        """Wait (no polling) until a turn that began after this call leaves nothing pending."""
        dispatcher = self.dispatcher
        deadline = time.monotonic() + timeout
        dispatcher.flushing += 1
        try:
            with dispatcher.idle:
                mark = dispatcher.turns_started
                self._event.set()
                while dispatcher.turns_completed <= mark or dispatcher.pending():
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return False
                    dispatcher.idle.wait(left)
            return True
        finally:
            dispatcher.flushing -= 1

    def wait_for(self, mirror: ActivityJob, timeout: float) -> bool:
        mirror.done.wait(timeout)
        return mirror.stats.end_delivered

    def resolve(self, spec: ActivitySpec) -> Config | None:
        return _resolve_from_environment(spec)


# -- the process-wide engine --------------------------------------------------------------------

_lock = threading.Lock()
_driver: Driver | None = None
_budgets: Budgets | None = None
_flush_timeout: float | None = None
_warned: set[str] = set()
_gave_up: int | None = None
"""``Dispatcher.handed_over`` when a flush last gave up (see ``flush(again=False)``)."""


def install(driver: Driver | None) -> Driver | None:
    """Make ``driver`` this process's engine (``None``: the background thread, on first use);
    returns the one it replaces. ``livebar.testing.virtual_time`` uses it."""
    global _driver
    with _lock:
        previous, _driver = _driver, driver
    return previous


def _engine() -> Driver:
    global _driver
    with _lock:
        if _driver is None:
            _driver = _Sender(
                Dispatcher(connect=_connect, ledgers=_shared_ledger, budgets=_default_budgets())
            )
        return _driver


def running() -> bool:
    """True once this process has an engine (an activity or a push was mirrored)."""
    return _driver is not None


def clock() -> Callable[[], float]:
    """The engine's clock (``time.monotonic`` unless a virtual clock is installed)."""
    driver = _driver
    return time.monotonic if driver is None else driver.dispatcher.clock


def wake() -> None:
    """Something changed that the engine should see now (an ending)."""
    driver = _driver
    if driver is not None:
        driver.dispatcher.handed_over += 1
        driver.dispatcher.waker()


def open_activity(spec: ActivitySpec, sample: Sampler) -> ActivityJob | None:
    """Hand a starting activity to the engine; None when it is not mirrored."""
    resolved = _resolve(spec)
    if resolved is None:
        return None
    driver, config = resolved
    return driver.dispatcher.open(spec, sample, config)


def _resolve(spec: ActivitySpec) -> tuple[Driver, Config] | None:
    """The engine and the account for ``spec``; the engine is created only when needed."""
    if not mirrors_here(spec.ranks):  # only a distributed job's main process mirrors
        return None
    driver = _driver
    config = _resolve_from_environment(spec) if driver is None else driver.resolve(spec)
    if config is None:
        return None
    return (driver or _engine()), config


def wait_for(mirror: ActivityJob, timeout: float | None) -> bool:
    """Wait until ``mirror``'s end is delivered or given up on; True if delivered."""
    driver = _driver
    if driver is None:
        return mirror.stats.end_delivered
    return driver.wait_for(mirror, flush_timeout() if timeout is None else timeout)


def _resolve_from_environment(spec: ActivitySpec) -> Config | None:
    """The account of an activity, from its options and the environment; None when off.

    Mirroring is off when disabled (argument or ``LIVEBAR_DISABLE``, silently), when there is
    no API key (one warning per process), or when the environment holds an unusable setting
    (one error line): a phone that is not paired must never fail the job.
    """
    try:
        if spec.client is not None:  # the client holds the account: only the switch matters
            return None if disabled_setting(spec.disable) else spec.client.config
        config = resolve_config(api_key=spec.api_key, base_url=spec.base_url, disable=spec.disable)
    except ConfigurationError as exc:
        _say_once("config", "livebar: %s; running with Live Activities off", exc)
        return None
    if config.disabled:
        return None
    if not config.api_key:
        _say_once(
            "no key",
            "livebar: no API key (set %s or pass api_key=); running with Live Activities off. "
            "Set %s=1 to silence this.",
            _defaults.ENV_API_KEY,
            _defaults.ENV_DISABLE,
            level=logging.WARNING,
        )
        return None
    return config


def _say_once(topic: str, message: str, *args: object, level: int = logging.ERROR) -> None:
    if topic not in _warned:
        _warned.add(topic)
        log.log(level, message, *args)


def push(
    title: str,
    *,
    message: str | None = None,
    channels: list[str] | None = None,
    client: Client | None = None,
    api_key: str | None = None,
    base_url: str | None = None,
    disable: bool | None = None,
    **fields: Any,
) -> bool:
    """Queue a push notification, paced with the activities; False if mirroring is off."""
    from livebar._job.options import resolve_spec
    from livebar._wire.payload import PushNotification

    where = {"client": client, "api_key": api_key, "base_url": base_url, "disable": disable}
    try:
        notification = PushNotification(title=title, message=message, channels=channels, **fields)
        spec: ActivitySpec = resolve_spec(title, {k: v for k, v in where.items() if v is not None})
    except LivebarError as exc:
        api_key = None  # a refusal at the call: the key must not stay in this frame's locals
        where.clear()
        raise detached(exc) from None
    resolved = _resolve(spec)
    if resolved is None:
        return False
    driver, config = resolved
    driver.dispatcher.push(notification, config, client)
    return True


def flush(timeout: float | None = None, *, again: bool = True) -> bool:
    """Wait (at most ``timeout``, default the flush deadline) until every end and push is out.

    ``again=False`` (the exit) does not wait a second time for what an earlier flush already
    gave up on: a job that waited its deadline at its end is not held for another at exit.
    """
    global _gave_up
    driver = _driver
    if driver is None:
        return True
    dispatcher = driver.dispatcher
    if not again and _gave_up == dispatcher.handed_over and dispatcher.pending():
        return False
    delivered = driver.flush(flush_timeout() if timeout is None else timeout)
    _gave_up = None if delivered else dispatcher.handed_over
    return delivered


def close(timeout: float = 1.0) -> None:
    """A clean exit: the ledgers forget this process's settled activities (the engine's thread
    does it; this waits at most ``timeout`` for it)."""
    driver = _driver
    if driver is not None:
        driver.dispatcher.close()
        driver.flush(timeout)


def report_undelivered(timeout: float) -> None:
    """After a flush gave up: count what never arrived and name it in one log line (an end
    that was sent but never answered is named apart: it may well be on the phone)."""
    driver = _driver
    if driver is None:
        return
    undelivered, unconfirmed = driver.dispatcher.undelivered()
    parts = []
    if undelivered:
        parts.append("not delivered: " + ", ".join(undelivered))
    if unconfirmed:
        parts.append(
            "sent but unconfirmed (no answer in time; it may have arrived): "
            + ", ".join(unconfirmed)
        )
    if parts:
        log.warning("livebar: gave up after %.1fs; %s", timeout, "; ".join(parts))


def configure(
    *,
    budgets: Budgets | None = None,
    requests_per_minute: int | None = None,
    flush_timeout: float | None = None,
) -> None:
    """Set process-wide pacing budgets and the flush deadline.

    ``requests_per_minute`` is livebar's share of the account's 60 (default 40, or
    ``LIVEBAR_REQUESTS_PER_MINUTE``); ``budgets`` sets every limit at once (tests shrink them).
    Only what is given is resolved; bad values raise ``ConfigurationError``. The running
    engine takes new budgets at once (what it already sent still counts).
    """
    global _budgets, _flush_timeout
    if budgets is not None and not isinstance(budgets, Budgets):
        raise ConfigurationError("budgets", "must be a livebar.Budgets")
    if budgets is None and requests_per_minute is not None:
        budgets = budgets_for(requests_per_minute_setting(requests_per_minute, environ={}))
    seconds = None if flush_timeout is None else flush_timeout_setting(flush_timeout, environ={})
    with _lock:
        if budgets is not None:
            _budgets = budgets
            if _driver is not None:
                _driver.dispatcher.set_budgets(budgets)  # open activities keep their sender
        if seconds is not None:
            _flush_timeout = seconds


def flush_timeout() -> float:
    """The flush deadline in force: ``configure()``, else ``LIVEBAR_FLUSH_TIMEOUT``, else 5 s."""
    if _flush_timeout is not None:
        return _flush_timeout
    try:
        return flush_timeout_setting()
    except ConfigurationError as exc:
        _say_once("flush", "livebar: %s; using the default", exc)
        return _defaults.DEFAULT_FLUSH_TIMEOUT


def _default_budgets() -> Budgets:
    if _budgets is not None:
        return _budgets
    try:
        share = requests_per_minute_setting()
    except ConfigurationError as exc:
        _say_once("share", "livebar: %s; using the default", exc)
        share = _defaults.DEFAULT_REQUESTS_PER_MINUTE
    return budgets_for(share)


def _after_fork_in_child() -> None:
    global _driver, _lock, _importing
    _driver = None  # the parent's thread does not exist here; start afresh on first use
    _lock = threading.Lock()
    _importing = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(
        before=lambda: _importing.acquire(),
        after_in_parent=lambda: _importing.release(),
        after_in_child=_after_fork_in_child,
    )
