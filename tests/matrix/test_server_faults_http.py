"""Server faults over real sockets, with the real background thread, real time and a real exit.

The virtual clock proves what livebar decides; these cells prove that the real transport, the
real ``flush()`` and the interpreter's exit keep the same promises when the network misbehaves
below any framework: a port nothing listens on, a server that never answers, one that drips its
answer forever, the served simulator held or dripping past the timeout, and an outage that ends.
Each job runs in a fresh interpreter (so that nothing undeliverable lingers in this one), with
timeouts shrunk to 0.5 s per request and a 1.5 s flush deadline.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable

import pytest

from livebar.simulator import SimulatorHandle, serve

from .support import TITLE, ChildRun, RawServer, free_port, open_cards, run_child

TIMEOUT = 0.5
DEADLINE = 1.5
SLACK = 2.0
"""What a loaded CI machine may add to a real wait (threads waking, sockets closing)."""
LIFECYCLES = ("stream", "manual")

JOB = """
import atexit
atexit.register(lambda: say(exited_at=time.monotonic()))  # runs after livebar's exit hook
import livebar
with livebar.live_activity({title!r}, total=2, lifecycle={lifecycle!r}) as act:
    act.update(1)
    if {handshake}:
        livebar.flush()
        wait_for_parent()
    act.update(2)
started, cpu = time.monotonic(), time.process_time()
delivered = livebar.flush()
report(act, delivered=delivered, waited=time.monotonic() - started, cpu=time.process_time() - cpu)
time.sleep({linger})  # the process lives on a while (what is in flight completes)
report(act, at=time.monotonic())
"""


def job(
    url: str, lifecycle: str, *, handshake: bool = False, linger: float = 0.0, **env: str
) -> Any:
    """Run the job in a child against ``url``; returns what ``run_child`` needs."""
    code = JOB.format(title=TITLE, lifecycle=lifecycle, handshake=handshake, linger=linger)
    variables = {
        "ACTIVITYSMITH_BASE_URL": url,
        "ACTIVITYSMITH_API_KEY": "ask_sim_default",
        "LIVEBAR_TIMEOUT": str(TIMEOUT),
        "LIVEBAR_FLUSH_TIMEOUT": str(DEADLINE),
        **env,
    }
    return code, variables


def run(
    url: str,
    lifecycle: str,
    at_ready: Callable[[Any], None] | None = None,
    *,
    linger: float = 0.0,
) -> ChildRun:
    code, env = job(url, lifecycle, handshake=at_ready is not None, linger=linger)
    return run_child(code, env=env, at_ready=at_ready)


@pytest.mark.parametrize("lifecycle", LIFECYCLES)
@pytest.mark.parametrize("behaviour", ["nothing listening", "never answers", "drips forever"])
def test_a_dead_or_stuck_server_costs_the_exit_one_deadline(behaviour: str, lifecycle: str) -> None:
    """flush() returns within its deadline, the exit does not wait again, one line says what
    was not delivered, and the job exits 0."""
    server = None
    if behaviour == "nothing listening":
        url = f"http://127.0.0.1:{free_port()}/api"
    else:
        server = RawServer("hang" if behaviour == "never answers" else "drip")
        url = server.url
    try:
        child = run(url, lifecycle)
    finally:
        if server is not None:
            server.close()
    assert 0 == child.returncode, child.stderr
    assert child.said[0]["delivered"] is False
    assert child.said[0]["waited"] <= DEADLINE + SLACK
    # The exit did not wait a second deadline for what flush() already gave up on.
    assert child.last("exited_at") - child.said[-2]["at"] < DEADLINE
    assert child.said[0]["cpu"] < DEADLINE / 3  # waiting is not polling: it mostly sleeps
    assert child.last("end_delivered") is False
    [line] = child.stderr.strip().splitlines()[-1:]
    if server is None:  # nothing reached anything: not delivered, and nothing waited for it
        assert child.said[0]["waited"] < DEADLINE
        assert line.startswith(
            "livebar: gave up at exit without waiting: ActivitySmith could not be reached "
            "during the whole run ("
        )
        assert line.endswith(f"; not delivered: {TITLE}")
        assert child.last("end_unconfirmed") is False
        assert 0 == child.last("requests")
        return
    assert line.startswith(f"livebar: gave up after {DEADLINE:.1f}s; ")
    assert server.requests >= 1  # each attempt reached it and was cut off by its timeout
    assert line.endswith(f": {TITLE}")
    if lifecycle == "manual":  # a manual start whose answer was lost goes on as a stream,
        # said once (if its timeout came before the exit)
        assert 1 >= sum("may now be on the phone twice" in x for x in child.stderr.splitlines())


@pytest.mark.parametrize("lifecycle", LIFECYCLES)
@pytest.mark.parametrize("fault", ["held past the timeout", "dripped past the timeout"])
def test_a_slow_simulator_gets_the_end_though_nobody_confirms_it(
    fault: str, lifecycle: str
) -> None:
    """The end reaches the phone; flush() returns in time; stats say "unconfirmed"."""
    with serve() as sim:

        def slow_down(proc: Any) -> None:
            if fault.startswith("held"):
                sim.delay(0.8)
            else:
                sim.state.set_faults(drip=0.8)

        child = run(sim.url, lifecycle, at_ready=slow_down, linger=3.0)
        assert 0 == child.returncode, child.stderr
        assert child.said[-3]["delivered"] is False  # flush() gave up...
        assert child.said[-3]["waited"] <= DEADLINE + SLACK  # ...at its deadline
        # A while later the end has been sent and timed out: it may have arrived, and it has.
        assert (False, True) == (child.last("end_delivered"), child.last("end_unconfirmed"))
        assert "sent but unconfirmed" in child.stderr
        _eventually(lambda: not open_cards(sim))
        [card] = sim.activities()
        assert ("ended", 100) == (card["state"], card["displayed"]["percentage"])
        sim.clear_faults()


@pytest.mark.parametrize("lifecycle", LIFECYCLES)
def test_an_outage_that_ends_within_the_deadline_delivers_the_end(lifecycle: str) -> None:
    """Down at the end, back 0.3 s later: the end arrives within the deadline, nothing logged."""
    with serve() as sim:

        def outage(proc: Any) -> None:
            sim.down()
            threading.Timer(0.3, sim.up).start()

        code, env = job(sim.url, lifecycle, handshake=True)
        env["LIVEBAR_FLUSH_TIMEOUT"] = "5"
        child = run_child(code, env=env, at_ready=outage)
        assert 0 == child.returncode, child.stderr
        assert child.last("delivered") is True
        assert child.last("end_delivered") is True
        assert "" == child.stderr
        _check_ended(sim)


def _check_ended(sim: SimulatorHandle) -> None:
    [card] = sim.activities()
    assert ("ended", 100) == (card["state"], card["displayed"]["percentage"])


def _eventually(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "the simulator never got there"
        time.sleep(0.02)


@pytest.mark.parametrize("mode", ["livebar run -- true", "… | livebar --total 2"])
def test_the_cli_during_an_outage_waits_one_deadline_and_loses_nothing(mode: str) -> None:
    """Nothing listens where the key points: the command's status and output pass through,
    and the CLI does not wait out its flush deadline (nothing of it can be on the phone).

    The deadline is long (20 s) so that waiting it is told from a loaded machine's slow start
    by a wide margin."""
    import os
    import sys

    long_deadline = 20.0
    env = {
        **os.environ,
        "ACTIVITYSMITH_BASE_URL": f"http://127.0.0.1:{free_port()}/api",
        "ACTIVITYSMITH_API_KEY": "ask_matrix_key",
        "LIVEBAR_TIMEOUT": str(TIMEOUT),
        "LIVEBAR_FLUSH_TIMEOUT": str(long_deadline),
    }
    if mode.startswith("livebar run"):
        argv, given = [sys.executable, "-m", "livebar", "run", "--", "true"], b""
    else:
        argv, given = [sys.executable, "-m", "livebar", "--total", "2"], b"one\ntwo\n"
    baseline = _seconds([sys.executable, "-m", "livebar", "--version"], env, b"")
    took = _seconds(argv, env, given, expect=given)
    assert took - baseline < long_deadline / 2  # refused throughout: the exit does not wait


def _seconds(
    argv: list[str], env: dict[str, str], given: bytes, expect: bytes | None = None
) -> float:
    """How long a command takes; it must exit 0 with ``expect`` as its output, no traceback."""
    import subprocess

    started = time.monotonic()
    proc = subprocess.run(argv, input=given, env=env, capture_output=True, timeout=30)
    took = time.monotonic() - started
    assert 0 == proc.returncode, proc.stderr
    if expect is not None:
        assert expect == proc.stdout
        assert b"Traceback" not in proc.stderr
        assert 1 == proc.stderr.count(b"livebar: gave up ")
    return took


@pytest.mark.parametrize("lifecycle", LIFECYCLES)
def test_an_exit_during_the_first_requests_does_not_wait_twice(lifecycle: str) -> None:
    """The server never answers and the request timeout (3 s) is longer than the flush
    deadline (1 s): flush() gives up while the engine's very first turn is still waiting; the
    exit must not then wait another deadline for the same undelivered end."""
    server = RawServer("hang")
    try:
        code, env = job(server.url, lifecycle)
        env.update(LIVEBAR_TIMEOUT="3", LIVEBAR_FLUSH_TIMEOUT="1")
        child = run_child(code, env=env)
    finally:
        server.close()
    assert 0 == child.returncode, child.stderr
    assert child.said[0]["delivered"] is False
    assert child.last("exited_at") - child.said[-2]["at"] < 1.0
    assert child.stderr.strip().endswith(TITLE)


def test_the_exit_names_even_what_the_engine_has_not_looked_at_yet() -> None:
    """The engine is stuck on a first request that never answers; a second job opens and ends
    meanwhile: the exit's line names both, not only the one the engine had taken in."""
    server = RawServer("hang")
    code = (
        "import livebar\n"
        "first = livebar.live_activity('First job').start()\n"
        "time.sleep(0.5)\n"
        "with livebar.live_activity('Second job'):\n"
        "    pass\n"
        "first.close()\n"
    )
    env = {
        "ACTIVITYSMITH_BASE_URL": server.url,
        "ACTIVITYSMITH_API_KEY": "ask_matrix_key",
        "LIVEBAR_TIMEOUT": "3",
        "LIVEBAR_FLUSH_TIMEOUT": "1",
    }
    try:
        child = run_child(code, env=env)
    finally:
        server.close()
    assert 0 == child.returncode, child.stderr
    [line] = child.stderr.strip().splitlines()
    assert line.startswith("livebar: gave up after 1.0s; not delivered: ")
    assert {"First job", "Second job"} == set(line.split("not delivered: ")[1].split(", "))


@pytest.mark.parametrize("lifecycle", LIFECYCLES)
def test_an_end_still_dripping_in_at_the_exit_is_said_sent_but_unconfirmed(lifecycle: str) -> None:
    """The end's answer drips in slower than the whole flush deadline (the request's own
    timeout is longer): the exit line says "sent but unconfirmed", not "not delivered"."""
    with serve() as sim:

        def slow_end(process: Any) -> None:
            sim.state.set_faults(slow_next=1, drip=30.0)

        code, env = job(sim.url, lifecycle, handshake=True, LIVEBAR_TIMEOUT="5")
        env["ACTIVITYSMITH_API_KEY"] = sim.api_key
        child = run_child(code, env=env, at_ready=slow_end)
    assert 0 == child.returncode, child.stderr
    line = child.stderr.strip().splitlines()[-1]
    assert line.startswith(f"livebar: gave up after {DEADLINE:.1f}s; "), line
    assert line.endswith(f"sent but unconfirmed (no answer in time; it may have arrived): {TITLE}")
