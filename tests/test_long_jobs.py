"""Jobs longer than iOS allows (8 hours), on the virtual clock against the simulator's iOS model:
the activity is on the lock screen from the start to the end, and ends with the truth."""

from __future__ import annotations

import pytest

import livebar
from livebar.testing import virtual_time

HOURS = 20
MINUTES = HOURS * 60


def live_cards(clock: object, title: str) -> list[dict[str, object]]:
    phone = clock.simulator.phone()  # type: ignore[attr-defined]
    return [
        card
        for card in phone["activities"]
        if card["state"] == "active" and (card["content_state"] or {}).get("title") == title
    ]


@pytest.mark.parametrize("lifecycle", ["stream", "manual"])
def test_a_twenty_hour_job_stays_on_the_lock_screen(lifecycle: str) -> None:
    """Every minute of a 20-hour job an active card shows it (renewed twice: by the server for
    a stream, by livebar for the manual lifecycle), no iOS warning, and it ends done."""
    with virtual_time(sample_interval=5.0) as clock:
        gaps = []
        with livebar.live_activity("Training", total=MINUTES, lifecycle=lifecycle) as act:
            for minute in range(MINUTES):
                act.update(minute)
                clock.advance(60.0)
                if len(live_cards(clock, "Training")) != 1:
                    gaps.append(minute)
            act.update(MINUTES)
        assert clock.flush()
        activities = clock.simulator.activities()
    assert [] == gaps
    assert 2 == act.stats.rotations
    assert 3 == len(activities)
    assert [0, 0, 0] == [a["warnings"] for a in activities]
    last = activities[-1]
    assert "ended" == last["state"]
    assert last["displayed"]["subtitle"] == f"Done in {HOURS}h 00m"
    assert 100 == last["displayed"]["percentage"]
    if lifecycle == "manual":  # livebar ended the old cards itself, saying the job goes on
        renewed = [a["displayed"]["subtitle"] for a in activities[:-1]]
        assert ["Continues on a new card\u2026"] * 2 == renewed


def test_a_stalled_stream_is_still_renewed_before_ios_ends_it() -> None:
    """A job whose bar stops moving sends nothing, yet its card is renewed in time: livebar
    asks the server to renew the stream before 8 hours, within the iOS budget."""
    with virtual_time(sample_interval=5.0) as clock:
        gaps = []
        with livebar.live_activity("Stalled", total=100) as act:
            act.update(50)
            for minute in range(10 * 60):
                clock.advance(60.0)
                if len(live_cards(clock, "Stalled")) != 1:
                    gaps.append(minute)
        assert clock.flush()
        activities = clock.simulator.activities()
    assert [] == gaps
    assert 1 == act.stats.rotations
    assert [0, 0] == [a["warnings"] for a in activities]
