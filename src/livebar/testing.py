"""Test helpers for code that uses livebar, built on the simulator.

``virtual_time()`` runs the real engine (activity → dispatcher → pacing → client) against an
in-process simulator on a virtual clock: no thread, no sleep, no socket, so a two-hour job takes
a fraction of a second and shows exactly what the phone would::

    from livebar.testing import virtual_time

    def test_nightly_backup_stays_within_the_ios_budget():
        with virtual_time() as clock:
            with livebar.live_activity("Backup", total=7200) as act:
                for second in range(7200):
                    act.update(second)
                    clock.advance(1.0)        # the job's work, in virtual seconds
            clock.flush()
        assert 0 == clock.simulator.activities()[0]["warnings"]

The pytest fixtures need the ``test`` extra (pytest); everything needs the ``simulator`` extra.
In your ``conftest.py``::

    from livebar.testing import livebar_simulator, simulator  # noqa: F401  (fixtures)

then::

    def test_my_job_reports_progress(livebar_simulator):
        run_my_job()                                  # uses livebar with no arguments
        assert_no_budget_warnings(livebar_simulator)
        assert ["My job"] == ended_titles(livebar_simulator)

Each helper first waits (``livebar.flush()``, at most the flush deadline) until livebar has
delivered what the job queued, so it can be called right after the job returns.
``simulator`` is a running simulator (``SimulatorHandle``); ``livebar_simulator`` is the same
with ``ACTIVITYSMITH_BASE_URL`` and ``ACTIVITYSMITH_API_KEY`` pointing at it for the test, so
code that configures livebar from the environment talks to the simulator. For other limits use
``livebar.simulator.serve(...)`` directly (``serve(rate_limit=5, rate_window=1.0)``).
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import math
import random
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Callable

import httpx

from livebar._defaults import DEFAULT_REQUESTS_PER_MINUTE, DEFAULT_SAMPLE_INTERVAL, DEFAULT_TIMEOUT
from livebar._engine.budgets import Budgets, budgets_for
from livebar._engine.dispatcher import Dispatcher
from livebar._engine.drivers import FlushTicket
from livebar._engine.intake import Opening
from livebar._engine.runtime import install, runtime
from livebar._ledger.ledger import AccountLedger
from livebar._ledger.memory import MemoryBackend
from livebar._wire.config import Config
from livebar.simulator import SimulatorConfig, SimulatorHandle, SimulatorState, serve
from livebar.simulator._faults import Exchange, FaultDecision, RawAnswer, Step, exchange

if TYPE_CHECKING:
    from livebar._engine.jobs import ActivityJob, Sampler
    from livebar._job.fleet import FleetSpec
    from livebar._job.options import ActivitySpec
    from livebar._wire.account import Account
    from livebar._wire.client import Client

__all__ = [
    "VirtualTime",
    "assert_all_ended",
    "assert_no_budget_warnings",
    "assert_no_errors",
    "assert_within_rate_limit",
    "ended_titles",
    "livebar_simulator",
    "simulator",
    "virtual_time",
]

VIRTUAL_URL = "http://127.0.0.1:9/api"
"""The base URL activities report under virtual time (nothing listens there; nothing is sent)."""
VIRTUAL_EPOCH = 1_780_000_000.0
"""The simulator's wall clock at virtual time zero (a fixed date: logs are reproducible)."""
_MIN_STEP = 1e-3


class VirtualTime:
    """The real engine on a virtual clock, against an in-process simulator.

    Every activity and push opened while it is installed goes activity → dispatcher → pacing →
    ``livebar.Client`` → ``SimulatorState``, through an ``httpx.MockTransport``: no thread, no
    sleep, no socket. Time moves only when you move it (``advance``), or when livebar waits
    (``flush()``, ``act.wait()``), and the dispatcher's turns run at the virtual moments they
    are due. Injected faults work as on the served simulator; a ``delay`` passes in virtual
    time, and one longer than the client's timeout times the request out after reaching the
    server, as a slow server does; a ``drip`` answer arrives byte by byte in virtual time, so
    the client's own deadline for a whole answer cuts it off.
    """

    def __init__(
        self,
        *,
        config: SimulatorConfig | None = None,
        budgets: Budgets | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        seed: int = 0,
        sample_interval: float = DEFAULT_SAMPLE_INTERVAL,
        ledgers: Callable[[Account, float], AccountLedger] | None = None,
    ) -> None:
        self.now = 0.0
        """Seconds of virtual time since the start: the job's clock (and the engine's, except
        while a turn waits on the network: see ``clock``)."""
        self._turn_clock: float | None = None
        self._busy_until = 0.0
        base = config if config is not None else SimulatorConfig()
        self.state = SimulatorState(base.replace(clock=self._wall))
        self.simulator = SimulatorHandle(self.state, VIRTUAL_URL.rsplit("/", 1)[0])
        """Inspect and fault the simulated account, as with ``serve()``."""
        self.timeout = timeout
        self.dispatcher = Dispatcher(
            budgets=budgets or budgets_for(DEFAULT_REQUESTS_PER_MINUTE),
            clock=self.clock,
            connect=self._connect,
            rng=random.Random(seed),
            ledgers=ledgers
            or (lambda account, window: AccountLedger(MemoryBackend(window=window))),
            sample_interval=sample_interval,
            wall=self._wall,
        )
        self.intake = self.dispatcher.intake
        self.intake.use_given_clients = False
        self.intake.waker = self._wake
        self.intake.waker_at = self._wake_at
        self._next_turn = math.inf
        self._clients: list[Client] = []
        self._calls: list[tuple[float, int, Callable[[], object]]] = []
        self._order = itertools.count()

    # -- the clock ------------------------------------------------------------------------------

    def clock(self) -> float:
        """The engine's monotonic clock: virtual seconds.

        A request takes time on the engine's own thread, not the job's: while a turn runs,
        the engine's clock moves on by what its requests take (a slow server, a drip), and its
        next turn waits for that; the job's time (``now``) is not held up by it.
        """
        return self.now if self._turn_clock is None else self._turn_clock

    def _wall(self) -> float:
        return VIRTUAL_EPOCH + self.clock()

    def wall(self) -> float:
        """The virtual wall clock (``VIRTUAL_EPOCH`` plus ``clock()``): what ``time.time()``
        is to the engine here, e.g. for ``livebar reap``'s schedules."""
        return self._wall()

    def _elapse(self, seconds: float) -> None:
        """A request the engine is making takes ``seconds``."""
        if self._turn_clock is None:
            self.now += seconds
        else:
            self._turn_clock += seconds

    def advance(self, seconds: float) -> None:
        """Let ``seconds`` of virtual time pass, running every turn that falls due in them."""
        if not seconds >= 0:
            raise ValueError("seconds must be >= 0")
        target = self.now + seconds
        self._run(lambda: False, target)
        self.now = max(self.now, target)

    sleep = advance

    def hang(self, seconds: float) -> None:
        """The process stops turning for ``seconds`` (SIGSTOP, a deadlock holding the GIL in C
        code): virtual time passes and ``call_later`` calls (the world outside: another
        process, ``livebar reap`` from cron) run when due, but the engine takes no turn, so
        its heartbeat in the ledger goes stale. The turns that fell due run on the next
        ``advance``, as a process that is continued catches up."""
        if not seconds >= 0:
            raise ValueError("seconds must be >= 0")
        target = self.now + seconds
        while self._calls and self._calls[0][0] <= target:
            when, _order, fn = heapq.heappop(self._calls)
            self.now = max(self.now, when)
            fn()
        self.now = max(self.now, target)

    def client(self, api_key: str | None = None) -> Client:
        """A client of the simulated account on the virtual clock: another process's way to
        the same phone (``livebar reap``'s, say), closed with the harness."""
        key = api_key or self.state.config.api_key
        return self._connect(Config(api_key=key, base_url=VIRTUAL_URL, timeout=self.timeout))

    def call_later(self, seconds: float, fn: Callable[[], object]) -> None:
        """Call ``fn()`` once ``seconds`` of virtual time have passed (while time moves: in
        ``advance``, ``flush`` or ``wait``), e.g. to bring a downed server back mid-flush."""
        if not seconds >= 0:
            raise ValueError("seconds must be >= 0")
        heapq.heappush(self._calls, (self.now + seconds, next(self._order), fn))

    def flush(self, timeout: float | None = None, stop: Callable[[], bool] | None = None) -> bool:
        """``livebar.flush()`` on the virtual clock: True if every end and push went out.

        Like the real one it returns at the deadline at the latest, even while the engine is
        still waiting on a request (which then completes, on the engine's clock, after it).
        """
        deadline = self.now + (runtime.deadline() if timeout is None else timeout)
        ticket = FlushTicket(self.intake, deadline)
        halt = stop if stop is not None else _never
        try:
            self._wake()
            self._run(lambda: ticket.done() or halt(), deadline, waiting=True)
            done = ticket.done()
        finally:
            ticket.close()
        if not done and not halt():
            self.now = max(self.now, deadline)
        return done

    def wait_for(self, job: ActivityJob, timeout: float) -> bool:
        """``act.wait()`` on the virtual clock."""
        deadline = self.now + timeout
        if not self._run(job.done.is_set, deadline, waiting=True):
            self.now = max(self.now, deadline)
        return job.stats.end_delivered

    def _run(self, done: Callable[[], bool], deadline: float, *, waiting: bool = False) -> bool:
        """Run due turns (and ``call_later`` calls) until ``done()`` or until the next one falls
        after ``deadline``. ``waiting``: the caller waits for the engine, so its time passes
        with the engine's (up to the deadline); else the job works meanwhile."""
        while not done():
            calls = self._calls
            if calls and calls[0][0] <= min(self._next_turn, deadline):
                when, _order, fn = heapq.heappop(calls)
                self.now = max(self.now, when)
                fn()
                continue
            if self._next_turn > deadline:
                return False
            self.now = max(self.now, self._next_turn)
            self._next_turn = math.inf
            self._turn_clock = self.now
            try:
                wait = self.dispatcher.turn(self.now)
            finally:
                ended, self._turn_clock = self._turn_clock, None
            self._busy_until = ended
            if wait is not None:
                self._next_turn = min(self._next_turn, ended + max(wait, _MIN_STEP))
            if waiting:
                if ended > deadline:  # the caller has stopped waiting by then
                    self.now = max(self.now, deadline)
                    return False
                self.now = max(self.now, ended)
        return True

    def _wake_at(self, at: float) -> None:
        self._next_turn = min(self._next_turn, max(at, self.now, self._busy_until))

    def _wake(self) -> None:
        self._next_turn = min(self._next_turn, max(self.now, self._busy_until))

    # -- the engine's driver ----------------------------------------------------------------------

    def open(self, spec: ActivitySpec, sample: Sampler, fleet: FleetSpec | None = None) -> Opening:
        """Hand over a starting activity, its job made at once: the virtual clock has no
        thread to make it on, and tests read ``act.stats`` right after ``start()``."""
        opening = Opening(spec, sample, fleet)
        config = self.resolve(spec) if runtime.mirrors_here(spec.ranks) else None
        job = None if config is None else self.dispatcher.make_job(spec, sample, config, fleet)
        opening.take(job)
        if job is not None:
            self.intake.hand(job)
        return opening

    def resolve(self, spec: ActivitySpec) -> Config | None:
        """Every activity is mirrored to the simulator (unless ``disable=True``)."""
        if spec.disable:
            return None
        key = spec.api_key or self.state.config.api_key
        return Config(api_key=key, base_url=VIRTUAL_URL, timeout=self.timeout)

    def _connect(self, config: Config) -> Client:
        from livebar._wire.client import Client

        client = Client(
            api_key=config.api_key,
            base_url=config.base_url,
            timeout=config.timeout,
            retry=False,
            transport=httpx.MockTransport(self._serve),
            clock=self.clock,
        )
        self._clients.append(client)
        return client

    def _serve(self, request: httpx.Request) -> httpx.Response:
        """The simulator's HTTP shell, in-process: it performs the exchange the faults plan."""
        state = self.state
        path = request.url.path.removeprefix("/api")
        body = request.read()
        decision = state.take_fault()
        timeout = (request.extensions.get("timeout") or {}).get("read") or self.timeout
        plan = exchange(decision, timeout=timeout, can_refuse=True)
        response = None
        for step in plan.steps:
            if step in _BROKEN:
                error, text = _BROKEN[step]
                raise error(text, request=request)
            if step is Step.WAIT:
                self._elapse(plan.wait)
            elif step is Step.RECORD:
                state.record_fault(request.method, path, body, decision)
            elif step is Step.HANDLE:
                response = self._reply(request, path, body, decision)
            else:
                return self._answer(plan, response)
        raise AssertionError(f"an exchange ends in an answer or an error: {plan}")

    def _answer(self, plan: Exchange, response: httpx.Response | None) -> httpx.Response:
        answer = plan.answer
        if isinstance(answer, RawAnswer):
            response = httpx.Response(
                answer.status, content=answer.body, headers=dict(answer.headers)
            )
        elif answer is not None:
            response = decision_response(answer)
        assert response is not None
        if plan.drip > 0:
            return httpx.Response(
                response.status_code,
                headers=response.headers,
                stream=_Drip(response.content, plan.drip, self),
            )
        return response

    def _reply(
        self, request: httpx.Request, path: str, body: bytes, decision: FaultDecision
    ) -> httpx.Response:
        reply = self.state.handle(
            request.method,
            path,
            authorization=request.headers.get("authorization"),
            body=body,
            fault=decision,
        )
        return httpx.Response(reply.status, json=reply.body, headers=dict(reply.headers))

    def close(self) -> None:
        for client in self._clients:
            client.close()


def _memory_ledger(account: Account, window: float) -> AccountLedger:
    return AccountLedger(MemoryBackend(window=window))


_BROKEN: dict[Step, tuple[type[httpx.TransportError], str]] = {
    Step.REFUSE: (httpx.ConnectError, "the simulated server is down"),
    Step.DROP: (httpx.RemoteProtocolError, "the simulated server closed the connection"),
    Step.TIME_OUT: (httpx.ReadTimeout, "the simulated server is slower than the timeout"),
}
"""The steps of an exchange that end it without an answer, as httpx raises each."""


class _Drip(httpx.SyncByteStream):
    """An answer that arrives one byte at a time over ``seconds`` of virtual time."""

    def __init__(self, content: bytes, seconds: float, clock: VirtualTime) -> None:
        self._content = content
        self._pause = seconds / max(len(content), 1)
        self._clock = clock

    def __iter__(self) -> Iterator[bytes]:
        for i in range(len(self._content)):
            self._clock._elapse(self._pause)
            yield self._content[i : i + 1]


def decision_response(reply: Any) -> httpx.Response | None:
    """The HTTP answer of an injected failure, if there is one."""
    if reply is None:
        return None
    return httpx.Response(reply.status, json=reply.body, headers=dict(reply.headers))


@contextlib.contextmanager
def virtual_time(
    *,
    config: SimulatorConfig | None = None,
    budgets: Budgets | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    seed: int = 0,
    sample_interval: float = DEFAULT_SAMPLE_INTERVAL,
    ledgers: Callable[[Account, float], AccountLedger] | None = None,
    **simulator: Any,
) -> Iterator[VirtualTime]:
    """Run the real engine on a virtual clock against an in-process simulator (see above).

    ``config`` (or keyword settings such as ``rate_limit=5``) configures the simulated account;
    ``budgets`` livebar's pacing; ``seed`` its backoff jitter (runs are reproducible);
    ``sample_interval`` how often the engine looks at open activities (a coarser look makes
    jobs of many hours cheap to run); ``ledgers`` the account ledger the engine uses, as
    ``(account, window) -> AccountLedger`` (default: one in memory, this engine alone).
    Activities opened inside must end inside.
    """
    if simulator:
        config = (config or SimulatorConfig()).replace(**simulator)
    harness = VirtualTime(
        config=config,
        budgets=budgets,
        timeout=timeout,
        seed=seed,
        sample_interval=sample_interval,
        ledgers=ledgers,
    )
    previous = install(harness)
    try:
        yield harness
    finally:
        install(previous)
        runtime.forget_engine(harness.clock)
        harness.close()


try:
    import pytest
except ImportError:  # the harness works without pytest; the fixtures need it
    pass
else:

    @pytest.fixture
    def simulator() -> Iterator[SimulatorHandle]:
        """A fresh simulator on a free loopback port, stopped after the test."""
        with serve() as sim:
            yield sim

    @pytest.fixture
    def livebar_simulator(
        simulator: SimulatorHandle, monkeypatch: pytest.MonkeyPatch
    ) -> SimulatorHandle:
        """``simulator``, with the environment pointing livebar at it for the test."""
        for name, value in simulator.env().items():
            monkeypatch.setenv(name, value)
        return simulator


def assert_no_budget_warnings(sim: SimulatorHandle) -> None:
    """Fail if any activity drew a budget ``warning`` or was throttled by the simulated iOS."""
    _settle()
    offenders = [
        _label(activity)
        for activity in sim.activities()
        if activity["warnings"] or activity["throttles"]
    ]
    assert not offenders, f"over the iOS update budget: {', '.join(offenders)}"


def assert_within_rate_limit(sim: SimulatorHandle) -> None:
    """Fail if the account rate limit refused any request."""
    _settle()
    refused = [
        entry
        for entry in sim.requests()
        if entry["status"] == 429
        and (entry["response"] or {}).get("error") == "Rate limit exceeded"
        and entry["fault"] is None
    ]
    assert not refused, f"{len(refused)} request(s) hit the account rate limit"


def assert_no_errors(sim: SimulatorHandle) -> None:
    """Fail if the simulator answered any API request (not an injected fault) with an error."""
    _settle()
    errors = [
        f"{entry['method']} {entry['path']} -> {entry['status']}: {entry['response']}"
        for entry in sim.requests()
        if entry["fault"] is None and entry["status"] != 200
    ]
    assert not errors, "API errors:\n" + "\n".join(errors)


def assert_all_ended(sim: SimulatorHandle) -> None:
    """Fail if any Live Activity was left running."""
    _settle()
    running = [_label(activity) for activity in sim.activities() if activity["state"] == "active"]
    assert not running, f"still running: {', '.join(running)}"


def ended_titles(sim: SimulatorHandle) -> list[str]:
    """Titles of the activities that have ended, in start order."""
    _settle()
    return [
        str(activity["content_state"].get("title"))
        for activity in sim.activities()
        if activity["state"] != "active"
    ]


def _settle() -> None:
    """Let livebar deliver what it has queued (ends go out at once) before looking."""
    import livebar

    livebar.flush()


def _label(activity: dict[str, Any]) -> str:
    return f"{activity['title']!r} ({activity['activity_id']})"


def _never() -> bool:
    return False
