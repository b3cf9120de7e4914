"""The pure limits model the simulator and the pacing benchmark share (no server, no clock)."""

from __future__ import annotations

import subprocess
import sys

from livebar.simulator._model import (
    ACTIVE,
    DISMISSED,
    ENDED,
    EXPIRED,
    AccountWindow,
    IOSLimits,
    LiveActivityModel,
    UpdateVerdict,
    over_budget,
)


def test_the_window_admits_up_to_its_limit_and_slides() -> None:
    """limit requests per window; a refused one is free; the oldest leaves after window s."""
    window = AccountWindow(limit=2, window=10.0)
    assert [True, True, False] == [window.admit(0.0), window.admit(6.0), window.admit(7.0)]
    assert (2, 3.0) == (window.count(7.0), window.wait(7.0))
    assert [True, False] == [window.admit(10.0), window.admit(10.5)]
    assert 0.0 == AccountWindow(limit=1, window=60.0).wait(0.0)
    window.clear()
    assert 0 == window.count(10.5)


def test_the_warning_rule() -> None:
    """More than 12 updates averaging more than one per 2 minutes."""
    limits = IOSLimits()
    assert not over_budget(12, 1.0, limits)
    assert over_budget(13, 13 * 120.0 - 1, limits)
    assert not over_budget(13, 13 * 120.0, limits)


def test_quick_updates_warn_and_throttle_then_a_fresh_budget() -> None:
    """The 13th quick update is warned and dropped; an hour later the budget starts afresh."""
    activity = LiveActivityModel(started_at=0.0)
    verdicts = [activity.update(float(i)) for i in range(1, 14)]
    assert [UpdateVerdict(True, False)] * 12 + [UpdateVerdict(False, True)] == verdicts
    assert (3613.0, [[13.0, 3613.0]]) == (activity.throttled_until(14.0), activity.throttles)
    assert UpdateVerdict(False, True) == activity.update(100.0)
    assert UpdateVerdict(True, False) == activity.update(3613.0)
    assert (2, 3600.0) == (activity.dropped, activity.throttled_time(10_000.0))


def test_an_end_is_shown_lifts_the_throttle_and_sets_the_dismissal() -> None:
    """An end shows, clips the throttle, and the card leaves min(dismiss, 4 h) later."""
    activity = LiveActivityModel(started_at=0.0)
    for i in range(1, 14):
        activity.update(float(i))
    assert activity.end(20.0, dismiss_after=10 * 3600.0)
    assert ([[13.0, 20.0]], None) == (activity.throttles, activity.throttled_until(21.0))
    assert (ENDED, 20.0 + 4 * 3600.0) == (activity.phase(21.0), activity.dismiss_at(21.0))
    assert DISMISSED == activity.phase(20.0 + 4 * 3600.0)
    assert not activity.end(30.0, dismiss_after=0.0)


def test_the_eight_hour_limit() -> None:
    """At 8 h iOS ends it: nothing more is shown, it is not open, it leaves 4 h later."""
    limits = IOSLimits(max_age=100.0, ended_linger=50.0)
    activity = LiveActivityModel(started_at=0.0, limits=limits)
    assert (ACTIVE, True) == (activity.phase(99.0), activity.is_open(99.0))
    assert (EXPIRED, False) == (activity.phase(100.0), activity.is_open(100.0))
    assert UpdateVerdict(False, False) == activity.update(120.0)
    assert not activity.end(130.0, dismiss_after=0.0)
    assert (EXPIRED, DISMISSED) == (activity.phase(149.0), activity.phase(150.0))
    assert (100.0, True, 2) == (activity.ended_at, activity.ended_by_ios, activity.dropped)


def test_rotation_is_due_at_its_age_or_once_expired() -> None:
    """needs_rotation: an open activity at rotate_after, or one iOS ended; never an ended one."""
    limits = IOSLimits(max_age=100.0)
    activity = LiveActivityModel(started_at=0.0, limits=limits)
    assert [False, True, True] == [
        activity.needs_rotation(89.0, rotate_after=90.0),
        activity.needs_rotation(90.0, rotate_after=90.0),
        activity.needs_rotation(200.0, rotate_after=500.0),
    ]
    activity.replaced(95.0)
    assert (DISMISSED, False) == (activity.phase(95.0), activity.needs_rotation(95.0, 90.0))


def test_the_model_imports_without_the_simulator_extra() -> None:
    """_model (and the pure state) import with starlette and uvicorn unavailable; serve does not."""
    code = (
        "import sys; sys.modules['starlette'] = None; sys.modules['uvicorn'] = None\n"
        "from livebar.simulator._model import LiveActivityModel\n"
        "from livebar.simulator import SimulatorState\n"
        "SimulatorState()\n"
        "try:\n"
        "    from livebar.simulator import serve\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=True
    )
    assert 'livebar.simulator needs the "simulator" extra' in result.stdout
