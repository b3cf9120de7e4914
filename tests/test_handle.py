"""act.handle(): progress from other processes lands on the parent's one activity."""

from __future__ import annotations

import multiprocessing
import pickle
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import pytest

import livebar
from handle_workers import count_in_chunks, count_items, count_then_die, slow_count
from livebar._integrations.handle import ProgressHandle


def opts(sim: Any, **extra: Any) -> dict[str, Any]:
    return {"api_key": sim.api_key, "base_url": sim.url, **extra}


def only_activity(sim: Any) -> dict[str, Any]:
    [activity] = sim.activities()
    return activity


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_four_processes_make_one_activity_with_the_sum(sim: Any, method: str) -> None:
    """4 ProcessPoolExecutor workers: one activity, progress = the sum, a handful of requests."""
    context = multiprocessing.get_context(method)
    with livebar.live_activity("Split job", total=4000, show_count=True, **opts(sim)) as act:
        with act.handle() as progress, ProcessPoolExecutor(4, mp_context=context) as pool:
            pids = list(pool.map(count_items, [progress] * 8, [500] * 8))
    assert act.wait(10)
    assert 4000 == act.count
    assert len(set(pids)) > 1  # the work really was spread over processes
    activity = only_activity(sim)
    assert ("ended", 4000, 4000) == (
        activity["state"],
        activity["displayed"]["value"],
        activity["displayed"]["upper_limit"],
    )
    assert len(sim.requests()) <= 4  # start, an update or two, end: a single process's budget
    assert 0 == activity["warnings"]


def test_multiprocessing_pool_with_close_and_join(sim: Any) -> None:
    """multiprocessing.Pool (fork): counts sent by advance(k) add up once the pool is joined."""
    with livebar.live_activity("Pool job", total=400, **opts(sim)) as act:
        progress = act.handle()
        pool = multiprocessing.get_context("fork").Pool(4)
        pool.map(count_in_chunks, [(progress, 100)] * 4)
        pool.close()
        pool.join()
        progress.flush()
        assert 400 == act.count
    assert act.wait(10)
    assert 100 == only_activity(sim)["displayed"]["percentage"]


def test_a_killed_worker_does_not_break_the_parent(sim: Any) -> None:
    """A worker that dies mid-run: the parent keeps its counts and the others' and ends done."""
    context = multiprocessing.get_context("fork")
    with livebar.live_activity("Survivor", total=30, **opts(sim)) as act:
        progress = act.handle()
        dead = context.Process(target=count_then_die, args=(progress, 10))
        dead.start()
        dead.join(10)
        alive = context.Process(target=count_items, args=(progress, 20))
        alive.start()
        alive.join(10)
        progress.flush()
    assert (9, 0) == (dead.exitcode, alive.exitcode)
    assert 30 == act.count
    assert act.wait(10)
    assert "done" == act.outcome


def test_using_a_handle_after_the_parent_closed_never_raises(sim: Any) -> None:
    """Workers advancing a handle whose activity has ended: silently ignored, no error."""
    with livebar.live_activity("Short parent", **opts(sim)) as act:
        progress = act.handle()
    assert act.wait(10)
    deadline = time.monotonic() + 5
    context = multiprocessing.get_context("fork")
    late = context.Process(target=count_items, args=(progress, 50))
    late.start()
    late.join(10)
    assert 0 == late.exitcode
    progress.advance(5)  # in the parent too
    progress.flush()
    assert time.monotonic() < deadline
    assert 0 == act.count


def test_a_slow_worker_is_seen_while_it_runs(sim: Any) -> None:
    """Counts reach the parent while the worker runs, not only when it ends."""
    context = multiprocessing.get_context("fork")
    with livebar.live_activity("Slow", total=6, **opts(sim)) as act:
        progress = act.handle()
        worker = context.Process(target=slow_count, args=(progress, 6, 0.3))
        worker.start()
        seen_midway = 0.0
        while worker.is_alive():
            seen_midway = max(seen_midway, act.count if act.count < 6 else 0)
            time.sleep(0.05)
        worker.join()
        progress.flush()
    assert 0 < seen_midway < 6
    assert 6 == act.count


def test_the_handle_pickles_small_and_works_in_the_parent(sim: Any) -> None:
    """A handle is a few strings when pickled; used in the parent it advances directly."""
    with livebar.live_activity("Local", total=10, **opts(sim)) as act:
        progress = act.handle()
        assert progress is act.handle()
        copy = pickle.loads(pickle.dumps(progress))
        assert isinstance(copy, ProgressHandle)
        assert len(pickle.dumps(progress)) < 400
        for _ in copy.track(range(4)):
            pass
        progress.advance(6)
        assert 10 == act.count


def test_a_stranger_without_the_token_is_refused(sim: Any) -> None:
    """A connection that does not start with the token is closed and changes nothing."""
    import socket

    with livebar.live_activity("Guarded", total=10, **opts(sim)) as act:
        progress = act.handle()
        assert "unix" == progress._family
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as stranger:
            stranger.connect(progress._address)
            stranger.sendall(b"a 5\nh not-the-token\na 5\n")
            stranger.settimeout(5)
            assert b"" == stranger.recv(10)  # closed by the parent
        assert 0 == act.count
