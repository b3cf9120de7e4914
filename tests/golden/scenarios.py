"""The golden scenarios: small real jobs whose every request is recorded on the virtual clock.

Each scenario is a function that runs a job through the real engine inside ``virtual_time()``
and returns the activities it made (their ``stats`` go into the trace's last line). The
scenarios cover what the engine decides: the standard job under each class of server fault, both
lifecycles, the pacing benchmark's jobs, a two-hour job, both kinds of renewal before iOS's 8
hours, a refused key and a billing block, a start whose answer was lost, garbled answers, an
orphan of a dead process, the queue for the concurrent slots, pushes and bare loops.
"""

from __future__ import annotations

import math
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable

import livebar
from livebar.simulator import SimulatorConfig
from livebar.testing import VirtualTime, virtual_time

Scenario = Callable[[Path], "Run"]
BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


class Run:
    """What one scenario left: the simulator's log and the activities the job made."""

    def __init__(self, vt: VirtualTime, acts: list[livebar.LiveActivity]) -> None:
        self.requests = vt.state.requests()
        self.acts = acts


SCENARIOS: dict[str, Scenario] = {}


def scenario(fn: Scenario) -> Scenario:
    SCENARIOS[fn.__name__.replace("_", "-")] = fn
    return fn


@contextmanager
def clock(**options: Any) -> Iterator[VirtualTime]:
    with virtual_time(seed=0, **options) as vt:
        yield vt


def standard(
    vt: VirtualTime,
    *,
    lifecycle: str = "stream",
    fail: bool = False,
    inject: Callable[[str], None] = lambda phase: None,
    **options: Any,
) -> livebar.LiveActivity:
    """Start at 0 s, half done at 5 s, done (or ``ValueError``) at 15 s, then the exit's flush."""
    inject("start")
    act = livebar.live_activity("Nightly job", total=10, lifecycle=lifecycle, **options)
    try:
        with act:
            vt.advance(5.0)
            inject("mid-run")
            act.update(5)
            vt.advance(10.0)
            inject("end")
            act.update(10)
            if fail:
                raise ValueError("disk full")
    except ValueError:
        pass
    vt.flush(5.0)
    return act


def faulted(
    phase: str, lifecycle: str, fault: Callable[[VirtualTime], None], **config: Any
) -> Scenario:
    def run(tmp: Path) -> Run:
        with clock(**config) as vt:

            def inject(now: str) -> None:
                if now == phase:
                    fault(vt)

            act = standard(vt, lifecycle=lifecycle, inject=inject)
            return Run(vt, [act])

    return run


# -- the standard job, plain -------------------------------------------------------------------


@scenario
def stream_done(tmp: Path) -> Run:
    with clock() as vt:
        return Run(vt, [standard(vt)])


@scenario
def manual_done(tmp: Path) -> Run:
    with clock() as vt:
        return Run(vt, [standard(vt, lifecycle="manual")])


@scenario
def stream_failed_notify(tmp: Path) -> Run:
    with clock() as vt:
        return Run(vt, [standard(vt, fail=True, notify_on=["failed"])])


@scenario
def manual_stages_failed(tmp: Path) -> Run:
    with clock() as vt:
        act = livebar.live_activity(
            "Deploy", steps=["build", "test", "ship"], lifecycle="manual", color="blue"
        )
        try:
            with act:
                with act.stage("build"):
                    vt.advance(30.0)
                with act.stage("test"):
                    vt.advance(200.0)
                    raise RuntimeError("3 tests failed")
        except RuntimeError:
            pass
        vt.flush(5.0)
        return Run(vt, [act])


# -- the standard job under each class of server fault --------------------------------------------


def _fail(n: int, status: int, retry_after: Any = None) -> Callable[[VirtualTime], None]:
    return lambda vt: vt.simulator.fail_next(n, status=status, retry_after=retry_after)


def _down_for(seconds: float) -> Callable[[VirtualTime], None]:
    def inject(vt: VirtualTime) -> None:
        vt.simulator.down()
        vt.call_later(seconds, vt.simulator.up)

    return inject


def _slow_once(seconds: float, *, drip: bool) -> Callable[[VirtualTime], None]:
    held = {"drip": seconds} if drip else {"delay": seconds}
    return lambda vt: vt.state.set_faults(slow_next=1, **held)


def _answer(body: Any, *, handled: bool) -> Callable[[VirtualTime], None]:
    return lambda vt: vt.state.answer_next(1, body=body, status=200, handled=handled)


SCENARIOS["fault-500-start-stream"] = faulted("start", "stream", _fail(2, 500))
SCENARIOS["fault-503-end-manual"] = faulted("end", "manual", _fail(3, 503))
SCENARIOS["fault-429-retry-after-mid-run"] = faulted("mid-run", "stream", _fail(1, 429, 7))
SCENARIOS["fault-outage-start-20s"] = faulted("start", "stream", _down_for(20.0))
SCENARIOS["fault-outage-end-manual-3s"] = faulted("end", "manual", _down_for(3.0))
SCENARIOS["fault-timeout-end"] = faulted("end", "stream", _slow_once(40.0, drip=False))
SCENARIOS["fault-drip-end-manual"] = faulted("end", "manual", _slow_once(40.0, drip=True))
SCENARIOS["fault-401-start"] = faulted("start", "stream", _fail(1, 401))
SCENARIOS["fault-402-mid-run"] = faulted(
    "mid-run", "manual", lambda vt: vt.state.set_billing("trial_expired")
)
SCENARIOS["fault-403-mid-run"] = faulted("mid-run", "manual", _fail(1, 403))
SCENARIOS["fault-404-end"] = faulted("end", "manual", _fail(1, 404))
SCENARIOS["fault-400-end-plain"] = faulted("end", "stream", _fail(1, 400))
SCENARIOS["lost-start-answer-manual"] = faulted("start", "manual", _slow_once(40.0, drip=False))
SCENARIOS["garbled-start-manual"] = faulted("start", "manual", _answer("<html>", handled=True))
SCENARIOS["garbled-update-stream"] = faulted("mid-run", "stream", _answer("{", handled=True))
SCENARIOS["unknown-operation-mid-run"] = faulted(
    "mid-run", "stream", lambda vt: vt.state.amend_next(1, operation="paused", extra=1)
)


# -- many activities, pushes and loops ------------------------------------------------------------


@scenario
def five_over_four_slots(tmp: Path) -> Run:
    """Five jobs at once: the fifth waits for a slot; one ends before it ever started."""
    with clock() as vt:
        acts = [livebar.live_activity(f"Job {i}", total=100).start() for i in range(5)]
        short = livebar.live_activity("Short job").start()
        vt.advance(2.0)
        short.close()
        for step in range(1, 7):
            vt.advance(20.0)
            for i, act in enumerate(acts):
                act.update(min(100, step * (10 + 5 * i)))
            if step == 3:
                acts[0].close()
        for act in acts[1:]:
            act.close()
        vt.flush(30.0)
        return Run(vt, [*acts, short])


@scenario
def pushes_burst(tmp: Path) -> Run:
    """45 pushes at once beside one job: paced with it, none lost."""
    with clock() as vt:
        act = livebar.live_activity("Beside the burst", total=10).start()
        for i in range(45):
            livebar.push(f"Alert {i}", message="disk almost full")
        vt.advance(90.0)
        act.update(10)
        act.close()
        vt.flush(60.0)
        return Run(vt, [act])


@scenario
def bare_loops(tmp: Path) -> Run:
    """A bare ``track`` loop left by ``break``, one left by an exception, one that finishes."""
    with clock() as vt:
        for item in livebar.track(range(10), title="Broken off"):
            vt.advance(1.0)
            if item == 4:
                break
        try:
            for item in livebar.track(iter(range(10)), title="Raised", total=10):
                vt.advance(1.0)
                if item == 6:
                    raise KeyError("row 6")
        except KeyError:
            pass
        for _ in livebar.track(range(5), title="Finished"):
            vt.advance(2.0)
        vt.flush(10.0)
        return Run(vt, [])


@scenario
def counting_without_total(tmp: Path) -> Run:
    with clock() as vt:
        with livebar.live_activity("Crawl", subtitle="example.org") as act:
            for i in range(600):
                act.advance()
                if i % 100 == 0:
                    act.update(subtitle=f"page {i}")
                vt.advance(0.5)
        vt.flush(5.0)
        return Run(vt, [act])


# -- long jobs ------------------------------------------------------------------------------------


def _long(vt: VirtualTime, title: str, hours: float, **options: Any) -> livebar.LiveActivity:
    seconds = hours * 3600
    act = livebar.live_activity(title, total=1000, **options)
    with act:
        act.set_source(lambda: math.floor(1000 * min(vt.now / seconds, 1.0)))
        vt.advance(seconds)
        act.set_source(None)
        act.update(1000)
    vt.flush(5.0)
    return act


@scenario
def two_hour_job(tmp: Path) -> Run:
    with clock(sample_interval=1.0) as vt:
        return Run(vt, [_long(vt, "Two hours", 2.0)])


@scenario
def stream_renewed_at_7_5_hours(tmp: Path) -> Run:
    with clock(sample_interval=5.0) as vt:
        return Run(vt, [_long(vt, "Nine hours", 9.0)])


@scenario
def manual_rotated_before_8_hours(tmp: Path) -> Run:
    with clock(sample_interval=5.0) as vt:
        return Run(vt, [_long(vt, "Nine hours by hand", 9.0, lifecycle="manual")])


# -- the shared account ---------------------------------------------------------------------------


@scenario
def orphan_reaped(tmp: Path) -> Run:
    """A dead process's card is ended "Lost: …" by the next livebar process on the account."""
    from livebar._ledger.ledger import AccountLedger
    from livebar._ledger.owner import Owner
    from livebar._ledger.sqlite import SqliteBackend

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    dead = Owner(Owner.current().host, child.pid, 12345, "gone-host")
    path = tmp / "ledger.sqlite3"
    holder: dict[str, VirtualTime] = {}

    def wall() -> float:
        return holder["vt"]._wall()

    def ledgers(account: Any, window: float) -> AccountLedger:
        backend = SqliteBackend(path, window=window, owner=Owner.current(), clock=wall)
        return AccountLedger(backend)

    with clock(ledgers=ledgers) as vt:
        holder["vt"] = vt
        gone = SqliteBackend(path, window=60.0, owner=dead, clock=wall)
        gone.request_slot("7", wall(), max_active=4, title="Old job", stream_key="old-job")
        state = {"title": "Old job", "type": "progress", "percentage": 61}
        body = b'{"content_state": {"title": "Old job", "type": "progress", "percentage": 61}}'
        vt.state.handle(
            "PUT",
            "/live-activity/stream/old-job",
            authorization=f"Bearer {vt.simulator.api_key}",
            body=body,
        )
        gone.record_state("7", wall(), activity_id=None, state=state)
        vt.advance(100.0)
        act = standard(vt)
        return Run(vt, [act])


@scenario
def strict_server(tmp: Path) -> Run:
    with clock(config=SimulatorConfig(strict=True)) as vt:
        return Run(vt, [standard(vt, lifecycle="manual", fail=True)])


def pacing(name: str) -> Scenario:
    def run(tmp: Path) -> Run:
        sys.path.insert(0, str(BENCHMARKS))
        try:
            import bench_pacing
        finally:
            sys.path.remove(str(BENCHMARKS))
        [chosen] = [s for s in bench_pacing.scenarios(quick=True) if s.name == name]
        trace = bench_pacing.run_livebar(chosen)
        run = Run.__new__(Run)
        run.requests = trace.entries
        run.acts = []
        return run

    return run


for _name in ("uniform", "training", "deploy", "stall", "concurrent", "short"):
    SCENARIOS[f"pacing-{_name}"] = pacing(_name)
