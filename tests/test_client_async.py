"""The asynchronous client, on asyncio and trio, against a scripted spec-checked transport."""

from __future__ import annotations

import logging
import random
from typing import TYPE_CHECKING, Any, Callable

import httpx
import pytest

from livebar._wire.client import AsyncClient, Client
from livebar._wire.errors import (
    ActivityLimitError,
    APIError,
    ConfigurationError,
    ConnectError,
    NoRecipientsError,
    NotFoundError,
    RateLimitError,
    RequestTimeout,
    ServerError,
    StreamNotFoundError,
    TransportError,
    ValidationError,
)
from livebar._wire.payload import (
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

pytestmark = pytest.mark.anyio

KEY = "ask_test_secret_key_123"
BASE = "https://activitysmith.test/api"
TS = "2026-01-28T09:57:22.929Z"
STATE = ContentState.progress("Upload", value=3, upper_limit=10)
PUSH = PushNotification(title="Deploy")
START = StartActivity(content_state=STATE)
UPDATE = UpdateActivity(activity_id="act_1", content_state=STATE)
END = EndActivity(activity_id="act_1", content_state=STATE, auto_dismiss_minutes=1)
PUT = StreamUpdate(content_state=STATE)
RATE_LIMITED = {
    "error": "Rate limit exceeded",
    "message": "Too many requests, please try again later.",
}
OK_UPDATE = (200, {"success": True, "activity_id": "act_1", "timestamp": TS})


class FakeTime:
    """An async sleep that only moves a fake clock; records every sleep."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def _client(api: FakeAPI, time: FakeTime | None = None, **options: Any) -> AsyncClient:
    time = time or FakeTime()
    options.setdefault("api_key", KEY)
    return AsyncClient(
        base_url=BASE, transport=api.transport, sleep=time.sleep, clock=time.clock, **options
    )


def test_same_methods_as_sync_client() -> None:
    """AsyncClient offers exactly the public methods of Client (plus aclose for close)."""

    def public(cls: type[Any]) -> set[str]:
        return {name for name in vars(cls) if not name.startswith("_")}

    assert public(Client) - {"close"} == public(AsyncClient) - {"aclose"}


async def test_every_endpoint(fake_api: type[FakeAPI]) -> None:
    """Each method sends its request and parses its answer."""
    api = fake_api(
        (200, {"success": True, "devices_notified": 1, "timestamp": TS}),
        (200, {"success": True, "activity_id": "act_1", "timestamp": TS}),
        OK_UPDATE,
        OK_UPDATE,
        (200, {"success": True, "operation": "noop", "stream_key": "k", "activity_id": "s1"}),
        (200, {"success": True, "operation": "ended", "stream_key": "k", "activity_id": "s1"}),
    )
    async with _client(api) as client:
        results = [
            await client.push(PUSH),
            await client.start(START),
            await client.update(UPDATE),
            await client.end(END),
            await client.stream("k", PUT),
            await client.end_stream("k", StreamEnd()),
        ]
    expected = [
        PushResult(success=True, devices_notified=1, timestamp=TS),
        StartResult(success=True, activity_id="act_1", timestamp=TS),
        UpdateResult(success=True, activity_id="act_1", timestamp=TS),
        EndResult(success=True, activity_id="act_1", timestamp=TS),
        StreamResult(success=True, operation="noop", stream_key="k", activity_id="s1"),
        StreamEndResult(success=True, operation="ended", stream_key="k", activity_id="s1"),
    ]
    assert expected == results
    methods = [(r.method, r.url.path) for r in api.requests]
    assert [
        ("POST", "/api/push-notification"),
        ("POST", "/api/live-activity/start"),
        ("POST", "/api/live-activity/update"),
        ("POST", "/api/live-activity/end"),
        ("PUT", "/api/live-activity/stream/k"),
        ("DELETE", "/api/live-activity/stream/k"),
    ] == methods
    assert [
        PUSH.to_json(),
        START.to_json(),
        UPDATE.to_json(),
        END.to_json(),
        PUT.to_json(),
        {},
    ] == (api.bodies)


async def test_async_handler(mock_transport: Callable[..., httpx.MockTransport]) -> None:
    """An async MockTransport handler works through the spec-validating wrapper."""
    calls: list[str] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        return httpx.Response(200, json={"success": True, "timestamp": TS})

    async with AsyncClient(api_key=KEY, transport=mock_transport(handler)) as client:
        await client.push(PUSH)
    assert ["/api/push-notification"] == calls


@pytest.mark.parametrize(
    ("operation", "reply", "expected"),
    [
        (
            "stream",
            (
                429,
                {"error": "Live Activity limit reached", "message": "m", "limit": 4, "active": 4},
            ),
            ActivityLimitError,
        ),
        (
            "push",
            (404, {"error": "No recipients found", "message": "m", "effective_channel_slugs": []}),
            NoRecipientsError,
        ),
        (
            "end_stream",
            (404, {"error": "Live Activity stream not found", "message": "m"}),
            StreamNotFoundError,
        ),
        ("update", (429, RATE_LIMITED), RateLimitError),
        ("end", (500, {"error": "boom"}), ServerError),
    ],
)
async def test_error_mapping(
    fake_api: type[FakeAPI], operation: str, reply: Any, expected: type[APIError]
) -> None:
    """Error answers raise the same classes as in the sync client."""
    api = fake_api(reply)
    async with _client(api, retry=False) as client:
        calls = {
            "push": lambda: client.push(PUSH),
            "update": lambda: client.update(UPDATE),
            "end": lambda: client.end(END),
            "stream": lambda: client.stream("k", PUT),
            "end_stream": lambda: client.end_stream("k"),
        }
        with pytest.raises(APIError) as info:
            await calls[operation]()
    assert expected is type(info.value)


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (httpx.ConnectError("refused"), ConnectError),
        (httpx.ReadTimeout("slow"), RequestTimeout),
        (httpx.RemoteProtocolError("eof"), TransportError),
    ],
)
async def test_transport_errors_wrapped(
    fake_api: type[FakeAPI], exc: Exception, expected: type[TransportError]
) -> None:
    """httpx exceptions are wrapped and chained."""
    api = fake_api(exc)
    async with _client(api, retry=False) as client:
        with pytest.raises(TransportError) as info:
            await client.stream("k", PUT)
    assert expected is type(info.value)
    assert exc is info.value.__cause__


async def test_retries_with_fake_sleep(fake_api: type[FakeAPI]) -> None:
    """Transient failures are retried after the policy's delays, slept via the injected sleep."""
    time = FakeTime()
    api = fake_api(httpx.ReadError("reset"), (503, None), OK_UPDATE)
    async with _client(api, time, retry=RetryPolicy(), rng=random.Random(3)) as client:
        result = await client.update(UPDATE)
    rng = random.Random(3)
    assert "act_1" == result.activity_id
    assert [RetryPolicy().backoff(1, rng=rng), RetryPolicy().backoff(2, rng=rng)] == time.sleeps


async def test_retry_after_honoured(fake_api: type[FakeAPI]) -> None:
    """Retry-After sets the wait."""
    time = FakeTime()
    limited = httpx.Response(429, json=RATE_LIMITED, headers={"Retry-After": "2"})
    api = fake_api(limited, (200, {"success": True, "operation": "updated", "stream_key": "k"}))
    async with _client(api, time) as client:
        await client.stream("k", PUT)
    assert [2.0] == time.sleeps


async def test_start_not_retried_after_timeout(fake_api: type[FakeAPI]) -> None:
    """A start whose answer timed out is not repeated."""
    api = fake_api(httpx.ReadTimeout("slow"), (200, {"success": True, "activity_id": "dup"}))
    async with _client(api) as client:
        with pytest.raises(RequestTimeout):
            await client.start(START)
    assert 1 == len(api.requests)


async def test_retry_false_per_call(fake_api: type[FakeAPI]) -> None:
    """retry=False makes a single attempt."""
    time = FakeTime()
    api = fake_api((503, None), OK_UPDATE)
    async with _client(api, time) as client:
        with pytest.raises(ServerError):
            await client.update(UPDATE, retry=False)
    assert (1, []) == (len(api.requests), time.sleeps)


async def test_missing_key_sends_nothing(
    fake_api: type[FakeAPI], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a key the call fails with ConfigurationError before any request."""
    monkeypatch.delenv("ACTIVITYSMITH_API_KEY", raising=False)
    api = fake_api(OK_UPDATE)
    async with _client(api, api_key=None) as client:
        with pytest.raises(ConfigurationError, match="api_key"):
            await client.update(UPDATE)
    assert [] == api.requests


async def test_bad_stream_key_refused(fake_api: type[FakeAPI]) -> None:
    """A bad stream key raises ValidationError before any request."""
    api = fake_api(OK_UPDATE)
    async with _client(api) as client:
        with pytest.raises(ValidationError, match="stream_key"):
            await client.end_stream("no/slash")
    assert [] == api.requests


async def test_warning_logged_once(
    fake_api: type[FakeAPI], caplog: pytest.LogCaptureFixture
) -> None:
    """A repeated server warning is logged once and kept on each result."""
    api = fake_api((200, {"success": True, "activity_id": "a", "warning": "slow down"}))
    with caplog.at_level(logging.WARNING, logger="livebar"):
        async with _client(api) as client:
            first = await client.update(UPDATE)
            second = await client.update(UPDATE)
    assert ("slow down", "slow down") == (first.warning, second.warning)
    assert 1 == sum("slow down" in r.getMessage() for r in caplog.records)


async def test_set_badge_and_set_metric(fake_api: type[FakeAPI]) -> None:
    """set_badge and set_metric hit /badge and /metrics/{key}/value and parse their answers."""
    badge_set = {
        "success": True,
        "badge": 0,
        "devices_notified": 1,
        "users_notified": 1,
        "effective_channel_slugs": None,
        "timestamp": TS,
    }
    api = fake_api((200, badge_set), (200, {"success": True}))
    metric = MetricValue(value=42)
    async with _client(api) as client:
        results = [
            await client.set_badge(BadgeCount(badge=0)),
            await client.set_metric("queue_depth", metric),
        ]
    expected = [
        BadgeResult(success=True, badge=0, devices_notified=1, users_notified=1, timestamp=TS),
        MetricResult(success=True),
    ]
    assert expected == results
    assert [("POST", "/api/badge"), ("POST", "/api/metrics/queue_depth/value")] == [
        (r.method, r.url.path) for r in api.requests
    ]
    assert [{"badge": 0}, {"value": 42}] == api.bodies


@pytest.mark.parametrize(
    ("operation", "reply", "expected"),
    [
        ("set_badge", (404, {"error": "No recipients found", "message": "m"}), NoRecipientsError),
        ("set_metric", (404, {"error": "Metric not found"}), NotFoundError),
        ("set_metric", (429, RATE_LIMITED), RateLimitError),
    ],
)
async def test_badge_and_metric_error_mapping(
    fake_api: type[FakeAPI], operation: str, reply: Any, expected: type[APIError]
) -> None:
    """Badge and metric errors raise the same classes as in the sync client."""
    api = fake_api(reply)
    async with _client(api, retry=False) as client:
        with pytest.raises(APIError) as info:
            if operation == "set_badge":
                await client.set_badge(BadgeCount(badge=1))
            else:
                await client.set_metric("cpu", MetricValue(value=1))
    assert (expected, operation) == (type(info.value), info.value.operation)


async def test_set_metric_retried_and_bad_key_refused(fake_api: type[FakeAPI]) -> None:
    """A 503 on set_metric is retried; a bad metric key is refused before any request."""
    time = FakeTime()
    api = fake_api((503, None), (200, {"success": True}))
    async with _client(api, time, retry=RetryPolicy(jitter=0)) as client:
        with pytest.raises(ValidationError, match="key"):
            await client.set_metric("Not Valid", MetricValue(value=1))
        result = await client.set_metric("cpu", MetricValue(value=1))
    assert (True, [0.5], 2) == (result.success, time.sleeps, len(api.requests))
