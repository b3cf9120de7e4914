"""The ledger's contract, the same on every backend, on a fake clock; and its failure modes.

Each contract test runs on the in-process backend, on a real sqlite file and on a real
``redis-server`` (started on 127.0.0.1 by the fixture), all driven by one fake clock (sqlite
through its ``clock``, Redis with ``server_time=False``). The multi-process guarantees are in
``test_ledger_processes.py``.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from ledger_support import (
    RedisServer,
    Where,
    close_opened,
    dead_owner,
    open_backend,
    redis_server_fixture,
)
from livebar._defaults import ENV_LEDGER
from livebar._ledger.ledger import AccountLedger
from livebar._ledger.memory import MemoryBackend
from livebar._ledger.owner import Owner
from livebar._ledger.settings import LedgerSetting, default_directory, open_ledger, resolve_ledger
from livebar._wire.account import account_for
from livebar._wire.errors import ConfigurationError

WINDOW = 10.0


class FakeClock:
    """Time that moves only when a test says so."""

    def __init__(self, t: float = 1000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> float:
        self.t += seconds
        return self.t


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    """One redis-server for this module (flushed before each test that uses it)."""
    yield from redis_server_fixture()


@pytest.fixture(autouse=True)
def close_backends() -> Iterator[None]:
    """Every backend a test opened is closed after it, whatever happened."""
    yield
    close_opened()


@pytest.fixture
def clock() -> FakeClock:
    """A fake clock shared by the test and the backend."""
    return FakeClock()


@pytest.fixture(params=["memory", "sqlite", "redis"])
def where(request: pytest.FixtureRequest, tmp_path: Path) -> Where:
    """Each backend in turn."""
    kind: str = request.param
    if kind == "sqlite":
        return Where("sqlite", str(tmp_path / "ledger.sqlite3"))
    if kind == "redis":
        server: RedisServer = request.getfixturevalue("redis_server")
        server.flush()
        return Where("redis", server.url)
    return Where("memory", "")


def backend_for(where: Where, clock: FakeClock, *, host: str | None = None) -> Any:
    if where.kind == "memory":
        return MemoryBackend(window=WINDOW, owner=Owner.current(host=host))
    return open_backend(where, window=WINDOW, host=host, clock=clock)


@pytest.fixture
def ledger(where: Where, clock: FakeClock) -> Iterator[AccountLedger]:
    """The account ledger on the backend under test."""
    led = AccountLedger(backend_for(where, clock))
    yield led
    led.close(clock())


# -- the request window -------------------------------------------------------------------------


def test_floors_keep_the_last_places_for_starts_and_ends(
    ledger: AccountLedger, clock: FakeClock
) -> None:
    """Of 10, updates (floor 6) get 4, starts (floor 2) 4 more, ends (floor 0) the last 2."""
    now = clock()
    taken = [ledger.acquire(now, limit=10, floor=6).admitted for _ in range(6)]
    assert [True] * 4 + [False] * 2 == taken
    taken = [ledger.acquire(now, limit=10, floor=2).admitted for _ in range(6)]
    assert [True] * 4 + [False] * 2 == taken
    taken = [ledger.acquire(now, limit=10, floor=0).admitted for _ in range(3)]
    assert [True, True, False] == taken
    assert 10 == ledger.used(now)


def test_a_refused_request_learns_when_it_can_go(ledger: AccountLedger, clock: FakeClock) -> None:
    """retry_at is when enough requests have left the window for this kind to fit."""
    for _ in range(3):
        assert ledger.acquire(clock(), limit=3).admitted
        clock.advance(1.0)
    now = clock.advance(2.0)  # requests at 1000, 1001, 1002; now 1005
    refused = ledger.acquire(now, limit=3)
    assert (False, 3) == (refused.admitted, refused.used)
    assert 1010.0 == pytest.approx(refused.retry_at, abs=1e-4)
    with_floor = ledger.acquire(now, limit=3, floor=1)  # room 2: the second oldest must go too
    assert 1011.0 == pytest.approx(with_floor.retry_at, abs=1e-4)
    assert not ledger.acquire(clock.advance(4.999), limit=3).admitted
    assert ledger.acquire(clock.advance(0.002), limit=3).admitted


def test_the_window_slides(ledger: AccountLedger, clock: FakeClock) -> None:
    """A request leaves the window exactly ``window`` seconds after it was recorded."""
    assert ledger.acquire(clock(), limit=1).admitted
    assert not ledger.acquire(clock.advance(WINDOW - 0.01), limit=1).admitted
    assert 1 == ledger.used(clock())
    assert ledger.acquire(clock.advance(0.01), limit=1).admitted


def test_a_refund_frees_the_place(ledger: AccountLedger, clock: FakeClock) -> None:
    """A request that never reached the server gives its place back."""
    first = ledger.acquire(clock(), limit=2)
    assert ledger.acquire(clock(), limit=2).admitted
    assert not ledger.acquire(clock(), limit=2).admitted
    assert first.ticket is not None
    ledger.refund(first.ticket, clock())
    ledger.refund(first.ticket, clock())  # twice is harmless
    assert 1 == ledger.used(clock())
    assert ledger.acquire(clock(), limit=2).admitted


def test_a_request_counts_from_when_its_answer_came_back(
    ledger: AccountLedger, clock: FakeClock
) -> None:
    """A request that landed late (its answer 5 s after it was admitted) keeps its place until
    a window after it landed, not after it was admitted: the server counted it on arrival."""
    early = ledger.acquire(clock(), limit=1)
    assert early.ticket is not None
    clock.t += 5.0
    ledger.landed(early.ticket, clock())
    clock.t += WINDOW - 1.0  # a window after admission, not yet after landing
    assert not ledger.acquire(clock(), limit=1).admitted
    clock.t += 1.5
    assert ledger.acquire(clock(), limit=1).admitted


def test_the_limit_may_change_between_calls(ledger: AccountLedger, clock: FakeClock) -> None:
    """A shrunken share (AIMD) applies at once to what is already in the window."""
    for _ in range(5):
        assert ledger.acquire(clock(), limit=10).admitted
    assert not ledger.acquire(clock(), limit=5).admitted
    assert ledger.acquire(clock(), limit=6).admitted


def test_a_limit_below_the_floor_never_admits(ledger: AccountLedger, clock: FakeClock) -> None:
    """When the share is under a kind's floor that kind waits a window, not forever."""
    refused = ledger.acquire(clock(), limit=2, floor=2)
    assert not refused.admitted
    assert clock() + WINDOW == pytest.approx(refused.retry_at, abs=1e-4)


def test_bad_arguments_are_refused(ledger: AccountLedger, clock: FakeClock) -> None:
    """A limit under 1 or a negative floor is the caller's bug."""
    with pytest.raises(ValueError, match="limit"):
        ledger.acquire(clock(), limit=0)
    with pytest.raises(ValueError, match="floor"):
        ledger.acquire(clock(), limit=1, floor=-1)


# -- slots ------------------------------------------------------------------------------------


def test_slots_go_first_come_first_served(ledger: AccountLedger, clock: FakeClock) -> None:
    """With one slot, the starts queued a, b, c are served a, b, c whatever the polling."""
    now = clock()
    assert ledger.request_slot("a", now, max_active=1, title="A").granted
    b = ledger.request_slot("b", now, max_active=1, title="B")
    c = ledger.request_slot("c", now, max_active=1, title="C")
    assert (False, 1, 0) == (b.granted, b.active, b.ahead)
    assert (False, 1, 1) == (c.granted, c.active, c.ahead)
    ledger.close_activity("a", now)
    assert not ledger.request_slot("c", now, max_active=1, title="C").granted  # b is first
    assert ledger.request_slot("b", now, max_active=1, title="B").granted
    assert ledger.request_slot("b", now, max_active=1, title="B").granted  # stays granted
    ledger.yield_slot("b", now)  # the server was full: b waits again, at the head
    c = ledger.request_slot("c", now, max_active=1, title="C")
    assert (False, 0, 1) == (c.granted, c.active, c.ahead)
    assert ledger.request_slot("b", now, max_active=1, title="B").granted


def test_four_slots(ledger: AccountLedger, clock: FakeClock) -> None:
    """max_active starts hold slots at once; the next waits for one to close."""
    now = clock()
    grants = [
        ledger.request_slot(f"k{i}", now, max_active=4, title=str(i)).granted for i in range(6)
    ]
    assert [True] * 4 + [False] * 2 == grants
    ledger.close_activity("k2", now)
    assert ledger.request_slot("k4", now, max_active=4, title="4").granted
    assert not ledger.request_slot("k5", now, max_active=4, title="5").granted


# -- orphans ----------------------------------------------------------------------------------

shared_backends = pytest.mark.parametrize("where", ["sqlite", "redis"], indirect=True)


@shared_backends
def test_a_dead_owners_activities_are_claimed_once(
    where: Where, ledger: AccountLedger, clock: FakeClock
) -> None:
    """Active records with an id come back once with their last state; the rest vanish."""
    gone = AccountLedger(_backend_with_owner(where, clock, dead_owner()))
    now = clock()
    gone.request_slot("manual", now, max_active=4, title="Backup")
    state = {"title": "Backup", "type": "progress", "percentage": 61.5}
    gone.record_state("manual", now, activity_id="act-1", state=state)
    gone.request_slot("stream", now, max_active=4, title="Deploy", stream_key="deploy-7")
    gone.request_slot("no-answer", now, max_active=4, title="Started, never answered")
    for i in range(3):
        assert not gone.request_slot(f"waiting-{i}", now, max_active=3, title="Queued").granted
    clock.advance(120.0)
    mine = ledger.request_slot("mine", clock(), max_active=4, title="Mine")
    assert (False, 3, 3) == (mine.granted, mine.active, mine.ahead)

    orphans = {o.title: o for o in ledger.claim_orphans(clock())}
    assert {"Backup", "Deploy"} == set(orphans)
    backup = orphans["Backup"]
    assert ("act-1", None, True) == (backup.activity_id, backup.stream_key, backup.same_host)
    assert {"title": "Backup", "type": "progress", "percentage": 61.5} == backup.state
    assert "deploy-7" == orphans["Deploy"].stream_key
    assert 0.0 == pytest.approx(backup.last_seen - backup.started_at, abs=1e-3)
    assert [] == ledger.claim_orphans(clock())  # claimed: nobody gets them again
    mine = ledger.request_slot("mine", clock(), max_active=2, title="Mine")
    assert (False, 2, 0) == (mine.granted, mine.active, mine.ahead)  # orphans hold 2 slots

    ledger.settle_orphan(backup.id, clock(), ended=True)
    ledger.settle_orphan(orphans["Deploy"].id, clock(), ended=False)  # failed: claim again
    again = ledger.claim_orphans(clock())
    assert ["Deploy"] == [o.title for o in again]
    ledger.settle_orphan(again[0].id, clock(), ended=True)
    assert ledger.request_slot("mine", clock(), max_active=2, title="Mine").granted


def _backend_with_owner(where: Where, clock: FakeClock, owner: Owner) -> Any:
    return open_backend(where, window=WINDOW, clock=clock, owner=owner)


@shared_backends
def test_another_hosts_owner_is_gone_only_once_its_heartbeat_is_stale(
    where: Where, clock: FakeClock
) -> None:
    """Across hosts an owner lives by its heartbeat; once reaped it learns it on its next beat."""
    far = AccountLedger(backend_for(where, clock, host="host-a"), stale_after=600.0)
    here = AccountLedger(backend_for(where, clock, host="host-b"), stale_after=600.0)
    far.request_slot("job", clock(), max_active=4, title="Far job", stream_key="far")
    assert () == far.heartbeat(clock.advance(500.0))
    assert [] == here.claim_orphans(clock.advance(599.0))  # 599 s since the last beat
    orphans = here.claim_orphans(clock.advance(2.0))
    assert [("Far job", False)] == [(o.title, o.same_host) for o in orphans]
    assert ("job",) == far.heartbeat(clock.advance(1.0))  # it was paused, not dead: now it knows
    here.close(clock())
    far.close(clock())


@shared_backends
def test_a_dead_claimers_claim_lapses(
    where: Where, clock: FakeClock, ledger: AccountLedger
) -> None:
    """An orphan claimed by a process that then died is claimed again by the next one."""
    gone = AccountLedger(_backend_with_owner(where, clock, dead_owner()))
    gone.request_slot("job", clock(), max_active=4, title="Job", stream_key="s")
    claimer = AccountLedger(_backend_with_owner(where, clock, dead_owner()))
    assert 1 == len(claimer.claim_orphans(clock()))  # claimed by a process already gone
    assert ["Job"] == [o.title for o in ledger.claim_orphans(clock())]


@shared_backends
def test_a_clean_close_leaves_nothing_to_reap(
    where: Where, clock: FakeClock, ledger: AccountLedger
) -> None:
    """Closing a ledger (a clean exit) drops the process's records and frees its slots."""
    other = AccountLedger(backend_for(where, clock, host="host-a"))
    other.request_slot("job", clock(), max_active=1, title="Job", stream_key="s")
    assert not ledger.request_slot("x", clock(), max_active=1, title="X").granted
    other.close(clock())
    assert [] == ledger.claim_orphans(clock.advance(1e6))
    assert ledger.request_slot("x", clock(), max_active=1, title="X").granted


def test_the_memory_backend_has_no_orphans(clock: FakeClock) -> None:
    """In one process every record is the process's own: nothing is ever claimed."""
    ledger = AccountLedger(MemoryBackend(window=WINDOW))
    ledger.request_slot("a", clock(), max_active=4, title="A", stream_key="a")
    assert [] == ledger.claim_orphans(clock.advance(1e6))
    assert () == ledger.heartbeat(clock())
    assert not ledger.shared


# -- failure: busy, degraded, recovered ---------------------------------------------------------


def test_a_locked_file_answers_busy_quickly_then_degrades_and_recovers(
    tmp_path: Path, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    """A writer holding the file: bounded "not now"s, then one warning and this process's own
    budget, then the shared file again with what happened meanwhile."""
    path = tmp_path / "ledger.sqlite3"
    ledger = AccountLedger(
        open_backend(Where("sqlite", str(path)), window=WINDOW, clock=clock),
        degrade_after=1.0,
        recover_every=5.0,
    )
    assert ledger.acquire(clock(), limit=3).admitted
    ledger.request_slot("job", clock(), max_active=4, title="Job")
    holder = sqlite3.connect(str(path), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    started = time.monotonic()
    busy = ledger.acquire(clock(), limit=3)
    assert time.monotonic() - started < 0.5
    assert (False, True) == (busy.admitted, busy.busy)
    assert clock() + 0.05 == pytest.approx(busy.retry_at)
    ledger.record_state("job", clock(), activity_id="act-9", state={"title": "Job"})
    assert "sqlite" == ledger.backend
    assert not caplog.records

    with caplog.at_level(logging.WARNING, logger="livebar"):
        assert ledger.acquire(clock.advance(1.0), limit=3).admitted  # degraded: own budget
        assert ledger.acquire(clock(), limit=3).admitted
        assert not ledger.acquire(clock(), limit=3).admitted  # 3 of its own in the window
        assert ledger.acquire(clock.advance(0.5), limit=3, floor=0).admitted is False
    assert "memory" == ledger.backend
    assert 1 == len(caplog.records)
    assert "not answering" in caplog.records[0].getMessage()

    holder.execute("ROLLBACK")
    holder.close()
    ledger.used(clock.advance(5.0))  # time to try the file again
    assert "sqlite" == ledger.backend
    with closing(sqlite3.connect(str(path))) as check:
        assert [("act-9", '{"title":"Job"}', 1)] == check.execute(
            "SELECT activity_id, state, active FROM activities"
        ).fetchall()
        assert 3 == check.execute("SELECT count(*) FROM sent").fetchone()[0]
    assert 1 == len(caplog.records)


def test_a_redis_restart_is_survived(clock: FakeClock, caplog: pytest.LogCaptureFixture) -> None:
    """Redis down: busy, then this process alone; Redis back (empty): it gets our records."""
    server = RedisServer()
    try:
        ledger = AccountLedger(
            backend_for(Where("redis", server.url), clock), degrade_after=1.0, recover_every=5.0
        )
        ledger.request_slot("job", clock(), max_active=4, title="Job", stream_key="s-1")
        assert ledger.acquire(clock(), limit=5).admitted
        server.stop()
        started = time.monotonic()
        assert ledger.acquire(clock(), limit=5).busy
        assert time.monotonic() - started < 2.0
        with caplog.at_level(logging.WARNING, logger="livebar"):
            assert ledger.acquire(clock.advance(1.0), limit=5).admitted
        assert ("memory", 1) == (ledger.backend, len(caplog.records))
        ledger.record_state("job", clock(), state={"title": "Job", "percentage": 40})
        server.start()  # a fresh, empty server on the same port
        # The fresh server learns what was sent while it was out, and this process's records.
        assert 1 == ledger.used(clock.advance(5.0))
        assert "redis" == ledger.backend
        other = AccountLedger(backend_for(Where("redis", server.url), clock, host="elsewhere"))
        grant = other.request_slot("x", clock(), max_active=4, title="X")
        assert (True, 2) == (grant.granted, grant.active)
        other.close(clock())
        ledger.close(clock())
    finally:
        server.close()


# -- where the ledger lives ---------------------------------------------------------------------


def test_settings() -> None:
    """off, a directory, a Redis URL; anything else names LIVEBAR_LEDGER."""
    env = {"XDG_RUNTIME_DIR": "/run/user/1000"}
    assert LedgerSetting("sqlite", "/run/user/1000/livebar") == resolve_ledger(environ=env)
    for word in ("off", "OFF", "0", "false", "memory"):
        assert LedgerSetting("off") == resolve_ledger(environ={ENV_LEDGER: word})
    assert LedgerSetting("sqlite", "/srv/ledger") == resolve_ledger("/srv/ledger", environ={})
    url = "redis://:secret@redis.internal:6379/2"
    setting = resolve_ledger(environ={ENV_LEDGER: url})
    assert LedgerSetting("redis", url) == setting
    assert "secret" not in repr(setting)
    for bad in ("relative/dir", "http://example.com"):
        with pytest.raises(ConfigurationError) as caught:
            resolve_ledger(environ={ENV_LEDGER: bad})
        assert ENV_LEDGER == caught.value.option


def test_default_directory() -> None:
    """The runtime dir, else the cache dir, else ~/.cache."""
    assert Path("/run/user/7/livebar") == default_directory({"XDG_RUNTIME_DIR": "/run/user/7"})
    assert Path("/c/livebar") == default_directory({"XDG_CACHE_HOME": "/c"})
    assert Path.home() / ".cache" / "livebar" == default_directory({})


def test_the_key_is_never_written(tmp_path: Path, clock: FakeClock) -> None:
    """The file is named by the account's hash; neither it nor its contents hold the key."""
    key = "ask_very_secret_key_42"
    account = account_for(api_key=key, base_url="https://activitysmith.com/api")
    ledger = open_ledger(account, window=WINDOW, setting=LedgerSetting("sqlite", str(tmp_path)))
    assert ledger.shared
    ledger.request_slot("a", clock(), max_active=4, title="Backup", stream_key="b")
    ledger.record_state("a", clock(), state={"title": "Backup"})
    assert ledger.acquire(clock(), limit=5).admitted
    files = sorted(p.name for p in tmp_path.iterdir())
    assert f"{account.id}.sqlite3" in files
    for p in tmp_path.iterdir():
        assert key.encode() not in p.read_bytes()
    assert 0o600 == (tmp_path / f"{account.id}.sqlite3").stat().st_mode & 0o777
    ledger.close(clock())


def unwritable_places(tmp_path: Path) -> list[Path]:
    a_file = tmp_path / "a-file"
    a_file.write_text("not a directory")
    places = [a_file / "livebar", Path("/proc/self")]
    import os

    if os.geteuid() != 0:  # root writes anywhere a mode allows nothing
        read_only = tmp_path / "read-only"
        read_only.mkdir(mode=0o500)
        places.append(read_only)
    return places


def test_an_unwritable_directory_falls_back_with_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, clock: FakeClock
) -> None:
    """No file can be made there: the in-process ledger, one warning per place."""
    for i, place in enumerate(unwritable_places(tmp_path)):
        account = account_for(api_key=f"ask_unwritable_{i}", base_url="https://a.example")
        with caplog.at_level(logging.WARNING, logger="livebar"):
            caplog.clear()
            for _ in range(2):
                ledger = open_ledger(account, setting=LedgerSetting("sqlite", str(place)))
                assert ("memory", False) == (ledger.backend, ledger.shared)
                assert ledger.acquire(clock(), limit=1).admitted
        assert 1 == len(caplog.records), place
        assert "cannot use the shared ledger" in caplog.records[0].getMessage()


@pytest.mark.parametrize(
    "content",
    [b"this is not a database" * 100, b"SQLite format 3\x00" + b"\xff" * 4000],
)
def test_a_corrupt_file_falls_back_and_is_left_alone(
    tmp_path: Path, content: bytes, caplog: pytest.LogCaptureFixture, clock: FakeClock
) -> None:
    """A file that is not a ledger: one warning, the in-process ledger, the file untouched."""
    account = account_for(api_key=f"ask_corrupt_{len(content)}", base_url="https://a.example")
    path = tmp_path / f"{account.id}.sqlite3"
    path.write_bytes(content)
    with caplog.at_level(logging.WARNING, logger="livebar"):
        for _ in range(3):
            ledger = open_ledger(account, setting=LedgerSetting("sqlite", str(tmp_path)))
            assert "memory" == ledger.backend
            assert ledger.acquire(clock(), limit=1).admitted
    assert 1 == len(caplog.records)
    assert content == path.read_bytes()


def test_a_ledger_of_another_schema_falls_back(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A file written by a future livebar is not reused."""
    account = account_for(api_key="ask_schema", base_url="https://a.example")
    path = tmp_path / f"{account.id}.sqlite3"
    with closing(sqlite3.connect(str(path))) as db:
        db.execute("CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)")
        db.execute("INSERT INTO meta VALUES ('schema', '99')")
        db.commit()
    with caplog.at_level(logging.WARNING, logger="livebar"):
        ledger = open_ledger(account, setting=LedgerSetting("sqlite", str(tmp_path)))
    assert "memory" == ledger.backend
    assert "schema" in caplog.records[0].getMessage()


def test_off_and_an_unreachable_redis(caplog: pytest.LogCaptureFixture) -> None:
    """off is silent; a Redis nobody answers is one warning, quickly, without the password."""
    from ledger_support import free_port

    account = account_for(api_key="ask_redis_down", base_url="https://a.example")
    with caplog.at_level(logging.WARNING, logger="livebar"):
        assert "memory" == open_ledger(account, setting=LedgerSetting("off")).backend
        assert not caplog.records
        url = f"redis://:hunter2@127.0.0.1:{free_port()}/0"
        started = time.monotonic()
        assert "memory" == open_ledger(account, setting=LedgerSetting("redis", url)).backend
        assert time.monotonic() - started < 2.0
    assert 1 == len(caplog.records)
    assert "hunter2" not in caplog.records[0].getMessage()


def test_the_environment_setting_is_read(tmp_path: Path) -> None:
    """LIVEBAR_LEDGER picks the directory; LIVEBAR_HOST_ID the host."""
    account = account_for(api_key="ask_env", base_url="https://a.example")
    env = {ENV_LEDGER: str(tmp_path), "LIVEBAR_HOST_ID": "rack-3"}
    ledger = open_ledger(account, environ=env)
    assert "sqlite" == ledger.backend
    with closing(sqlite3.connect(str(tmp_path / f"{account.id}.sqlite3"))) as db:
        assert [("rack-3",)] == db.execute("SELECT host FROM owners").fetchall()
    ledger.close(0.0)


def test_every_spelling_of_one_account_shares_its_ledger(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """open_ledger opens one file for every spelling of one account, another for another."""
    from livebar._ledger.settings import open_ledger

    monkeypatch.setenv(ENV_LEDGER, str(tmp_path))
    one = account_for(api_key="ask_once", base_url="https://activitysmith.com/api/")
    same = account_for(api_key="ask_once", base_url="https://ActivitySmith.com:443/api")
    other = account_for(api_key="ask_twice", base_url="https://activitysmith.com/api")
    first, second, third = open_ledger(one), open_ledger(same), open_ledger(other)
    try:
        assert "sqlite" == first.backend
        assert first.request_slot("job", 0.0, max_active=1, title="Job").granted
        assert not second.request_slot("mine", 0.0, max_active=1, title="Mine").granted
        assert third.request_slot("theirs", 0.0, max_active=1, title="Theirs").granted
    finally:
        for ledger in (first, second, third):
            ledger.close(0.0)
