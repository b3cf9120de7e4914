"""The client on the newer surface: replace_push and the result fields newer servers send.

The replace route and these fields are not in the published spec, so these tests use a plain
``httpx.MockTransport`` (for the exact request) and the simulator on 127.0.0.1 (for the answers).
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from livebar._wire.client import AsyncClient, Client
from livebar._wire.errors import NotFoundError, ValidationError
from livebar._wire.payload import (
    Action,
    BadgeCount,
    ContentState,
    EndActivity,
    PushNotification,
    PushReplace,
    StartActivity,
    StreamEnd,
    StreamUpdate,
)
from livebar._wire.results import PushReplaceResult, PushResult
from livebar.simulator import SimulatorHandle, serve

KEY = "ask_test_secret_key_123"
TS = "2026-01-28T09:57:22.929Z"
STATE = ContentState.progress("Import", percentage=10)


@pytest.fixture
def sim() -> Iterator[SimulatorHandle]:
    """A simulator speaking the newer surface."""
    with serve() as handle:
        yield handle


def test_replace_push_request_and_result() -> None:
    """replace_push PUTs the replacement to /push-notification/{id} and maps the answer."""
    seen: list[httpx.Request] = []
    answer = {
        "success": True,
        "notification_id": "push_1",
        "devices_notified": 2,
        "users_notified": 1,
        "effective_channel_slugs": ["ops"],
        "tags": ["incident"],
        "timestamp": TS,
    }

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=answer)

    transport = httpx.MockTransport(handler)
    with Client(api_key=KEY, base_url="https://e.test/api", transport=transport) as client:
        result = client.replace_push("push_1", PushReplace(title="recovered", tags=["incident"]))
    [request] = seen
    assert ("PUT", "/api/push-notification/push_1") == (request.method, request.url.path)
    assert {"title": "recovered", "tags": ["incident"]} == json.loads(request.content)
    assert (
        PushReplaceResult(
            success=True,
            notification_id="push_1",
            devices_notified=2,
            users_notified=1,
            effective_channel_slugs=("ops",),
            tags=("incident",),
            timestamp=TS,
        )
        == result
    )


def test_replace_push_checks_before_sending() -> None:
    """A bad id or a payload of the wrong class is refused before any I/O."""

    def handler(request: httpx.Request) -> httpx.Response:
        raise AssertionError("nothing may be sent")

    transport = httpx.MockTransport(handler)
    with Client(api_key=KEY, base_url="https://e.test/api", transport=transport) as client:
        with pytest.raises(ValidationError) as bad_id:
            client.replace_push("a/b", PushReplace(title="t"))
        with pytest.raises(ValidationError):
            client.replace_push("ok", PushNotification(title="t"))  # type: ignore[arg-type]
    assert "notification_id" == bad_id.value.field


def test_newer_results_from_the_simulator(sim: SimulatorHandle) -> None:
    """notification_id, tags, ignored, devices_updated reach the typed results."""
    with Client(api_key=sim.api_key, base_url=sim.url, retry=False) as client:
        push = client.push(
            PushNotification(title="down", tags=["incident"], icon="https://e.t/i.png")
        )
        replaced = client.replace_push(push.notification_id or "", PushReplace(title="recovered"))
        start = client.start(StartActivity(content_state=STATE, tags=["import"]))
        ended = [
            client.end(EndActivity(activity_id=start.activity_id, content_state=STATE))
            for _ in range(2)
        ]
        stream = client.stream("job", StreamUpdate(content_state=STATE, metadata={"rows": 10}))
        noop = client.stream("job", StreamUpdate(content_state=STATE))
        closed = [client.end_stream("job", StreamEnd()) for _ in range(2)]
        badge = client.set_badge(BadgeCount(badge=3))
        with pytest.raises(NotFoundError):
            client.replace_push("unknown", PushReplace(title="t"))
    assert isinstance(push, PushResult)
    assert (("incident",), push.notification_id) == (push.tags, replaced.notification_id)
    assert ("recovered", 1) == (sim.pushes()[0]["title"], sim.pushes()[0]["replaced"])
    assert ("import",) == start.tags
    assert [None, True] == [result.ignored for result in ended]
    assert ("started", None, True) == (stream.operation, stream.ignored, noop.ignored)
    assert [None, True] == [result.ignored for result in closed]
    assert (1, 1, ()) == (badge.devices_updated, badge.users_updated, badge.effective_channel_slugs)
    assert {"rows": 10} == sim.activities()[-1]["metadata"]


def test_newer_payloads_are_sent_as_built(sim: SimulatorHandle) -> None:
    """A value readout, an http:// button and an interruption level arrive as built."""
    readout = ContentState.for_value("Revenue", value="$1,240")
    button = Action.open_url("Grafana", "http://grafana.local/d/1", allow_http=True)
    with Client(api_key=sim.api_key, base_url=sim.url, retry=False) as client:
        client.stream("revenue", StreamUpdate(content_state=readout, action=button))
        client.push(PushNotification(title="summary", interruption_level="passive"))
    bodies = [entry["body"] for entry in sim.requests()]
    assert {
        "content_state": {"title": "Revenue", "type": "value", "value": "$1,240"},
        "action": {"title": "Grafana", "type": "open_url", "url": "http://grafana.local/d/1"},
    } == bodies[0]
    assert {"title": "summary", "interruption_level": "passive"} == bodies[1]


def test_a_strict_simulator_refuses_the_newer_surface() -> None:
    """Against the published spec the newer fields are a BadRequestError naming them."""
    from livebar._wire.errors import BadRequestError

    with (
        serve(strict=True) as strict,
        Client(api_key=strict.api_key, base_url=strict.url, retry=False) as client,
    ):
        with pytest.raises(BadRequestError) as refused:
            client.push(PushNotification(title="t", tags=["x"]))
    assert "tags" == refused.value.body["field"]


@pytest.mark.anyio
async def test_async_replace_push(sim: SimulatorHandle) -> None:
    """AsyncClient.replace_push is the same call, awaited."""
    async with AsyncClient(api_key=sim.api_key, base_url=sim.url, retry=False) as client:
        push = await client.push(PushNotification(title="down"))
        replaced = await client.replace_push(push.notification_id or "", PushReplace(title="up"))
    assert (push.notification_id, "up") == (replaced.notification_id, sim.pushes()[0]["title"])
