"""Truth after a kill: the activities of a killed process end as "Lost", red, exactly once."""

from __future__ import annotations

import json
import multiprocessing
import os
import re
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import ledger_support
from livebar._engine.lost import lost_end, lost_message
from livebar._engine.reap import reap
from livebar._engine.requests import orphan_call
from livebar._ledger.backend import Orphan
from livebar._ledger.ledger import AccountLedger
from livebar._ledger.owner import Owner
from livebar._ledger.settings import LedgerSetting, open_ledger
from livebar._wire.account import account_for
from livebar._wire.client import Client

HOUR = 3600.0


def orphan(**changes: Any) -> Orphan:
    fields: dict[str, Any] = {
        "id": "h:4121:9/job",
        "owner": Owner("h", 4121, 9, "build-7"),
        "same_host": True,
        "title": "Nightly backup",
        "stream_key": None,
        "activity_id": "act-1",
        "started_at": 1000.0,
        "last_seen": 1000.0 + 2 * HOUR + 13 * 60 + 20,
        "state": {"title": "Nightly backup", "type": "progress", "percentage": 61.7},
    }
    fields.update(changes)
    return Orphan(**fields)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({}, "Lost: process 4121 was killed after 2h 13m at 61%"),
        (
            {
                "same_host": False,
                "last_seen": 1252.0,
                "state": {
                    "title": "Deploy",
                    "type": "segmented_progress",
                    "number_of_steps": 3,
                    "current_step": 1,
                },
            },
            "Lost: process 4121 on build-7 went silent after 4m 12s at step 2 of 3",
        ),
        (
            {"state": {"title": "x", "value": 30, "upper_limit": 120}, "last_seen": 1037.0},
            "Lost: process 4121 was killed after 37s at 25%",
        ),
        ({"state": None, "last_seen": 1000.0}, "Lost: process 4121 was killed after 0.0s"),
    ],
)
def test_the_lost_message_says_what_is_known(changes: dict[str, Any], message: str) -> None:
    """Who, how (killed here, silent elsewhere), after how long, and how far it had got."""
    assert message == lost_message(orphan(**changes))


def test_the_lost_end_is_the_last_state_in_red(spec_validator: Any) -> None:
    """A manual activity ends with its last state, red, the message, 30 minutes to dismiss."""
    call = orphan_call(lost_end(orphan()))
    assert ("end", None) == (call.operation, call.key)
    body = call.body.to_json()
    spec_validator.validate_body("POST", "/live-activity/end", body)
    assert {
        "activity_id": "act-1",
        "content_state": {
            "title": "Nightly backup",
            "type": "progress",
            "percentage": 61.7,
            "subtitle": "Lost: process 4121 was killed after 2h 13m at 61%",
            "color": "red",
            "auto_dismiss_minutes": 30,
        },
    } == body


def test_a_streams_lost_end_is_a_delete_with_red_steps(spec_validator: Any) -> None:
    """A stream ends by DELETE; a segmented bar turns its steps red too."""
    state = {
        "title": "Deploy",
        "type": "segmented_progress",
        "number_of_steps": 3,
        "current_step": 1,
        "step_colors": ["green"],
    }
    call = orphan_call(lost_end(orphan(stream_key="dep-1", state=state)))
    assert ("end_stream", "dep-1") == (call.operation, call.key)
    body = call.body.to_json()
    spec_validator.validate_body("DELETE", "/live-activity/stream/dep-1", body)
    assert ("red", "red", None) == (
        body["content_state"]["color"],
        body["content_state"]["step_color"],
        body["content_state"].get("step_colors"),
    )


def test_an_unreadable_state_still_ends_truthfully() -> None:
    """A last state this version cannot parse gives way to the title and the message."""
    end = lost_end(orphan(state={"title": "x", "percentage": 400, "future_field": 1}))
    assert {"title": "Nightly backup", "subtitle": end.content_state.subtitle, "color": "red"} == (
        end.content_state.to_json()
    )


def test_a_killed_process_is_ended_as_lost_once(sim: Any, tmp_path: Path) -> None:
    """kill -9 of a process with an activity and a stream open; `reap` ends both on the
    simulator, red, with the pid and the progress; a second reap finds nothing."""
    ctx = multiprocessing.get_context("spawn")
    ready = ctx.Queue()
    child = ctx.Process(
        target=ledger_support.own_on_simulator,
        args=(str(tmp_path), sim.api_key, sim.url, ready),
        daemon=True,
    )
    child.start()
    try:
        assert child.pid == ready.get(timeout=30)
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.join(10)
    account = account_for(api_key=sim.api_key, base_url=sim.url)
    ledger = open_ledger(account, setting=LedgerSetting("sqlite", str(tmp_path)))
    with Client(api_key=sim.api_key, base_url=sim.url) as client:
        report = reap(ledger, client)
        assert (2, 0, []) == (len(report.ended), len(report.already_ended), report.failed)
        assert 0 == reap(ledger, client).found
    ended = {a["title"]: a for a in sim.activities()}
    assert {"ended"} == {a["state"] for a in ended.values()}
    backup, deploy = ended["Nightly backup"], ended["Deploy"]
    # how long it ran is the wall clock's (a fraction of a second, more on a loaded machine)
    assert re.fullmatch(
        rf"Lost: process {child.pid} was killed after \d+\.\ds at 61%",
        backup["content_state"]["subtitle"],
    ), backup["content_state"]["subtitle"]
    assert ("red", 61, 30) == (
        backup["content_state"]["color"],
        backup["content_state"]["percentage"],
        backup["auto_dismiss_minutes"],
    )
    assert deploy["content_state"]["subtitle"].endswith("at step 2 of 3")
    assert ("dep-1", "red") == (deploy["stream_key"], deploy["content_state"]["step_color"])
    ledger.close(0.0)


@pytest.fixture(autouse=True)
def close_backends() -> Iterator[None]:
    """Every backend a test opened is closed after it, whatever happened."""
    yield
    ledger_support.close_opened()


class FakeClock:
    def __init__(self) -> None:
        self.t = 5000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.t += seconds


def orphaned_ledger(tmp_path: Path, clock: FakeClock, *keys: str) -> AccountLedger:
    """A sqlite ledger holding ``keys``' activities of a process that has exited."""
    dead = ledger_support.dead_owner()
    where = ledger_support.Where("sqlite", str(tmp_path / "l.sqlite3"))
    gone = ledger_support.open_backend(where, window=60.0, clock=clock, owner=dead)
    for key in keys:
        gone.request_slot(key, clock(), max_active=4, title=key, stream_key=key)
    return AccountLedger(ledger_support.open_backend(where, window=60.0, clock=clock))


def test_reap_waits_for_room_within_its_deadline(tmp_path: Path, fake_api: Any) -> None:
    """A full window: reap sleeps until a place frees (on the ledger's answer), then ends."""
    clock = FakeClock()
    ledger = orphaned_ledger(tmp_path, clock, "a")
    for _ in range(3):
        assert ledger.acquire(clock(), limit=3).admitted
    clock.t += 20.0
    api = fake_api((200, {"success": True, "operation": "ended", "activity_id": "x"}))
    with Client(api_key="ask_k", transport=api.transport, retry=False) as client:
        report = reap(ledger, client, limit=3, deadline=60.0, clock=clock, sleep=clock.sleep)
    assert 1 == len(report.ended)
    assert [pytest.approx(40.0, abs=1e-3)] == clock.slept
    assert ["DELETE"] == [r.method for r in api.requests]


def test_reap_gives_the_claims_back_when_no_room_comes_in_time(
    tmp_path: Path, fake_api: Any
) -> None:
    """Past the deadline nothing is sent and the orphans stay for the next pass."""
    clock = FakeClock()
    ledger = orphaned_ledger(tmp_path, clock, "a", "b")
    for _ in range(3):
        assert ledger.acquire(clock(), limit=3).admitted
    api = fake_api((200, {"success": True, "operation": "ended", "activity_id": "x"}))
    with Client(api_key="ask_k", transport=api.transport, retry=False) as client:
        report = reap(ledger, client, limit=3, deadline=10.0, clock=clock, sleep=clock.sleep)
        assert (0, 2) == (len(report.ended), len(report.failed))
        assert [] == api.requests
        clock.t += 60.0
        assert 2 == len(reap(ledger, client, limit=3, clock=clock, sleep=clock.sleep).ended)


def test_reap_reports_what_the_server_said(tmp_path: Path, fake_api: Any) -> None:
    """404: already ended (settled); 503: failed, claim given back; 401: stop, all given back."""
    clock = FakeClock()
    ledger = orphaned_ledger(tmp_path, clock, "a", "b", "c")
    api = fake_api(
        (404, {"error": "Not Found", "message": "stream not found"}),
        (503, {"error": "Unavailable", "message": "try later"}),
        (200, {"success": True, "operation": "ended", "activity_id": "x"}),
    )
    with Client(api_key="ask_k", transport=api.transport, retry=False) as client:
        report = reap(ledger, client, deadline=0.0, clock=clock, sleep=clock.sleep)
        assert (1, 1, 1) == (len(report.ended), len(report.already_ended), len(report.failed))
        assert "ServerError" in report.failed[0][1]
        again = reap(ledger, client, clock=clock, sleep=clock.sleep)
        assert (1, 0) == (len(again.ended), len(again.failed))
    refused = fake_api((401, {"error": "Unauthorized", "message": "bad key"}))
    ledger = orphaned_ledger(tmp_path / "x", clock, "d", "e")
    with Client(api_key="ask_k", transport=refused.transport, retry=False) as client:
        report = reap(ledger, client, clock=clock, sleep=clock.sleep)
    assert (0, 2) == (len(report.ended), len(report.failed))
    assert 1 == len(refused.requests)


def test_reap_sends_again_while_the_server_is_busy_or_the_window_full(
    tmp_path: Path, fake_api: Any
) -> None:
    """503, then 429 (other tools used the account's window up): the same end goes again after
    the backoff, then after the server's Retry-After, and lands, all within the deadline."""
    clock = FakeClock()
    ledger = orphaned_ledger(tmp_path, clock, "a")
    api = fake_api(
        (503, {"error": "Unavailable", "message": "try later"}),
        httpx.Response(
            429,
            json={"error": "Rate limit exceeded", "message": "slow down"},
            headers={"Retry-After": "7"},
        ),
        (200, {"success": True, "operation": "ended", "activity_id": "x"}),
    )
    with Client(api_key="ask_k", transport=api.transport, retry=False) as client:
        report = reap(ledger, client, deadline=30.0, clock=clock, sleep=clock.sleep)
    assert (1, 0) == (len(report.ended), len(report.failed))
    assert [1.0, 7.0] == clock.slept
    assert 3 == len(api.requests)


def test_a_connection_failure_is_a_failure(tmp_path: Path, fake_api: Any) -> None:
    """A network error is reported, never raised, and the orphan is kept for later."""
    clock = FakeClock()
    ledger = orphaned_ledger(tmp_path, clock, "a")
    api = fake_api(httpx.ConnectError("refused"))
    with Client(api_key="ask_k", transport=api.transport, retry=False) as client:
        report = reap(ledger, client, clock=clock, sleep=clock.sleep)
    assert [("a", "ConnectError")] == [(o.title, r.split(":")[0]) for o, r in report.failed]


def test_a_refused_last_state_is_ended_with_the_least_there_is(
    tmp_path: Path, fake_api: Any
) -> None:
    """400 to the lost end: sent once more without the last state, and then it is ended."""
    clock = FakeClock()
    dead = ledger_support.dead_owner()
    where = ledger_support.Where("sqlite", str(tmp_path / "l.sqlite3"))
    gone = ledger_support.open_backend(where, window=60.0, clock=clock, owner=dead)
    gone.request_slot("a", clock(), max_active=4, title="Backup", stream_key="backup-1")
    state = {"title": "Backup", "type": "progress", "percentage": 61}
    gone.record_state("a", clock(), activity_id=None, state=state)
    ledger = AccountLedger(ledger_support.open_backend(where, window=60.0, clock=clock))
    api = fake_api(
        (400, {"error": "Bad Request", "message": "content_state.percentage"}),
        (200, {"success": True, "operation": "ended", "activity_id": "x"}),
    )
    with Client(api_key="ask_k", transport=api.transport, retry=False) as client:
        report = reap(ledger, client, clock=clock, sleep=clock.sleep)
    assert (1, 0) == (len(report.ended), len(report.failed))
    first, bare = (json.loads(r.content)["content_state"] for r in api.requests)
    assert (61, None) == (first.get("percentage"), bare.get("percentage"))
    assert bare["subtitle"].startswith("Lost: process")
