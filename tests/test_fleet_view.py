"""A fleet's pure parts as tables: who is where (``tally``), when the card ends (``is_over``,
the deadline included), what the card and its end say, and the options of ``livebar.fleet``."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

import livebar
from livebar._fleet import member_name, resolve_fleet
from livebar._job.endings import Outcome
from livebar._job.fleet import Fleet, Member, MemberState, is_over, member_state, tally
from livebar._job.fleet_view import fleet_ending, render_fleet, running_subtitle
from livebar._job.options import resolve_spec
from livebar._job.progress import Progress

RUNNING = MemberState(done=3, total=10, fraction=0.3)
DONE = MemberState(done=10, total=10, fraction=1.0, outcome=Outcome.DONE, detail="Done in 4s")
FAILED = MemberState(done=4, total=10, fraction=0.4, outcome=Outcome.FAILED, detail="Failed")
SPEC = resolve_spec("Nightly backups", {})


def fleet(*members: tuple[str, MemberState, bool], expected: Any = 5, **extra: Any) -> Fleet:
    return Fleet(
        "Nightly backups",
        expected,
        tuple(Member(name, state, alive) for name, state, alive in members),
        **extra,
    )


NAMES = ("db1", "db2", "db3", "web4", "web9")

OVER: list[tuple[str, Fleet, bool, bool]] = [
    ("everyone ended", fleet(*[(n, DONE, True) for n in NAMES]), False, True),
    ("one still runs", fleet(("db1", RUNNING, True), ("db2", DONE, True)), False, False),
    ("one runs, deadline past", fleet(("db1", RUNNING, True), deadline_in=-1.0), False, False),
    (
        "the silent one is lost",
        fleet(*[(n, DONE, True) for n in NAMES[:4]], ("web9", RUNNING, False)),
        False,
        True,
    ),
    ("missing, before the deadline", fleet(("db1", DONE, True), deadline_in=30.0), False, False),
    ("missing, at the deadline", fleet(("db1", DONE, True), deadline_in=0.0), False, True),
    ("missing, no deadline", fleet(("db1", DONE, True)), False, False),
    ("missing, the last one leaves", fleet(("db1", DONE, True), deadline_in=30.0), True, True),
    ("leaving while another runs", fleet(("db1", DONE, True), ("db2", RUNNING, True)), True, False),
]


@pytest.mark.parametrize(("why", "record", "leaving", "over"), OVER, ids=[r[0] for r in OVER])
def test_when_the_card_ends(why: str, record: Fleet, leaving: bool, over: bool) -> None:
    """The card ends when nobody runs and every member reported, the deadline passed, or the
    last one is leaving; never while a live member runs."""
    assert over == is_over(record, tally(record), leaving=leaving)


def test_the_tally_names_each_member_by_where_it_is() -> None:
    """Done, failed, lost (a silent runner), running and missing, names sorted with numbers by
    value; the fleet's share counts each expected member once."""
    record = fleet(
        ("web10", DONE, True),
        ("web2", DONE, True),
        ("db3", FAILED, True),
        ("db5", RUNNING, False),
        ("db1", RUNNING, True),
        expected=("db1", "web2", "db3", "db5", "web10", "web4", "web9"),
    )
    counted = tally(record)
    assert (("web2", "web10"), ("db3",), ("db5",), ("db1",)) == (
        counted.done,
        counted.failed,
        counted.lost,
        counted.running,
    )
    assert (("web4", "web9"), 2, 7) == (counted.missing, counted.missing_count, counted.expected)
    assert pytest.approx((1 + 1 + 0.4 + 0.3 + 0.3) / 7) == counted.fraction


def test_members_counted_by_index_are_named_by_index() -> None:
    """Kubernetes' completion indexes: members=4 with 0, 1 and 3 present names 2 as missing."""
    record = fleet(("0", DONE, True), ("1", DONE, True), ("3", DONE, True), expected=4)
    assert ("2",) == tally(record).missing


def test_the_running_card_sums_up_the_fleet() -> None:
    """ "12 of 20 done · 2 failed (db3, db7) · 6 running", a segment per member, failed red."""
    members = [(f"web{i}", DONE, True) for i in range(12)]
    members += [("db3", FAILED, True), ("db7", FAILED, True)]
    members += [(f"app{i}", RUNNING, True) for i in range(6)]
    record = fleet(*members, expected=20)
    counted = tally(record)
    state = render_fleet(SPEC, "auto", record, counted, None)
    assert "12 of 20 done \u00b7 2 failed (db3, db7) \u00b7 6 running" == state.subtitle
    assert (20, 14) == (state.number_of_steps, state.current_step)
    assert ["green"] * 12 + ["red"] * 2 == list(state.step_colors or [])


def test_a_large_fleet_is_a_bar_over_the_summed_items() -> None:
    """200 members (over the 24 segments a card draws): a progress bar of items done of items
    to do, once every member has said its total."""
    members = [(f"h{i}", MemberState(done=5, total=10, fraction=0.5), True) for i in range(200)]
    record = fleet(*members, expected=200)
    state = render_fleet(SPEC, "auto", record, tally(record), None)
    assert ("progress", 1000, 2000) == (state.type, state.value, state.upper_limit)


def test_asking_for_items_gives_a_percentage_while_members_are_missing() -> None:
    """bar="items" with members still to come: the share of the fleet, as a percentage."""
    record = fleet(("db1", DONE, True), ("db2", RUNNING, True), expected=4)
    state = render_fleet(SPEC, "items", record, tally(record), None)
    assert ("progress", 32.5) == (state.type, state.percentage)


ENDINGS: list[tuple[str, Fleet, str, Outcome, str | None]] = [
    (
        "failed members",
        fleet(
            *[(f"h{i}", DONE, True) for i in range(18)],
            ("db3", FAILED, True),
            ("db7", FAILED, True),
            expected=20,
        ),
        "Done 18/20 \u00b7 failed: db3, db7",
        Outcome.FAILED,
        "red",
    ),
    (
        "never started",
        fleet(
            *[(f"h{i}", DONE, True) for i in range(3)], expected=("h0", "h1", "h2", "web4", "web9")
        ),
        "Done 3/5 \u00b7 2 never started (web4, web9)",
        Outcome.STOPPED,
        "orange",
    ),
    (
        "killed",
        fleet(("db1", DONE, True), ("db5", RUNNING, False), expected=2),
        "Done 1/2 \u00b7 lost: db5",
        Outcome.FAILED,
        "red",
    ),
    ("all done", fleet(("db1", DONE, True), expected=1), "Done 1/1", Outcome.DONE, None),
]


@pytest.mark.parametrize(
    ("why", "record", "subtitle", "outcome", "color"), ENDINGS, ids=[r[0] for r in ENDINGS]
)
def test_the_end_names_each_member_that_did_not_finish(
    why: str, record: Fleet, subtitle: str, outcome: Outcome, color: str | None
) -> None:
    """The end says how many finished and names the failed, the lost and the missing."""
    ending = fleet_ending(SPEC, tally(record), at=0.0)
    assert (subtitle, outcome, color) == (ending.subtitle, ending.outcome, ending.color)


def test_missing_members_after_the_deadline_never_started() -> None:
    """Before the deadline a missing member has "not started"; after it, "never started"."""
    before = fleet(("db1", RUNNING, True), expected=("db1", "web4"), deadline_in=5.0)
    after = before._replace(deadline_in=-5.0)
    assert "1 not started (web4)" in running_subtitle(before, tally(before))
    assert "1 never started (web4)" in running_subtitle(after, tally(after))


def test_long_lists_of_names_are_cut() -> None:
    """More than four failed members: four names and a count."""
    record = fleet(*[(f"db{i}", FAILED, True) for i in range(7)], expected=7)
    assert (
        "Done 0/7 \u00b7 failed: db0, db1, db2, db3, +3"
        == fleet_ending(SPEC, tally(record), at=0.0).subtitle
    )


def test_a_member_writes_its_absolute_state() -> None:
    """What a member writes is its progress as numbers, readable back by any other member;
    a garbled outcome reads as failed, never as done."""
    progress = Progress(resolve_spec("db1", {"total": 8}))
    progress.update(6)
    state = member_state(progress.view(), None)
    assert MemberState(done=6, total=8, fraction=0.75) == state
    assert state == MemberState.from_json(state.to_json())
    assert Outcome.FAILED == MemberState.from_json({"outcome": "exploded"}).outcome
    assert MemberState() == MemberState.from_json({"done": "x", "total": float("nan")})


def test_the_member_is_named_by_the_environment() -> None:
    """LIVEBAR_HOST_ID, else JOB_COMPLETION_INDEX, else the host's name."""
    assert "web4" == member_name({"LIVEBAR_HOST_ID": "web4", "JOB_COMPLETION_INDEX": "3"})
    assert "3" == member_name({"JOB_COMPLETION_INDEX": "3"})
    assert member_name({})


def test_a_deadline_is_seconds_or_a_time() -> None:
    """deadline=90 is 90 s from now; a datetime is turned into the seconds until it."""
    now = datetime.datetime(2026, 1, 1, 2, 0, tzinfo=datetime.timezone.utc)
    at = now + datetime.timedelta(minutes=5)
    spec = resolve_fleet("n", members=2, member="a", deadline=at, environ={}, now=now)
    assert 300.0 == spec.deadline
    assert 90.0 == resolve_fleet("n", members=2, member="a", deadline=90, environ={}).deadline


def test_the_run_comes_from_the_argument_or_the_environment() -> None:
    """run= beats LIVEBAR_FLEET_RUN; without either the fleet's current run is used."""
    env = {"LIVEBAR_FLEET_RUN": "job-uid-1"}
    assert "job-uid-1" == resolve_fleet("n", members=2, member="a", environ=env).run
    assert "x" == resolve_fleet("n", members=2, member="a", run="x", environ=env).run
    assert resolve_fleet("n", members=2, member="a", environ={}).run is None


BAD: list[tuple[dict[str, Any], str]] = [
    ({"members": 0}, "members"),
    ({"members": "web1,web2"}, "members"),
    ({"members": ["a", "a"]}, "members"),
    ({"members": ["a", "b"], "member": "c"}, "member"),
    ({"members": 2, "deadline": -1}, "deadline"),
    ({"members": 2, "deadline": "soon"}, "deadline"),
    ({"members": 2, "bar": "pie"}, "bar"),
    ({"members": 2, "run": ""}, "run"),
    ({"members": 2, "colour": "red"}, "colour"),
]


@pytest.mark.parametrize(("options", "field"), BAD, ids=[b[1] + str(i) for i, b in enumerate(BAD)])
def test_bad_options_name_the_field(options: dict[str, Any], field: str) -> None:
    """A bad option raises ValidationError naming it, before anything is sent."""
    options.setdefault("member", "a")
    with pytest.raises(livebar.ValidationError) as caught:
        livebar.fleet("nightly", **options)
    assert field == caught.value.field
