"""The process's engine: one ``Runtime`` object holds everything livebar keeps per process.

``open_activity`` and ``push`` hand work to the engine (created on first use, with its thread);
``flush`` waits for it, once per deadline (the flush ticket); ``configure`` sets the
process-wide budgets and flush deadline; ``install`` swaps the driver (``livebar.testing``'s
``virtual_time`` runs the same dispatcher on a virtual clock). The runtime also keeps the
registry of open activities the process hooks act on, the exception that escaped the program,
and when SIGTERM last arrived. A forked child starts with a fresh runtime state.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Any, Callable, Protocol, cast

from livebar import _defaults
from livebar._engine import ranks
from livebar._engine.budgets import Budgets, budgets_for
from livebar._engine.dispatcher import Dispatcher
from livebar._ledger.settings import open_ledger, preload_ledger
from livebar._log import log
from livebar._process import fork
from livebar._wire.config import (
    Config,
    disabled_setting,
    flush_timeout_setting,
    requests_per_minute_setting,
    resolve_config,
)
from livebar._wire.errors import ConfigurationError, LivebarError, detached

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from livebar._engine.jobs import ActivityJob, FleetJob, Sampler
    from livebar._job.fleet import FleetSpec
    from livebar._job.options import ActivitySpec, PushOptions
    from livebar._ledger.ledger import AccountLedger
    from livebar._wire.account import Account
    from livebar._wire.client import Client

__all__ = [
    "Driver",
    "FlushTicket",
    "Runtime",
    "clock",
    "configure",
    "flush",
    "flush_timeout",
    "install",
    "open_activity",
    "open_fleet",
    "push",
    "runtime",
    "wait_for",
    "wake",
]


class Driver(Protocol):
    """Runs a dispatcher's turns: the background thread, or a virtual clock in tests."""

    dispatcher: Dispatcher

    def flush(self, timeout: float) -> bool: ...

    def wait_for(self, job: ActivityJob, timeout: float) -> bool: ...

    def resolve(self, spec: ActivitySpec) -> Config | None: ...


class FlushTicket:
    """One flush of a dispatcher until ``deadline`` (the engine's clock): done when a turn that
    began after it leaves nothing pending. While a ticket is out, endings seal at once (nobody
    waits for a late excepthook) and the retries of ends and pushes fit before its deadline."""

    def __init__(self, dispatcher: Dispatcher, deadline: float) -> None:
        self.dispatcher = dispatcher
        self.mark = dispatcher.turns_started
        self.deadline = deadline
        dispatcher.flushing.append(deadline)

    def done(self) -> bool:
        dispatcher = self.dispatcher
        return dispatcher.turns_completed > self.mark and not dispatcher.pending()

    def close(self) -> None:
        self.dispatcher.flushing.remove(self.deadline)


class Sender:
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
        """Wait (no polling) until the ticket is done, or the deadline passes."""
        dispatcher = self.dispatcher
        deadline = time.monotonic() + timeout
        with dispatcher.idle:
            ticket = FlushTicket(dispatcher, deadline)
            try:
                self._event.set()
                while not ticket.done():
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return False
                    dispatcher.idle.wait(left)
                return True
            finally:
                ticket.close()

    def wait_for(self, job: ActivityJob, timeout: float) -> bool:
        job.done.wait(timeout)
        return job.stats.end_delivered

    def resolve(self, spec: ActivitySpec) -> Config | None:
        return runtime.resolve(spec)


class Runtime:
    """This process's livebar: settings, the engine's driver, the open activities, the exit."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """A fresh start (a forked child: the parent's thread does not exist here)."""
        self.lock = threading.Lock()
        self.importing = threading.Lock()
        """Held while the engine's thread imports the client (httpx): a fork waits for it, so a
        child never inherits a half-imported module."""
        self.driver: Driver | None = None
        self.budgets: Budgets | None = None
        """``configure(budgets=…)``, else resolved from the environment when the engine starts."""
        self.flush_timeout: float | None = None
        self.warned: set[str] = set()
        self.gave_up: int | None = None
        """``Dispatcher.handed_over`` when a flush last gave up (see ``flush(again=False)``)."""
        self.open: dict[int, tuple[Any, int]] = {}
        """id(activity) -> (activity, the thread that started it), until its ending is sealed."""
        self.uncaught: BaseException | None = None
        """What escaped the program (``sys.excepthook``), for the exit's endings."""
        self.exiting = False
        """True while the exit waits for the last deliveries (a signal then stops the wait)."""
        self.signal_at: float | None = None
        """When SIGTERM last arrived, on the engine's clock."""
        self.hooks_installed = False
        self.exit_deadline: float | None = None
        """Once livebar's exit hook has run: until when (engine clock) what exit handlers after
        it do (an end, a push) may still be delivered."""

    # -- the engine -----------------------------------------------------------------------------

    def engine(self) -> Driver:
        """The driver, created (with its thread) on first use."""
        with self.lock:
            if self.driver is None:
                preload_ledger()  # here, not on the engine's thread: see preload_ledger
                dispatcher = Dispatcher(
                    connect=self.connect, ledgers=_shared_ledger, budgets=self.default_budgets()
                )
                self.driver = Sender(dispatcher)
            return self.driver

    def connect(self, config: Config) -> Client:
        with self.importing:
            from livebar._wire.client import Client

        return Client(
            api_key=config.api_key, base_url=config.base_url, timeout=config.timeout, retry=False
        )

    def clock(self) -> Callable[[], float]:
        driver = self.driver
        return time.monotonic if driver is None else driver.dispatcher.clock

    def resolve(self, spec: ActivitySpec) -> Config | None:
        """The account of an activity, from its options and the environment; None when off.

        Mirroring is off when disabled (argument or ``LIVEBAR_DISABLE``, silently), when there
        is no API key (one warning per process), or when the environment holds an unusable
        setting (one error line): a phone that is not paired must never fail the job.
        """
        try:
            if spec.client is not None:  # the client holds the account: only the switch matters
                return None if disabled_setting(spec.disable) else spec.client.config
            config = resolve_config(
                api_key=spec.api_key, base_url=spec.base_url, disable=spec.disable
            )
        except ConfigurationError as exc:
            self.say_once("config", "livebar: %s; running with Live Activities off", exc)
            return None
        if config.disabled:
            return None
        if not config.api_key:
            self.say_once(
                "no key",
                "livebar: no API key (set %s or pass api_key=); running with Live Activities "
                "off. Set %s=1 to silence this.",
                _defaults.ENV_API_KEY,
                _defaults.ENV_DISABLE,
                level=logging.WARNING,
            )
            return None
        return config

    def mirror(self, spec: ActivitySpec) -> tuple[Driver, Config] | None:
        """The engine and the account for ``spec``; the engine is created only when needed."""
        if not self.mirrors_here(spec.ranks):  # only a distributed job's main process mirrors
            return None
        driver = self.driver
        config = self.resolve(spec) if driver is None else driver.resolve(spec)
        if config is None:
            return None
        return (driver or self.engine()), config

    def mirrors_here(self, option: str | None = None) -> bool:
        """``ranks.decide()`` for this process; a bad ``LIVEBAR_RANKS`` is logged once and
        means the main process only."""
        try:
            return ranks.decide(option)
        except ConfigurationError as exc:
            self.say_once("ranks", "livebar: %s; mirroring the main process only", exc)
            return ranks.is_main_process()

    # -- settings, resolved once ----------------------------------------------------------------

    def default_budgets(self) -> Budgets:
        if self.budgets is not None:
            return self.budgets
        try:
            share = requests_per_minute_setting()
        except ConfigurationError as exc:
            self.say_once("share", "livebar: %s; using the default", exc)
            share = _defaults.DEFAULT_REQUESTS_PER_MINUTE
        return budgets_for(share)

    def deadline(self) -> float:
        """The flush deadline in force: ``configure()``, else ``LIVEBAR_FLUSH_TIMEOUT``, else
        5 s."""
        if self.flush_timeout is not None:
            return self.flush_timeout
        try:
            return flush_timeout_setting()
        except ConfigurationError as exc:
            self.say_once("flush", "livebar: %s; using the default", exc)
            return _defaults.DEFAULT_FLUSH_TIMEOUT

    def say_once(self, topic: str, message: str, *args: object, level: int = logging.ERROR) -> None:
        if topic not in self.warned:
            self.warned.add(topic)
            log.log(level, message, *args)

    # -- flushing, once per deadline ------------------------------------------------------------

    def flush(self, timeout: float | None, *, again: bool) -> bool:
        driver = self.driver
        if driver is None:
            return True
        dispatcher = driver.dispatcher
        if not again and self.gave_up == dispatcher.handed_over and dispatcher.pending():
            return False
        delivered = driver.flush(self.deadline() if timeout is None else timeout)
        self.gave_up = None if delivered else dispatcher.handed_over
        lost = dispatcher.lost()
        if lost != dispatcher.lost_reported:  # an end or push was given up since the last flush
            dispatcher.lost_reported = lost
            return False
        return delivered

    def report_undelivered(
        self, waited: float, courier: Callable[[Config], int | None] | None = None
    ) -> None:
        """After a flush gave up: count what never arrived and name it in one log line (an end
        that was sent but never answered is named apart: it may well be on the phone); with a
        ``courier``, send one for each account whose ends it can still deliver.

        Built by the exiting thread: the engine's may be blocked on a request that will not
        answer in time, which is why the flush gave up."""
        driver = self.driver
        if driver is None:
            return
        report = driver.dispatcher.undelivered()
        parts = []
        if report.names:
            parts.append("not delivered: " + ", ".join(report.names))
        if report.unconfirmed:
            parts.append(
                "sent but unconfirmed (no answer in time; it may have arrived): "
                + ", ".join(report.unconfirmed)
            )
        couriers = [courier(config) for config in report.accounts] if courier else []
        sent = [str(pid) for pid in couriers if pid is not None]
        if sent:
            parts.append(
                f"a courier (pid {', '.join(sent)}) delivers their ends once this process has "
                "exited"
            )
        if parts:
            log.warning("livebar: gave up after %.1fs; %s", waited, "; ".join(parts))

    def deliver_late(self) -> None:
        """An end or a push after livebar's exit hook (an ``atexit`` handler of the program's
        that runs after livebar's): delivered now, within what is left of the exit's deadline,
        or said not to be."""
        if self.exit_deadline is None:
            return
        left = max(0.0, self.exit_deadline - self.clock()())
        if not self.flush(left, again=True):
            self.report_undelivered(left)

    # -- the open activities ----------------------------------------------------------------------

    def track_open(self, activity: Any) -> None:
        """Register a mirrored activity that has started (sealed ones are dropped)."""
        with self.lock:
            for key, (other, _thread) in list(self.open.items()):
                if other.settled:  # its story is over: the engine has its ending
                    del self.open[key]
            self.open[id(activity)] = (activity, threading.get_ident())

    def open_activities(self) -> list[Any]:
        with self.lock:
            return [activity for activity, _thread in self.open.values()]

    def open_threads(self) -> list[tuple[Any, int]]:
        with self.lock:
            return [(a, thread) for a, thread in self.open.values() if not a.closed]

    def forget_engine(self, clock: Callable[[], float]) -> None:
        """Drop the activities of an engine that is going away (``virtual_time()`` leaving)."""
        with self.lock:
            for key, (activity, _thread) in list(self.open.items()):
                if activity._clock == clock:
                    del self.open[key]

    def note_signal(self) -> None:
        """SIGTERM arrived (whoever handles it)."""
        self.signal_at = self.clock()()

    def signal_since(self, started_at: float | None) -> float | None:
        """When SIGTERM arrived after ``started_at``, if it did."""
        at = self.signal_at
        if at is None or started_at is None or at < started_at:
            return None
        return at


runtime = Runtime()
"""This process's runtime: the one place livebar keeps process-wide state."""

fork.at_fork(
    before=lambda: runtime.importing.acquire(),
    after_in_parent=lambda: runtime.importing.release(),
    after_in_child=runtime.reset,
)


def _shared_ledger(account: Account, window: float) -> AccountLedger:
    """The account's ledger as ``LIVEBAR_LEDGER`` says: shared on this machine by default.

    Opened for the engine alone (its thread is the only one that touches it), not taken from
    ``ledger_for``'s cache, which other code in the process may close."""
    return open_ledger(account, window=window)


# -- what the rest of livebar calls -------------------------------------------------------------


def install(driver: Driver | None) -> Driver | None:
    """Make ``driver`` this process's engine (``None``: the background thread, on first use);
    returns the one it replaces. ``livebar.testing.virtual_time`` uses it."""
    with runtime.lock:
        previous, runtime.driver = runtime.driver, driver
        runtime.exit_deadline = None
    return previous


def clock() -> Callable[[], float]:
    """The engine's clock (``time.monotonic`` unless a virtual clock is installed)."""
    return runtime.clock()


def wake() -> None:
    """Something changed that the engine should see now (an ending)."""
    driver = runtime.driver
    if driver is not None:
        driver.dispatcher.handed_over += 1
        driver.dispatcher.waker()


def open_activity(spec: ActivitySpec, sample: Sampler) -> ActivityJob | None:
    """Hand a starting activity to the engine; None when it is not mirrored."""
    mirrored = runtime.mirror(spec)
    if mirrored is None:
        return None
    driver, config = mirrored
    return driver.dispatcher.open(spec, sample, config)


def open_fleet(spec: ActivitySpec, fleet: FleetSpec, sample: Sampler) -> FleetJob | None:
    """Hand a starting fleet member to the engine; None when it is not mirrored."""
    mirrored = runtime.mirror(spec)
    if mirrored is None:
        return None
    driver, config = mirrored
    return driver.dispatcher.open_fleet(spec, fleet, sample, config)


def wait_for(job: ActivityJob, timeout: float | None) -> bool:
    """Wait until ``job``'s end is delivered or given up on; True if delivered."""
    driver = runtime.driver
    if driver is None:
        return job.stats.end_delivered
    return driver.wait_for(job, runtime.deadline() if timeout is None else timeout)


def push(
    title: str,
    *,
    message: str | None = None,
    channels: list[str] | None = None,
    **options: Unpack[PushOptions],
) -> bool:
    """Queue a push notification, paced with the activities; False if mirroring is off.

    A bad option raises ``ValidationError`` naming it, before anything is sent."""
    from livebar._job.options import PushOptions, check_names, resolve_spec
    from livebar._wire.payload import PushNotification

    fields: dict[str, Any] = dict(options)
    where = {name: fields.pop(name) for name in _ACCOUNT_OPTIONS if name in fields}
    try:
        check_names(options, PushOptions)
        notification = PushNotification(title=title, message=message, channels=channels, **fields)
        spec: ActivitySpec = resolve_spec(title, {k: v for k, v in where.items() if v is not None})
    except LivebarError as exc:
        # A refusal at the call: the key must not stay in this frame's locals.
        for held in (cast("dict[str, Any]", options), fields, where):
            held.clear()
        raise detached(exc) from None
    mirrored = runtime.mirror(spec)
    if mirrored is None:
        return False
    driver, config = mirrored
    driver.dispatcher.push(notification, config, spec.client)
    runtime.deliver_late()
    return True


_ACCOUNT_OPTIONS = ("client", "api_key", "base_url", "disable")


def flush(timeout: float | None = None, *, again: bool = True) -> bool:
    """Wait (at most ``timeout``, default the flush deadline) until every end and push is out.

    ``again=False`` (the exit) does not wait a second time for what an earlier flush already
    gave up on: a job that waited its deadline at its end is not held for another at exit.
    """
    return runtime.flush(timeout, again=again)


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
    if budgets is not None and not isinstance(budgets, Budgets):
        raise ConfigurationError("budgets", "must be a livebar.Budgets")
    if budgets is None and requests_per_minute is not None:
        budgets = budgets_for(requests_per_minute_setting(requests_per_minute, environ={}))
    seconds = None if flush_timeout is None else flush_timeout_setting(flush_timeout, environ={})
    with runtime.lock:
        if budgets is not None:
            runtime.budgets = budgets
            if runtime.driver is not None:
                runtime.driver.dispatcher.set_budgets(budgets)  # open activities keep their sender
        if seconds is not None:
            runtime.flush_timeout = seconds


def flush_timeout() -> float:
    """The flush deadline in force: ``configure()``, else ``LIVEBAR_FLUSH_TIMEOUT``, else 5 s."""
    return runtime.deadline()
