"""Stalls and overruns on the simulated phone, on a virtual clock (``livebar.testing``): what the
card showed and when, the pushes, and that the iOS budget and the account's window were kept."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NamedTuple

import pytest

import livebar
from livebar.testing import VirtualTime, virtual_time

EPOCH = 1_780_000_000.0
LOOK = 3.0
"""How often the engine looks at a stalled job for its recovery (``DEFAULT_LONGEST_NAP``)."""
PRECISION = 0.1
"""While a watched job moves, when it last moved is known to this much of ``stall_after``."""


class Card(NamedTuple):
    t: float
    subtitle: str | None
    color: str | None
    percentage: float | None


@pytest.fixture
def vt(spec_validator: Any) -> Iterator[VirtualTime]:
    """The real engine on a virtual clock; each request it sent is checked against the spec,
    and none drew an iOS budget warning, a throttle or a 429."""
    with virtual_time() as clock:
        yield clock
        clock.flush(60.0)
        for request in clock.simulator.requests():
            spec_validator.validate_body(request["method"], request["path"], request["body"])
        kept = [(a["warnings"], a["throttles"]) for a in clock.simulator.activities()]
        assert all((0, 0) == pair for pair in kept), kept
        assert [] == [r for r in clock.simulator.requests() if r["status"] == 429]


def cards(vt: VirtualTime) -> list[Card]:
    """Every state the phone was sent for the activity (its start, updates and end), once
    what the job handed over is delivered."""
    assert vt.flush()
    shown = []
    for request in vt.simulator.requests():
        if request["method"] not in ("PUT", "DELETE") or request["status"] != 200:
            continue
        state = (request["body"] or {}).get("content_state") or {}
        shown.append(
            Card(
                request["t"] - EPOCH,
                state.get("subtitle"),
                state.get("color"),
                state.get("percentage"),
            )
        )
    return shown


def first(shown: list[Card], prefix: str, after: float = -1.0) -> Card:
    return next(c for c in shown if c.t > after and (c.subtitle or "").startswith(prefix))


def first_normal(shown: list[Card], after: float) -> Card:
    return next(c for c in shown if c.t > after and not (c.subtitle or "").startswith("No prog"))


def run_uniform(vt: VirtualTime, act: Any, until: float, start: int = 0) -> int:
    """Advance ``act`` by one item a second until ``until`` (virtual seconds)."""
    n = start
    while vt.now < until:
        n += 1
        act.update(n)
        vt.advance(1.0)
    return n


def test_a_stall_shows_within_a_look_of_its_threshold_and_recovers(vt: VirtualTime) -> None:
    """Stuck for 15 minutes after half an hour: the card says so, in orange, no sooner than
    ``stall_after`` after the last move and within a tenth of it; the recovery shows within
    one look (3 s); the card is back to normal."""
    with livebar.live_activity("Upload", total=7200, stall_after=600) as act:
        n = run_uniform(vt, act, 1800.0)
        stopped = vt.now - 1.0  # the last move
        vt.advance(900.0)
        resumed = vt.now
        n = run_uniform(vt, act, 2000.0 + 900.0, n)
        during = act.stats
        assert (1, "normal") == (during.stalls, during.watch)
    shown = cards(vt)
    notice = first(shown, "No progress for 10m at 25%")
    assert "orange" == notice.color
    assert stopped + 600.0 <= notice.t <= stopped + 600.0 * (1 + PRECISION) + LOOK
    back = first_normal(shown, notice.t)
    assert back.t - resumed <= LOOK + 1e-6
    assert (None, None) == (back.subtitle, back.color)
    assert "Done" in (shown[-1].subtitle or "")


def test_an_hour_long_stall_after_the_quick_updates_keeps_the_budget(vt: VirtualTime) -> None:
    """The 12 quick updates long spent, an hour-long stall: the notice goes at its threshold,
    its words are brought up to date at each rung of the ladder, the recovery goes within a
    look of the job moving again, and iOS never warns (checked by the fixture)."""
    with livebar.live_activity("Train", total=7200, stall_after=600) as act:
        n = run_uniform(vt, act, 2400.0)
        stopped = vt.now - 1.0
        vt.advance(3600.0)
        resumed = vt.now
        run_uniform(vt, act, 2400.0 + 3600.0 + 600.0, n)
    shown = cards(vt)
    notice = first(shown, "No progress")
    assert stopped + 600.0 <= notice.t <= stopped + 660.0 + LOOK
    back = first_normal(shown, notice.t)
    assert back.t - resumed <= LOOK + 1e-6
    # the words climb the ladder instead of saying "10m" for an hour
    words = [c.subtitle for c in shown if notice.t <= c.t < back.t]
    assert [
        f"No progress for {d} at 33%" for d in ("10m", "15m", "20m", "30m", "45m", "1h")
    ] == words


def test_back_to_back_stalls_never_cost_the_recovery(vt: VirtualTime) -> None:
    """Stalls of 2.5 minutes every 6 minutes with a 2-minute threshold, past the quick
    updates: each notice is shown, each recovery within a look of the job moving again."""
    recoveries = []
    with livebar.live_activity("Sync", total=20000, stall_after=120) as act:
        n = run_uniform(vt, act, 1800.0)
        for _ in range(6):
            vt.advance(150.0)
            recoveries.append(vt.now)
            n = run_uniform(vt, act, vt.now + 210.0, n)
        assert 6 == act.stats.stalls
    shown = cards(vt)
    notices = [c for c in shown if (c.subtitle or "").startswith("No progress")]
    assert len(notices) >= 6
    for resumed in recoveries:
        back = first_normal(shown, resumed - 150.0 + 1.0)
        assert back.t - resumed <= LOOK + 1e-6, (resumed, back)


def test_a_slow_steady_job_never_shows_a_stall(vt: VirtualTime) -> None:
    """A job that moves every 8 minutes never shows a 10-minute stall: no false alarm."""
    with livebar.live_activity("Crawl", total=20, stall_after=600) as act:
        for i in range(1, 13):
            vt.advance(480.0)
            act.update(i)
        assert 0 == act.stats.stalls
    assert [] == [c for c in cards(vt) if (c.subtitle or "").startswith("No progress")]


def test_a_job_that_never_moves_stalls_from_its_start(vt: VirtualTime) -> None:
    """Nothing counted since the start: the stall is counted from it, at 0 %."""
    with livebar.live_activity("Queue", total=10, stall_after=60) as act:
        vt.advance(70.0)
        act.update(10)
        vt.advance(5.0)
    notice = first(cards(vt), "No progress for 1m at 0%")
    assert 60.0 <= notice.t <= 60.0 + LOOK


def test_overrun_shows_past_expected(vt: VirtualTime) -> None:
    """``expected=600``: the card says it runs over within a look of 600 s, in yellow, keeps
    saying it as the job goes on, and the job still ends Done."""
    with livebar.live_activity("Backup", total=900, expected=600) as act:
        run_uniform(vt, act, 900.0)
        assert act.stats.overran
    shown = cards(vt)
    notice = first(shown, "Running over (expected 10m)")
    assert 600.0 <= notice.t <= 600.0 + 1.0
    assert "yellow" == notice.color
    later = [c for c in shown if c.t > 700.0 and (c.subtitle or "").startswith("Running")]
    assert later
    assert all("over (expected 10m)" in (c.subtitle or "") for c in later)
    assert (shown[-1].subtitle or "").startswith("Done")


def test_a_stall_in_an_overrun_recovers_to_the_overrun(vt: VirtualTime) -> None:
    """A stall outranks an overrun; when the job moves again the card shows the overrun."""
    with livebar.live_activity("Export", total=5000, stall_after=300, expected=600) as act:
        n = run_uniform(vt, act, 700.0)
        vt.advance(400.0)
        resumed = vt.now
        run_uniform(vt, act, 1200.0, n)
    shown = cards(vt)
    stall = first(shown, "No progress", after=700.0)
    assert "orange" == stall.color
    back = next(c for c in shown if c.t > stall.t and not (c.subtitle or "").startswith("No"))
    assert back.t - resumed <= LOOK + 1e-6
    assert ("yellow", True) == (back.color, (back.subtitle or "").startswith("Running"))


def test_pushes_once_per_episode(vt: VirtualTime) -> None:
    """``notify_on=["stalled", "overrun"]``: a push for each stall and one for the overrun."""
    with livebar.live_activity(
        "Render", total=9000, stall_after=120, expected=900, notify_on=["stalled", "overrun"]
    ) as act:
        n = run_uniform(vt, act, 300.0)
        vt.advance(200.0)
        n = run_uniform(vt, act, 700.0, n)
        vt.advance(200.0)
        run_uniform(vt, act, 1200.0, n)
    pushes = [(p["title"], p.get("message")) for p in vt.simulator.pushes()]
    titles = [title for title, _ in pushes]
    assert ["Render stalled", "Render stalled", "Render is running long"] == titles
    assert (pushes[0][1] or "").startswith("No progress for 2m")


def test_no_push_without_notify_on(vt: VirtualTime) -> None:
    """Without ``notify_on`` a stall changes the card, and sends no push."""
    with livebar.live_activity("Quiet", total=100, stall_after=60) as act:
        act.update(1)
        vt.advance(100.0)
        act.update(100)
    assert [] == vt.simulator.pushes()


def test_a_count_without_total_stalls_too(vt: VirtualTime) -> None:
    """No total (a count and a rate): the card says how long nothing was counted."""
    with livebar.live_activity("Drain", stall_after=60) as act:
        for _ in range(20):
            act.advance()
            vt.advance(1.0)
        vt.advance(90.0)
        act.advance()
        vt.advance(5.0)
    notice = first(cards(vt), "No progress for 1m")
    assert "%" not in (notice.subtitle or "")


def test_track_and_tqdm_pass_stall_after_through(vt: VirtualTime) -> None:
    """``livebar.track`` and ``livebar.tqdm`` watch their loop as ``live_activity`` does."""

    def slow(n: int) -> Iterator[int]:
        for i in range(n):
            if i == 5:
                vt.advance(100.0)
            vt.advance(1.0)
            yield i

    for _ in livebar.track(slow(10), "Tracked", total=10, stall_after=60):
        pass
    bar = livebar.tqdm(slow(10), total=10, desc="Bar", stall_after=60, disable=False, mininterval=0)
    for _ in bar:
        pass
    bar.close()
    vt.flush()
    titles = {
        r["body"]["content_state"]["title"]
        for r in vt.simulator.requests()
        if r["method"] == "PUT"
        and (r["body"]["content_state"].get("subtitle") or "").startswith("No progress")
    }
    assert {"Tracked", "Bar"} == titles


def test_the_watchdog_benchmark_figures_hold() -> None:
    """``benchmarks/bench_watchdog.py``'s wake-ups: a watched job wakes the engine no more than
    an unwatched one while it moves, at most 0.5 times a second while stalled (the looks for
    its recovery), never trips a budget."""
    import sys
    from pathlib import Path

    here = str(Path(__file__).resolve().parent.parent / "benchmarks")
    sys.path.insert(0, here)
    try:
        import bench_watchdog
    finally:
        sys.path.remove(here)
    figures = bench_watchdog.wakeups()
    plain, watched = figures["unwatched"], figures["stall_after=600"]
    assert watched["turns_per_s"]["moving"] <= plain["turns_per_s"]["moving"] + 0.01
    assert watched["turns_per_s"]["stalled"] <= 0.5
    assert all(0 == job["warnings"] + job["rate_limited"] for job in figures.values())


def test_an_integration_takes_the_options(vt: VirtualTime) -> None:
    """``contrib.concurrent.thread_map`` (``IntegrationOptions``) takes both options and
    refuses a bad one naming it."""
    from livebar.contrib.concurrent import thread_map

    assert [0, 1, 2] == thread_map(abs, range(3), title="Pool", stall_after=60, expected=600)
    with pytest.raises(livebar.ValidationError, match="stall_after"):
        thread_map(abs, range(3), title="Pool", stall_after=-1)
    assert vt.flush()
    assert ["Pool"] == [a["title"] for a in vt.simulator.activities()]
