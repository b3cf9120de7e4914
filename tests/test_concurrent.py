"""livebar.contrib.concurrent: thread_map / process_map count items and end truthfully."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from concurrent_workers import add, explode_on_seven, square
from livebar.contrib.concurrent import process_map, thread_map

TESTS = Path(__file__).resolve().parent


def opts(sim: Any, **extra: Any) -> dict[str, Any]:
    return {"api_key": sim.api_key, "base_url": sim.url, **extra}


def only_activity(sim: Any) -> dict[str, Any]:
    import livebar

    livebar.flush(10)
    [activity] = sim.activities()
    return activity


def test_thread_map_returns_results_in_order_and_ends_done(sim: Any) -> None:
    """thread_map: results in input order, one activity at 100%, done."""
    assert [x * x for x in range(50)] == thread_map(square, range(50), max_workers=4, **opts(sim))
    activity = only_activity(sim)
    assert ("square", 100, "ended") == (
        activity["displayed"]["title"],
        activity["displayed"]["percentage"],
        activity["state"],
    )
    assert activity["displayed"]["subtitle"].startswith("Done in")


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_process_map_counts_items_not_chunks(sim: Any, method: str) -> None:
    """process_map(chunksize=10) over 101 items ends at 101 of 101 (tqdm #1791 ends at 11)."""
    results = process_map(
        square,
        range(101),
        chunksize=10,
        max_workers=2,
        mp_context=multiprocessing.get_context(method),
        title="Squares",
        show_count=True,
        **opts(sim),
    )
    assert [x * x for x in range(101)] == results
    displayed = only_activity(sim)["displayed"]
    assert (101, 101) == (displayed["value"], displayed["upper_limit"])
    assert displayed["subtitle"].startswith("Done in")


def test_several_iterables_stop_at_the_shortest(sim: Any) -> None:
    """Like map(): two inputs are zipped, and the total is the shorter one."""
    assert [0, 2, 4] == process_map(add, range(3), range(10), max_workers=2, **opts(sim))
    assert 100 == only_activity(sim)["displayed"]["percentage"]


@pytest.mark.parametrize("pool", [thread_map, process_map])
def test_a_failing_task_fails_the_activity_with_its_exception(sim: Any, pool: Any) -> None:
    """One task raises: the same exception type reaches the caller and the phone says so."""
    with pytest.raises(LookupError, match="no record 7"):
        pool(explode_on_seven, range(20), max_workers=2, **opts(sim))
    displayed = only_activity(sim)["displayed"]
    assert "red" == displayed["color"]
    assert "LookupError: no record 7" in displayed["subtitle"]


INTERRUPTED = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {tests!r})
    from concurrent_workers import slowly
    from livebar.contrib.concurrent import process_map
    print("started", flush=True)
    try:
        process_map(slowly, range(200), max_workers=2, title="Interrupted map")
    except KeyboardInterrupt:
        print("interrupted", flush=True)
        raise
    """
)


def test_ctrl_c_cancels_the_activity_and_the_pending_tasks(sim: Any) -> None:
    """SIGINT to the parent mid-map: Cancelled on the phone, and it exits without the rest."""
    env = {**os.environ, **sim.env()}
    proc = subprocess.Popen(
        [sys.executable, "-c", INTERRUPTED.format(tests=str(TESTS))],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert "started" == proc.stdout.readline().strip()
    deadline = time.monotonic() + 20
    while not sim.activities() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)
    started = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert time.monotonic() - started < 10  # 200 tasks x 0.2 s were not waited for
    assert "interrupted" in out, err
    displayed = only_activity(sim)["displayed"]
    assert displayed["subtitle"].startswith("Cancelled"), displayed
    assert displayed["percentage"] < 50
