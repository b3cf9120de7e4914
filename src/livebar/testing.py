"""pytest helpers for code that uses livebar, built on the simulator.

Needs the ``test`` extra (pytest) and the ``simulator`` extra. In your ``conftest.py``::

    from livebar.testing import livebar_simulator, simulator  # noqa: F401  (fixtures)

then::

    def test_my_job_reports_progress(livebar_simulator):
        run_my_job()                                  # uses livebar with no arguments
        assert_no_budget_warnings(livebar_simulator)
        assert ["My job"] == ended_titles(livebar_simulator)

Each helper first waits (``livebar.flush()``, at most the flush deadline) until livebar has
delivered what the job queued, so it can be called right after the job returns.
``simulator`` is a running simulator (``SimulatorHandle``); ``livebar_simulator`` is the same
with ``ACTIVITYSMITH_BASE_URL`` and ``ACTIVITYSMITH_API_KEY`` pointing at it for the test, so
code that configures livebar from the environment talks to the simulator. For other limits use
``livebar.simulator.serve(...)`` directly (``serve(rate_limit=5, rate_window=1.0)``).
"""

from __future__ import annotations

from typing import Any, Dict, Iterator, List

import pytest

from livebar.simulator import SimulatorHandle, serve

__all__ = [
    "assert_all_ended",
    "assert_no_budget_warnings",
    "assert_no_errors",
    "assert_within_rate_limit",
    "ended_titles",
    "livebar_simulator",
    "simulator",
]


@pytest.fixture
def simulator() -> Iterator[SimulatorHandle]:
    """A fresh simulator on a free loopback port, stopped after the test."""
    with serve() as sim:
        yield sim


@pytest.fixture
def livebar_simulator(
    simulator: SimulatorHandle, monkeypatch: pytest.MonkeyPatch
) -> SimulatorHandle:
    """``simulator``, with the environment pointing livebar at it for the test."""
    for name, value in simulator.env().items():
        monkeypatch.setenv(name, value)
    return simulator


def assert_no_budget_warnings(sim: SimulatorHandle) -> None:
    """Fail if any activity drew a budget ``warning`` or was throttled by the simulated iOS."""
    _settle()
    offenders = [
        _label(activity)
        for activity in sim.activities()
        if activity["warnings"] or activity["throttles"]
    ]
    assert not offenders, f"over the iOS update budget: {', '.join(offenders)}"


def assert_within_rate_limit(sim: SimulatorHandle) -> None:
    """Fail if the account rate limit refused any request."""
    _settle()
    refused = [
        entry
        for entry in sim.requests()
        if entry["status"] == 429
        and (entry["response"] or {}).get("error") == "Rate limit exceeded"
        and entry["fault"] is None
    ]
    assert not refused, f"{len(refused)} request(s) hit the account rate limit"


def assert_no_errors(sim: SimulatorHandle) -> None:
    """Fail if the simulator answered any API request (not an injected fault) with an error."""
    _settle()
    errors = [
        f"{entry['method']} {entry['path']} -> {entry['status']}: {entry['response']}"
        for entry in sim.requests()
        if entry["fault"] is None and entry["status"] != 200
    ]
    assert not errors, "API errors:\n" + "\n".join(errors)


def assert_all_ended(sim: SimulatorHandle) -> None:
    """Fail if any Live Activity was left running."""
    _settle()
    running = [_label(activity) for activity in sim.activities() if activity["state"] == "active"]
    assert not running, f"still running: {', '.join(running)}"


def ended_titles(sim: SimulatorHandle) -> List[str]:
    """Titles of the activities that have ended, in start order."""
    _settle()
    return [
        str(activity["content_state"].get("title"))
        for activity in sim.activities()
        if activity["state"] != "active"
    ]


def _settle() -> None:
    """Let livebar deliver what it has queued (ends go out at once) before looking."""
    import livebar

    livebar.flush()


def _label(activity: Dict[str, Any]) -> str:
    return f"{activity['title']!r} ({activity['activity_id']})"
