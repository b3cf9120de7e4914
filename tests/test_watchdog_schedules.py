"""The missed run (issue 20, part B): a scheduled job that does not start is pushed once per
missed period, by ``livebar reap`` and by any livebar process on the account; it stops once
the job runs again. The decision is a table; the ledger's half runs on every backend; the whole
story runs on the virtual clock against the simulator (a missed day is 26 virtual hours).
"""

from __future__ import annotations

import argparse
import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import livebar
from ledger_support import RedisServer, Where, close_opened, open_backend, redis_server_fixture
from livebar._cli.common import duration
from livebar._cli.reports import reap_json
from livebar._engine.overdue import ago, job_rows, missed_push, to_push
from livebar._engine.reap import ReapReport, reap
from livebar._job.options import resolve_spec
from livebar._ledger import watching
from livebar._ledger.ledger import AccountLedger
from livebar._ledger.memory import MemoryBackend
from livebar._ledger.owner import Owner
from livebar._ledger.schedules import Schedule
from livebar._ledger.sqlite import SqliteBackend
from livebar._wire.errors import ValidationError
from livebar.testing import (
    VIRTUAL_EPOCH,
    VirtualTime,
    assert_no_budget_warnings,
    assert_within_rate_limit,
    virtual_time,
)

HOUR = 3600.0
DAY = 24 * HOUR


# -- the decision ---------------------------------------------------------------------------------


def nightly(**changes: Any) -> Schedule:
    fields: dict[str, Any] = {
        "name": "nightly",
        "title": "Nightly backup",
        "expect_every": DAY,
        "grace": HOUR,
        "last_start": 0.0,
        "last_end": 40 * 60.0,
        "outcome": "done",
        "missed": 0,
    }
    fields.update(changes)
    return Schedule(**fields)


@pytest.mark.parametrize(
    ("at", "missed", "period"),
    [
        (24 * HOUR, 0, 0),  # due now: not late yet
        (25 * HOUR, 0, 0),  # the grace is not over
        (25 * HOUR + 1, 0, 1),  # the first period is missed
        (26 * HOUR, 1, 0),  # pushed already
        (49 * HOUR + 1, 1, 2),  # the next day is missed too
        (72 * HOUR, 2, 0),
    ],
)
def test_which_period_is_missed(at: float, missed: int, period: int) -> None:
    """A period is missed a grace after its start was due, and pushed once."""
    assert period == to_push(nightly(missed=missed), at)


def test_the_push_says_when_it_last_ran() -> None:
    """'Nightly backup has not started (last ran 26h ago)', and what was expected."""
    push = missed_push(nightly(), 26 * HOUR)
    assert "Nightly backup has not started (last ran 26h ago)" == push.title
    expected = "Expected every 24h (grace 60m); the last run started 26h ago; it last ended done."
    assert expected == push.message
    running = missed_push(nightly(last_end=None, outcome=None), 26 * HOUR)
    assert running.message is not None
    assert running.message.endswith("started 26h ago and has not finished.")


@pytest.mark.parametrize(
    ("seconds", "text"), [(45, "45s"), (14 * 60, "14m"), (26 * HOUR, "26h"), (4 * DAY, "4d")]
)
def test_ago_reads_at_a_persons_grain(seconds: float, text: str) -> None:
    """Seconds, minutes, hours, days."""
    assert text == ago(seconds)


def test_status_rows() -> None:
    """Overdue, waiting for the next start (with when), or running."""
    rows = job_rows(
        [nightly(), nightly(name="hourly", title="Sync", expect_every=HOUR, grace=60.0)],
        [],
        26 * HOUR,
    )
    assert [("Nightly backup", "overdue", "done"), ("Sync", "overdue", "done")] == [
        (r.title, r.state, r.last_outcome) for r in rows
    ]
    [waiting] = job_rows([nightly()], [], 2 * HOUR)
    assert ("waiting", "last started 2h ago, next due in 22h") == (waiting.state, waiting.detail)


# -- the options and the CLI's durations -----------------------------------------------------------


def test_the_schedule_options() -> None:
    """Seconds or a timedelta; grace defaults to a 24th of the period."""
    spec = resolve_spec("Backup", {"name": "nightly", "expect_every": dt.timedelta(days=1)})
    assert ("nightly", DAY, HOUR) == (spec.name, spec.expect_every, spec.grace)
    spec = resolve_spec("Backup", {"stream_key": "nightly", "expect_every": 60, "grace": 0})
    assert (None, 60.0, 0.0) == (spec.name, spec.expect_every, spec.grace)


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"expect_every": DAY}, "expect_every"),  # no stable name
        ({"name": "n", "expect_every": 0}, "expect_every"),
        ({"name": "n", "expect_every": "1d"}, "expect_every"),
        ({"name": "n", "expect_every": DAY, "grace": -1}, "grace"),
        ({"name": "n", "grace": HOUR}, "grace"),  # a grace without a period
        ({"name": " "}, "name"),
    ],
)
def test_bad_schedule_options_name_the_field(options: dict[str, Any], field: str) -> None:
    """A ValidationError (a ValueError) naming the option."""
    with pytest.raises(ValidationError) as caught:
        resolve_spec("Backup", options)
    assert field == caught.value.field


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("24h", DAY), ("1h", HOUR), ("90m", 5400.0), ("1h30m", 5400.0), ("7d", 7 * DAY), ("45", 45.0)],
)
def test_durations(text: str, seconds: float) -> None:
    """What --expect-every and --grace accept."""
    assert seconds == duration(text)


@pytest.mark.parametrize("text", ["", "h", "1x", "0", "-1h", "1hh"])
def test_bad_durations(text: str) -> None:
    """Refused with a message saying what a duration looks like."""
    with pytest.raises(argparse.ArgumentTypeError):
        duration(text)


# -- the ledger, on every backend ------------------------------------------------------------------


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    yield from redis_server_fixture()


@pytest.fixture(autouse=True)
def close_backends() -> Iterator[None]:
    yield
    close_opened()


@pytest.fixture(params=["memory", "sqlite", "redis"])
def where(request: pytest.FixtureRequest, tmp_path: Path) -> Where:
    if request.param == "sqlite":
        return Where("sqlite", str(tmp_path / "ledger.sqlite3"))
    if request.param == "redis":
        server: RedisServer = request.getfixturevalue("redis_server")
        server.flush()
        return Where("redis", server.url)
    return Where("memory", "")


def _ledgers(where: Where) -> tuple[AccountLedger, AccountLedger]:
    if where.kind == "memory":  # one process: the same ledger twice
        ledger = AccountLedger(MemoryBackend(window=60.0))
        return ledger, ledger
    one = AccountLedger(open_backend(where, window=60.0))
    two = AccountLedger(open_backend(where, window=60.0, owner=Owner("other", 1, 1, "b")))
    return one, two


def test_a_schedule_is_recorded_and_each_missed_period_claimed_once(where: Where) -> None:
    """Starts, ends, one claim per period whoever asks; a new start forgets the misses."""
    one, two = _ledgers(where)
    watching.schedule_started(
        one, "nightly", 0.0, 1000.0, title="Nightly backup", expect_every=DAY, grace=HOUR
    )
    watching.schedule_ended(one, "nightly", 0.0, 3400.0, "done")
    [seen] = watching.schedules(two, 0.0)
    assert nightly(last_start=1000.0, last_end=3400.0) == seen
    assert [True, False] == [
        watching.claim_missed(one, seen, 1, 0.0),
        watching.claim_missed(two, seen, 1, 0.0),
    ]
    assert 1 == watching.schedules(two, 0.0)[0].missed
    assert watching.claim_missed(two, seen, 2, 0.0)
    watching.schedule_started(
        two, "nightly", 0.0, 2 * DAY, title="Nightly backup", expect_every=DAY, grace=HOUR
    )
    [again] = watching.schedules(one, 0.0)
    assert (0, 2 * DAY, True) == (again.missed, again.last_start, again.running)
    assert not watching.claim_missed(one, seen, 3, 0.0)  # a claim about the old run


def test_a_forgotten_schedule_is_gone_for_every_process(where: Where) -> None:
    """``forget`` drops a renamed job's schedule: no process sees it (so none pushes its missed
    runs); forgetting it again says there was none; a later run writes it anew."""
    one, two = _ledgers(where)
    for name in ("nightly", "weekly"):
        watching.schedule_started(
            one, name, 0.0, 1000.0, title=name.title(), expect_every=DAY, grace=HOUR
        )
    assert [True, False] == [
        watching.forget_schedule(two, "nightly", 0.0),
        watching.forget_schedule(one, "nightly", 0.0),
    ]
    assert ["weekly"] == [s.name for s in watching.schedules(one, 0.0)]
    watching.schedule_started(
        two, "nightly", 0.0, 2 * DAY, title="Nightly", expect_every=DAY, grace=HOUR
    )
    assert ["nightly", "weekly"] == [s.name for s in watching.schedules(one, 0.0)]


# -- the whole story on the virtual clock ----------------------------------------------------------


def pushed(vt: VirtualTime) -> list[tuple[float, str]]:
    """Each push the phone received: when (virtual seconds) and its title."""
    return [
        (
            dt.datetime.fromisoformat(p["received_at"].replace("Z", "+00:00")).timestamp()
            - VIRTUAL_EPOCH,
            p["title"],
        )
        for p in vt.simulator.pushes()
    ]


def test_a_missed_day_is_pushed_once_by_reap_and_the_late_run_stops_it(tmp_path: Path) -> None:
    """Cron's reap every 10 min: one push a grace after each missed start; none once it ran."""
    path = tmp_path / "ledger.sqlite3"
    box: dict[str, VirtualTime] = {}

    def ledgers(account: Any, window: float) -> AccountLedger:
        return AccountLedger(
            SqliteBackend(path, window=window, owner=Owner.current(), clock=box["vt"].clock)
        )

    reports: list[ReapReport] = []
    with virtual_time(ledgers=ledgers) as vt:
        box["vt"] = vt
        cron = AccountLedger(
            SqliteBackend(path, window=60.0, owner=Owner("cron", 1, 1, "cron"), clock=vt.clock)
        )
        client = vt.client()

        def every_ten_minutes() -> None:
            reports.append(reap(cron, client, clock=vt.clock, sleep=vt.advance, wall=vt.wall))
            vt.call_later(600.0, every_ten_minutes)

        with livebar.live_activity(
            "Nightly backup", total=10, name="nightly", expect_every=DAY, grace=HOUR
        ) as act:
            for _ in range(10):
                act.advance(1)
                vt.advance(60.0)
        assert vt.flush()
        started = 0.0
        vt.call_later(0.0, every_ten_minutes)
        vt.advance(50 * HOUR)  # two nights missed
        with livebar.live_activity(
            "Nightly backup", total=10, name="nightly", expect_every=DAY, grace=HOUR
        ) as act:
            late_run = vt.now
            for _ in range(10):
                act.advance(1)
                vt.advance(60.0)
        vt.advance(23 * HOUR)  # within the next period: nothing to say
        assert vt.flush()

    pushes = pushed(vt)
    first_due = started + DAY + HOUR
    assert ["Nightly backup has not started (last ran 25h ago)"] == [
        t for at, t in pushes if at < first_due + DAY
    ]
    [(first, _)] = [(at, t) for at, t in pushes if at < first_due + DAY]
    assert first_due < first <= first_due + 600.0 + 1.0  # cron's period at most
    [(second, text)] = [(at, t) for at, t in pushes if first_due + DAY <= at]
    assert "Nightly backup has not started (last ran 49h ago)" == text
    assert first_due + DAY < second <= first_due + DAY + 601.0
    assert second < late_run
    assert 2 == sum(len(r.missed) for r in reports)
    data = reap_json(next(r for r in reports if r.missed), "sqlite")
    assert '"missed": [{"name": "nightly", "push": "Nightly backup has not started' in data
    [row] = job_rows(watching.schedules(cron, vt.clock()), [], vt.wall())
    assert ("Nightly backup", "waiting", "done") == (row.title, row.state, row.last_outcome)
    assert_no_budget_warnings(vt.simulator)
    assert_within_rate_limit(vt.simulator)


def test_another_livebar_process_pushes_a_missed_run(tmp_path: Path) -> None:
    """A process with work on the account (here: a long training run) pushes it, once, though
    cron's reap looks too."""
    path = tmp_path / "ledger.sqlite3"
    box: dict[str, VirtualTime] = {}

    def ledgers(account: Any, window: float) -> AccountLedger:
        return AccountLedger(
            SqliteBackend(path, window=window, owner=Owner.current(), clock=box["vt"].clock)
        )

    reports: list[ReapReport] = []
    with virtual_time(ledgers=ledgers, sample_interval=5.0) as vt:
        box["vt"] = vt
        cron = AccountLedger(
            SqliteBackend(path, window=60.0, owner=Owner("cron", 1, 1, "cron"), clock=vt.clock)
        )
        client = vt.client()

        def every_ten_minutes() -> None:  # racing the engine: one of them pushes, once
            reports.append(reap(cron, client, clock=vt.clock, sleep=vt.advance, wall=vt.wall))
            vt.call_later(600.0, every_ten_minutes)

        with livebar.live_activity("Nightly backup", name="nightly", expect_every=DAY) as act:
            vt.advance(600.0)
            act.advance(1)
        vt.call_later(0.0, every_ten_minutes)
        vt.advance(12 * HOUR)
        with livebar.live_activity("Training", total=30) as train:
            for _ in range(30):
                vt.advance(HOUR)
                train.advance(1)
        assert vt.flush()

    due = DAY + HOUR  # from its start at 0; the default grace: a 24th of a day
    pushes = [(at, t) for at, t in pushed(vt) if "has not started" in t]
    assert 1 == len(pushes)
    at, title = pushes[0]
    assert "Nightly backup has not started (last ran 25h ago)" == title
    assert due < at <= due + 60.0 + 10.0  # the engine looks every minute while it has work
    assert 0 == sum(len(r.missed) for r in reports)  # the engine was first; cron found it claimed
    assert_no_budget_warnings(vt.simulator)
    assert_within_rate_limit(vt.simulator)
