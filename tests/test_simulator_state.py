"""The simulator's pure state machine, driven with a fake clock (no server, no sleeps)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from livebar._wire.errors import ConfigurationError
from livebar.simulator import DEFAULT_API_KEY, Reply, SimulatorConfig, SimulatorState

START_TIME = 1_767_225_600.0  # 2026-01-01T00:00:00Z
SCOPED_KEY = "ask_ops_only"
RATE_LIMITED = {
    "error": "Rate limit exceeded",
    "message": "Too many requests, please try again later.",
}
NEWER_RATE_LIMITED = {**RATE_LIMITED, "code": "rate_limited"}
ACTIVITY_LIMITED = {
    "error": "Live Activity limit reached",
    "message": "Only 4 concurrent Live Activities are allowed per account",
    "limit": 4,
    "active": 4,
}


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
    """A simulator account with one all-scope key, one ops-only key and an iPhone in devs+ops."""
    config = SimulatorConfig(
        keys={DEFAULT_API_KEY: None, SCOPED_KEY: ["ops"]},
        devices={"iPhone": ["devs", "ops"], "iPad": ["ops"]},
        clock=clock,
    )
    return SimulatorState(config)


def call(
    state: SimulatorState,
    method: str,
    path: str,
    body: dict[str, Any] | None = None,
    *,
    key: str | None = DEFAULT_API_KEY,
) -> Reply:
    """Send one API request to ``state``."""
    raw = b"" if body is None else json.dumps(body).encode()
    authorization = None if key is None else f"Bearer {key}"
    return state.handle(method, path, authorization=authorization, body=raw)


def segmented(step: int, steps: int = 4, **extra: Any) -> dict[str, Any]:
    """A segmented content state."""
    return {
        "title": "Deploy",
        "type": "segmented_progress",
        "number_of_steps": steps,
        "current_step": step,
        **extra,
    }


def start(state: SimulatorState, **body: Any) -> str:
    """Start a segmented activity and return its id."""
    reply = call(state, "POST", "/live-activity/start", {"content_state": segmented(0), **body})
    assert 200 == reply.status, reply.body
    activity_id: str = reply.body["activity_id"]
    return activity_id


def update(state: SimulatorState, activity_id: str, step: int) -> Reply:
    """Update an activity to ``step``."""
    return call(
        state,
        "POST",
        "/live-activity/update",
        {"activity_id": activity_id, "content_state": {"title": "Deploy", "current_step": step}},
    )


def phone_card(state: SimulatorState, activity_id: str) -> dict[str, Any]:
    """The lock-screen card of ``activity_id``."""
    cards = {card["activity_id"]: card for card in state.phone()["activities"]}
    return cards[activity_id]


def test_start_answers_with_an_activity_on_every_device(state: SimulatorState) -> None:
    """A start with the all-scope key reaches every device and shows on the phone."""
    reply = call(state, "POST", "/live-activity/start", {"content_state": segmented(1)})
    assert 200 == reply.status
    expected = {
        "success": True,
        "devices_notified": 2,
        "users_notified": 1,
        "activity_id": reply.body["activity_id"],
        "effective_channel_slugs": None,
        "timestamp": "2026-01-01T00:00:00.000Z",
    }
    assert expected == reply.body
    assert segmented(1) == phone_card(state, reply.body["activity_id"])["content_state"]


@pytest.mark.parametrize("key", [None, "ask_wrong"])
def test_a_missing_or_unknown_key_is_401_and_costs_nothing(
    state: SimulatorState, key: str | None
) -> None:
    """Requests without a valid key get 401 and do not count against the rate limit."""
    reply = call(state, "POST", "/push-notification", {"title": "hi"}, key=key)
    assert (401, "Unauthorized") == (reply.status, reply.body["error"])
    assert 0 == state.snapshot()["account"]["requests_in_window"]


def test_an_unknown_field_is_a_400_naming_it(state: SimulatorState) -> None:
    """Validation comes from livebar._wire.payload: unknown fields are 400 with the field path."""
    reply = call(state, "POST", "/live-activity/start", {"content_state": segmented(0, x=1)})
    assert (400, "content_state.x") == (reply.status, reply.body["field"])
    assert "content_state.x" in reply.body["message"]


@pytest.mark.parametrize("raw", [b"", b"not json", b"[1, 2]"])
def test_a_body_that_is_not_a_json_object_is_400(state: SimulatorState, raw: bytes) -> None:
    """Empty, malformed and non-object bodies are refused with 400."""
    reply = state.handle(
        "POST", "/push-notification", authorization=f"Bearer {DEFAULT_API_KEY}", body=raw
    )
    assert 400 == reply.status


def test_push_media_with_actions_is_refused(state: SimulatorState) -> None:
    """The spec's cross-field rule (media + actions) is enforced through _payload."""
    action = {"title": "Open", "type": "open_url", "url": "https://example.com"}
    body = {"title": "t", "media": "https://example.com/a.png", "actions": [action]}
    assert 400 == call(state, "POST", "/push-notification", body).status


def test_push_is_received_and_shown_as_a_notification(state: SimulatorState) -> None:
    """A push lands in pushes() and on the lock screen, without its target."""
    body = {"title": "Backup done", "message": "42 GB", "target": {"channels": ["ops"]}}
    reply = call(state, "POST", "/push-notification", body)
    assert (200, 2, ["ops"]) == (
        reply.status,
        reply.body["devices_notified"],
        reply.body["effective_channel_slugs"],
    )
    notification = state.phone()["notifications"][0]
    assert ("Backup done", "42 GB", ["iPhone", "iPad"]) == (
        notification["title"],
        notification["message"],
        notification["devices"],
    )
    assert "target" not in notification


def test_a_channel_scoped_key_defaults_to_its_channels(state: SimulatorState) -> None:
    """No target with a channel-scoped key means the key's channels."""
    reply = call(state, "POST", "/push-notification", {"title": "t"}, key=SCOPED_KEY)
    assert (200, ["ops"]) == (reply.status, reply.body["effective_channel_slugs"])


def test_a_channel_scoped_key_cannot_target_other_channels(state: SimulatorState) -> None:
    """A scoped key naming a channel outside its scope gets 403."""
    body = {"content_state": segmented(0), "target": {"channels": ["devs"]}}
    reply = call(state, "POST", "/live-activity/start", body, key=SCOPED_KEY)
    assert (403, "Invalid channel targeting") == (reply.status, reply.body["error"])


@pytest.mark.parametrize(("strict", "status"), [(True, 404), (False, 422)])
def test_a_target_without_devices_is_no_recipients(
    clock: FakeClock, strict: bool, status: int
) -> None:
    """A channel with no devices answers NoRecipientsError: 404 as published, newer 422."""
    state = SimulatorState(SimulatorConfig(strict=strict, clock=clock))
    body = {"content_state": segmented(0), "target": {"channels": ["marketing"]}}
    reply = call(state, "POST", "/live-activity/start", body)
    assert (status, "No recipients found", ["marketing"]) == (
        reply.status,
        reply.body["error"],
        reply.body["effective_channel_slugs"],
    )


def test_the_rate_limit_refuses_the_61st_request_in_a_minute(
    state: SimulatorState, clock: FakeClock
) -> None:
    """60 requests pass, the 61st gets the exact rate-limit body, a minute later they pass again."""
    statuses = [call(state, "POST", "/push-notification", {"title": "t"}).status for _ in range(60)]
    assert [200] * 60 == statuses
    refused = call(state, "POST", "/push-notification", {"title": "t"})
    assert (429, NEWER_RATE_LIMITED, {}) == (refused.status, refused.body, dict(refused.headers))
    clock.advance(60.0)
    assert 200 == call(state, "POST", "/push-notification", {"title": "t"}).status


def test_the_rate_limit_window_slides(clock: FakeClock) -> None:
    """Only requests younger than the window count; refused requests do not count."""
    state = SimulatorState(SimulatorConfig(rate_limit=2, rate_window=10.0, clock=clock))
    call(state, "POST", "/push-notification", {"title": "t"})
    clock.advance(6.0)
    call(state, "POST", "/push-notification", {"title": "t"})
    clock.advance(1.0)
    assert 429 == call(state, "POST", "/push-notification", {"title": "t"}).status
    clock.advance(3.0)
    assert 200 == call(state, "POST", "/push-notification", {"title": "t"}).status
    assert 429 == call(state, "POST", "/push-notification", {"title": "t"}).status


def test_the_rate_limit_counts_every_endpoint(clock: FakeClock) -> None:
    """Push, start, update, end, stream PUT and stream DELETE share one budget."""
    state = SimulatorState(SimulatorConfig(rate_limit=6, clock=clock))
    activity_id = start(state)
    assert 200 == update(state, activity_id, 1).status
    end = {"activity_id": activity_id, "content_state": {"title": "Deploy", "current_step": 4}}
    assert 200 == call(state, "POST", "/live-activity/end", end).status
    stream = {"content_state": segmented(0)}
    assert 200 == call(state, "PUT", "/live-activity/stream/job", stream).status
    assert 200 == call(state, "DELETE", "/live-activity/stream/job").status
    assert 200 == call(state, "POST", "/push-notification", {"title": "t"}).status
    assert 429 == call(state, "PUT", "/live-activity/stream/job", stream).status


def test_retry_after_is_sent_when_configured(clock: FakeClock) -> None:
    """With retry_after_header the 429 says how long until the oldest request leaves the window."""
    config = SimulatorConfig(rate_limit=1, rate_window=60.0, retry_after_header=True, clock=clock)
    state = SimulatorState(config)
    call(state, "POST", "/push-notification", {"title": "t"})
    clock.advance(20.5)
    refused = call(state, "POST", "/push-notification", {"title": "t"})
    assert {"Retry-After": "40"} == dict(refused.headers)


def test_the_fifth_concurrent_activity_is_refused(state: SimulatorState) -> None:
    """Four activities may run at once; the fifth start gets the exact limit body."""
    first = start(state)
    for _ in range(3):
        start(state)
    reply = call(state, "POST", "/live-activity/start", {"content_state": segmented(0)})
    assert (429, ACTIVITY_LIMITED) == (reply.status, reply.body)
    end = {"activity_id": first, "content_state": {"title": "Deploy", "current_step": 4}}
    call(state, "POST", "/live-activity/end", end)
    assert (
        200 == call(state, "POST", "/live-activity/start", {"content_state": segmented(0)}).status
    )


def test_update_of_an_unknown_activity_is_403(state: SimulatorState) -> None:
    """The spec documents only 403 for an activity the key may not update."""
    reply = update(state, "sim-9999", 1)
    assert (403, "Forbidden") == (reply.status, reply.body["error"])


def test_update_after_end_is_403_and_end_is_idempotent(state: SimulatorState) -> None:
    """An ended activity refuses updates; ending it again answers 200 and changes nothing."""
    activity_id = start(state)
    end = {"activity_id": activity_id, "content_state": {"title": "Done", "current_step": 4}}
    assert 200 == call(state, "POST", "/live-activity/end", end).status
    again = {"activity_id": activity_id, "content_state": {"title": "Again", "current_step": 1}}
    assert 200 == call(state, "POST", "/live-activity/end", again).status
    assert 403 == update(state, activity_id, 2).status
    assert "Done" == phone_card(state, activity_id)["content_state"]["title"]


def test_an_update_keeps_the_fields_it_omits_that_define_the_bar(state: SimulatorState) -> None:
    """type and number_of_steps carry over; other fields are replaced."""
    activity_id = start(state)
    call(
        state,
        "POST",
        "/live-activity/update",
        {"activity_id": activity_id, "content_state": {"title": "Deploy", "current_step": 2}},
    )
    expected = {
        "title": "Deploy",
        "type": "segmented_progress",
        "number_of_steps": 4,
        "current_step": 2,
    }
    assert expected == phone_card(state, activity_id)["content_state"]


def test_twelve_quick_updates_draw_no_warning_the_thirteenth_does(state: SimulatorState) -> None:
    """The server warns once an activity has had more than 12 updates at more than 1 per 2 min."""
    activity_id = start(state)
    replies = [update(state, activity_id, step % 4) for step in range(13)]
    assert [False] * 12 + [True] == ["warning" in reply.body for reply in replies]


def test_slow_updates_never_draw_a_warning(state: SimulatorState, clock: FakeClock) -> None:
    """Twenty updates two minutes apart stay inside the budget and all reach the phone."""
    activity_id = start(state)
    for step in range(20):
        clock.advance(121.0)
        assert "warning" not in update(state, activity_id, step % 4).body
    activity = state.activities()[0]
    assert (20, 0, 21) == (activity["updates"], activity["dropped"], len(activity["shown"]))


def test_an_activity_over_budget_freezes_on_the_phone(
    state: SimulatorState, clock: FakeClock
) -> None:
    """Past the budget the API still answers 200 but the phone keeps the last accepted state."""
    activity_id = start(state)
    for step in range(12):
        update(state, activity_id, step % 4)
    frozen = phone_card(state, activity_id)["content_state"]
    replies = [update(state, activity_id, 3) for _ in range(3)]
    assert [200, 200, 200] == [reply.status for reply in replies]
    assert frozen == phone_card(state, activity_id)["content_state"]
    row = state.snapshot()["activities"][0]
    assert (True, 3, 15) == (row["throttled"], row["dropped"], row["updates"])


def test_the_throttle_lifts_after_the_throttle_period(
    state: SimulatorState, clock: FakeClock
) -> None:
    """After throttle_seconds the phone accepts updates again."""
    activity_id = start(state)
    for step in range(13):
        update(state, activity_id, step % 4)
    clock.advance(3600.0)
    update(state, activity_id, 3)
    assert 3 == phone_card(state, activity_id)["content_state"]["current_step"]
    assert False is state.snapshot()["activities"][0]["throttled"]


def test_an_end_is_shown_even_while_throttled(state: SimulatorState) -> None:
    """iOS delivers end events: the final state reaches a throttled phone."""
    activity_id = start(state)
    for step in range(14):
        update(state, activity_id, step % 4)
    end = {"activity_id": activity_id, "content_state": {"title": "Deploy", "current_step": 4}}
    call(state, "POST", "/live-activity/end", end)
    card = phone_card(state, activity_id)
    assert (4, "ended") == (card["content_state"]["current_step"], card["state"])


def test_an_ended_activity_is_dismissed_after_three_minutes_by_default(
    state: SimulatorState, clock: FakeClock
) -> None:
    """Without auto_dismiss_minutes the ended card stays 3 minutes, fading in its last seconds."""
    activity_id = start(state)
    end = {"activity_id": activity_id, "content_state": {"title": "Deploy", "current_step": 4}}
    call(state, "POST", "/live-activity/end", end)
    clock.advance(169.0)
    assert "ended" == phone_card(state, activity_id)["state"]
    clock.advance(6.0)
    assert "dismissing" == phone_card(state, activity_id)["state"]
    clock.advance(5.0)
    assert [] == state.phone()["activities"]
    assert "dismissed" == state.activities()[0]["state"]


def test_auto_dismiss_zero_removes_the_card_at_once(state: SimulatorState) -> None:
    """auto_dismiss_minutes 0 dismisses the ended activity immediately."""
    activity_id = start(state)
    content_state = {"title": "Deploy", "current_step": 4, "auto_dismiss_minutes": 0}
    end = {"activity_id": activity_id, "content_state": content_state}
    call(state, "POST", "/live-activity/end", end)
    assert [] == state.phone()["activities"]


def test_an_auto_dismiss_beyond_what_ios_keeps_is_as_long_as_ios_keeps(
    state: SimulatorState, clock: FakeClock
) -> None:
    """The spec sets no maximum: 10**400 minutes (too large for a float) is answered 200 and the
    ended card stays the 4 hours iOS keeps one at most."""
    activity_id = start(state)
    content_state = {"title": "Deploy", "current_step": 4, "auto_dismiss_minutes": 10**400}
    end = {"activity_id": activity_id, "content_state": content_state}
    assert 200 == call(state, "POST", "/live-activity/end", end).status
    clock.advance(4 * 3600.0 - 60.0)
    assert "ended" == phone_card(state, activity_id)["state"]
    clock.advance(120.0)
    assert [] == state.phone()["activities"]


def test_stream_put_starts_updates_and_noops(state: SimulatorState) -> None:
    """PUT starts a stream's activity, then updates it, and answers noop to an unchanged state."""
    path = "/live-activity/stream/nightly-etl"
    started = call(state, "PUT", path, {"content_state": segmented(0)})
    updated = call(state, "PUT", path, {"content_state": {"title": "Deploy", "current_step": 1}})
    unchanged = call(state, "PUT", path, {"content_state": {"title": "Deploy", "current_step": 1}})
    assert ["started", "updated", "noop"] == [
        reply.body["operation"] for reply in (started, updated, unchanged)
    ]
    assert 1 == len({reply.body["activity_id"] for reply in (started, updated, unchanged)})
    assert 1 == state.activities()[0]["updates"]
    assert 3 == state.snapshot()["account"]["requests_in_window"]


def test_stream_delete_ends_and_a_later_put_starts_anew(state: SimulatorState) -> None:
    """DELETE ends the stream's activity; the next PUT starts a new one."""
    path = "/live-activity/stream/job"
    first = call(state, "PUT", path, {"content_state": segmented(1)}).body["activity_id"]
    ended = call(state, "DELETE", path)
    assert ("ended", first) == (ended.body["operation"], ended.body["activity_id"])
    assert segmented(1) == phone_card(state, first)["content_state"]
    again = call(state, "PUT", path, {"content_state": segmented(0)})
    assert "started" == again.body["operation"]
    assert first != again.body["activity_id"]


def test_stream_delete_twice_answers_null_and_unknown_is_404(state: SimulatorState) -> None:
    """An already-ended stream answers 200 with activity_id null; a never-seen key 404."""
    call(state, "PUT", "/live-activity/stream/job", {"content_state": segmented(0)})
    call(state, "DELETE", "/live-activity/stream/job")
    again = call(state, "DELETE", "/live-activity/stream/job")
    assert (200, None) == (again.status, again.body["activity_id"])
    unknown = call(state, "DELETE", "/live-activity/stream/other")
    assert (404, "Live Activity stream not found") == (unknown.status, unknown.body["error"])


def test_stream_delete_with_a_final_state_and_dismissal(
    state: SimulatorState, clock: FakeClock
) -> None:
    """A DELETE body's content_state is the final state; its auto_dismiss_minutes applies."""
    call(state, "PUT", "/live-activity/stream/job", {"content_state": segmented(1)})
    final = {"title": "Deploy", "current_step": 2, "color": "red", "auto_dismiss_minutes": 1}
    reply = call(state, "DELETE", "/live-activity/stream/job", {"content_state": final})
    card = phone_card(state, reply.body["activity_id"])
    assert ("red", "ended") == (card["content_state"]["color"], card["state"])
    clock.advance(60.0)
    assert [] == state.phone()["activities"]


def test_stream_updates_count_against_the_budget(state: SimulatorState) -> None:
    """Stream PUTs that change the activity are updates: the 13th quick one is warned."""
    path = "/live-activity/stream/job"
    call(state, "PUT", path, {"content_state": segmented(0, steps=20)})
    replies = [
        call(state, "PUT", path, {"content_state": {"title": "Deploy", "current_step": step}})
        for step in range(1, 14)
    ]
    assert [False] * 12 + [True] == ["warning" in reply.body for reply in replies]


def test_a_first_stream_put_without_type_is_400(state: SimulatorState) -> None:
    """A stream cannot start without knowing its type."""
    reply = call(state, "PUT", "/live-activity/stream/job", {"content_state": {"title": "x"}})
    assert (400, "content_state.type") == (reply.status, reply.body["field"])


def test_an_invalid_stream_key_is_400(state: SimulatorState) -> None:
    """stream_key is checked with livebar._wire.payload.validate_stream_key."""
    reply = call(state, "PUT", "/live-activity/stream/bad.key", {"content_state": segmented(0)})
    assert (400, "Invalid stream_key") == (reply.status, reply.body["error"])


def test_unknown_routes_and_methods(state: SimulatorState) -> None:
    """Unknown paths are 404, known paths with the wrong method 405."""
    assert 404 == call(state, "POST", "/nope", {}).status
    assert 405 == call(state, "GET", "/live-activity/start").status
    assert 405 == call(state, "POST", "/live-activity/stream/job", {}).status


def test_faults_are_consumed_in_order(state: SimulatorState) -> None:
    """down drops everything; drop_next and fail_next count down; delay applies to each."""
    state.set_faults(fail_next=1, status=502, retry_after=2.0, drop_next=1, delay=0.25)
    dropped = state.take_fault()
    failed = state.take_fault()
    clean = state.take_fault()
    assert (True, 0.25) == (dropped.drop, dropped.delay)
    assert failed.reply is not None
    assert (502, {"Retry-After": "2"}) == (failed.reply.status, dict(failed.reply.headers))
    assert (False, None) == (clean.drop, clean.reply)
    state.set_faults(down=True)
    assert [True, True] == [state.take_fault().drop for _ in range(2)]


def test_a_429_fault_uses_the_rate_limit_body(state: SimulatorState) -> None:
    """An injected 429 looks exactly like the real rate limit (strict: the published body)."""
    state.set_faults(fail_next=1, status=429)
    reply = state.take_fault().reply
    assert reply is not None
    assert (429, NEWER_RATE_LIMITED) == (reply.status, reply.body)
    strict = SimulatorState(SimulatorConfig(strict=True))
    strict.set_faults(fail_next=1, status=429)
    strict_reply = strict.take_fault().reply
    assert strict_reply is not None
    assert RATE_LIMITED == strict_reply.body


def test_reset_forgets_everything(state: SimulatorState) -> None:
    """reset() clears activities, pushes, the log, the window and faults."""
    start(state)
    call(state, "POST", "/push-notification", {"title": "t"})
    state.set_faults(down=True)
    state.reset()
    snapshot = state.snapshot()
    assert ([], [], 0, False) == (
        state.activities(),
        state.requests(),
        snapshot["account"]["requests_in_window"],
        snapshot["faults"]["down"],
    )


def test_the_request_log_records_each_request(state: SimulatorState) -> None:
    """Each request is logged with method, path, status, body and whether it counted."""
    call(state, "POST", "/push-notification", {"title": "t"}, key=None)
    call(state, "POST", "/push-notification", {"title": "t"})
    entries = [
        (entry["method"], entry["path"], entry["status"], entry["body"], entry["counted"])
        for entry in state.requests()
    ]
    expected = [
        ("POST", "/push-notification", 401, {"title": "t"}, False),
        ("POST", "/push-notification", 200, {"title": "t"}, True),
    ]
    assert expected == entries


@pytest.mark.parametrize(
    "changes", [{"rate_limit": 0}, {"rate_window": 0.0}, {"keys": {}}, {"throttle_seconds": -1.0}]
)
def test_bad_configuration_is_refused(changes: dict[str, Any]) -> None:
    """SimulatorConfig refuses limits that make no sense."""
    with pytest.raises(ConfigurationError):
        SimulatorConfig(**changes)


# The app-icon badge and widget metrics.

NOW = "2026-01-01T00:00:00.000Z"


def test_badge_sets_the_count_of_every_reached_device(state: SimulatorState) -> None:
    """POST /badge answers with the documented and SDK 1.14's names and sets each count."""
    everyone = call(state, "POST", "/badge", {"badge": 8333})
    ops_only = call(state, "POST", "/badge", {"badge": 3}, key=SCOPED_KEY)
    expected = {
        "success": True,
        "badge": 8333,
        "devices_notified": 2,
        "users_notified": 1,
        "devices_updated": 2,
        "users_updated": 1,
        "effective_channel_slugs": [],
        "timestamp": NOW,
    }
    assert (200, expected) == (everyone.status, everyone.body)
    assert (200, ["ops"]) == (ops_only.status, ops_only.body["effective_channel_slugs"])
    assert {"iPhone": 3, "iPad": 3} == state.badges()
    call(state, "POST", "/badge", {"badge": 0, "target": {"channels": ["devs"]}})
    assert {"iPhone": 0, "iPad": 3} == state.badges() == state.phone()["badges"]


def test_badge_is_scoped_and_targeted_like_a_push(state: SimulatorState) -> None:
    """Channels outside the key's scope are 403; a target without devices is 422."""
    forbidden = call(
        state, "POST", "/badge", {"badge": 1, "target": {"channels": ["devs"]}}, key=SCOPED_KEY
    )
    nobody = call(state, "POST", "/badge", {"badge": 1, "target": {"channels": ["marketing"]}})
    assert (403, "Invalid channel targeting") == (forbidden.status, forbidden.body["error"])
    assert (422, "No recipients found", ["marketing"]) == (
        nobody.status,
        nobody.body["error"],
        nobody.body["effective_channel_slugs"],
    )
    assert {} == state.badges()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "badge"),
        ({"badge": -1}, "badge"),
        ({"badge": 2_147_483_648}, "badge"),
        ({"badge": "3"}, "badge"),
        ({"badge": 1, "sound": "ding"}, "sound"),
        ({"badge": 1, "target": {"channels": []}}, "target.channels"),
    ],
)
def test_a_bad_badge_body_is_a_400_naming_the_field(
    state: SimulatorState, body: dict[str, Any], field: str
) -> None:
    """Badge bodies are validated by BadgeCount.from_json."""
    reply = call(state, "POST", "/badge", body)
    assert (400, field) == (reply.status, reply.body["field"])


def test_metric_values_are_kept_per_key(state: SimulatorState, clock: FakeClock) -> None:
    """A known key takes numbers and texts; the latest value, its time and a count are kept."""
    first = call(state, "POST", "/metrics/cpu/value", {"value": 12.5})
    clock.advance(60)
    call(state, "POST", "/metrics/cpu/value", {"value": 80})
    call(
        state,
        "POST",
        "/metrics/queue_depth/value",
        {"value": "idle", "timestamp": "2025-12-31T23:00:00Z"},
    )
    assert (200, {"success": True}) == (first.status, first.body)
    expected = {
        "cpu": {
            "value": 80,
            "timestamp": "2026-01-01T00:01:00.000Z",
            "received_at": "2026-01-01T00:01:00.000Z",
            "updates": 2,
        },
        "queue_depth": {
            "value": "idle",
            "timestamp": "2025-12-31T23:00:00Z",
            "received_at": "2026-01-01T00:01:00.000Z",
            "updates": 1,
        },
    }
    assert expected == state.metrics() == state.phone()["metrics"]


def test_an_unknown_metric_is_404_and_an_invalid_key_400(state: SimulatorState) -> None:
    """Only configured metrics exist; a key outside the spec's pattern is a 400."""
    unknown = call(state, "POST", "/metrics/deploy.success_rate/value", {"value": 1})
    invalid = call(state, "POST", "/metrics/CPU/value", {"value": 1})
    assert (404, "Metric not found") == (unknown.status, unknown.body["error"])
    assert (400, "Invalid metric key", "key") == (
        invalid.status,
        invalid.body["error"],
        invalid.body["field"],
    )
    assert {} == state.metrics()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "value"),
        ({"value": True}, "value"),
        ({"value": ""}, "value"),
        ({"value": "x" * 65}, "value"),
        ({"value": 1, "timestamp": "now"}, "timestamp"),
        ({"value": 1, "unit": "%"}, "unit"),
    ],
)
def test_a_bad_metric_body_is_a_400_naming_the_field(
    state: SimulatorState, body: dict[str, Any], field: str
) -> None:
    """Metric bodies are validated by MetricValue.from_json."""
    reply = call(state, "POST", "/metrics/cpu/value", body)
    assert (400, field) == (reply.status, reply.body["field"])


def test_any_valid_metric_key_exists_when_metrics_is_none(clock: FakeClock) -> None:
    """metrics=None makes every valid key a known metric."""
    state = SimulatorState(SimulatorConfig(metrics=None, clock=clock))
    reply = call(state, "POST", "/metrics/deploy.success_rate/value", {"value": 99.9})
    assert (200, [99.9]) == (reply.status, [m["value"] for m in state.metrics().values()])


def test_badge_and_metrics_count_against_the_rate_limit(clock: FakeClock) -> None:
    """Badge and metric requests draw from the same account limit as pushes and streams."""
    state = SimulatorState(SimulatorConfig(rate_limit=3, clock=clock))
    statuses = [
        call(state, "POST", "/badge", {"badge": 1}).status,
        call(state, "POST", "/metrics/cpu/value", {"value": 1}).status,
        call(state, "POST", "/metrics/nope/value", {"value": 1}).status,
        call(state, "POST", "/push-notification", {"title": "t"}).status,
        call(state, "POST", "/badge", {"badge": 2}).status,
        call(state, "POST", "/metrics/cpu/value", {"value": 2}).status,
    ]
    assert [200, 200, 404, 429, 429, 429] == statuses
    assert NEWER_RATE_LIMITED == call(state, "POST", "/metrics/cpu/value", {"value": 3}).body
    assert ({"iPhone": 1}, 1) == (state.badges(), state.metrics()["cpu"]["value"])


def test_badge_and_metric_routes_refuse_other_methods(state: SimulatorState) -> None:
    """GET on /badge or a metric's value is 405; a path without a key is 404."""
    assert [405, 405, 404] == [
        call(state, "GET", "/badge").status,
        call(state, "PUT", "/metrics/cpu/value", {"value": 1}).status,
        call(state, "POST", "/metrics//value", {"value": 1}).status,
    ]


def test_reset_forgets_badges_and_metrics(state: SimulatorState) -> None:
    """reset() clears badge counts and metric values too."""
    call(state, "POST", "/badge", {"badge": 5})
    call(state, "POST", "/metrics/cpu/value", {"value": 5})
    state.reset()
    assert ({}, {}) == (state.badges(), state.metrics())


@pytest.mark.parametrize("metrics", ["cpu", ["CPU"], ["ok", "bad key"]])
def test_bad_metric_keys_in_the_configuration_are_refused(metrics: Any) -> None:
    """SimulatorConfig.metrics must be a list of valid metric keys."""
    with pytest.raises(ConfigurationError, match="metrics"):
        SimulatorConfig(metrics=metrics)


def test_every_spec_operation_is_routed(
    state: SimulatorState, openapi_spec: dict[str, Any]
) -> None:
    """Each method and path of the spec reaches a handler (no 404 "Not Found" route, no 405)."""
    unrouted = []
    for template, item in openapi_spec["paths"].items():
        path = template.replace("{stream_key}", "job").replace("{key}", "cpu")
        for method in item:
            reply = call(state, method.upper(), path, {})
            if reply.status == 405 or reply.body.get("error") == "Not Found":
                unrouted.append(f"{method.upper()} {template}")
    assert [] == unrouted


# What the official clients found (issue 12): each divergence, and the newer surface.


def test_a_scoped_key_cannot_touch_activities_outside_its_scope(state: SimulatorState) -> None:
    """update, end, stream PUT and stream DELETE of another scope's activity are 403."""
    account_wide = start(state)
    call(state, "PUT", "/live-activity/stream/job", {"content_state": segmented(0)})
    end = {"activity_id": account_wide, "content_state": {"title": "Deploy", "current_step": 4}}
    replies = [
        call(
            state,
            "POST",
            "/live-activity/update",
            {"activity_id": account_wide, "content_state": {"title": "x", "current_step": 1}},
            key=SCOPED_KEY,
        ),
        call(state, "POST", "/live-activity/end", end, key=SCOPED_KEY),
        call(
            state,
            "PUT",
            "/live-activity/stream/job",
            {"content_state": {"title": "Deploy", "current_step": 2}},
            key=SCOPED_KEY,
        ),
        call(state, "DELETE", "/live-activity/stream/job", key=SCOPED_KEY),
    ]
    assert [403, 403, 403, 403] == [reply.status for reply in replies]
    assert [
        "This API key cannot update this Live Activity",
        "This API key cannot end this Live Activity",
        "This API key cannot update this Live Activity",
        "This API key cannot end this Live Activity",
    ] == [reply.body["message"] for reply in replies]
    assert [0, 0] == [activity["updates"] for activity in state.activities()]
    assert ["active", "active"] == [activity["state"] for activity in state.activities()]


def test_a_scoped_key_may_touch_activities_inside_its_scope(state: SimulatorState) -> None:
    """Its own activities, and ones targeted only at its channels, it may update and end."""
    own = call(
        state, "POST", "/live-activity/start", {"content_state": segmented(0)}, key=SCOPED_KEY
    ).body["activity_id"]
    targeted = start(state, target={"channels": ["ops"]})
    for activity_id in (own, targeted):
        body = {"activity_id": activity_id, "content_state": {"title": "Deploy", "current_step": 1}}
        assert 200 == call(state, "POST", "/live-activity/update", body, key=SCOPED_KEY).status
        assert 200 == call(state, "POST", "/live-activity/end", body, key=SCOPED_KEY).status


@pytest.mark.parametrize(
    ("content_state", "field"),
    [
        (
            {"title": "x", "type": "segmented_progress", "current_step": 0},
            "content_state.number_of_steps",
        ),
        ({"title": "x", "type": "timer"}, "content_state.duration_seconds"),
    ],
)
def test_a_stream_put_that_starts_obeys_the_start_rules(
    state: SimulatorState, content_state: dict[str, Any], field: str
) -> None:
    """A first PUT is a start: what /live-activity/start refuses, it refuses with 400 too."""
    reply = call(state, "PUT", "/live-activity/stream/job", {"content_state": content_state})
    assert (400, field) == (reply.status, reply.body["field"])
    assert "(rule: required)" in reply.body["message"]
    assert [] == state.activities()


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/push-notification", {"title": "t", "target": {"channels": []}}),
        ("/push-notification", {"title": "t", "target": {}}),
        ("/live-activity/start", {"content_state": segmented(0), "target": {"channels": "ops"}}),
        ("/live-activity/stream/job", {"content_state": segmented(0), "channels": []}),
    ],
)
def test_targeting_errors_read_invalid_channel_targeting(
    state: SimulatorState, path: str, body: dict[str, Any]
) -> None:
    """A malformed target is 400 "Invalid channel targeting", as the spec's examples show."""
    reply = call(state, "PUT" if "stream" in path else "POST", path, body)
    assert (400, "Invalid channel targeting") == (reply.status, reply.body["error"])
    assert reply.body["message"].startswith(reply.body["field"])


@pytest.mark.parametrize("raw", [b'{"value": 1e999}', b'{"value": true}', b'{"value": null}'])
def test_a_bad_metric_value_reads_as_documented(state: SimulatorState, raw: bytes) -> None:
    """A value that is not a finite number (or a text) answers the spec's MetricError."""
    reply = state.handle(
        "POST", "/metrics/cpu/value", authorization=f"Bearer {DEFAULT_API_KEY}", body=raw
    )
    assert (400, "value must be a finite number") == (reply.status, reply.body["error"])


def test_a_stream_delete_counts_queued_devices(state: SimulatorState) -> None:
    """DELETE answers devices_queued (end events are queued), as the spec's example does."""
    call(state, "PUT", "/live-activity/stream/job", {"content_state": segmented(0)})
    reply = call(state, "DELETE", "/live-activity/stream/job")
    assert (200, 2) == (reply.status, reply.body["devices_queued"])


def test_activity_and_notification_ids_look_like_the_services(state: SimulatorState) -> None:
    """Ids are 32 URL-safe characters, distinct, and not a recognisable counter."""
    import re

    ids = [start(state) for _ in range(3)]
    ids.append(call(state, "POST", "/push-notification", {"title": "t"}).body["notification_id"])
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{32}", activity_id) for activity_id in ids), ids
    assert 4 == len(set(ids))
    assert not any(activity_id.startswith("sim-") for activity_id in ids)


def strict_state(clock: FakeClock) -> SimulatorState:
    """A simulator that follows the published spec exactly."""
    return SimulatorState(SimulatorConfig(strict=True, clock=clock))


NEWER_REQUESTS: list[tuple[str, str, dict[str, Any], str]] = [
    ("POST", "/push-notification", {"title": "t", "tags": ["ops"]}, "tags"),
    ("POST", "/push-notification", {"title": "t", "metadata": {"run": 7}}, "metadata"),
    ("POST", "/push-notification", {"title": "t", "icon": "https://e.test/i.png"}, "icon"),
    (
        "POST",
        "/push-notification",
        {"title": "t", "interruption_level": "passive"},
        "interruption_level",
    ),
    ("POST", "/push-notification", {"title": "t", "redirection": "http://e.test/x"}, "redirection"),
    (
        "POST",
        "/live-activity/start",
        {"content_state": {"title": "Revenue", "type": "value", "value": "$1,240"}},
        "content_state.value",
    ),
    (
        "POST",
        "/live-activity/start",
        {"content_state": {"title": "Temp", "type": "value", "value": 21.5}},
        "content_state.type",
    ),
    (
        "PUT",
        "/live-activity/stream/job",
        {
            "content_state": segmented(0),
            "action": {"title": "Open", "type": "open_url", "url": "http://grafana.local"},
        },
        "action.url",
    ),
    ("PUT", "/live-activity/stream/job", {"content_state": segmented(0), "tags": []}, "tags"),
]


@pytest.mark.parametrize(("method", "path", "body", "field"), NEWER_REQUESTS)
def test_the_newer_surface_is_accepted_and_strict_refuses_it(
    clock: FakeClock, method: str, path: str, body: dict[str, Any], field: str
) -> None:
    """SDK 1.14's fields and values are 200 by default and a 400 naming them when strict."""
    newer = SimulatorState(SimulatorConfig(clock=clock))
    assert 200 == call(newer, method, path, body).status
    refused = call(strict_state(clock), method, path, body)
    assert (400, field) == (refused.status, refused.body["field"])


def test_tags_and_metadata_are_kept_replaced_and_cleared(state: SimulatorState) -> None:
    """Omitted tags and metadata keep theirs, a list or object replaces, [] and {} clear."""
    path = "/live-activity/stream/import"
    first = call(
        state,
        "PUT",
        path,
        {"content_state": segmented(0), "tags": ["import"], "metadata": {"job": "382"}},
    )
    assert ["import"] == first.body["tags"]
    call(state, "PUT", path, {"content_state": {"title": "Deploy", "current_step": 1}})
    assert (["import"], {"job": "382"}) == (
        state.activities()[0]["tags"],
        state.activities()[0]["metadata"],
    )
    relabelled = call(
        state, "PUT", path, {"content_state": {"title": "Deploy", "current_step": 1}, "tags": []}
    )
    assert ("updated", []) == (relabelled.body["operation"], state.activities()[0]["tags"])
    call(
        state,
        "PUT",
        path,
        {"content_state": {"title": "Deploy", "current_step": 1}, "metadata": {}},
    )
    assert {} == state.activities()[0]["metadata"]


def test_a_value_activity_takes_bare_readouts(state: SimulatorState) -> None:
    """A value activity starts with a text readout; later PUTs may omit the type."""
    path = "/live-activity/stream/revenue"
    started = call(
        state,
        "PUT",
        path,
        {"content_state": {"title": "Revenue", "type": "value", "value": "$1,240"}},
    )
    updated = call(state, "PUT", path, {"content_state": {"title": "Revenue", "value": "$1,300"}})
    again = call(state, "PUT", path, {"content_state": {"title": "Revenue", "value": 1300.5}})
    assert ["started", "updated", "updated"] == [
        reply.body["operation"] for reply in (started, updated, again)
    ]
    card = phone_card(state, started.body["activity_id"])
    assert {"title": "Revenue", "type": "value", "value": 1300.5} == card["content_state"]


def test_push_answers_carry_a_notification_id_that_replace_uses(
    state: SimulatorState, clock: FakeClock
) -> None:
    """PUT /push-notification/{id} replaces the push in place, silently, keeping its tags."""
    sent = call(
        state,
        "POST",
        "/push-notification",
        {"title": "checkout-api is down", "message": "500s", "sound": "default", "tags": ["inc"]},
    )
    notification_id = sent.body["notification_id"]
    clock.advance(30.0)
    replaced = call(
        state,
        "PUT",
        f"/push-notification/{notification_id}",
        {"title": "checkout-api recovered", "icon": "https://e.test/ok.png"},
    )
    expected = {
        "success": True,
        "notification_id": notification_id,
        "devices_notified": 2,
        "users_notified": 1,
        "effective_channel_slugs": None,
        "tags": ["inc"],
        "timestamp": "2026-01-01T00:00:30.000Z",
    }
    assert (200, expected) == (replaced.status, replaced.body)
    [push] = state.pushes()
    assert ("checkout-api recovered", None, 1, "https://e.test/ok.png") == (
        push["title"],
        push.get("message"),
        push["replaced"],
        push["icon"],
    )
    assert "default" == push["sound"]
    assert 1 == len(state.phone()["notifications"])


def test_replacing_an_unknown_or_foreign_push_is_refused(state: SimulatorState) -> None:
    """An unknown id is 404; another scope's push is 403; strict has no such route."""
    missing = call(state, "PUT", "/push-notification/nope", {"title": "t"})
    assert (404, "Push notification not found") == (missing.status, missing.body["error"])
    sent = call(state, "POST", "/push-notification", {"title": "t"}).body["notification_id"]
    foreign = call(state, "PUT", f"/push-notification/{sent}", {"title": "u"}, key=SCOPED_KEY)
    assert 403 == foreign.status
    strict = SimulatorState(SimulatorConfig(strict=True))
    assert (404, "Not Found") == (
        call(strict, "PUT", "/push-notification/x", {"title": "t"}).status,
        call(strict, "PUT", "/push-notification/x", {"title": "t"}).body["error"],
    )


def test_a_billing_block_answers_402_to_new_sends_only(state: SimulatorState) -> None:
    """While blocked, pushes, starts, stream PUTs and badges are 402; updates and ends work."""
    activity_id = start(state)
    state.set_billing("trial_expired")
    blocked = [
        call(state, "POST", "/push-notification", {"title": "t"}),
        call(state, "POST", "/live-activity/start", {"content_state": segmented(0)}),
        call(state, "PUT", "/live-activity/stream/job", {"content_state": segmented(0)}),
        call(state, "POST", "/badge", {"badge": 1}),
    ]
    assert [402] * 4 == [reply.status for reply in blocked]
    body = blocked[0].body
    assert ("trial_expired", "https://activitysmith.com/app/billing") == (
        body["error"],
        body["upgrade_url"],
    )
    assert {"started_at", "ends_at"} == set(body["trial_period"])
    assert 200 == update(state, activity_id, 1).status
    state.set_billing(None)
    assert 200 == call(state, "POST", "/push-notification", {"title": "t"}).status
    with pytest.raises(ConfigurationError):
        SimulatorConfig(strict=True, billing_blocked="trial_expired")
    with pytest.raises(ConfigurationError):
        state.set_billing("broke")


def test_ignored_marks_requests_that_had_no_effect(state: SimulatorState) -> None:
    """A second end, a second stream DELETE and a noop PUT say ignored; strict does not."""
    activity_id = start(state)
    end = {"activity_id": activity_id, "content_state": {"title": "Deploy", "current_step": 4}}
    first_end = call(state, "POST", "/live-activity/end", end)
    second_end = call(state, "POST", "/live-activity/end", end)
    path = "/live-activity/stream/job"
    call(state, "PUT", path, {"content_state": segmented(0)})
    noop = call(state, "PUT", path, {"content_state": segmented(0)})
    call(state, "DELETE", path)
    second_delete = call(state, "DELETE", path)
    assert [None, True, True, True] == [
        reply.body.get("ignored") for reply in (first_end, second_end, noop, second_delete)
    ]
    strict = SimulatorState(SimulatorConfig(strict=True))
    strict_id = start(strict)
    strict_end = {"activity_id": strict_id, "content_state": {"title": "Deploy", "current_step": 4}}
    call(strict, "POST", "/live-activity/end", strict_end)
    assert "ignored" not in call(strict, "POST", "/live-activity/end", strict_end).body


def test_strict_answers_hold_only_documented_fields(clock: FakeClock) -> None:
    """Strict: no notification_id, no devices_updated, null slugs for an untargeted badge."""
    strict = strict_state(clock)
    push = call(strict, "POST", "/push-notification", {"title": "t"})
    badge = call(strict, "POST", "/badge", {"badge": 1})
    assert "notification_id" not in push.body
    assert {
        "success",
        "badge",
        "devices_notified",
        "users_notified",
        "effective_channel_slugs",
        "timestamp",
    } == set(badge.body)
    assert None is badge.body["effective_channel_slugs"]
