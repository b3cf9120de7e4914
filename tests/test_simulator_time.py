"""The simulator keeps time like iOS: the 8-hour limit, stream rotation, dismissal, a 20-hour job.

Everything runs on the injected clock: hours pass in microseconds and nothing sleeps.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from livebar._wire.errors import ConfigurationError
from livebar.simulator import DEFAULT_API_KEY, Reply, SimulatorConfig, SimulatorState

START_TIME = 1_767_225_600.0  # 2026-01-01T00:00:00Z
HOUR = 3600.0


class FakeClock:
    """Wall-clock seconds that only move when a test says so."""

    def __init__(self) -> None:
        self.now = START_TIME

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    """A fake clock starting at 2026-01-01."""
    return FakeClock()


@pytest.fixture
def state(clock: FakeClock) -> SimulatorState:
    """A simulated account at ActivitySmith's and iOS's limits on the fake clock."""
    return SimulatorState(SimulatorConfig(clock=clock))


def call(
    state: SimulatorState, method: str, path: str, body: dict[str, Any] | None = None
) -> Reply:
    """One API request with the default key."""
    raw = b"" if body is None else json.dumps(body).encode()
    return state.handle(method, path, authorization=f"Bearer {DEFAULT_API_KEY}", body=raw)


def progress(percentage: float, **extra: Any) -> dict[str, Any]:
    """A progress content state."""
    return {"title": "Backup", "type": "progress", "percentage": percentage, **extra}


def put(state: SimulatorState, percentage: float, key: str = "backup") -> Reply:
    """A stream PUT of ``percentage``."""
    return call(
        state, "PUT", f"/live-activity/stream/{key}", {"content_state": progress(percentage)}
    )


def cards(state: SimulatorState) -> list[dict[str, Any]]:
    """The Live Activity cards on the lock screen now."""
    return list(state.phone()["activities"])


def test_ios_ends_an_open_activity_at_eight_hours(state: SimulatorState, clock: FakeClock) -> None:
    """At 8 h the card shows "expired"; it stays 4 h more, then leaves; it frees its slot."""
    reply = call(state, "POST", "/live-activity/start", {"content_state": progress(10)})
    activity_id = reply.body["activity_id"]
    clock.advance(8 * HOUR - 1)
    assert ["active"] == [card["state"] for card in cards(state)]
    assert 1 == state.snapshot()["account"]["active_activities"]
    clock.advance(1)
    assert ["expired"] == [card["state"] for card in cards(state)]
    assert 0 == state.snapshot()["account"]["active_activities"]
    described = state.activities()[0]
    assert ("expired", "ios") == (described["state"], described["ended_by"])
    clock.advance(4 * HOUR - 1)
    assert [activity_id] == [card["activity_id"] for card in cards(state)]
    clock.advance(1)
    assert [] == cards(state)


def test_after_the_limit_the_api_answers_but_the_phone_shows_nothing(
    state: SimulatorState, clock: FakeClock
) -> None:
    """A manual update or end of an expired activity is 200, and never reaches the phone."""
    activity_id = call(state, "POST", "/live-activity/start", {"content_state": progress(10)}).body[
        "activity_id"
    ]
    clock.advance(9 * HOUR)
    body = {"activity_id": activity_id, "content_state": {"title": "Backup", "percentage": 90}}
    updated = call(state, "POST", "/live-activity/update", body)
    ended = call(state, "POST", "/live-activity/end", body)
    assert [200, 200] == [updated.status, ended.status]
    [card] = cards(state)
    assert ("expired", 10) == (card["state"], card["content_state"]["percentage"])
    described = state.activities()[0]
    assert (2, [False, False]) == (
        described["dropped"],
        [event["displayed"] for event in described["history"][1:]],
    )


def test_an_ended_card_leaves_after_at_most_four_hours(
    state: SimulatorState, clock: FakeClock
) -> None:
    """auto_dismiss_minutes beyond iOS's ~4 h is cut to 4 h."""
    activity_id = call(state, "POST", "/live-activity/start", {"content_state": progress(10)}).body[
        "activity_id"
    ]
    final = {"title": "Backup", "percentage": 100, "auto_dismiss_minutes": 600}
    call(state, "POST", "/live-activity/end", {"activity_id": activity_id, "content_state": final})
    clock.advance(4 * HOUR - 20)
    assert ["ended"] == [card["state"] for card in cards(state)]
    clock.advance(20)
    assert [] == cards(state)


def test_a_stream_rotates_half_an_hour_before_the_limit(
    state: SimulatorState, clock: FakeClock
) -> None:
    """The first PUT at 7 h 30 min answers rotated, with a new id and the previous one."""
    first = put(state, 1).body["activity_id"]
    clock.advance(7.5 * HOUR - 1)
    assert "updated" == put(state, 50).body["operation"]
    clock.advance(1)
    rotated = put(state, 50)
    assert ("rotated", first) == (rotated.body["operation"], rotated.body["previous_activity_id"])
    second = rotated.body["activity_id"]
    assert second != first
    assert [(second, "active")] == [(card["activity_id"], card["state"]) for card in cards(state)]
    old, new = state.activities()
    assert ("dismissed", "rotation", second) == (
        old["state"],
        old["ended_by"],
        old["next_activity_id"],
    )
    assert (first, 0, ["iPhone"]) == (new["previous_activity_id"], new["updates"], new["devices"])
    assert 1 == state.snapshot()["account"]["active_activities"]


def test_a_rotation_carries_the_state_and_labels_over(
    state: SimulatorState, clock: FakeClock
) -> None:
    """The new activity starts from the PUT, with the old type, step count, tags and metadata."""
    path = "/live-activity/stream/deploy"
    start = {
        "title": "Deploy",
        "type": "segmented_progress",
        "number_of_steps": 5,
        "current_step": 1,
    }
    call(state, "PUT", path, {"content_state": start, "tags": ["ci"], "metadata": {"run": 9}})
    clock.advance(8 * HOUR)
    rotated = call(state, "PUT", path, {"content_state": {"title": "Deploy", "current_step": 3}})
    assert ("rotated", ["ci"]) == (rotated.body["operation"], rotated.body["tags"])
    new = state.activities()[-1]
    assert ({**start, "current_step": 3}, {"run": 9}) == (new["content_state"], new["metadata"])


def test_even_an_unchanged_put_rotates_once_due(state: SimulatorState, clock: FakeClock) -> None:
    """Rotation is about staying visible, so a PUT equal to the current state rotates too."""
    put(state, 40)
    clock.advance(7.5 * HOUR)
    assert "rotated" == put(state, 40).body["operation"]
    assert "noop" == put(state, 40).body["operation"]


def test_a_rotated_activity_gets_a_fresh_ios_budget(
    state: SimulatorState, clock: FakeClock
) -> None:
    """After 12 quick updates the next would be warned; after a rotation 12 quick ones are clean."""
    put(state, 0)
    clock.advance(7.5 * HOUR - 30)
    for step in range(1, 13):
        put(state, step)
    clock.advance(30)
    assert "rotated" == put(state, 20).body["operation"]
    replies = [put(state, 20 + step) for step in range(1, 13)]
    assert [False] * 12 == ["warning" in reply.body for reply in replies]
    assert 0 == state.activities()[-1]["dropped"]


def test_a_put_after_ios_ended_the_activity_rotates(
    state: SimulatorState, clock: FakeClock
) -> None:
    """A stream quiet past the limit is rotated by its next PUT; the expired card goes at once."""
    first = put(state, 10).body["activity_id"]
    clock.advance(9 * HOUR)
    assert ["expired"] == [card["state"] for card in cards(state)]
    rotated = put(state, 60)
    assert ("rotated", first) == (rotated.body["operation"], rotated.body["previous_activity_id"])
    assert [("active", 60)] == [
        (card["state"], card["content_state"]["percentage"]) for card in cards(state)
    ]


def test_a_twenty_hour_stream_job_stays_visible_and_ends_with_the_truth(
    state: SimulatorState, clock: FakeClock
) -> None:
    """A PUT every 10 minutes for 20 h: an active card every minute, two rotations, a true end."""
    duration = 20 * HOUR
    operations: list[str] = []
    visible_minutes = 0
    minutes = int(duration // 60)
    for minute in range(minutes):
        if minute % 10 == 0:
            operations.append(put(state, round(100 * minute / minutes, 1)).body["operation"])
        shown = [card for card in cards(state) if card["state"] == "active"]
        visible_minutes += len(shown) == 1
        clock.advance(60)
    final = {"title": "Backup", "percentage": 100, "color": "green", "auto_dismiss_minutes": 3}
    ended = call(state, "DELETE", "/live-activity/stream/backup", {"content_state": final})
    assert minutes == visible_minutes
    assert (1, 2) == (operations.count("started"), operations.count("rotated"))
    assert 200 == ended.status
    [card] = cards(state)
    assert ("ended", 100, "green") == (
        card["state"],
        card["content_state"]["percentage"],
        card["content_state"]["color"],
    )
    assert 0 == sum(activity["warnings"] + activity["dropped"] for activity in state.activities())


def test_a_twenty_hour_manual_job_goes_dark_at_eight_hours(
    state: SimulatorState, clock: FakeClock
) -> None:
    """Without rotation a manual activity goes dark at 8 h: what the engine must avoid."""
    activity_id = call(state, "POST", "/live-activity/start", {"content_state": progress(0)}).body[
        "activity_id"
    ]
    for hour in range(1, 20):
        clock.advance(HOUR)
        body = {
            "activity_id": activity_id,
            "content_state": {"title": "Backup", "percentage": 5 * hour},
        }
        assert 200 == call(state, "POST", "/live-activity/update", body).status
    described = state.activities()[0]
    assert (19, 12) == (described["updates"], described["dropped"])
    assert 35 == described["displayed"]["percentage"]
    assert [] == cards(state)


@pytest.mark.parametrize(
    "changes",
    [{"activity_max_age": 0.0}, {"ended_linger": -1.0}, {"stream_rotate_after": -5.0}],
)
def test_bad_time_limits_are_refused(changes: dict[str, Any]) -> None:
    """The time limits must make sense."""
    with pytest.raises(ConfigurationError):
        SimulatorConfig(**changes)


def test_shrunken_limits_for_fast_tests(clock: FakeClock) -> None:
    """activity_max_age and stream_rotate_after shrink like every other limit."""
    state = SimulatorState(
        SimulatorConfig(
            activity_max_age=60.0, stream_rotate_after=50.0, ended_linger=10.0, clock=clock
        )
    )
    put(state, 1)
    clock.advance(50.0)
    assert "rotated" == put(state, 2).body["operation"]
    clock.advance(60.0)
    assert ["expired"] == [card["state"] for card in cards(state)]
    clock.advance(10.0)
    assert [] == cards(state)
