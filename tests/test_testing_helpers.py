"""livebar.testing used the way its docstring says: fixtures imported into a test module."""

from __future__ import annotations

import pytest

import livebar
from livebar.simulator import SimulatorHandle
from livebar.testing import (  # noqa: F401  (pytest fixtures)
    assert_all_ended,
    assert_no_budget_warnings,
    assert_no_errors,
    assert_within_rate_limit,
    ended_titles,
    livebar_simulator,
    simulator,
)


def my_job() -> None:
    """A job configured only by the environment, as users write them."""
    with livebar.live_activity("My job", steps=["a", "b"]) as act:
        with act.stage("a"):
            pass
        with act.stage("b"):
            pass


def test_helpers_see_the_job_right_after_it_returns(
    livebar_simulator: SimulatorHandle,  # noqa: F811  (the fixture imported above)
) -> None:
    """The environment points livebar at the simulator; helpers wait for the end themselves."""
    my_job()
    assert ["My job"] == ended_titles(livebar_simulator)
    assert_all_ended(livebar_simulator)
    assert_no_budget_warnings(livebar_simulator)
    assert_within_rate_limit(livebar_simulator)
    assert_no_errors(livebar_simulator)


def test_helpers_fail_on_what_they_guard(
    simulator: SimulatorHandle,  # noqa: F811  (the fixture imported above)
) -> None:
    """A job left running and a refused request make the helpers fail."""
    act = livebar.live_activity("Left running", api_key=simulator.api_key, base_url=simulator.url)
    act.start()
    livebar.flush()
    act.update(subtitle="x")
    with pytest.raises(AssertionError, match="Left running"):
        assert_all_ended(simulator)
    act.close()
    simulator.fail_next(1, status=500)
    livebar.push("hello", api_key=simulator.api_key, base_url=simulator.url)
    livebar.flush()
    assert_no_errors(simulator)  # an injected fault is not the job's error
