"""Fleets in each ledger backend (in memory, sqlite, a real redis-server on 127.0.0.1): runs,
members' absolute states, and the sender's lease on a virtual clock (Redis's lease expires on
Redis's own clock, so there it is checked with a short real lease)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ledger_support import RedisServer, Where, close_opened, open_backend, redis_server_fixture
from livebar._ledger.backend import Backend, FleetJoin, FleetReport
from livebar._ledger.ledger import AccountLedger
from livebar._ledger.memory import MemoryBackend


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    yield from redis_server_fixture()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(params=["memory", "sqlite", "redis"])
def backend(request: pytest.FixtureRequest, tmp_path: Path, clock: Clock) -> Iterator[Backend]:
    """One backend of each kind, on the test's clock."""
    if request.param == "memory":
        yield MemoryBackend(window=60.0)
        return
    if request.param == "sqlite":
        where = Where("sqlite", str(tmp_path / "ledger.sqlite3"))
    else:
        server: RedisServer = request.getfixturevalue("redis_server")
        server.flush()
        where = Where("redis", server.url)
    yield open_backend(where, window=60.0, clock=clock)
    close_opened()


JOIN = FleetJoin(
    run=None,
    meta={"title": "Nightly backups", "expected": 3},
    deadline=None,
    join_window=3600.0,
    lost_after=30.0,
)


def join(backend: Backend, member: str, now: float, **options: Any) -> str:
    return backend.fleet_join("nightly", member, now, JOIN._replace(**options))


def report(
    backend: Backend, run: str, member: str, now: float, holder: str, **options: Any
) -> bool:
    state = options.pop("state", {"done": 1, "outcome": None})
    lease = options.pop("lease", 10.0)
    return backend.fleet_report(run, member, now, FleetReport(state, holder, lease, **options))


def test_members_share_a_run_and_each_writes_its_own_state(backend: Backend, clock: Clock) -> None:
    """Three members join one run; the record holds each one's latest absolute state (a
    repeated write changes nothing), and what the first wrote of the fleet."""
    runs = {join(backend, m, clock.now) for m in ("db1", "db2", "db3")}
    assert 1 == len(runs)
    run = runs.pop()
    for member, done in (("db1", 1), ("db2", 2), ("db1", 5), ("db1", 5), ("db3", 3)):
        clock.now += 1.0
        report(backend, run, member, clock.now, member, state={"done": done})
    record = backend.fleet_read(run, clock.now)
    assert record is not None
    assert {"db1": 5, "db2": 2, "db3": 3} == {
        name: entry.state["done"] for name, entry in record.members.items()
    }
    assert {"title": "Nightly backups", "expected": 3} == dict(record.meta)
    assert 1001.0 == pytest.approx(record.members["db1"].started)


def test_a_member_still_running_starts_the_next_run(backend: Backend, clock: Clock) -> None:
    """Yesterday's db1 still runs: today's db1 starts a new run, and today's db2 joins it."""
    yesterday = join(backend, "db1", clock.now)
    report(backend, yesterday, "db1", clock.now, "y")
    clock.now += 5.0
    today = join(backend, "db1", clock.now)
    assert today != yesterday
    assert today == join(backend, "db2", clock.now)


def test_a_member_that_ended_rejoins_its_run(backend: Backend, clock: Clock) -> None:
    """A member retried after it failed (a Kubernetes pod of the same index) rejoins the run."""
    run = join(backend, "3", clock.now)
    report(backend, run, "3", clock.now, "a", state={"done": 1, "outcome": "failed"})
    assert run == join(backend, "3", clock.now + 1.0)


def test_the_deadline_closes_the_run_to_newcomers(backend: Backend, clock: Clock) -> None:
    """A run with a deadline takes members until it; one that comes later starts the next run."""
    run = join(backend, "db1", clock.now, deadline=60.0)
    record = backend.fleet_read(run, clock.now)
    assert record is not None
    assert 1060.0 == pytest.approx(record.deadline)
    clock.now += 59.0
    assert run == join(backend, "db2", clock.now)
    clock.now += 2.0
    assert run != join(backend, "db3", clock.now)


def test_a_given_run_id_is_the_run(backend: Backend, clock: Clock) -> None:
    """With a run id every member joins that run, whoever else runs under the fleet's name."""
    first = join(backend, "db1", clock.now, run="uid-1")
    report(backend, first, "db1", clock.now, "a")
    assert first == join(backend, "db1", clock.now + 1.0, run="uid-1")
    assert first != join(backend, "db1", clock.now + 1.0, run="uid-2")


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_the_lease_on_a_virtual_clock(kind: str, tmp_path: Path, clock: Clock) -> None:
    """One holder at a time: taken when free, renewed only by its holder, lost when it lapses
    (another takes it then, not before), given back only by its holder, never once over."""
    if kind == "memory":
        backend: Backend = MemoryBackend(window=60.0)
    else:
        backend = open_backend(
            Where("sqlite", str(tmp_path / "l.sqlite3")), window=60.0, clock=clock
        )
    try:
        run = join(backend, "a", clock.now)
        assert report(backend, run, "a", clock.now, "A")
        clock.now += 5.0
        assert not report(backend, run, "b", clock.now, "B")
        assert report(backend, run, "a", clock.now, "A")  # renewed: 10 s from now
        clock.now += 9.9
        assert not report(backend, run, "b", clock.now, "B")
        clock.now += 0.2  # A said nothing for 10.1 s: its lease lapsed
        assert report(backend, run, "b", clock.now, "B")
        assert not report(backend, run, "a", clock.now, "A")
        assert not report(backend, run, "a", clock.now, "A", release=True)  # not A's to give
        assert report(backend, run, "b", clock.now, "B")
        assert not report(backend, run, "b", clock.now, "B", release=True)
        assert report(backend, run, "a", clock.now, "A")  # free again
        assert backend.fleet_card(run, clock.now, holder="A", card=None, over=True)
        assert not backend.fleet_card(run, clock.now, holder="B", card=None, over=True)
        clock.now += 11.0
        assert not report(backend, run, "b", clock.now, "B")  # over: nobody takes it again
    finally:
        close_opened()


def test_the_redis_lease_is_set_nx_px(redis_server: RedisServer) -> None:
    """On Redis the lease is a key with an expiry (SET NX PX): a lapsed lease passes on."""
    redis_server.flush()
    backend = open_backend(Where("redis", redis_server.url), window=60.0)
    try:
        run = join(backend, "a", 0.0)
        assert report(backend, run, "a", 0.0, "A", lease=0.3)
        assert not report(backend, run, "b", 0.0, "B", lease=0.3)
        deadline = time.monotonic() + 10.0
        while not report(backend, run, "b", 0.0, "B", lease=0.3):
            assert time.monotonic() < deadline, "the lease never lapsed"
            time.sleep(0.05)
        assert not report(backend, run, "a", 0.0, "A", lease=0.3)
        record = backend.fleet_read(run, 0.0)
        assert record is not None
        assert "B" == record.leader
    finally:
        close_opened()


def test_only_the_sender_writes_the_card(backend: Backend, clock: Clock) -> None:
    """What the card had (its start, its updates) is written only by the lease's holder."""
    run = join(backend, "a", clock.now)
    report(backend, run, "a", clock.now, "A")
    card = {"started": 990.0, "updates": 4}
    assert backend.fleet_card(run, clock.now, holder="A", card=card, over=False)
    assert not backend.fleet_card(run, clock.now, holder="B", card={"updates": 9}, over=True)
    record = backend.fleet_read(run, clock.now)
    assert record is not None
    assert (card, False, "A") == (dict(record.card or {}), record.over, record.leader)


def test_a_ledger_without_fleets_answers_nothing(clock: Clock) -> None:
    """A ledger that keeps no fleets (off, or standing in for a shared one) answers None to
    every fleet call: nobody leads a fleet it cannot see."""
    ledger = AccountLedger(MemoryBackend(window=60.0), fleets=False)
    assert ledger.fleet_join("n", "a", 0.0, JOIN) is None
    assert ledger.fleet_report("n#1", "a", 0.0, FleetReport({}, "A", 10.0)) is None
    assert ledger.fleet_read("n#1", 0.0, lost_after=30.0) is None


def test_the_reader_judges_members_alive(tmp_path: Path, clock: Clock) -> None:
    """Another host's member whose heartbeat is older than lost_after is not alive to the
    reader; one on the reader's own host is judged by its process."""
    where = Where("sqlite", str(tmp_path / "l.sqlite3"))
    try:
        writer = open_backend(where, window=60.0, clock=clock, host="host-a")
        ledger = AccountLedger(open_backend(where, window=60.0, clock=clock, host="host-b"))
        run = join(writer, "a", clock.now)
        report(writer, run, "a", clock.now, "A")
        clock.now += 20.0
        report(writer, run, "b", clock.now, "B")
        clock.now += 20.0
        ledger.fleet_report(run, "c", clock.now, FleetReport({}, "C", 10.0))
        record = ledger.fleet_read(run, clock.now, lost_after=30.0)
        assert record is not None
        assert frozenset({"b", "c"}) == record.alive
    finally:
        close_opened()
