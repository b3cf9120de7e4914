"""The synchronous client against a scripted, spec-checked MockTransport."""

from __future__ import annotations

import logging
import random
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from livebar._version import __version__
from livebar._wire.client import Client
from livebar._wire.errors import (
    ActivityLimitError,
    APIError,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    ConnectError,
    NoRecipientsError,
    NotFoundError,
    PaymentRequiredError,
    PermissionDeniedError,
    RateLimitError,
    RequestTimeout,
    ServerError,
    StreamNotFoundError,
    TransportError,
    ValidationError,
)
from livebar._wire.payload import (
    Action,
    BadgeCount,
    ContentState,
    EndActivity,
    MetricValue,
    PushNotification,
    StartActivity,
    StreamEnd,
    StreamUpdate,
    UpdateActivity,
)
from livebar._wire.results import (
    BadgeResult,
    EndResult,
    MetricResult,
    PushResult,
    StartResult,
    StreamEndResult,
    StreamResult,
    UpdateResult,
)
from livebar._wire.retry import RetryPolicy

if TYPE_CHECKING:
    from conftest import FakeAPI

KEY = "ask_test_secret_key_123"
BASE = "https://activitysmith.test/api"
TS = "2026-01-28T09:57:22.929Z"
STATE = ContentState.segmented_progress("Backup", number_of_steps=3, current_step=1)
PUSH = PushNotification(title="Deploy", message="done", channels=["ops"])
START = StartActivity(content_state=STATE, action=Action.open_url("Open", "https://e.test"))
UPDATE = UpdateActivity(activity_id="act_1", content_state=STATE)
END = EndActivity(activity_id="act_1", content_state=STATE, auto_dismiss_minutes=0)
PUT = StreamUpdate(content_state=STATE, channels=["ops"])

RATE_LIMITED = {
    "error": "Rate limit exceeded",
    "message": "Too many requests, please try again later.",
}
ACTIVITY_LIMIT = {
    "error": "Live Activity limit reached",
    "message": "Only 4",
    "limit": 4,
    "active": 4,
}
NO_RECIPIENTS = {
    "error": "No recipients found",
    "message": "No devices matched the effective channel target",
    "effective_channel_slugs": ["ops"],
}
STREAM_MISSING = {"error": "Live Activity stream not found", "message": "No stream"}
STREAM_STARTED = {
    "success": True,
    "operation": "started",
    "stream_key": "nightly",
    "activity_id": "act_1",
    "devices_notified": 2,
    "timestamp": TS,
}


class FakeTime:
    """A clock that only moves when slept on; records every sleep."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def _client(api: FakeAPI, time: FakeTime | None = None, **options: Any) -> Client:
    time = time or FakeTime()
    options.setdefault("api_key", KEY)
    options.setdefault("base_url", BASE)
    return Client(transport=api.transport, sleep=time.sleep, clock=time.clock, **options)


def test_push(fake_api: type[FakeAPI]) -> None:
    """push POSTs the notification and returns a PushResult."""
    api = fake_api(
        (200, {"success": True, "devices_notified": 2, "users_notified": 1, "timestamp": TS})
    )
    with _client(api) as client:
        result = client.push(PUSH)
    assert PushResult(success=True, devices_notified=2, users_notified=1, timestamp=TS) == result
    request = api.requests[0]
    assert ("POST", f"{BASE}/push-notification") == (request.method, str(request.url))
    assert PUSH.to_json() == api.bodies[0]


def test_headers(fake_api: type[FakeAPI]) -> None:
    """Every request carries the bearer key, livebar's User-Agent and JSON content type."""
    api = fake_api((200, {"success": True, "timestamp": TS}))
    with _client(api) as client:
        client.push(PUSH)
    headers = api.requests[0].headers
    assert f"Bearer {KEY}" == headers["authorization"]
    assert f"livebar/{__version__}" == headers["user-agent"]
    assert "application/json" == headers["content-type"]


def test_manual_lifecycle(fake_api: type[FakeAPI]) -> None:
    """start, update and end hit their endpoints and parse their answers."""
    api = fake_api(
        (200, {"success": True, "activity_id": "act_1", "devices_notified": 2, "timestamp": TS}),
        (200, {"success": True, "activity_id": "act_1", "devices_queued": 1, "timestamp": TS}),
        (200, {"success": True, "activity_id": "act_1", "devices_notified": 1, "timestamp": TS}),
    )
    with _client(api) as client:
        started = client.start(START)
        updated = client.update(UPDATE)
        ended = client.end(END)
    assert (
        StartResult(success=True, activity_id="act_1", devices_notified=2, timestamp=TS) == started
    )
    assert (
        UpdateResult(success=True, activity_id="act_1", devices_queued=1, timestamp=TS) == updated
    )
    assert EndResult(success=True, activity_id="act_1", devices_notified=1, timestamp=TS) == ended
    paths = [r.url.path for r in api.requests]
    assert [
        "/api/live-activity/start",
        "/api/live-activity/update",
        "/api/live-activity/end",
    ] == paths
    assert [START.to_json(), UPDATE.to_json(), END.to_json()] == api.bodies


def test_stream_put(fake_api: type[FakeAPI]) -> None:
    """stream PUTs to the stream's path and returns a StreamResult."""
    api = fake_api((200, STREAM_STARTED))
    with _client(api) as client:
        result = client.stream("nightly", PUT)
    expected = StreamResult(
        success=True,
        operation="started",
        stream_key="nightly",
        activity_id="act_1",
        devices_notified=2,
        timestamp=TS,
    )
    assert expected == result
    assert ("PUT", "/api/live-activity/stream/nightly") == (
        api.requests[0].method,
        api.requests[0].url.path,
    )
    assert PUT.to_json() == api.bodies[0]


def test_end_stream_without_and_with_body(fake_api: type[FakeAPI]) -> None:
    """end_stream DELETEs with no body by default, or with the StreamEnd given."""
    ended = {"success": True, "operation": "ended", "stream_key": "k", "activity_id": None}
    api = fake_api((200, {**ended, "timestamp": TS}))
    with _client(api) as client:
        first = client.end_stream("k")
        client.end_stream("k", StreamEnd(content_state=STATE, auto_dismiss_minutes=2))
    assert StreamEndResult(success=True, operation="ended", stream_key="k", timestamp=TS) == first
    assert first.activity_id is None
    assert ["DELETE", "DELETE"] == [r.method for r in api.requests]
    assert [None, {"content_state": {**STATE.to_json(), "auto_dismiss_minutes": 2}}] == api.bodies


def test_unknown_fields_and_operations_kept(fake_api: type[FakeAPI]) -> None:
    """Unknown response fields land in raw and an unknown operation is kept as a string."""
    body = {**STREAM_STARTED, "operation": "teleported", "tags": ["x"], "success": "yes"}
    api = fake_api((200, body))
    with _client(api) as client:
        result = client.stream("nightly", PUT)
    assert "teleported" == result.operation
    assert body == result.raw
    assert result.success


def test_start_reports_ended_activity(fake_api: type[FakeAPI]) -> None:
    """A newer server's ended_activity_id is surfaced on the start result."""
    api = fake_api((200, {"success": True, "activity_id": "b", "ended_activity_id": "a"}))
    with _client(api) as client:
        assert "a" == client.start(START).ended_activity_id


def test_warning_surfaced_and_logged_once(
    fake_api: type[FakeAPI], caplog: pytest.LogCaptureFixture
) -> None:
    """A server warning is on every result but logged once on the livebar logger."""
    warning = "Updates are too frequent; iOS may throttle this activity"
    api = fake_api((200, {"success": True, "activity_id": "act_1", "warning": warning}))
    with caplog.at_level(logging.WARNING, logger="livebar"), _client(api) as client:
        first = client.update(UPDATE)
        second = client.update(UPDATE)
    assert (warning, warning) == (first.warning, second.warning)
    logged = [r for r in caplog.records if r.name == "livebar" and warning in r.getMessage()]
    assert 1 == len(logged)


def test_missing_key_sends_nothing(
    fake_api: type[FakeAPI], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without an API key a call raises ConfigurationError naming api_key, before any I/O."""
    monkeypatch.delenv("ACTIVITYSMITH_API_KEY", raising=False)
    api = fake_api((200, {"success": True, "timestamp": TS}))
    with _client(api, api_key=None) as client, pytest.raises(ConfigurationError) as info:
        client.push(PUSH)
    assert "api_key" == info.value.option
    assert [] == api.requests


def test_key_and_base_url_from_environment(
    fake_api: type[FakeAPI], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The client resolves its key and base URL from the environment."""
    monkeypatch.setenv("ACTIVITYSMITH_API_KEY", KEY)
    monkeypatch.setenv("ACTIVITYSMITH_BASE_URL", "http://127.0.0.1:9/api/")
    api = fake_api((200, {"success": True, "timestamp": TS}))
    with Client(transport=api.transport) as client:
        client.push(PUSH)
    assert "http://127.0.0.1:9/api/push-notification" == str(api.requests[0].url)
    assert f"Bearer {KEY}" == api.requests[0].headers["authorization"]


def test_insecure_base_url_refused() -> None:
    """A plain-HTTP remote base URL is refused when the client is built."""
    with pytest.raises(ConfigurationError, match="base_url"):
        Client(api_key=KEY, base_url="http://activitysmith.com/api")


def test_repr_hides_key(fake_api: type[FakeAPI]) -> None:
    """The client's repr never shows the key."""
    api = fake_api((200, {}))
    with _client(api) as client:
        assert KEY not in repr(client)


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda c: c.stream("bad key", PUT), "stream_key"),
        (lambda c: c.end_stream("a" * 256), "stream_key"),
        (lambda c: c.push({"title": "x"}), ""),
        (lambda c: c.stream("k", STATE), ""),
    ],
)
def test_bad_arguments_refused_before_io(fake_api: type[FakeAPI], call: Any, field: str) -> None:
    """A bad stream key or a wrong payload type raises ValidationError and sends nothing."""
    api = fake_api((200, {}))
    with _client(api) as client, pytest.raises(ValidationError) as info:
        call(client)
    assert field == info.value.field
    assert [] == api.requests


ERROR_CASES = [
    ("push", 400, {"error": "Invalid channel targeting", "message": "m"}, BadRequestError),
    ("push", 401, {"error": "Unauthorized", "message": "bad key"}, AuthenticationError),
    ("start", 402, {"error": "Payment required", "message": "m"}, PaymentRequiredError),
    ("update", 403, {"error": "Forbidden", "message": "m"}, PermissionDeniedError),
    ("push", 404, NO_RECIPIENTS, NoRecipientsError),
    ("start", 422, NO_RECIPIENTS, NoRecipientsError),
    ("stream", 404, NO_RECIPIENTS, NoRecipientsError),
    ("stream", 404, STREAM_MISSING, StreamNotFoundError),
    ("end_stream", 404, STREAM_MISSING, StreamNotFoundError),
    ("end", 404, {"error": "Not found", "message": "m"}, NotFoundError),
    ("push", 429, RATE_LIMITED, RateLimitError),
    ("start", 429, ACTIVITY_LIMIT, ActivityLimitError),
    ("stream", 429, ACTIVITY_LIMIT, ActivityLimitError),
    ("end_stream", 500, {"error": "Internal"}, ServerError),
    ("update", 503, None, ServerError),
]


def _call(client: Client, operation: str) -> Any:
    calls: dict[str, Any] = {
        "push": lambda: client.push(PUSH),
        "start": lambda: client.start(START),
        "update": lambda: client.update(UPDATE),
        "end": lambda: client.end(END),
        "stream": lambda: client.stream("nightly", PUT),
        "end_stream": lambda: client.end_stream("nightly"),
    }
    return calls[operation]()


@pytest.mark.parametrize(("operation", "status", "body", "expected"), ERROR_CASES)
def test_error_mapping(
    fake_api: type[FakeAPI], operation: str, status: int, body: Any, expected: type[APIError]
) -> None:
    """Each status and body shape raises its APIError subclass with the server's fields."""
    reply = httpx.Response(status, json=body) if body is not None else httpx.Response(status)
    api = fake_api(reply)
    with _client(api, retry=False) as client, pytest.raises(APIError) as info:
        _call(client, operation)
    assert expected is type(info.value)
    assert (status, operation) == (info.value.status, info.value.operation)
    assert (body or {}) == info.value.body
    assert KEY not in str(info.value)


@pytest.mark.parametrize(
    ("reply", "status"),
    [
        (httpx.Response(200, text="<html>maintenance</html>"), 200),
        (httpx.Response(200, json=["not", "an", "object"]), 200),
        (httpx.Response(200, content=b"\xff\xfe"), 200),
        (httpx.Response(502, text="Bad gateway"), 502),
        (httpx.Response(200, json={"success": True}), 200),
    ],
)
def test_unusable_bodies_become_server_errors(
    fake_api: type[FakeAPI], reply: httpx.Response, status: int
) -> None:
    """Non-JSON, non-object or id-less answers raise ServerError with the status."""
    api = fake_api(reply)
    with _client(api, retry=False) as client, pytest.raises(ServerError) as info:
        client.start(START)
    assert status == info.value.status


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (httpx.ConnectError("refused"), ConnectError),
        (httpx.ConnectTimeout("slow connect"), ConnectError),
        (httpx.PoolTimeout("pool"), ConnectError),
        (httpx.ReadTimeout("slow"), RequestTimeout),
        (httpx.WriteTimeout("slow"), RequestTimeout),
        (httpx.RemoteProtocolError("eof"), TransportError),
        (httpx.ReadError("reset"), TransportError),
        (httpx.UnsupportedProtocol("no"), TransportError),
    ],
)
def test_transport_errors_wrapped(
    fake_api: type[FakeAPI], exc: Exception, expected: type[TransportError]
) -> None:
    """httpx exceptions never escape: each maps to a livebar error chained to the original."""
    api = fake_api(exc)
    with _client(api, retry=False) as client, pytest.raises(TransportError) as info:
        client.push(PUSH)
    assert expected is type(info.value)
    assert exc is info.value.__cause__
    assert "push" == info.value.operation


def test_timeout_is_also_a_timeout_error(fake_api: type[FakeAPI]) -> None:
    """RequestTimeout can be caught as the builtin TimeoutError."""
    api = fake_api(httpx.ReadTimeout("slow"))
    with _client(api, retry=False) as client, pytest.raises(TimeoutError):
        client.update(UPDATE)


def test_timeout_configured_on_requests(fake_api: type[FakeAPI]) -> None:
    """The configured timeout applies to connect, read, write and pool."""
    api = fake_api((200, {"success": True, "timestamp": TS}))
    with _client(api, timeout=2.5) as client:
        client.push(PUSH)
    expected = {"connect": 2.5, "read": 2.5, "write": 2.5, "pool": 2.5}
    assert expected == api.requests[0].extensions["timeout"]


# Retries, with a fake clock: nothing here really sleeps.

OK_UPDATE = (200, {"success": True, "activity_id": "act_1", "timestamp": TS})


def test_retries_server_errors_with_backoff(fake_api: type[FakeAPI]) -> None:
    """5xx answers are retried after exponential delays until success."""
    time = FakeTime()
    api = fake_api((503, {"error": "Unavailable"}), (500, None), OK_UPDATE)
    with _client(api, time, retry=RetryPolicy(jitter=0)) as client:
        result = client.update(UPDATE)
    assert "act_1" == result.activity_id
    assert [0.5, 1.0] == time.sleeps
    assert 3 == len(api.requests)


def test_jittered_delays_follow_seeded_rng(fake_api: type[FakeAPI]) -> None:
    """With jitter, the delays are the policy's backoff under the same seeded rng."""
    time = FakeTime()
    policy = RetryPolicy()
    api = fake_api(httpx.ConnectError("refused"), httpx.ConnectError("refused"), OK_UPDATE)
    with _client(api, time, retry=policy, rng=random.Random(42)) as client:
        client.update(UPDATE)
    rng = random.Random(42)
    assert [policy.backoff(1, rng=rng), policy.backoff(2, rng=rng)] == time.sleeps


def test_retry_after_honoured(fake_api: type[FakeAPI]) -> None:
    """A 429 with Retry-After waits exactly that long before retrying."""
    time = FakeTime()
    limited = httpx.Response(429, json=RATE_LIMITED, headers={"Retry-After": "3"})
    api = fake_api(limited, (200, STREAM_STARTED))
    with _client(api, time) as client:
        assert "started" == client.stream("nightly", PUT).operation
    assert [3.0] == time.sleeps


def test_gives_up_after_max_attempts(fake_api: type[FakeAPI]) -> None:
    """After max_attempts the last error is raised."""
    time = FakeTime()
    api = fake_api((503, None))
    with _client(api, time, retry=RetryPolicy(max_attempts=3, jitter=0)) as client:
        with pytest.raises(ServerError):
            client.push(PUSH)
    assert 3 == len(api.requests)
    assert [0.5, 1.0] == time.sleeps


def test_total_time_is_bounded(fake_api: type[FakeAPI]) -> None:
    """No retry is scheduled past max_total, however many attempts remain."""
    time = FakeTime()
    policy = RetryPolicy(max_attempts=100, initial=1.0, max_total=5.0, jitter=0)
    api = fake_api(httpx.ReadTimeout("slow"))
    with _client(api, time, retry=policy) as client, pytest.raises(RequestTimeout):
        client.end(END)
    assert [1.0, 2.0] == time.sleeps
    assert sum(time.sleeps) <= 5.0


@pytest.mark.parametrize("status", [400, 401, 402, 403, 404, 422])
def test_client_errors_not_retried(fake_api: type[FakeAPI], status: int) -> None:
    """4xx answers are raised at once."""
    time = FakeTime()
    api = fake_api((status, {"error": "x", "message": "y"}))
    with _client(api, time) as client, pytest.raises(APIError):
        client.update(UPDATE)
    assert (1, []) == (len(api.requests), time.sleeps)


def test_activity_limit_not_retried(fake_api: type[FakeAPI]) -> None:
    """The concurrent-activity limit is raised at once."""
    api = fake_api((429, ACTIVITY_LIMIT))
    with _client(api) as client, pytest.raises(ActivityLimitError):
        client.stream("nightly", PUT)
    assert 1 == len(api.requests)


@pytest.mark.parametrize(
    "reply", [(503, None), httpx.ReadTimeout("slow"), httpx.ReadError("reset"), (429, RATE_LIMITED)]
)
def test_start_not_retried_once_it_may_have_arrived(fake_api: type[FakeAPI], reply: Any) -> None:
    """A start that may have reached the server is not repeated (it is not idempotent)."""
    api = fake_api(reply, (200, {"success": True, "activity_id": "dup"}))
    with _client(api) as client, pytest.raises((ServerError, TransportError, RateLimitError)):
        client.start(START)
    assert 1 == len(api.requests)


def test_start_retried_when_it_never_arrived(fake_api: type[FakeAPI]) -> None:
    """A start that could not connect is retried."""
    api = fake_api(httpx.ConnectError("refused"), (200, {"success": True, "activity_id": "a"}))
    with _client(api) as client:
        assert "a" == client.start(START).activity_id
    assert 2 == len(api.requests)


def test_retry_false_per_call(fake_api: type[FakeAPI]) -> None:
    """retry=False on a call makes one attempt even on a retrying client."""
    time = FakeTime()
    api = fake_api((503, None), OK_UPDATE)
    with _client(api, time) as client, pytest.raises(ServerError):
        client.update(UPDATE, retry=False)
    assert (1, []) == (len(api.requests), time.sleeps)


def test_retry_false_on_client_and_policy_per_call(fake_api: type[FakeAPI]) -> None:
    """A non-retrying client still honours a policy passed to one call."""
    time = FakeTime()
    api = fake_api((503, None), OK_UPDATE)
    with _client(api, time, retry=False) as client:
        client.update(UPDATE, retry=RetryPolicy(jitter=0))
    assert [0.5] == time.sleeps


def test_retry_true_per_call_uses_default_policy(fake_api: type[FakeAPI]) -> None:
    """retry=True on a call of a non-retrying client uses the default policy."""
    time = FakeTime()
    api = fake_api((502, None), OK_UPDATE)
    with _client(api, time, retry=False, rng=random.Random(1)) as client:
        client.update(UPDATE, retry=True)
    assert 2 == len(api.requests)


def test_bad_retry_option_refused() -> None:
    """retry must be a RetryPolicy or a bool."""
    with pytest.raises(ConfigurationError, match="retry"):
        Client(api_key=KEY, retry="always")  # type: ignore[arg-type]


def test_key_never_logged_while_retrying(
    fake_api: type[FakeAPI], caplog: pytest.LogCaptureFixture
) -> None:
    """Retry logging and the final error never mention the key."""
    api = fake_api(httpx.ConnectError(f"refused {BASE}"))
    with caplog.at_level(logging.DEBUG), _client(api) as client:
        with pytest.raises(ConnectError) as info:
            client.push(PUSH)
    assert KEY not in caplog.text
    assert KEY not in str(info.value)
    assert any("retrying push" in r.getMessage() for r in caplog.records)


# The app-icon badge and widget metrics.

BADGE = BadgeCount(badge=3, channels=["sales"])
METRIC = MetricValue(value=99.9, timestamp="2026-07-10T12:00:00Z")
BADGE_SET = {
    "success": True,
    "badge": 3,
    "devices_notified": 2,
    "users_notified": 1,
    "effective_channel_slugs": ["sales"],
    "timestamp": TS,
}
METRIC_MISSING = {"error": "Metric not found"}


def test_set_badge(fake_api: type[FakeAPI]) -> None:
    """set_badge POSTs the count to /badge and returns a BadgeResult."""
    api = fake_api((200, BADGE_SET))
    with _client(api) as client:
        result = client.set_badge(BADGE)
    expected = BadgeResult(
        success=True,
        badge=3,
        devices_notified=2,
        users_notified=1,
        effective_channel_slugs=("sales",),
        timestamp=TS,
    )
    assert (expected, BADGE_SET) == (result, result.raw)
    request = api.requests[0]
    assert ("POST", f"{BASE}/badge") == (request.method, str(request.url))
    assert {"badge": 3, "target": {"channels": ["sales"]}} == api.bodies[0]


def test_set_metric(fake_api: type[FakeAPI]) -> None:
    """set_metric POSTs the value to /metrics/{key}/value and returns a MetricResult."""
    api = fake_api((200, {"success": True}), (200, {"success": True, "tags": ["new"]}))
    with _client(api) as client:
        first = client.set_metric("deploy.success_rate", METRIC)
        second = client.set_metric("build-status", MetricValue(value="green"))
    assert [MetricResult(success=True)] * 2 == [first, second]
    assert {"success": True, "tags": ["new"]} == second.raw
    assert [
        ("POST", f"{BASE}/metrics/deploy.success_rate/value"),
        ("POST", f"{BASE}/metrics/build-status/value"),
    ] == [(request.method, str(request.url)) for request in api.requests]
    assert [METRIC.to_json(), {"value": "green"}] == api.bodies


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda c: c.set_metric("Deploy", METRIC), "key"),
        (lambda c: c.set_metric("a/b", METRIC), "key"),
        (lambda c: c.set_metric("cpu", 42), ""),
        (lambda c: c.set_badge(3), ""),
        (lambda c: c.set_badge(METRIC), ""),
    ],
)
def test_bad_badge_and_metric_arguments_refused_before_io(
    fake_api: type[FakeAPI], call: Any, field: str
) -> None:
    """A bad metric key or a wrong payload type raises ValidationError and sends nothing."""
    api = fake_api((200, {}))
    with _client(api) as client, pytest.raises(ValidationError) as info:
        call(client)
    assert field == info.value.field
    assert [] == api.requests


BADGE_AND_METRIC_ERRORS = [
    ("set_badge", 400, {"error": "Bad Request", "message": "m"}, BadRequestError),
    ("set_badge", 401, {"error": "Unauthorized", "message": "bad key"}, AuthenticationError),
    (
        "set_badge",
        403,
        {"error": "Invalid channel targeting", "message": "m"},
        PermissionDeniedError,
    ),
    ("set_badge", 404, NO_RECIPIENTS, NoRecipientsError),
    ("set_badge", 422, NO_RECIPIENTS, NoRecipientsError),
    ("set_badge", 429, RATE_LIMITED, RateLimitError),
    ("set_metric", 400, {"error": "value must be a finite number"}, BadRequestError),
    ("set_metric", 404, METRIC_MISSING, NotFoundError),
    ("set_metric", 429, RATE_LIMITED, RateLimitError),
    ("set_metric", 502, None, ServerError),
]


@pytest.mark.parametrize(("operation", "status", "body", "expected"), BADGE_AND_METRIC_ERRORS)
def test_badge_and_metric_error_mapping(
    fake_api: type[FakeAPI], operation: str, status: int, body: Any, expected: type[APIError]
) -> None:
    """Badge and metric errors raise their APIError subclass; a missing metric is NotFoundError."""
    reply = httpx.Response(status, json=body) if body is not None else httpx.Response(status)
    api = fake_api(reply)
    with _client(api, retry=False) as client, pytest.raises(APIError) as info:
        if operation == "set_badge":
            client.set_badge(BADGE)
        else:
            client.set_metric("cpu", METRIC)
    assert expected is type(info.value)
    assert (status, operation) == (info.value.status, info.value.operation)
    assert (body or {}) == info.value.body
    assert KEY not in str(info.value)


def test_badge_and_metric_retried_like_update(fake_api: type[FakeAPI]) -> None:
    """Both are idempotent: timeouts, 5xx and 429s are retried with the policy's backoff."""
    time = FakeTime()
    api = fake_api(
        httpx.ReadTimeout("slow"),
        (200, BADGE_SET),
        (503, None),
        httpx.Response(429, json=RATE_LIMITED, headers={"Retry-After": "3"}),
        (200, {"success": True}),
    )
    with _client(api, time, retry=RetryPolicy(jitter=0)) as client:
        badge = client.set_badge(BADGE)
        metric = client.set_metric("cpu", METRIC)
    assert (3, True) == (badge.badge, metric.success)
    assert [0.5, 0.5, 3.0] == time.sleeps
    assert 5 == len(api.requests)


def test_missing_metric_not_retried(fake_api: type[FakeAPI]) -> None:
    """A 404 for an unknown metric key is raised at once."""
    time = FakeTime()
    api = fake_api((404, METRIC_MISSING))
    with _client(api, time) as client, pytest.raises(NotFoundError, match="Metric not found"):
        client.set_metric("cpu", METRIC)
    assert (1, []) == (len(api.requests), time.sleeps)


def test_one_method_per_spec_operation(openapi_spec: dict[str, Any]) -> None:
    """Client has one request method for each operation of the spec, replace_push for the one
    operation only newer servers have (PUT /push-notification/{id}), and call() for any."""
    operations = sum(
        1
        for item in openapi_spec["paths"].values()
        for operation in item.values()
        if isinstance(operation, dict) and "responses" in operation
    )
    methods = {
        name
        for name in vars(Client)
        if not name.startswith("_") and name not in ("close", "config", "call")
    }
    expected = {"push", "start", "update", "end", "stream", "end_stream", "set_badge", "set_metric"}
    assert (expected | {"replace_push"}, len(expected)) == (methods, operations)
