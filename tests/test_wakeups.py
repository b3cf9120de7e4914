"""The engine's wake-up policy on a virtual clock: it looks when a decision can change, not on a
fixed tick (issue #19)."""

from __future__ import annotations

import livebar
from livebar.testing import virtual_time


def test_the_engine_parks_once_the_last_activity_has_ended() -> None:
    """After the last end is delivered, no turn is due: the engine waits for new work."""
    with virtual_time() as vt:
        with livebar.live_activity("Short", total=10) as act:
            act.update(10)
            vt.advance(1.0)
        assert vt.flush()
        before = vt.dispatcher.intake.turns_started
        vt.advance(3600.0)
        assert 0 == vt.dispatcher.intake.turns_started - before


def test_a_stage_change_is_sent_within_a_sample_interval() -> None:
    """A step change nudges the sleeping engine: the phone shows it at once, not at the next
    predicted crossing."""
    with virtual_time() as vt:
        with livebar.live_activity("Deploy", steps=["build", "test", "ship"]) as act:
            vt.advance(30.0)
            act.step("test")
            changed = vt.now
            vt.advance(1.0)
            steps = [
                (r["t"], r["body"]["content_state"].get("current_step"))
                for r in vt.simulator.requests()
                if r["method"] == "PUT"
            ]
    assert 1 == steps[-1][1]
    assert steps[-1][0] - steps[0][0] - changed <= 0.25 + 1e-6
