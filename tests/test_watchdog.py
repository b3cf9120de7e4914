"""The watchdog's decision (``_job/watchdog.decide``) as a table, its words, and the options
``stall_after`` / ``expected`` / ``notify_on`` as every front end checks them."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

import pytest

import livebar
from livebar._job.options import resolve_spec
from livebar._job.watchdog import Watch, WatchFacts, decide, format_span, reserve
from livebar._wire.errors import ValidationError

NAP = 3.0
"""``decide``'s default ``recheck``: a stalled job is looked at this often."""


def facts(now: float, moved_at: float = 0.0, **kw: Any) -> WatchFacts:
    return WatchFacts(now=now, started_at=0.0, moved_at=moved_at, **kw)


# (facts, state, stalled, overrun, text, look_at)
TABLE = [
    # not watched: nothing to say, nothing to wake for
    (facts(5000.0), Watch.NORMAL, False, False, None, math.inf),
    # moving: looked at by the threshold, or every tenth of it (when it moved is known to 10 %)
    (facts(100.0, 90.0, stall_after=600.0), Watch.NORMAL, False, False, None, 160.0),
    (facts(650.0, 90.0, stall_after=600.0), Watch.NORMAL, False, False, None, 690.0),
    # a threshold under 30 s: looked at every recheck at most
    (facts(10.0, 10.0, stall_after=20.0), Watch.NORMAL, False, False, None, 13.0),
    # stalled exactly at the threshold; the recovery is looked for every recheck
    (
        facts(690.0, 90.0, stall_after=600.0, fraction=0.61, where="upload"),
        Watch.STALLED,
        True,
        False,
        "No progress for 10m at 61% \u00b7 upload",
        690.0 + NAP,
    ),
    # without a total: no percentage; never moved: counted from the start
    (
        facts(720.0, 0.0, stall_after=600.0),
        Watch.STALLED,
        True,
        False,
        "No progress for 12m",
        720.0 + NAP,
    ),
    # expected: woken at it, then overrun (under a minute over: no figure yet)
    (facts(100.0, 99.0, expected=7200.0), Watch.NORMAL, False, False, None, 7200.0),
    (
        facts(7200.0, 7199.0, expected=7200.0),
        Watch.OVERRUN,
        False,
        True,
        "Running over (expected 2h)",
        7260.0,  # its words are brought up to date at 1m over
    ),
    (
        facts(9600.0, 9599.0, expected=7200.0, where="upload"),
        Watch.OVERRUN,
        False,
        True,
        "Running 40m over (expected 2h) \u00b7 upload",
        9900.0,  # 45m over
    ),
    # both: a stall outranks an overrun (it is the one to act on, and the one that recovers)
    (
        facts(8000.0, 7000.0, stall_after=600.0, expected=7200.0, fraction=0.5),
        Watch.STALLED,
        True,
        True,
        "No progress for 16m at 50%",
        8000.0 + NAP,
    ),
    # stalled before the overrun: looked at for the recovery, the overrun is not waited for
    (
        facts(7000.0, 6000.0, stall_after=600.0, expected=7200.0),
        Watch.STALLED,
        True,
        False,
        "No progress for 16m",
        7000.0 + NAP,
    ),
    # moving and overrun: the overrun shows; the stall threshold is still watched
    (
        facts(7300.0, 7290.0, stall_after=600.0, expected=7200.0),
        Watch.OVERRUN,
        False,
        True,
        "Running 1m over (expected 2h)",
        7320.0,  # 2m over, before the stall threshold at 7890
    ),
]


@pytest.mark.parametrize(("given", "state", "stalled", "overrun", "text", "look_at"), TABLE)
def test_decide_table(
    given: WatchFacts,
    state: Watch,
    stalled: bool,
    overrun: bool,
    text: str | None,
    look_at: float,
) -> None:
    """Each row: the state shown, both flags, the card's words and the engine's next look."""
    reading = decide(given)
    assert (state, stalled, overrun, text, look_at) == (
        reading.state,
        reading.stalled,
        reading.overrun,
        reading.text,
        reading.look_at,
    )


@pytest.mark.parametrize(
    ("still", "step", "next_rung"),
    [(600.0, 4, 900.0), (899.0, 4, 900.0), (900.0, 5, 1200.0), (3600.0, 9, 5400.0)],
)
def test_a_long_stall_climbs_the_ladder(still: float, step: int, next_rung: float) -> None:
    """A stall's words climb rungs (10m, 15m, 20m, 30m, 45m, 1h, …): each rung is a step the
    phone is brought up to date at; a recheck that comes sooner is still the next look."""
    reading = decide(facts(still, 0.0, stall_after=600.0), recheck=1e9)
    assert (step, next_rung) == (reading.step, reading.look_at)


def test_colours_stand_out_and_are_not_a_failures() -> None:
    """Stalled is orange, overrun yellow (red is a failure's), normal leaves the job's own."""
    stalled = decide(facts(700.0, 0.0, stall_after=600.0))
    overrun = decide(facts(700.0, 699.0, expected=600.0))
    normal = decide(facts(10.0, 5.0, stall_after=600.0))
    assert ("orange", "yellow", None) == (stalled.color, overrun.color, normal.color)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (59.9, "59s"), (60, "1m"), (720, "12m"), (3600, "1h"), (7380, "2h 03m")],
)
def test_format_span(seconds: float, text: str) -> None:
    """Durations in words that change at most once a minute."""
    assert text == format_span(seconds)


def test_reserve_per_watch() -> None:
    """A stall needs a notice and a recovery, an overrun only its notice, nothing else none."""
    assert (2, 2, 1, 0) == (
        reserve(600.0, None),
        reserve(600.0, 7200.0),
        reserve(None, 7200.0),
        reserve(None, None),
    )


# -- options --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "seconds"),
    [(600, 600.0), (90.5, 90.5), (timedelta(minutes=10), 600.0), (None, None)],
)
def test_spans_accept_seconds_and_timedeltas(given: object, seconds: float | None) -> None:
    """Seconds as an int or a float, or a ``timedelta``; None is off (the default)."""
    spec = resolve_spec("Job", {"stall_after": given, "expected": given})
    assert (seconds, seconds) == (spec.stall_after, spec.expected)


@pytest.mark.parametrize("field", ["stall_after", "expected"])
@pytest.mark.parametrize(
    "bad", [0, -1, -0.5, math.nan, math.inf, "10m", True, timedelta(0), timedelta(seconds=-5)]
)
def test_bad_spans_name_the_option(field: str, bad: object) -> None:
    """Zero, negative, NaN, infinite, text and bools are refused, naming the option."""
    with pytest.raises(ValidationError) as caught:
        resolve_spec("Job", {field: bad})
    assert field == caught.value.field
    assert isinstance(caught.value, ValueError)


def test_stall_after_is_off_by_default() -> None:
    """A job that asked for nothing is never watched."""
    spec = resolve_spec("Job", {})
    assert (None, None) == (spec.stall_after, spec.expected)


def test_notify_on_takes_watch_events() -> None:
    """``notify_on`` mixes outcomes and the watchdog's two events; they survive ``options()``."""
    spec = resolve_spec("Job", {"notify_on": ["failed", "stalled", "overrun"]})
    assert {"failed", "stalled", "overrun"} == set(spec.notify_on)
    again = resolve_spec("Job", spec.options())
    assert spec.notify_on == again.notify_on


def test_notify_on_names_what_it_takes() -> None:
    """An unknown event is refused with the list of what is known, the watch events included;
    ``normal`` is no event."""
    with pytest.raises(ValidationError, match="stalled, overrun") as caught:
        resolve_spec("Job", {"notify_on": ["stuck"]})
    assert "notify_on" == caught.value.field
    with pytest.raises(ValidationError):
        resolve_spec("Job", {"notify_on": ["normal"]})


def test_every_front_end_takes_the_options() -> None:
    """``live_activity``, ``track``, ``livebar.tqdm`` and the decorator take both options, and
    refuse a bad value naming it, before anything is sent."""
    five = timedelta(minutes=5)
    act = livebar.live_activity("Job", stall_after=five, expected=3600, disable=True)
    assert (300.0, 3600.0) == (act.spec.stall_after, act.spec.expected)
    with pytest.raises(ValidationError, match="stall_after"):
        livebar.track(range(3), "Job", stall_after=-1)
    with pytest.raises(ValidationError, match="expected"):
        livebar.tqdm(range(3), expected="2h")
    with pytest.raises(ValidationError, match="stall_after"):
        livebar.live_activity("Job", stall_after=0)

    @livebar.live_activity("Decorated", stall_after=60, disable=True)
    def job() -> int:
        return 3

    assert 3 == job()


def test_a_fleet_refuses_a_watchdog() -> None:
    """A fleet's card is not watched: asking for it is refused, naming the option."""
    with pytest.raises(ValidationError) as caught:
        livebar.fleet("Nightly", members=2, expected=60)
    assert "expected" == caught.value.field


def test_the_options_are_in_every_option_list() -> None:
    """Both options are in ``SharedOptions``, so ``livebar.tqdm``, the integrations' options
    (``IntegrationOptions``), ``live_activity``'s and a fleet's option lists carry them."""
    from livebar._fleet import FleetOptions
    from livebar._job.options import (
        ActivityOptions,
        IntegrationOptions,
        SharedOptions,
        option_names,
    )

    for options in (SharedOptions, IntegrationOptions, ActivityOptions, FleetOptions):
        assert {"stall_after", "expected"} <= option_names(options), options
