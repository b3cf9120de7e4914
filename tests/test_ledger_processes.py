"""Real processes, spawned (not forked), sharing one ledger: sqlite and a real redis-server.

Every test is bounded: processes hammer for about a second, waits have deadlines, and every
process started is joined or killed before the test ends.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import ledger_support
from ledger_support import RedisServer, Where, open_backend, redis_server_fixture

ctx = multiprocessing.get_context("spawn")


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    """One redis-server for this module (flushed before each test that uses it)."""
    yield from redis_server_fixture()


@pytest.fixture(params=["sqlite", "redis"])
def where(request: pytest.FixtureRequest, tmp_path: Path) -> Where:
    """One sqlite file, or one Redis."""
    if request.param == "sqlite":
        return Where("sqlite", str(tmp_path / "ledger.sqlite3"))
    server: RedisServer = request.getfixturevalue("redis_server")
    server.flush()
    return Where("redis", server.url)


class Processes:
    """Spawned processes that are always joined (or killed) at the end of the test."""

    def __init__(self) -> None:
        self.started: list[Any] = []

    def start(self, target: Any, *args: Any) -> Any:
        process = ctx.Process(target=target, args=args, daemon=True)
        process.start()
        self.started.append(process)
        return process

    def join(self, timeout: float = 30.0) -> None:
        for process in self.started:
            process.join(timeout)
            assert 0 == process.exitcode, process

    def cleanup(self) -> None:
        for process in self.started:
            if process.is_alive():
                os.kill(process.pid, signal.SIGCONT)
                process.kill()
            process.join(5.0)


@pytest.fixture
def processes() -> Iterator[Processes]:
    """Start processes with ``processes.start(target, *args)``; all are cleaned up after."""
    group = Processes()
    yield group
    group.cleanup()


def collect(out: Any, n: int, timeout: float = 50.0) -> list[Any]:
    return [out.get(timeout=timeout) for _ in range(n)]


@pytest.mark.parametrize("n", [3, 5])
def test_processes_hammering_never_exceed_the_limit(
    where: Where, processes: Processes, n: int
) -> None:
    """n processes recording as fast as they can: no window of 0.4 s ever holds more than 8."""
    window, limit, seconds = 0.4, 8, 1.2
    barrier, out = ctx.Barrier(n), ctx.Queue()
    for _ in range(n):
        processes.start(ledger_support.hammer, where, window, limit, seconds, barrier, out)
    reports = collect(out, n)
    processes.join()
    times = sorted(at for _pid, admitted, _refused, _busy in reports for at in admitted)
    # The (limit+1)-th request after any request comes a full window later, or not at all.
    gaps = [times[i + limit] - times[i] for i in range(len(times) - limit)]
    assert [] == [gap for gap in gaps if gap < window - 1e-5]
    # It was a real contest: the limit was reached, by several processes, and refusals came.
    assert len(times) > 2 * limit
    assert sum(1 for _pid, admitted, _refused, _busy in reports if admitted) >= 2
    assert sum(refused for _pid, _admitted, refused, _busy in reports) > 0


def test_a_race_for_the_last_places_admits_exactly_the_limit(
    where: Where, processes: Processes
) -> None:
    """6 processes racing (each until refused) for 25 places of a long window get 25 between
    them, not one more."""
    n, limit = 6, 25
    barrier, out = ctx.Barrier(n), ctx.Queue()
    for _ in range(n):
        processes.start(ledger_support.hammer, where, 3600.0, limit, 20.0, barrier, out, True)
    reports = collect(out, n)
    processes.join()
    assert limit == sum(len(admitted) for _pid, admitted, _refused, _busy in reports)


def test_starts_are_served_in_queue_order_across_processes(
    where: Where, processes: Processes
) -> None:
    """One slot, four processes queued in a known order; the later ones poll 20x as often,
    yet each gets the slot in its turn."""
    holder = open_backend(where, window=60.0)
    assert holder.request_slot("held", 0.0, max_active=1, title="holder", stream_key=None).granted
    queued, go, out = ctx.Queue(), ctx.Event(), ctx.Queue()
    for index in range(4):
        poll = 0.02 if index == 0 else 0.001
        processes.start(ledger_support.queue_then_take, where, index, poll, 0.08, queued, go, out)
        assert index == queued.get(timeout=30)  # joined the queue before the next one starts
    go.set()
    holder.close_activity("held")
    grants = collect(out, 4)
    processes.join()
    assert [0, 1, 2, 3] == [index for index, _at in sorted(grants, key=lambda g: g[1])]
    holder.close()


def start_owner(
    processes: Processes, where: Where, count: int, host: str | None = None, beat: float = 0.0
) -> Any:
    ready = ctx.Queue()
    owner = processes.start(ledger_support.own_activities, where, count, host, ready, beat)
    assert owner.pid == ready.get(timeout=30)
    return owner


def race_to_claim(
    processes: Processes, where: Where, n: int, *, host: str | None = None, stale: float = 600.0
) -> list[tuple[int, list[str]]]:
    barrier, out = ctx.Barrier(n), ctx.Queue()
    for _ in range(n):
        processes.start(ledger_support.claim, where, host, stale, barrier, out)
    reports: list[tuple[int, list[str]]] = collect(out, n)
    for process in processes.started[-n:]:
        process.join(30)
    return reports


def test_a_killed_owner_is_reaped_exactly_once(where: Where, processes: Processes) -> None:
    """kill -9 of an owner of 3 activities; 5 processes race to claim: each is claimed once."""
    owner = start_owner(processes, where, 3)
    os.kill(owner.pid, signal.SIGKILL)
    owner.join(10)
    reports = race_to_claim(processes, where, 5)
    claimed = Counter(ident for _pid, ids in reports for ident in ids)
    assert {f"job-{i}": 1 for i in range(3)} == {k.rsplit("/", 1)[1]: v for k, v in claimed.items()}
    assert all(ident.startswith(f"{ident.split(':')[0]}:{owner.pid}:") for ident in claimed)


def test_a_stopped_owner_is_never_reaped(where: Where, processes: Processes) -> None:
    """SIGSTOP: the owner is paused, not dead; nobody claims its activities, however long."""
    owner = start_owner(processes, where, 2)
    os.kill(owner.pid, signal.SIGSTOP)
    try:
        reports = race_to_claim(processes, where, 3, stale=0.0)  # even with no heartbeat bound
        assert [] == [ident for _pid, ids in reports for ident in ids]
    finally:
        os.kill(owner.pid, signal.SIGCONT)
    os.kill(owner.pid, signal.SIGKILL)
    owner.join(10)
    reports = race_to_claim(processes, where, 2)
    assert 2 == sum(len(ids) for _pid, ids in reports)


def test_a_killed_reaper_leaves_its_claims_to_the_next(where: Where, processes: Processes) -> None:
    """A reaper that dies holding claims (os._exit) does not keep them: the next one gets them."""
    owner = start_owner(processes, where, 2)
    os.kill(owner.pid, signal.SIGKILL)
    owner.join(10)
    barrier, out = ctx.Barrier(1), ctx.Queue()
    reaper = processes.start(ledger_support.claim, where, None, 600.0, barrier, out, False)
    (_pid, first) = out.get(timeout=30)
    reaper.join(10)
    assert 2 == len(first)
    reports = race_to_claim(processes, where, 3)
    assert sorted(first) == sorted(ident for _pid, ids in reports for ident in ids)


def test_two_hosts_on_one_redis(redis_server: RedisServer, processes: Processes) -> None:
    """Host B cannot probe host A's pids: a live A with a heartbeat keeps its activities; once
    A is killed, B reaps them when the heartbeat has gone stale, exactly once."""
    redis_server.flush()
    where = Where("redis", redis_server.url)
    owner = start_owner(processes, where, 2, host="host-a", beat=0.05)
    reports = race_to_claim(processes, where, 3, host="host-b", stale=1.0)
    assert [] == [ident for _pid, ids in reports for ident in ids]
    os.kill(owner.pid, signal.SIGKILL)
    owner.join(10)
    same_host = race_to_claim(processes, where, 2, host="host-b", stale=30.0)
    assert [] == [ident for _pid, ids in same_host for ident in ids]  # not stale yet
    time.sleep(1.0)
    reports = race_to_claim(processes, where, 3, host="host-b", stale=1.0)
    claimed = [ident for _pid, ids in reports for ident in ids]
    assert 2 == len(claimed) == len(set(claimed))


def test_the_same_host_reaps_at_once_on_redis(
    redis_server: RedisServer, processes: Processes
) -> None:
    """On its own host, a killed owner is known dead by its pid: no waiting for staleness."""
    redis_server.flush()
    where = Where("redis", redis_server.url)
    owner = start_owner(processes, where, 1, host="host-a", beat=0.05)
    os.kill(owner.pid, signal.SIGKILL)
    owner.join(10)
    reports = race_to_claim(processes, where, 2, host="host-a", stale=3600.0)
    assert 1 == sum(len(ids) for _pid, ids in reports)


SKEWED = """
import json, sys, time
skew = float(sys.argv[1]) if len(sys.argv) > 1 else 0.0
real = time.time
time.time = lambda: real() + {skew}  # this process's wall clock is set apart
from livebar._ledger.settings import open_ledger
from livebar._wire.account import account_for
ledger = open_ledger(account_for(api_key="ask_skewed", base_url="https://activitysmith.com/api"))
admitted = sum(ledger.acquire(time.monotonic(), limit=40).admitted for _ in range(60))
print(admitted)
"""


def test_processes_whose_wall_clocks_differ_share_one_window(tmp_path: Path) -> None:
    """Two processes on one machine whose wall clocks differ by two minutes (an NTP step, a
    container with its own clock) share one window: 40 requests between them, not 40 each."""
    env = {"LIVEBAR_LEDGER": str(tmp_path)}
    first = int(ledger_support.run_python(SKEWED.format(skew=0.0), env=env))
    second = int(ledger_support.run_python(SKEWED.format(skew=120.0), env=env))
    assert (40, 0) == (first, second)
