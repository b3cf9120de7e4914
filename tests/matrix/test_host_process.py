"""The host process's own machinery, each cell in a fresh interpreter against the served
simulator: the program's signal handlers, its ``atexit`` handlers, a ``sys.exit()`` that leaves a
bare loop at module level, threads opening their first activities at once.

Each cell failed before the fix it pins (issue 17); ``docs/reliability.md`` says what the user
now sees.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from livebar.simulator import SimulatorHandle, serve

from .support import ChildRun, run_child


@pytest.fixture
def sim() -> Iterator[SimulatorHandle]:
    with serve() as handle:
        yield handle


def child(sim: SimulatorHandle, code: str, tmp_path: Path) -> ChildRun:
    return run_child(code, env={**sim.env(), "LIVEBAR_LEDGER": str(tmp_path)}, timeout=40.0)


def phone(sim: SimulatorHandle) -> dict[str, str]:
    """Each card's title -> how its subtitle starts (its ending), "running" while open."""
    return {
        str(a["title"]): str(a["content_state"].get("subtitle") or "")
        if a["state"] != "active"
        else "running"
        for a in sim.activities()
    }


# -- a sys.exit() that leaves a bare loop at module level ------------------------------------------


@pytest.mark.parametrize(
    "loop",
    ["range(10)", "iter(range(10))", "enumerate(range(10))", "(x for x in range(10))"],
)
def test_sys_exit_in_a_bare_loop_ends_failed(
    sim: SimulatorHandle, tmp_path: Path, loop: str
) -> None:
    """``sys.exit(3)`` in a bare ``track`` loop at module level (its iterator is closed only
    after the exit's hooks ran): "Failed at 60%", as for a sized input, not "Stopped"."""
    code = f"""
import livebar
for item in livebar.track({loop}, title="Exit 3", total=10):
    if (item if isinstance(item, int) else item[0]) == 6:
        sys.exit(3)
"""
    run = child(sim, code, tmp_path)
    assert 3 == run.returncode
    assert phone(sim)["Exit 3"].startswith("Failed at 60%")


# -- atexit order ---------------------------------------------------------------------------------


HANDLER = """
import atexit
def at_exit():
    livebar.push("Nightly report sent")
    with livebar.live_activity("Cleanup", total=1) as cleanup:
        cleanup.update(1)
atexit.register(at_exit)
"""


@pytest.mark.parametrize("registered", ["before import livebar", "before the first activity"])
def test_what_an_exit_handler_does_is_delivered(
    sim: SimulatorHandle, tmp_path: Path, registered: str
) -> None:
    """An ``atexit`` handler registered before livebar's pushes and runs an activity: both are
    delivered, however early it was registered."""
    if registered == "before import livebar":
        code = HANDLER + "import livebar\n"
    else:
        code = "import livebar\n" + HANDLER
    code += "with livebar.live_activity('Job', total=1) as act:\n    act.update(1)\n"
    run = child(sim, code, tmp_path)
    assert 0 == run.returncode
    assert ["Nightly report sent"] == [p["title"] for p in sim.pushes()]
    assert {"Job": "Done", "Cleanup": "Done"} == {k: v[:4] for k, v in phone(sim).items()}


# -- the program's own SIGTERM handlers ------------------------------------------------------------

ABSORB = """
def absorb(signum, frame):
    say(absorbed=signum)
"""
JOB = """
import livebar
with livebar.live_activity("First", total=10) as first:
    for i in range(10):
        first.update(i + 1)
        if i == 3:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.2)
with livebar.live_activity("Later", total=1) as later:
    later.update(1)
"""


@pytest.mark.parametrize(
    "handler",
    [
        "installed before import livebar",
        "installed after, replacing livebar's",
        "installed after, chaining livebar's",
    ],
)
def test_a_sigterm_the_job_absorbs_ends_nothing_cancelled(
    sim: SimulatorHandle, tmp_path: Path, handler: str
) -> None:
    """The job's own handler absorbs SIGTERM and the job goes on to finish: that job and every
    later one end Done (one SIGTERM used to make every later ending "Cancelled")."""
    if handler == "installed before import livebar":
        code = ABSORB + "signal.signal(signal.SIGTERM, absorb)\n" + JOB
    elif handler == "installed after, replacing livebar's":
        code = "import livebar\n" + ABSORB + "signal.signal(signal.SIGTERM, absorb)\n" + JOB
    else:
        code = (
            "import livebar\n"
            + ABSORB
            + "previous = signal.getsignal(signal.SIGTERM)\n"
            + "def chained(signum, frame):\n"
            + "    absorb(signum, frame)\n"
            + "    previous(signum, frame)\n"
            + "signal.signal(signal.SIGTERM, chained)\n"
            + JOB
        )
    run = child(sim, code, tmp_path)
    assert (0, signal.SIGTERM) == (run.returncode, run.last("absorbed"))
    assert {"First": "Done", "Later": "Done"} == {k: v[:4] for k, v in phone(sim).items()}


def test_a_sigterm_that_stops_the_job_cancels_only_that_job(
    sim: SimulatorHandle, tmp_path: Path
) -> None:
    """The job's handler turns SIGTERM into a graceful stop: that job ends Cancelled at its real
    progress; a job started after the signal ends Done."""
    code = (
        "stop = False\n"
        "def graceful(signum, frame):\n    global stop\n    stop = True\n"
        "signal.signal(signal.SIGTERM, graceful)\n"
        "import livebar\n"
        "with livebar.live_activity('First', total=10) as first:\n"
        "    for i in range(10):\n"
        "        first.update(i + 1)\n"
        "        if i == 3:\n"
        "            os.kill(os.getpid(), signal.SIGTERM)\n"
        "            time.sleep(0.2)\n"
        "        if stop:\n"
        "            break\n"
        "with livebar.live_activity('Later', total=1) as later:\n"
        "    later.update(1)\n"
    )
    run = child(sim, code, tmp_path)
    assert 0 == run.returncode
    shown = phone(sim)
    assert shown["First"].startswith("Cancelled")
    assert shown["Later"].startswith("Done")


# -- threads opening their first activities at once ---------------------------------------------


def test_threads_opening_their_first_activities_at_once(
    sim: SimulatorHandle, tmp_path: Path
) -> None:
    """Eight threads open the process's first activities at the same moment: none of them sees
    a half-imported module, and each job's end reaches the phone (four as cards, the others,
    over before a slot freed, as their outcome push)."""
    code = """
import livebar
barrier = threading.Barrier(8)
errors = []
def job(n):
    barrier.wait()
    try:
        with livebar.live_activity(f"Job {n}", total=1) as act:
            act.update(1)
    except Exception as exc:
        errors.append(repr(exc))
threads = [threading.Thread(target=job, args=(n,)) for n in range(8)]
for t in threads:
    t.start()
for t in threads:
    t.join()
say(errors=errors, flushed=livebar.flush(20))
"""
    run = child(sim, code, tmp_path)
    assert (0, [], True) == (run.returncode, run.last("errors"), run.last("flushed"))
    shown = phone(sim)
    assert all(v.startswith("Done") for v in shown.values()), shown
    pushed = [p["title"] for p in sim.pushes()]
    assert [f"Job {n}" for n in range(8)] == sorted([*shown, *(t[:5] for t in pushed)])


# -- pool workers -------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["fork", "forkserver", "spawn"])
def test_the_ends_of_a_pools_tasks_reach_the_phone(
    sim: SimulatorHandle, tmp_path: Path, method: str
) -> None:
    """Each task of a ``multiprocessing.Pool`` runs its own activity; the pool closes its workers
    (a sentinel, then SIGTERM) right after the last result: every task's end is delivered
    (none was: the workers left through ``os._exit`` or died of the signal with them queued)."""
    (tmp_path / "tasks.py").write_text(
        "import livebar\n"
        "def task(n):\n"
        "    with livebar.live_activity(f'Task {n}', total=1) as act:\n"
        "        act.update(1)\n"
        "    return n\n"
    )
    code = f"""
import multiprocessing
sys.path.insert(0, {str(tmp_path)!r})
import tasks
with multiprocessing.get_context({method!r}).Pool(2) as pool:
    say(results=pool.map(tasks.task, range(4)))
"""
    run = child(sim, code, tmp_path / "ledger")
    assert (0, [0, 1, 2, 3]) == (run.returncode, run.last("results")), run.stderr
    shown = {k: v[:4] for k, v in phone(sim).items()}
    assert {f"Task {n}": "Done" for n in range(4)} == shown, (run.stderr, sim.requests())


def test_a_sigterm_that_lands_while_the_main_thread_holds_livebars_lock_is_handled(
    sim: SimulatorHandle, tmp_path: Path
) -> None:
    """The signal handler runs in the main thread, which the signal may have interrupted where
    livebar itself holds its process lock: at exit, reading the open activities (a pool's worker,
    terminated while its exit finalizer ran, hung there, and its pool's ``join`` with it), or
    opening one. The handler must still do its work: here a worker thread's job ends Cancelled
    and the process dies of the signal, instead of waiting forever for its own lock.

    The lock is taken by hand, to place the signal where the pool's worker met it by chance."""
    code = """
import livebar
from livebar._engine.runtime import runtime
started, release = threading.Event(), threading.Event()
def job():
    with livebar.live_activity("Worker job", total=2) as act:
        act.update(1)
        started.set()
        release.wait()
threading.Thread(target=job, daemon=True).start()
started.wait()
livebar.flush()
with runtime.lock:
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(10)  # the handler runs here, in this thread, holding the lock
say(survived=True)
"""
    run = child(sim, code, tmp_path)
    assert (-signal.SIGTERM, []) == (run.returncode, run.said), run.stderr
    assert {"Worker job": "Cancelled"} == {k: v[:9] for k, v in phone(sim).items()}


# -- a finished job is never shown Lost ---------------------------------------------------------

FINISHED = """
import livebar
with livebar.live_activity("Backup", total=3) as act:
    act.update(1)
    livebar.flush()  # the card is on the phone
    act.update(3)
    say(ready=True)
    sys.stdin.readline()  # the parent makes the end miss the exit's deadline now
"""


@pytest.mark.parametrize("why", ["the server is slower than the deadline", "the share is used up"])
@pytest.mark.timeout(90)
def test_an_end_that_missed_the_exit_reaches_the_phone_soon_and_true(
    tmp_path: Path, why: str
) -> None:
    """A job ends Done, but its end misses the exit's deadline: the courier the exit sends
    delivers "Done in …" soon after (it was later ended "Lost: process … was killed")."""
    with serve(rate_window=10.0) as sim:  # a minute's window in ten seconds
        _courier_case(sim, tmp_path, why)


def _courier_case(sim: SimulatorHandle, tmp_path: Path, why: str) -> None:
    import time

    def miss_the_deadline(process: Any) -> None:
        if why == "the server is slower than the deadline":
            sim.state.set_faults(slow_next=1, delay=8.0)
        else:
            for _ in range(60):  # another tool on the key has used the window up
                sim.state.handle(
                    "POST",
                    "/badge",
                    authorization=f"Bearer {sim.api_key}",
                    body=b'{"badge": 1}',
                )
        process.stdin.write("go\\n")
        process.stdin.flush()

    env = {
        **sim.env(),
        "LIVEBAR_LEDGER": str(tmp_path),
        "LIVEBAR_COURIER": "1",
        "LIVEBAR_FLUSH_TIMEOUT": "2",
        "LIVEBAR_TIMEOUT": "3",
        "LIVEBAR_REQUESTS_PER_MINUTE": "60",
    }
    run = run_child(FINISHED, env=env, at_ready=miss_the_deadline, timeout=40.0)
    exited = time.monotonic()
    assert 0 == run.returncode, run.stderr
    assert "a courier (pid" in run.stderr
    while time.monotonic() - exited < 40.0 and phone(sim).get("Backup") == "running":
        time.sleep(0.2)
    shown = phone(sim)["Backup"]
    assert shown.startswith("Done in"), shown
    print(f"{why}: the phone showed the true end {time.monotonic() - exited:.1f}s after exit")
