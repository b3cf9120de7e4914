"""The process's engine: one ``Runtime`` object holds everything livebar keeps per process.

``open_activity`` and ``push`` hand work to the engine (created on first use, with its thread);
``flush`` waits for it, once per deadline (the flush ticket); ``configure`` sets the
process-wide budgets and flush deadline; ``install`` swaps the driver (``livebar.testing``'s
``virtual_time`` runs the same dispatcher on a virtual clock). The runtime also keeps the
registry of open activities the process hooks act on, the exception that escaped the program,
and when SIGTERM last arrived. A forked child starts with a fresh runtime state.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from typing import TYPE_CHECKING, Any, Callable, cast

from livebar import _defaults
from livebar._engine import ranks
from livebar._engine.drivers import Driver, Sender
from livebar._engine.intake import Intake, Opening
from livebar._log import ERROR, WARNING, log
from livebar._process import fork
from livebar._wire.errors import ConfigurationError, LivebarError, detached

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from livebar._engine.budgets import Budgets
    from livebar._engine.dispatcher import Dispatcher
    from livebar._engine.jobs import ActivityJob, Sampler
    from livebar._job.fleet import FleetSpec
    from livebar._job.options import ActivitySpec, PushOptions
    from livebar._ledger.ledger import AccountLedger
    from livebar._wire.account import Account
    from livebar._wire.client import Client
    from livebar._wire.config import Config

__all__ = [
    "Runtime",
    "clock",
    "configure",
    "flush",
    "flush_timeout",
    "in_a_worker_process",
    "install",
    "nudge",
    "open_activity",
    "open_fleet",
    "push",
    "runtime",
    "wait_for",
    "wake",
]


_PRUNE_AT = 32
"""The open registry drops settled activities when it reaches this size (then twice what is
left): registering stays O(1) however many short bars a program makes."""

UNREACHABLE_AFTER = 1
"""Connections refused in a row, none ever made, after which no flush waits: a server that
refused every connection of the run, however few, has nothing of ours on the phone."""


class Runtime:
    """This process's livebar: settings, the engine's driver, the open activities, the exit."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """A fresh start (a forked child: the parent's thread does not exist here)."""
        self.lock = threading.RLock()
        """Re-entrant: livebar's SIGTERM handler reads the open activities in the main thread,
        which the signal may have interrupted inside this lock (at exit, opening an activity)."""
        self.importing = threading.Lock()
        """Held while the engine's thread imports the client (httpx): a fork waits for it, so a
        child never inherits a half-imported module."""
        self.driver: Driver | None = None
        self.budgets: Budgets | None = None
        """``configure(budgets=…)``, else resolved from the environment when the engine starts."""
        self.flush_timeout: float | None = None
        self.warned: set[str] = set()
        self.gave_up: tuple[int, float, float] | None = None
        """``Dispatcher.handed_over`` when a flush last gave up, when it began and its deadline
        (engine clock): see ``flush(again=False)``."""
        self.waited = 0.0
        """How long the last flush waited, with the flush whose deadline it finished."""
        self.open: dict[int, tuple[Any, int]] = {}
        """id(activity) -> (activity, the thread that started it), until its ending is sealed
        (dropped when the registry next grows past ``prune_at``)."""
        self.prune_at = _PRUNE_AT
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
        """The driver, created (with its thread) on first use. Only the intake is made here;
        the dispatcher, the client and the ledger are built on the engine's thread."""
        with self.lock:
            if self.driver is None:
                _preload_a_redis_ledger()
                intake = Intake(
                    clock=time.monotonic, sample_interval=_defaults.DEFAULT_SAMPLE_INTERVAL
                )
                # A multiprocessing worker leaves as soon as its task returns (os._exit, its
                # pool's SIGTERM): its engine is built at once, on the caller's thread, so the
                # exit's wait never meets imports still under way on the engine's.
                built = self.build(intake) if in_a_worker_process() else None
                self.driver = Sender(
                    self.build, intake, built, importing=self.importing, resolve=self.resolve
                )
            return self.driver

    def build(self, intake: Intake) -> Dispatcher:
        """The process's dispatcher around ``intake`` (on the engine's thread)."""
        from livebar._engine.dispatcher import Dispatcher

        return Dispatcher(
            connect=self.connect,
            ledgers=_shared_ledger,
            resolve=self.resolve_opening,
            budgets=self.default_budgets(),
            intake=intake,
        )

    def connect(self, config: Config) -> Client:
        with self.importing:
            from livebar._wire.client import Client

        return Client(
            api_key=config.api_key, base_url=config.base_url, timeout=config.timeout, retry=False
        )

    def clock(self) -> Callable[[], float]:
        driver = self.driver
        return time.monotonic if driver is None else driver.intake.clock

    def resolve(self, spec: ActivitySpec) -> Config | None:
        """The account of an activity, from its options and the environment; None when off.

        Mirroring is off when disabled (argument or ``LIVEBAR_DISABLE``, silently), when there
        is no API key (one warning per process), or when the environment holds an unusable
        setting (one error line): a phone that is not paired must never fail the job.
        """
        from livebar._wire.config import disabled_setting, resolve_config

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
                level=WARNING,
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

    def hand_over(
        self, spec: ActivitySpec, sample: Sampler, fleet: FleetSpec | None = None
    ) -> Opening | None:
        """Hand a starting activity to the engine; None when it is certainly not mirrored.

        The caller's thread does as little as it can: when a key may be there, the engine's
        thread decides (the ranks, the account, saying once if it is unusable); only when none
        can be (switched off, no key anywhere) is that decided here, without starting the
        engine.
        """
        driver = self.driver
        if driver is None:
            why = _why_not(spec)
            if why is not None:
                if why == "no key" and why not in self.warned and self.mirrors_here(spec.ranks):
                    self.resolve(spec)  # says once why not
                return None
        return (driver or self.engine()).open(spec, sample, fleet)

    def resolve_opening(self, spec: ActivitySpec) -> Config | None:
        """The account of an activity the caller handed over (on the engine's thread): None
        when this process does not mirror (``ranks``) or mirroring is off."""
        if not self.mirrors_here(spec.ranks):  # only a distributed job's main process mirrors
            return None
        return self.resolve(spec)

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
        from livebar._engine.budgets import budgets_for
        from livebar._wire.config import hang_after_setting, requests_per_minute_setting

        if self.budgets is not None:
            return self.budgets
        try:
            share = requests_per_minute_setting()
        except ConfigurationError as exc:
            self.say_once("share", "livebar: %s; using the default", exc)
            share = _defaults.DEFAULT_REQUESTS_PER_MINUTE
        try:
            hang_after = hang_after_setting()
        except ConfigurationError as exc:
            self.say_once("hang", "livebar: %s; using the default", exc)
            hang_after = _defaults.DEFAULT_HANG_AFTER
        return dataclasses.replace(budgets_for(share), hang_after=hang_after)

    def deadline(self) -> float:
        """The flush deadline in force: ``configure()``, else ``LIVEBAR_FLUSH_TIMEOUT``, else
        5 s."""
        from livebar._wire.config import flush_timeout_setting

        if self.flush_timeout is not None:
            return self.flush_timeout
        try:
            return flush_timeout_setting()
        except ConfigurationError as exc:
            self.say_once("flush", "livebar: %s; using the default", exc)
            return _defaults.DEFAULT_FLUSH_TIMEOUT

    def say_once(self, topic: str, message: str, *args: object, level: int = ERROR) -> None:
        if topic not in self.warned:
            self.warned.add(topic)
            log.log(level, message, *args)

    # -- flushing, once per deadline ------------------------------------------------------------

    def flush(self, timeout: float | None, *, again: bool) -> bool:
        """Wait for every end and push, at most ``timeout`` (default the flush deadline).

        One deadline, once: a flush that gave up leaves its deadline behind, and a flush with
        ``again=False`` (the exit's) while nothing new was handed over since waits only what
        is left of that same deadline (usually nothing). No flush waits (or goes on waiting)
        once no request of this process ever reached a server and the last
        ``UNREACHABLE_AFTER`` connections were refused: nothing of ours is on the phone, and an
        offline laptop should not pay the deadline at every exit (``report_undelivered`` says
        so).
        """
        driver = self.driver
        self.waited = 0.0
        if driver is None:
            return True
        intake = driver.intake
        clock = intake.clock
        began = clock()
        seconds = self.deadline() if timeout is None else timeout
        given = self.gave_up
        since = began
        if not again and given is not None and given[0] == intake.handed_over:
            since = given[1]
            seconds = max(0.0, min(seconds, given[2] - began))

        def unreachable() -> bool:
            return intake.unreachable() >= UNREACHABLE_AFTER

        if unreachable():
            seconds = 0.0
        if seconds <= 0:
            delivered = not intake.pending()
        else:
            delivered = driver.flush(seconds, stop=unreachable)
        self.waited = clock() - since
        if delivered:
            self.gave_up = None
        elif since == began:
            self.gave_up = (intake.handed_over, began, began + seconds)
        dispatcher = driver.dispatcher
        lost = dispatcher.lost() if dispatcher is not None else 0
        if dispatcher is not None and lost != dispatcher.lost_reported:
            dispatcher.lost_reported = lost  # an end or push was given up since the last flush
            return False
        return delivered

    def report_undelivered(
        self, waited: float, courier: Callable[[Config], int | None] | None = None
    ) -> None:
        """After a flush gave up: count what never arrived and name it in one log line (an end
        that was sent but never answered is named apart: it may well be on the phone); with a
        ``courier``, send one for each account whose ends it can still deliver. When no request
        of this process ever reached a server, the line says so (nothing was waited for).

        Built by the exiting thread: the engine's may be blocked on a request that will not
        answer in time, which is why the flush gave up."""
        driver = self.driver
        if driver is None:
            return
        dispatcher = driver.dispatcher
        if dispatcher is not None:
            report = dispatcher.undelivered()
            names, unconfirmed, accounts = report.names, report.unconfirmed, report.accounts
        else:  # the engine's thread never got as far as building it
            inbox = list(driver.intake.inbox)
            names = [o.spec.title for o in inbox if isinstance(o, Opening)]
            unconfirmed, accounts = [], []
        parts = []
        if names:
            parts.append("not delivered: " + ", ".join(names))
        if unconfirmed:
            parts.append(
                "sent but unconfirmed (no answer in time; it may have arrived): "
                + ", ".join(unconfirmed)
            )
        couriers = [courier(config) for config in accounts] if courier else []
        sent = [str(pid) for pid in couriers if pid is not None]
        if sent:
            parts.append(
                f"a courier (pid {', '.join(sent)}) delivers their ends once this process has "
                "exited"
            )
        refused = driver.intake.unreachable()
        if parts and refused >= UNREACHABLE_AFTER:
            log.warning(
                "livebar: gave up at exit without waiting: ActivitySmith could not be reached "
                "during the whole run (%d connections refused in a row, none ever connected); "
                "%s",
                refused,
                "; ".join(parts),
            )
        elif parts:
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
            if len(self.open) >= self.prune_at:  # amortised: thousands of short bars stay cheap
                for key, (other, _thread) in list(self.open.items()):
                    if other.settled or other.declined:  # over (the engine has its ending), or
                        # not mirrored after all
                        del self.open[key]
                self.prune_at = max(_PRUNE_AT, 2 * len(self.open))
            self.open[id(activity)] = (activity, threading.get_ident())

    def open_activities(self) -> list[Any]:
        """The registered activities the engine mirrors, or may (not those it declined)."""
        with self.lock:
            return [activity for activity, _thread in self.open.values() if not activity.declined]

    def open_threads(self) -> list[tuple[Any, int]]:
        with self.lock:
            return [(a, thread) for a, thread in self.open.values() if not (a.closed or a.declined)]

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
    from livebar._ledger.settings import open_ledger

    return open_ledger(account, window=window)


# -- what the rest of livebar calls -------------------------------------------------------------


def install(driver: Driver | None) -> Driver | None:
    """Make ``driver`` this process's engine (``None``: the background thread, on first use);
    returns the one it replaces. ``livebar.testing.virtual_time`` uses it."""
    with runtime.lock:
        previous, runtime.driver = runtime.driver, driver
        runtime.gave_up = None  # a flush of another engine gave up on its own work
        runtime.exit_deadline = None
    return previous


def clock() -> Callable[[], float]:
    """The engine's clock (``time.monotonic`` unless a virtual clock is installed)."""
    return runtime.clock()


def wake() -> None:
    """Something changed that the engine should see now (an ending)."""
    driver = runtime.driver
    if driver is not None:
        driver.intake.ended()


def nudge() -> None:
    """Something the phone should show soon changed (a step, a stage, a title): the engine,
    which sleeps until a decision can change, looks now. Not a hand-over (flushes ignore it)."""
    driver = runtime.driver
    if driver is not None:
        driver.intake.nudge()


def open_activity(spec: ActivitySpec, sample: Sampler) -> Opening | None:
    """Hand a starting activity to the engine (its job is made on the engine's thread, or at
    once under virtual time); None when it is certainly not mirrored."""
    return runtime.hand_over(spec, sample)


def open_fleet(spec: ActivitySpec, fleet: FleetSpec, sample: Sampler) -> Opening | None:
    """Hand a starting fleet member to the engine (its ``FleetJob`` is made on the engine's
    thread); None when it is certainly not mirrored."""
    return runtime.hand_over(spec, sample, fleet)


def _preload_a_redis_ledger() -> None:
    """With a Redis ledger configured, import its client on the caller's thread
    (``preload_ledger``: the engine's thread may import it only after the interpreter's
    shutdown began, and it cannot then). Any other ledger loads on the engine's thread."""
    import os

    setting = os.environ.get(_defaults.ENV_LEDGER, "").strip()
    if setting.startswith(("redis://", "rediss://", "unix://")):
        from livebar._ledger.settings import preload_ledger

        preload_ledger()


def in_a_worker_process() -> bool:
    """Whether this process is a ``multiprocessing`` child (a pool's worker)."""
    import sys

    multiprocessing = sys.modules.get("multiprocessing")
    return multiprocessing is not None and multiprocessing.parent_process() is not None


def _why_not(spec: ActivitySpec) -> str | None:
    """Why an activity cannot be mirrored, read without importing anything: ``"off"`` (its own
    ``disable=True``, or ``LIVEBAR_DISABLE``), ``"no key"`` (none of its own, its client's or
    the environment's); None when it may be (the engine's thread decides for sure)."""
    import os

    if spec.disable is not None:
        if spec.disable:
            return "off"
    elif os.environ.get(_defaults.ENV_DISABLE, "").strip().lower() in ("1", "true", "yes", "on"):
        return "off"
    if spec.client is not None or spec.api_key or os.environ.get(_defaults.ENV_API_KEY):
        return None
    return "no key"


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
    from livebar._engine.jobs import PushJob

    intake = driver.intake
    given = spec.client if intake.use_given_clients else None
    intake.hand(PushJob(intake.new_key(), notification, config, client=given))
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
    from livebar._engine.budgets import Budgets, budgets_for
    from livebar._wire.config import flush_timeout_setting, requests_per_minute_setting

    if budgets is not None and not isinstance(budgets, Budgets):
        raise ConfigurationError("budgets", "must be a livebar.Budgets")
    if budgets is None and requests_per_minute is not None:
        budgets = budgets_for(requests_per_minute_setting(requests_per_minute, environ={}))
    seconds = None if flush_timeout is None else flush_timeout_setting(flush_timeout, environ={})
    with runtime.lock:
        if budgets is not None:
            runtime.budgets = budgets
            if runtime.driver is not None:
                runtime.driver.intake.hand(
                    budgets, counted=False
                )  # open activities keep their sender
        if seconds is not None:
            runtime.flush_timeout = seconds


def flush_timeout() -> float:
    """The flush deadline in force: ``configure()``, else ``LIVEBAR_FLUSH_TIMEOUT``, else 5 s."""
    return runtime.deadline()
