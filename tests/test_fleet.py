"""Fleets through the real engine on a virtual clock: members in one process share the in-memory
ledger, one of them sends the one card, within one activity's budgets."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

import livebar
from ledger_support import RedisServer, redis_server_fixture
from livebar._job.endings import Outcome
from livebar._job.fleet import MemberState
from livebar._ledger.backend import FleetRecord, FleetReport
from livebar._ledger.ledger import AccountLedger
from livebar._ledger.memory import MemoryBackend
from livebar._ledger.settings import LedgerSetting, open_ledger
from livebar._wire.account import Account
from livebar.testing import VirtualTime, virtual_time

NAMES = ["db1", "db2", "db3", "web4"]


def card_requests(clock: VirtualTime) -> list[dict[str, object]]:
    return [r for r in clock.simulator.requests() if "/stream/" in str(r["path"])]


def test_members_share_one_card_that_names_each_ending() -> None:
    """Three of four members run (one fails), the fourth never starts: one activity, a segment
    per member, ending red "Done 2/4 · failed: db2 · 1 never started (web4)"."""
    with virtual_time() as clock:
        members = [
            livebar.fleet("nightly", title="Nightly backups", members=NAMES, member=n, total=60)
            for n in NAMES[:3]
        ]
        for member in members:
            member.start()
        for second in range(60):
            for member in members:
                member.update(second + 1)
            clock.advance(1.0)
        members[0].close()
        members[1].fail(OSError("No space left on device"))
        clock.advance(5.0)
        members[2].close()
        assert clock.flush(30.0)
    [activity] = clock.simulator.activities()
    state = activity["content_state"]
    assert "ended" == activity["state"]
    assert "Done 2/4 \u00b7 failed: db2 \u00b7 1 never started (web4)" == state["subtitle"]
    assert ("red", 4, 3) == (state["color"], state["number_of_steps"], state["current_step"])
    assert 1 == len({r["path"] for r in card_requests(clock)})
    assert all(m.stats.end_delivered for m in members)


def test_the_sender_hands_over_when_its_own_job_ends() -> None:
    """The member that sends finishes first: another takes the lease and keeps PUTting the same
    stream; the card moves on and ends once, with no iOS warning."""
    with virtual_time() as clock:
        first = livebar.fleet("etl", members=2, member="a", total=10).start()
        clock.advance(1.0)
        second = livebar.fleet("etl", members=2, member="b", total=10).start()
        clock.advance(10.0)
        first.update(10)
        first.close()
        clock.advance(30.0)
        for n in range(1, 11):
            second.update(n)
            clock.advance(300.0)
        second.close()
        assert clock.flush(30.0)
    requests = card_requests(clock)
    assert 1 == len({r["path"] for r in requests})
    assert 1 <= len([r for r in requests if r["method"] == "PUT"])
    assert ["DELETE"] == [r["method"] for r in requests if r["method"] == "DELETE"]
    [activity] = clock.simulator.activities()
    assert (0, "Done 2/2") == (activity["warnings"], activity["content_state"]["subtitle"])
    assert len(requests) == first.stats.requests + second.stats.requests


def test_a_sender_that_takes_over_keeps_the_cards_ios_budget() -> None:
    """The first sender spends the card's quick updates over an hour; the one that takes over
    adopts the card (its age and updates, from the record) and trips no iOS warning."""
    with virtual_time(sample_interval=1.0) as clock:
        a = livebar.fleet("long", members=2, member="a", steps=120).start()
        b = livebar.fleet("long", members=2, member="b", steps=120).start()
        for step in range(120):
            a.advance()
            b.advance()
            clock.advance(30.0)
            if step == 60:
                a.close(outcome="stopped")  # a leaves half-way; b sends from now on
        b.close()
        assert clock.flush(30.0)
    [activity] = clock.simulator.activities()
    assert 0 == activity["warnings"]
    assert 1 == len({r["path"] for r in card_requests(clock)})


class MemberElsewhere(MemoryBackend):
    """The shared ledger, with member "b" of another process writing to it: b reports at the
    sender's first read, and writes its final state right after the read the test arms (between
    the sender's read and what it does next: the window two processes can race in)."""

    def __init__(self, *, window: float) -> None:
        super().__init__(window=window)
        self.run: str | None = None
        self.finish_after_next_read = False

    def fleet_read(self, run: str, now: float) -> FleetRecord | None:
        record = super().fleet_read(run, now)
        if self.run is None:
            self.run = run
            self._b(now, MemberState(done=0.0, total=1.0))
        elif self.finish_after_next_read:
            self.finish_after_next_read = False
            self._b(now, MemberState(done=1.0, total=1.0, outcome=Outcome.DONE))
        return record

    def _b(self, now: float, state: MemberState) -> None:
        assert self.run is not None
        self.fleet_report(self.run, "b", now, FleetReport(state.to_json(), "b@elsewhere", 10.0))


def test_a_member_that_ends_while_the_sender_hands_over_is_not_left_without_a_card() -> None:
    """The sender's job ends; it reads the record (b still running) and hands the lease over;
    b ends in between, finds the lease still held and leaves. The sender reads again once the
    lease is free, sees nobody running, takes it back and ends the card."""
    backends: list[MemberElsewhere] = []

    def ledgers(account: object, window: float) -> AccountLedger:
        backends.append(MemberElsewhere(window=window))
        return AccountLedger(backends[-1])

    with virtual_time(ledgers=ledgers) as clock:
        a = livebar.fleet("etl", members=2, member="a", total=1).start()
        clock.advance(2.0)
        [backend] = backends
        assert backend.run is not None
        backend.finish_after_next_read = True
        a.update(1)
        a.close()
        assert clock.flush(30.0)
    assert not backend.finish_after_next_read
    [activity] = clock.simulator.activities()
    assert ("ended", "Done 2/2") == (activity["state"], activity["content_state"]["subtitle"])


def test_the_deadline_names_who_never_started() -> None:
    """A member still running past the deadline: the card turns orange and says who never
    started, and ends when the last member does."""
    with virtual_time() as clock:
        member = livebar.fleet("deploy", members=["a", "b"], member="a", deadline=60).start()
        clock.advance(30.0)
        shown_before = clock.simulator.activities()[0]["content_state"]["subtitle"]
        clock.advance(300.0)
        shown_after = clock.simulator.activities()[0]["content_state"]
        member.close()
        assert clock.flush(30.0)
    assert "0 of 2 done \u00b7 1 running \u00b7 1 not started (b)" == shown_before
    assert shown_after["subtitle"].endswith("1 never started (b)")
    assert "orange" == shown_after["color"]
    assert (
        "Done 1/2 \u00b7 1 never started (b)"
        == (clock.simulator.activities()[0]["content_state"]["subtitle"])
    )


def test_a_member_joining_seconds_after_the_first_one_ended_shares_its_card() -> None:
    """Members started together on a busy machine join seconds apart, and the first one's job
    may end before the next has said it runs: the card waits a grace for it (3 s) instead of
    ending at once, and the late member takes it over: one card, "Done 2/2"."""
    with virtual_time() as clock:
        first = livebar.fleet("rsync", members=["a", "b"], member="a", deadline=60).start()
        clock.advance(1.0)
        first.close()
        clock.advance(2.0)
        second = livebar.fleet("rsync", members=["a", "b"], member="b", deadline=60).start()
        clock.advance(5.0)
        second.close()
        assert clock.flush(30.0)
    [activity] = clock.simulator.activities()
    assert ("ended", "Done 2/2") == (activity["state"], activity["content_state"]["subtitle"])


def test_a_member_that_ends_alone_names_the_missing_ones_after_the_grace() -> None:
    """Nobody joins the member that ended first: its card stays open through the grace (3 s),
    then ends naming who never started, without waiting for the deadline (60 s)."""
    with virtual_time() as clock:
        first = livebar.fleet("rsync", members=["a", "b"], member="a", deadline=60).start()
        clock.advance(1.0)
        first.close()
        clock.advance(2.0)
        during = clock.simulator.activities()[0]["state"]
        clock.advance(2.0)
        [activity] = clock.simulator.activities()
    assert ("active", "ended") == (during, activity["state"])
    assert "Done 1/2 \u00b7 1 never started (b)" == activity["content_state"]["subtitle"]


def test_without_a_shared_ledger_a_fleet_shows_nothing(caplog: pytest.LogCaptureFixture) -> None:
    """A ledger that cannot coordinate a fleet: nothing on the phone rather than a card per
    member, said once; the members' jobs run as if livebar were not there."""
    caplog.set_level(logging.WARNING, logger="livebar")

    def no_fleets(account: object, window: float) -> AccountLedger:
        return AccountLedger(MemoryBackend(window=window), fleets=False)

    with virtual_time(ledgers=no_fleets) as clock:
        members = [livebar.fleet("n", members=3, member=str(i)).start() for i in range(3)]
        clock.advance(20.0)
        for member in members:
            member.close()
        clock.flush(2.0)
    assert [] == clock.simulator.requests()
    said = [r for r in caplog.records if "shows nothing on the phone" in r.getMessage()]
    assert 3 == len(said)  # once per member, not once per turn


def test_a_fleet_of_200_costs_one_activitys_requests() -> None:
    """200 members over an hour: one card, a progress bar over the summed items, as few
    requests as one activity of an hour, no iOS warning."""
    with virtual_time(sample_interval=5.0) as clock:
        members = [livebar.fleet("big", members=200, member=f"h{i}", total=60) for i in range(200)]
        for member in members:
            member.start()
        for minute in range(60):
            for i, member in enumerate(members):
                if minute < 30 + i % 30:
                    member.advance()
            clock.advance(60.0)
        for member in members:
            member.close()
        assert clock.flush(60.0)
    [activity] = clock.simulator.activities()
    assert (0, "progress") == (activity["warnings"], activity["content_state"]["type"])
    assert len(card_requests(clock)) <= 40


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    yield from redis_server_fixture()


def test_members_cut_off_from_redis_show_nothing_then_report_once_it_answers(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    """Redis down when the members start: their jobs run, nothing reaches the phone (not a card
    per member), each says so once; once Redis answers they join, and one card shows both."""
    caplog.set_level(logging.WARNING, logger="livebar")
    redis_server.flush()
    redis_server.stop()
    setting = LedgerSetting("redis", redis_server.url)

    def ledgers(account: Account, window: float) -> AccountLedger:
        return open_ledger(account, window=window, setting=setting, recover_every=5.0)

    try:
        with virtual_time(ledgers=ledgers) as clock:
            a = livebar.fleet("n", members=2, member="a", total=4).start()
            b = livebar.fleet("n", members=2, member="b", total=4).start()
            for member in (a, b):
                member.update(1)
            clock.advance(20.0)
            assert [] == clock.simulator.requests()
            redis_server.start()
            clock.advance(20.0)
            [activity] = clock.simulator.activities()
            assert activity["content_state"]["subtitle"].startswith("0 of 2 done \u00b7 ")
            a.close()
            b.close()
            assert clock.flush(30.0)
    finally:
        if redis_server.process is None:
            redis_server.start()
    said = [r for r in caplog.records if "shows nothing on the phone" in r.getMessage()]
    assert 2 == len(said)
    assert "Done 2/2" == clock.simulator.activities()[0]["content_state"]["subtitle"]
