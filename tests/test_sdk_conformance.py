"""The simulator's conformance suite, written against a client nobody here controls.

Every operation the official Python SDK (``activitysmith`` 1.14.0) offers is driven against the
simulator served on 127.0.0.1 by ``livebar.simulator.serve()``: each test checks that the SDK
sent its request, that the simulator answered it, and that the SDK parsed the answer into its
own model without error. Error answers are checked the same way: the SDK must raise its
``ApiException`` carrying the typed error model its generated client maps to that status.
``test_the_suite_covers_every_sdk_operation`` fails when a new SDK release adds an operation.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any, Callable

import pytest
from activitysmith import (
    ActivitySmith,
    action,
    alert_badge,
    alert_icon,
    content_state,
    metric,
)
from activitysmith.client import LiveActivitiesResource, MetricsResource, NotificationsResource
from activitysmith_openapi import models
from activitysmith_openapi.exceptions import ApiException

from livebar.simulator import DEFAULT_API_KEY, SimulatorConfig, SimulatorHandle, serve

SCOPED_KEY = "ask_ops_only"
START_TIME = 1_767_225_600.0
HOUR = 3600.0

COVERED: dict[str, str] = {}
"""SDK operation → the test that drives it (filled by ``drives``)."""


def drives(*operations: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Record that the decorated test drives these SDK operations."""

    def mark(test: Callable[..., None]) -> Callable[..., None]:
        for operation in operations:
            COVERED[operation] = test.__name__
        return test

    return mark


class FakeClock:
    """Wall-clock seconds that only move when a test says so."""

    def __init__(self) -> None:
        self.now = START_TIME

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    """The simulator's clock."""
    return FakeClock()


@pytest.fixture
def sim(clock: FakeClock) -> Iterator[SimulatorHandle]:
    """A simulator (newer surface) with an ops-only key and an ops-only iPad, on 127.0.0.1."""
    config = SimulatorConfig(
        keys={DEFAULT_API_KEY: None, SCOPED_KEY: ["ops"]},
        devices={"iPhone": ["devs", "ops"], "iPad": ["ops"]},
        clock=clock,
    )
    with serve(config=config) as handle:
        yield handle


def sdk_for(sim: SimulatorHandle, api_key: str = DEFAULT_API_KEY) -> ActivitySmith:
    """The official SDK pointed at ``sim`` (it has no base-URL argument: its one shared
    ``ApiClient`` configuration is moved instead)."""
    client = ActivitySmith(api_key=api_key)
    client.live_activities._api.api_client.configuration.host = sim.url
    return client


@pytest.fixture
def sdk(sim: SimulatorHandle) -> ActivitySmith:
    """The official SDK with the default key, talking to ``sim``."""
    return sdk_for(sim)


def last(sim: SimulatorHandle) -> dict[str, Any]:
    """The last request the simulator logged."""
    return sim.requests()[-1]


def assert_answered(sim: SimulatorHandle, method: str, path: str, status: int = 200) -> None:
    """The SDK's request reached the simulator, which answered ``status``."""
    entry = last(sim)
    assert (method, path, status) == (entry["method"], entry["path"], entry["status"])


def sdk_error(call: Callable[[], Any]) -> ApiException:
    """The ApiException the SDK raises for an error answer."""
    with pytest.raises(ApiException) as info:
        call()
    return info.value


# Push notifications.


@drives("notifications.send", "action")
def test_send_with_the_whole_newer_surface(sim: SimulatorHandle, sdk: ActivitySmith) -> None:
    """A push with icon, interruption level, http redirection, tags and metadata round-trips."""
    result = sdk.notifications.send(
        title="checkout-api is down",
        message="500 errors on 62% of requests",
        subtitle="prod",
        icon="https://example.test/icons/api.png",
        interruption_level="time-sensitive",
        redirection="http://status.internal.test/checkout",
        actions=[
            action("Open dashboard", "open_url", "https://example.test/d/1"),
            action("Page on-call", "webhook", "https://hooks.example.test/page", body={"p": 1}),
        ],
        channels=["ops"],
        tags=["incident", "checkout"],
        metadata={"errors": 62, "region": "eu", "paged": True},
    )
    assert_answered(sim, "POST", "/push-notification")
    assert isinstance(result, models.PushNotificationResponse)
    assert (True, 2, ["ops"], ["incident", "checkout"]) == (
        result.success,
        result.devices_notified,
        result.effective_channel_slugs,
        result.tags,
    )
    [push] = sim.pushes()
    assert push["notification_id"] == result.notification_id
    assert ("time-sensitive", "https://example.test/icons/api.png", {"errors": 62}) == (
        push["interruption_level"],
        push["icon"],
        {"errors": push["metadata"]["errors"]},
    )


@drives("notifications.send_push_notification")
def test_send_alias_with_media(sim: SimulatorHandle, sdk: ActivitySmith) -> None:
    """The generated-style alias sends a media push."""
    result = sdk.notifications.send_push_notification(
        {"title": "Homepage ready", "media": "https://cdn.example.test/home.png"}
    )
    assert_answered(sim, "POST", "/push-notification")
    assert isinstance(result, models.PushNotificationResponse)
    assert "https://cdn.example.test/home.png" == sim.pushes()[0]["media"]


@drives("notifications.replace", "notifications.replace_push_notification")
def test_replace_a_sent_push(sim: SimulatorHandle, sdk: ActivitySmith) -> None:
    """replace (and its alias) replace the push in place; its id stays the same."""
    sent = sdk.notifications.send(title="checkout-api is down", tags=["incident"])
    replaced = sdk.notifications.replace(
        sent.notification_id, title="checkout-api recovered", message="Back to normal."
    )
    assert_answered(sim, "PUT", f"/push-notification/{sent.notification_id}")
    again = sdk.notifications.replace_push_notification(
        sent.notification_id, {"title": "checkout-api recovered", "tags": []}
    )
    for result in (replaced, again):
        assert isinstance(result, models.PushNotificationReplaceResponse)
        assert sent.notification_id == result.notification_id
    assert (["incident"], []) == (replaced.tags, again.tags)
    [push] = sim.pushes()
    assert ("checkout-api recovered", 2) == (push["title"], push["replaced"])


# Live Activities: the manual lifecycle.


@drives("live_activities.start", "content_state", "live_activities.alert_icon")
def test_start_with_actions_alert_and_labels(sim: SimulatorHandle, sdk: ActivitySmith) -> None:
    """A segmented start with both buttons, an alert, channels, tags and metadata."""
    result = sdk.live_activities.start(
        content_state=content_state(
            "Deploy",
            type="segmented_progress",
            number_of_steps=4,
            current_step=1,
            icon=LiveActivitiesResource.alert_icon("hammer", color="blue"),
            color="blue",
        ),
        action=action("Open run", "open_url", "http://ci.internal.test/run/7"),
        secondary_action=action("Cancel", "webhook", "https://hooks.example.test/cancel"),
        alert={"title": "Deploy started", "body": "main → prod"},
        channels=["ops"],
        tags=["deploy"],
        metadata={"sha": "1a2b3c"},
    )
    assert_answered(sim, "POST", "/live-activity/start")
    assert isinstance(result, models.LiveActivityStartResponse)
    activity = sim.activity(result.activity_id)
    assert (["deploy"], {"sha": "1a2b3c"}, ["iPhone", "iPad"]) == (
        activity["tags"],
        activity["metadata"],
        activity["devices"],
    )


@drives("live_activities.start_live_activity", "live_activities.update")
def test_update(sim: SimulatorHandle, sdk: ActivitySmith) -> None:
    """update with bare fields moves the activity on; tags=[] clears its tags."""
    started = sdk.live_activities.start_live_activity(
        {"content_state": {"title": "Import", "type": "progress", "percentage": 0}},
        tags=["import"],
    )
    result = sdk.live_activities.update(
        activity_id=started.activity_id, title="Import", percentage=60, tags=[]
    )
    assert_answered(sim, "POST", "/live-activity/update")
    assert isinstance(result, models.LiveActivityUpdateResponse)
    activity = sim.activity(started.activity_id)
    assert (60, [], 1) == (
        activity["displayed"]["percentage"],
        activity["tags"],
        activity["updates"],
    )


@drives("live_activities.update_live_activity", "live_activities.end")
def test_end_and_end_again(sim: SimulatorHandle, sdk: ActivitySmith) -> None:
    """end shows the final state; a second end answers ignored, which the SDK parses."""
    started = sdk.live_activities.start(title="Backup", type="progress", percentage=10)
    sdk.live_activities.update_live_activity(
        {"activity_id": started.activity_id, "content_state": {"title": "Backup", "percentage": 50}}
    )
    ended = sdk.live_activities.end(
        activity_id=started.activity_id, title="Backup", percentage=100, auto_dismiss_minutes=1
    )
    assert_answered(sim, "POST", "/live-activity/end")
    again = sdk.live_activities.end(activity_id=started.activity_id, title="Backup")
    for result in (ended, again):
        assert isinstance(result, models.LiveActivityEndResponse)
    assert (None, True) == (ended.ignored, again.ignored)
    activity = sim.activity(started.activity_id)
    assert ("ended", 100, 1) == (
        activity["state"],
        activity["displayed"]["percentage"],
        activity["auto_dismiss_minutes"],
    )


@drives("live_activities.end_live_activity")
def test_end_alias(sim: SimulatorHandle, sdk: ActivitySmith) -> None:
    """The generated-style end alias ends the activity."""
    started = sdk.live_activities.start(title="Job", type="alert", message="running")
    result = sdk.live_activities.end_live_activity(
        {"activity_id": started.activity_id, "content_state": {"title": "Job", "message": "done"}}
    )
    assert isinstance(result, models.LiveActivityEndResponse)
    assert "ended" == sim.activity(started.activity_id)["state"]


# Live Activities: streams.


@drives("live_activities.stream", "live_activities.metric", "alert_badge", "metric")
def test_stream_starts_updates_and_noops(sim: SimulatorHandle, sdk: ActivitySmith) -> None:
    """started, updated and noop for a metrics stream built with the SDK's helpers."""

    def state(cpu: int) -> dict[str, Any]:
        return content_state(
            "Server Health",
            type="metrics",
            metrics=[LiveActivitiesResource.metric("CPU", cpu, unit="%"), metric("MEM", 45)],
            badge=alert_badge("prod", color="green"),
        )

    results = [
        sdk.live_activities.stream("prod-web-1", content_state=state(9), channels=["ops"]),
        sdk.live_activities.stream("prod-web-1", content_state=state(12)),
        sdk.live_activities.stream("prod-web-1", content_state=state(12)),
    ]
    assert_answered(sim, "PUT", "/live-activity/stream/prod-web-1")
    assert all(isinstance(result, models.LiveActivityStreamPutResponse) for result in results)
    assert ["started", "updated", "noop"] == [result.operation for result in results]
    assert [None, None, True] == [result.ignored for result in results]


@drives(
    "live_activities.reconcile_live_activity_stream", "live_activities.alert_badge", "alert_icon"
)
def test_stream_alias_with_a_value_activity(sim: SimulatorHandle, sdk: ActivitySmith) -> None:
    """The value type: a text readout, then a bare one without type."""
    first = sdk.live_activities.reconcile_live_activity_stream(
        "revenue-today",
        content_state=content_state(
            "Revenue",
            type="value",
            value="$1,240",
            badge=LiveActivitiesResource.alert_badge("↑ 18%", color="purple"),
            icon=alert_icon("dollarsign.circle", color="green"),
        ),
    )
    second = sdk.live_activities.stream("revenue-today", title="Revenue", value="$1,300")
    assert ["started", "updated"] == [first.operation, second.operation]
    card = sim.phone()["activities"][0]
    assert ("value", "$1,300") == (card["content_state"]["type"], card["content_state"]["value"])


@pytest.mark.parametrize(
    "fields",
    [
        {"type": "stats", "metrics": [{"label": "Orders", "value": "37"}]},
        {"type": "timer", "duration_seconds": 600},
        {"type": "alert", "message": "Customer reactivated"},
        {"type": "progress", "value": 3, "upper_limit": 10},
    ],
    ids=lambda fields: str(fields["type"]),
)
def test_stream_every_other_type(
    sim: SimulatorHandle, sdk: ActivitySmith, fields: dict[str, Any]
) -> None:
    """Stats, timer, alert and value/upper_limit progress streams start and parse."""
    result = sdk.live_activities.stream("kinds", title="Kinds", **fields)
    assert ("started", 200) == (result.operation, last(sim)["status"])


@drives("live_activities.end_stream", "live_activities.end_live_activity_stream")
def test_end_stream_and_again(sim: SimulatorHandle, sdk: ActivitySmith) -> None:
    """end_stream ends with a final state; the alias on an ended stream answers ignored."""
    started = sdk.live_activities.stream("backup", title="Backup", type="progress", percentage=5)
    ended = sdk.live_activities.end_stream(
        "backup", title="Backup", percentage=100, auto_dismiss_minutes=0, tags=["done"]
    )
    assert_answered(sim, "DELETE", "/live-activity/stream/backup")
    again = sdk.live_activities.end_live_activity_stream("backup")
    for result in (ended, again):
        assert isinstance(result, models.LiveActivityStreamDeleteResponse)
    assert (started.activity_id, 2, None) == (
        ended.activity_id,
        ended.devices_queued,
        ended.ignored,
    )
    assert (None, True) == (again.activity_id, again.ignored)


def test_stream_rotation_parses(sim: SimulatorHandle, sdk: ActivitySmith, clock: FakeClock) -> None:
    """Past 7 h 30 min the SDK gets operation rotated with the previous activity's id."""
    first = sdk.live_activities.stream("nightly", title="Nightly", type="progress", percentage=1)
    clock.now += 7.5 * HOUR
    rotated = sdk.live_activities.stream("nightly", title="Nightly", percentage=60)
    assert isinstance(rotated, models.LiveActivityStreamPutResponse)
    assert ("rotated", first.activity_id) == (rotated.operation, rotated.previous_activity_id)
    assert rotated.activity_id not in (None, first.activity_id)


# Widget metrics and the app-icon badge.


@drives("metrics.update", "metrics.update_metric_value")
def test_metric_values(sim: SimulatorHandle, sdk: ActivitySmith) -> None:
    """Numbers, texts and a timestamp; both spellings."""
    results = [
        sdk.metrics.update("cpu", 42),
        sdk.metrics.update("queue_depth", "idle", timestamp="2026-01-01T00:00:00Z"),
        sdk.metrics.update_metric_value("cpu", {"value": 43.5}),
    ]
    assert_answered(sim, "POST", "/metrics/cpu/value")
    assert all(isinstance(result, models.MetricValueUpdateResponse) for result in results)
    assert {"cpu": 43.5, "queue_depth": "idle"} == {
        key: entry["value"] for key, entry in sim.metrics().items()
    }


@drives("badge_count")
def test_badge_count(sim: SimulatorHandle, sdk: ActivitySmith) -> None:
    """badge_count parses: devices_updated, users_updated and a list of channel slugs."""
    everyone = sdk.badge_count(8333)
    targeted = sdk.badge_count(3, channels=["ops"])
    assert_answered(sim, "POST", "/badge")
    for result in (everyone, targeted):
        assert isinstance(result, models.AppIconBadgeCountUpdateResponse)
    assert (2, 1, []) == (
        everyone.devices_updated,
        everyone.users_updated,
        everyone.effective_channel_slugs,
    )
    assert ["ops"] == targeted.effective_channel_slugs
    assert {"iPhone": 3, "iPad": 3} == sim.badges()


# Error answers: the SDK raises ApiException with the typed model its client maps them to.


def test_errors_parse_into_the_sdks_error_models(sim: SimulatorHandle, sdk: ActivitySmith) -> None:
    """400, 403, 404 and 422 of every operation arrive as the SDK's own error models."""
    scoped = sdk_for(sim, SCOPED_KEY)
    started = sdk.live_activities.start(title="Mine", type="progress", percentage=1)
    cases: list[tuple[Callable[[], Any], int, type]] = [
        (
            lambda: sdk.notifications.send(
                title="t", actions=[action("Open", "open_url", "ftp://files.example.test")]
            ),
            400,
            models.BadRequestError,
        ),
        (
            lambda: scoped.notifications.send(title="t", channels=["devs"]),
            403,
            models.ForbiddenError,
        ),
        (
            lambda: sdk.notifications.send(title="t", channels=["nobody"]),
            422,
            models.NoRecipientsError,
        ),
        (lambda: sdk.notifications.replace("nope", title="t"), 404, models.NotFoundError),
        (
            lambda: sdk.live_activities.start(
                title="x", type="progress", percentage=1, channels=["nobody"]
            ),
            422,
            models.NoRecipientsError,
        ),
        (
            lambda: scoped.live_activities.update(
                activity_id=started.activity_id, title="Mine", percentage=2
            ),
            403,
            models.ForbiddenError,
        ),
        (
            lambda: sdk.live_activities.end(activity_id="nope", title="x"),
            403,
            models.ForbiddenError,
        ),
        (
            lambda: sdk.live_activities.stream(
                "s", title="x", type="segmented_progress", current_step=0
            ),
            400,
            models.BadRequestError,
        ),
        (lambda: sdk.live_activities.end_stream("never"), 404, models.NotFoundError),
        (lambda: sdk.metrics.update("not.created", 1), 404, models.MetricError),
        (
            lambda: sdk.metrics.update_metric_value("cpu", {"value": float("inf")}),
            400,
            models.MetricError,
        ),
        (
            lambda: sdk.badge_count(1, channels=["nobody"]),
            422,
            models.UpdateAppIconBadgeCount422Response,
        ),
    ]
    for call, status, model in cases:
        error = sdk_error(call)
        assert (status, model) == (error.status, type(error.data)), error.body


def test_billing_blocks_parse(sim: SimulatorHandle, sdk: ActivitySmith) -> None:
    """402 on every operation that sends something new parses as BillingBlockedError."""
    sent = sdk.notifications.send(title="before the block")
    sim.state.set_billing("trial_expired")
    calls: list[Callable[[], Any]] = [
        lambda: sdk.notifications.send(title="t"),
        lambda: sdk.notifications.replace(sent.notification_id, title="t"),
        lambda: sdk.live_activities.start(title="t", type="progress", percentage=1),
        lambda: sdk.live_activities.stream("s", title="t", type="progress", percentage=1),
        lambda: sdk.badge_count(1),
    ]
    for call in calls:
        error = sdk_error(call)
        assert (402, models.BillingBlockedError) == (error.status, type(error.data))
        assert "trial_expired" == error.data.error
        assert error.data.trial_period is not None


def test_rate_limits_parse(sim: SimulatorHandle, sdk: ActivitySmith) -> None:
    """The account 429 (with code rate_limited) parses on every kind of operation."""
    with serve(rate_limit=1) as tight:
        client = sdk_for(tight)
        client.metrics.update("cpu", 1)
        push = sdk_error(lambda: client.notifications.send(title="t"))
        update = sdk_error(lambda: client.live_activities.update(activity_id="a", title="t"))
        metric_error = sdk_error(lambda: client.metrics.update("cpu", 2))
    assert [429, 429, 429] == [push.status, update.status, metric_error.status]
    assert "rate_limited" == push.data.actual_instance.code
    assert ("rate_limited", "rate_limited") == (update.data.code, metric_error.data.code)


def test_the_sdk_cannot_parse_the_documented_activity_limit_429(sim: SimulatorHandle) -> None:
    """A divergence on the SDK's side: its oneOf matches the limit body twice and gives up."""
    with serve(max_activities=1) as full:
        client = sdk_for(full)
        client.live_activities.start(title="one", type="progress", percentage=1)
        error = sdk_error(
            lambda: client.live_activities.start(title="two", type="progress", percentage=1)
        )
    assert (429, None) == (error.status, error.data)
    assert '"limit":1' in error.body
    assert '"active":1' in error.body


def test_strict_mode_refuses_what_the_sdk_sends_beyond_the_published_spec() -> None:
    """Against the published spec, SDK 1.14's tags are a 400 it parses; plain calls work."""
    with serve(strict=True) as strict:
        client = sdk_for(strict)
        started = client.live_activities.stream("s", title="t", type="progress", percentage=1)
        refused = sdk_error(lambda: client.notifications.send(title="t", tags=["x"]))
    assert "started" == started.operation
    assert (400, models.BadRequestError, "tags") == (
        refused.status,
        type(refused.data),
        strict_field(refused),
    )


def strict_field(error: ApiException) -> str:
    """The ``field`` the simulator named in a 400."""
    import json

    field: str = json.loads(error.body)["field"]
    return field


# Every operation is covered.


def sdk_operations() -> set[str]:
    """Every public operation and helper of the SDK, as ``resource.method`` or a name."""
    operations = {"badge_count"}
    for prefix, resource in (
        ("notifications", NotificationsResource),
        ("live_activities", LiveActivitiesResource),
        ("metrics", MetricsResource),
    ):
        for name, member in vars(resource).items():
            if not name.startswith("_") and (
                inspect.isfunction(member) or isinstance(member, staticmethod)
            ):
                operations.add(f"{prefix}.{name}")
    operations |= {"action", "alert_badge", "alert_icon", "content_state", "metric"}
    public = {name for name, member in vars(ActivitySmith).items() if inspect.isfunction(member)}
    assert {"badge_count"} == {name for name in public if not name.startswith("_")}
    return operations


def test_the_suite_covers_every_sdk_operation() -> None:
    """Each SDK method (and helper) is driven by a test above."""
    assert sdk_operations() == set(COVERED)
