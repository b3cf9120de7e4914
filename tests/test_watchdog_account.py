"""A process that hangs entirely, as the rest of the account sees it (issue 20, part B).

The decision is a table (``hung.decide``); the ledger's half runs on every backend; the
whole story (a job hangs, ``livebar reap`` from cron marks its card, the job comes back and
shows itself again) runs on the virtual clock against the simulator, asserting what the phone
showed and when, and that iOS's budget and the account's window were kept.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import livebar
from ledger_support import (
    RedisServer,
    Where,
    close_opened,
    dead_owner,
    open_backend,
    redis_server_fixture,
)
from livebar._engine.budgets import Budgets
from livebar._engine.hung import (
    Action,
    Facts,
    decide,
    hung_message,
    ios_room,
    mark_of,
    with_budget,
)
from livebar._engine.overdue import job_rows
from livebar._engine.reap import ReapReport, reap
from livebar._ledger import watching
from livebar._ledger.backend import Watched
from livebar._ledger.ledger import AccountLedger
from livebar._ledger.memory import MemoryBackend
from livebar._ledger.owner import Owner, host_id, process_start
from livebar._ledger.sqlite import SqliteBackend
from livebar.testing import (
    VIRTUAL_EPOCH,
    VirtualTime,
    assert_no_budget_warnings,
    assert_within_rate_limit,
    virtual_time,
)

HANG = 300.0


def live_owner() -> Owner:
    """Another process on this host that is alive (this test's parent)."""
    pid = os.getppid()
    return Owner(host_id(), pid, process_start(pid) or 0, "here")


# -- the decision ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("alive", "silent_for", "marked", "action"),
    [
        (False, 10.0, False, Action.LOST),
        (False, 4000.0, True, Action.LOST),
        (True, 301.0, False, Action.MARK),
        (True, 7200.0, True, Action.NOTHING),
        (True, 20.0, True, Action.RESTORE),
        (True, 300.0, True, Action.RESTORE),
        (True, 300.0, False, Action.NOTHING),
        (True, 20.0, False, Action.NOTHING),
    ],
)
def test_what_a_watcher_does(alive: bool, silent_for: float, marked: bool, action: Action) -> None:
    """Marked once past the threshold, restored below it, Lost only when the owner is gone."""
    assert action == decide(Facts(alive, silent_for, marked), hang_after=HANG)


def watched(**changes: Any) -> Watched:
    state = {"title": "Nightly backup", "type": "progress", "percentage": 61.7}
    fields: dict[str, Any] = {
        "id": "h:4121:9/1",
        "owner": Owner("h", 4121, 9, "build-7"),
        "alive": True,
        "same_host": True,
        "title": "Nightly backup",
        "stream_key": "s-1",
        "activity_id": "a-1",
        "started_at": 0.0,
        "recorded_at": 0.0,
        "silent_for": 14 * 60 + 5.0,
        "state": with_budget(state, age=600.0, updates=3),
        "marked": False,
    }
    fields.update(changes)
    return Watched(**fields)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({}, "Not responding for 14m 05s at 61%"),
        ({"same_host": False}, "Not responding on build-7 for 14m 05s at 61%"),
        ({"state": None, "silent_for": 3 * 3600.0}, "Not responding for 3h 00m"),
        (
            {"state": {"title": "Deploy", "number_of_steps": 3, "current_step": 1}},
            "Not responding for 14m 05s at step 2 of 3",
        ),
    ],
)
def test_the_mark_says_how_long_and_where(changes: dict[str, Any], message: str) -> None:
    """How long it has been silent, and the progress it last showed."""
    assert message == hung_message(watched(**changes))


def test_the_mark_is_the_last_state_in_orange() -> None:
    """The card keeps its bar; the subtitle and colour say it stopped."""
    state = mark_of(watched()).content_state.to_json()
    expected = {
        "title": "Nightly backup",
        "type": "progress",
        "percentage": 61.7,
        "subtitle": "Not responding for 14m 05s at 61%",
        "color": "orange",
    }
    assert expected == state


@pytest.mark.parametrize(
    ("age", "updates", "silent_for", "room"),
    [
        (60.0, 3, 300.0, True),  # within the first 12 (one more may be in flight)
        (60.0, 11, 301.0, False),  # 11 recorded, maybe 12 sent: the 13th waits for 13 x 126 s
        (60.0, 11, 13 * 126.0 - 60.0, True),
        (3600.0, 29, 400.0, True),
        (3000.0, 30, 300.0, False),
    ],
)
def test_a_mark_keeps_the_cards_ios_budget(
    age: float, updates: int, silent_for: float, room: bool
) -> None:
    """One more update only when iOS's budget for that card has room."""
    state = with_budget({"title": "Job"}, age=age, updates=updates)
    assert room == ios_room(watched(state=state, silent_for=silent_for), Budgets())


def test_without_the_owners_budget_facts_nothing_is_sent() -> None:
    """A state recorded without them (an older livebar) is never marked; a card whose state
    was never recorded (its start's answer in flight) has had one update at most."""
    assert not ios_room(watched(state={"title": "Job"}), Budgets())
    assert ios_room(watched(state=None, silent_for=400.0), Budgets())


# -- the ledger, on every backend ------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    yield from redis_server_fixture()


@pytest.fixture(autouse=True)
def close_backends() -> Iterator[None]:
    yield
    close_opened()


@pytest.fixture(params=["sqlite", "redis"])
def where(request: pytest.FixtureRequest, tmp_path: Path) -> Where:
    if request.param == "sqlite":
        return Where("sqlite", str(tmp_path / "ledger.sqlite3"))
    server: RedisServer = request.getfixturevalue("redis_server")
    server.flush()
    return Where("redis", server.url)


def test_a_silent_live_owners_card_is_marked_once_and_taken_back(where: Where) -> None:
    """Watchers see its silence; one of two wins the mark; the owner takes it back."""
    clock = FakeClock()
    owner = AccountLedger(open_backend(where, window=60.0, clock=clock, owner=live_owner()))
    one = AccountLedger(open_backend(where, window=60.0, clock=clock))
    two = AccountLedger(open_backend(where, window=60.0, clock=clock, owner=dead_owner()))
    owner.request_slot("7", clock(), max_active=4, title="Backup", stream_key="backup-7")
    state = with_budget({"title": "Backup", "percentage": 61.0}, age=30.0, updates=2)
    owner.record_state("7", clock(), activity_id="a-7", state=state)
    clock.t += 400.0

    [seen] = watching.watch(one, clock())
    assert ("Backup", "backup-7", "a-7", True, False) == (
        seen.title,
        seen.stream_key,
        seen.activity_id,
        seen.alive,
        seen.marked,
    )
    assert 400.0 == pytest.approx(seen.silent_for, abs=1e-3)
    assert state == seen.state
    assert [watching.mark(one, seen.id, clock()), watching.mark(two, seen.id, clock())] == [
        True,
        False,
    ]
    assert [True] == [w.marked for w in watching.watch(two, clock())]
    assert [] == one.claim_orphans(clock())  # alive: never an orphan

    assert ("7",) == watching.take_marks(owner, clock())
    assert () == watching.take_marks(owner, clock())
    assert [False] == [w.marked for w in watching.watch(one, clock())]


def test_the_in_process_ledger_watches_nobody() -> None:
    """Every record of the in-process ledger is this process's own."""
    ledger = AccountLedger(MemoryBackend(window=60.0))
    ledger.request_slot("1", 0.0, max_active=4, title="Job", stream_key="s")
    assert ([], False, ()) == (
        watching.watch(ledger, 1000.0),
        watching.mark(ledger, "x", 1000.0),
        watching.take_marks(ledger, 1000.0),
    )


# -- the whole story on the virtual clock ----------------------------------------------------------


def shown(vt: VirtualTime) -> list[tuple[float, str | None, str | None]]:
    """What the phone showed, when (virtual seconds): the subtitle and colour of each state."""
    [card] = vt.simulator.activities()
    return [
        (
            round(s["t"] - VIRTUAL_EPOCH, 3),
            s["content_state"].get("subtitle"),
            s["content_state"].get("color"),
        )
        for s in card["shown"]
    ]


def test_a_hung_job_is_marked_by_reap_and_restored_when_it_returns(tmp_path: Path) -> None:
    """Silent for 300 s: cron's reap shows "Not responding" once; back: its own state again."""
    path = tmp_path / "ledger.sqlite3"
    box: dict[str, VirtualTime] = {}

    def ledgers(account: Any, window: float) -> AccountLedger:
        clock = box["vt"].clock
        return AccountLedger(SqliteBackend(path, window=window, owner=live_owner(), clock=clock))

    reports: list[tuple[float, ReapReport]] = []
    with virtual_time(ledgers=ledgers) as vt:
        box["vt"] = vt
        cron = AccountLedger(
            SqliteBackend(path, window=60.0, owner=Owner.current(), clock=vt.clock)
        )
        client = vt.client()

        def every_minute() -> None:
            reports.append((vt.now, reap(cron, client, clock=vt.clock, sleep=vt.hang)))
            vt.call_later(60.0, every_minute)

        with livebar.live_activity("Nightly backup", total=100) as act:
            for _ in range(61):
                act.advance(1)
                vt.advance(20.0)
            vt.call_later(0.0, every_minute)
            hung_at = vt.now
            vt.hang(2 * 3600.0)  # SIGSTOP for two hours: alive all along, never Lost
            resumed_at = vt.now
            for _ in range(39):
                act.advance(1)
                vt.advance(20.0)
        assert vt.flush()

    marks = [(t, s, c) for t, s, c in shown(vt) if c == "orange"]
    assert 1 == len(marks)
    mark_at, subtitle, _ = marks[0]
    assert subtitle is not None
    assert subtitle.startswith("Not responding for 5m")
    assert subtitle.endswith("at 61%")
    # marked by the first reap after the heartbeat went stale: a minute at most (cron's period)
    assert hung_at + HANG - 30.0 < mark_at <= hung_at + HANG + 60.0 + 1.0
    after = [(t, s, c) for t, s, c in shown(vt) if t > mark_at]
    assert after
    assert after[0][2] != "orange"
    assert after[0][0] - resumed_at <= 30.0 + 2.0
    assert 1 == sum(len(r.marked) for _, r in reports)
    assert not any(r.ended or r.failed or r.mark_failed for _, r in reports)
    assert not any("Lost" in (s or "") for _, s, _ in shown(vt))
    [card] = vt.simulator.activities()
    assert "ended" == card["state"]
    assert 100.0 == card["content_state"]["percentage"]
    assert_no_budget_warnings(vt.simulator)
    assert_within_rate_limit(vt.simulator)


def test_another_hosts_silent_owner_is_not_responding_then_lost(where: Where) -> None:
    """Across hosts only the heartbeat tells: marked after hang_after, Lost after 600 s."""
    clock = FakeClock()
    far = AccountLedger(open_backend(where, window=60.0, clock=clock, host="far-host"))
    here = AccountLedger(open_backend(where, window=60.0, clock=clock, host="near-host"))
    far.request_slot("1", clock(), max_active=4, title="Render", stream_key="render-1")
    far.record_state("1", clock(), activity_id="a-1", state={"title": "Render"})
    clock.t += 400.0
    [seen] = watching.watch(here, clock())
    assert (True, False) == (seen.alive, seen.same_host)
    assert Action.MARK == decide(Facts(seen.alive, seen.silent_for, seen.marked), hang_after=HANG)
    assert [] == here.claim_orphans(clock())
    clock.t += 201.0
    [gone] = watching.watch(here, clock())
    assert Action.LOST == decide(Facts(gone.alive, gone.silent_for, gone.marked), hang_after=HANG)
    assert ["Render"] == [o.title for o in here.claim_orphans(clock())]


def test_status_lists_running_and_not_responding_cards() -> None:
    """A card's owner alive and heard is running; marked (or gone) is not responding."""
    rows = job_rows([], [watched(silent_for=5.0), watched(title="Render", marked=True)], 0.0)
    assert [
        ("Nightly backup", "running", "process 4121, 61%"),
        ("Render", "not responding", "Not responding for 14m 05s at 61%"),
    ] == [(r.title, r.state, r.detail) for r in rows]


def test_a_mark_the_server_did_not_take_is_tried_again_by_the_next_pass(tmp_path: Path) -> None:
    """A 503 to the mark gives the claim back; the next reap marks the card, once."""
    path = tmp_path / "ledger.sqlite3"
    box: dict[str, VirtualTime] = {}

    def ledgers(account: Any, window: float) -> AccountLedger:
        clock = box["vt"].clock
        return AccountLedger(SqliteBackend(path, window=window, owner=live_owner(), clock=clock))

    with virtual_time(ledgers=ledgers) as vt:
        box["vt"] = vt
        cron = AccountLedger(
            SqliteBackend(path, window=60.0, owner=Owner.current(), clock=vt.clock)
        )
        client = vt.client()
        with livebar.live_activity("Nightly backup", total=100) as act:
            act.advance(61)
            vt.advance(30.0)
            vt.hang(HANG + 31.0)
            vt.simulator.fail_next(1, status=503)
            first = reap(cron, client, clock=vt.clock, sleep=vt.hang)
            second = reap(cron, client, clock=vt.clock, sleep=vt.hang)
            third = reap(cron, client, clock=vt.clock, sleep=vt.hang)
            act.advance(39)
        assert vt.flush()

    assert ([], ["Nightly backup"]) == (first.marked, [w.title for w, _ in first.mark_failed])
    assert ["Nightly backup"] == [w.title for w in second.marked]
    assert ([], ["Nightly backup"]) == (third.marked, [w.title for w in third.not_responding])
    assert_no_budget_warnings(vt.simulator)
