"""The one table of the API's operations, and everything that reads it: the client, the
simulator's router and the tests' model of the API agree with it, and with the published spec's
paths when the spec is on this machine."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from conftest import SPEC_COMPONENTS, ModelValidator, SpecValidator, published_operations
from livebar._wire.client import AsyncClient, Client
from livebar._wire.errors import NOT_IDEMPOTENT, STREAM_OPERATIONS, Operation
from livebar._wire.model import Model
from livebar._wire.operations import OPERATIONS, Endpoint
from livebar._wire.payload import (
    BadgeCount,
    ContentState,
    EndActivity,
    MetricValue,
    PushNotification,
    PushReplace,
    StartActivity,
    StreamEnd,
    StreamUpdate,
    UpdateActivity,
)
from livebar.simulator import SimulatorConfig, SimulatorState
from livebar.simulator._router import route

KEY = "ask_operations_test"
BASE = "https://activitysmith.test/api"
STATE = ContentState.segmented_progress("Backup", number_of_steps=3, current_step=1)

EXAMPLES: dict[Operation, tuple[Model, dict[str, str], str]] = {
    Operation.PUSH: (PushNotification(title="Deploy"), {}, "/push-notification"),
    Operation.REPLACE_PUSH: (
        PushReplace(title="Deployed"),
        {"notification_id": "n-1"},
        "/push-notification/n-1",
    ),
    Operation.START: (StartActivity(content_state=STATE), {}, "/live-activity/start"),
    Operation.UPDATE: (
        UpdateActivity(activity_id="a1", content_state=STATE),
        {},
        "/live-activity/update",
    ),
    Operation.END: (EndActivity(activity_id="a1", content_state=STATE), {}, "/live-activity/end"),
    Operation.STREAM: (
        StreamUpdate(content_state=STATE),
        {"stream_key": "nightly"},
        "/live-activity/stream/nightly",
    ),
    Operation.END_STREAM: (
        StreamEnd(content_state=STATE),
        {"stream_key": "nightly"},
        "/live-activity/stream/nightly",
    ),
    Operation.SET_BADGE: (BadgeCount(badge=3), {}, "/badge"),
    Operation.SET_METRIC: (MetricValue(value=1), {"key": "cpu"}, "/metrics/cpu/value"),
}
"""One request of each operation: its body, its path parameters and the path it is sent to."""
METHOD_ARGUMENTS = {"stream_key": "key", "key": "key", "notification_id": "notification_id"}
"""The name a client method gives each path parameter."""
ANSWER = {"success": True, "activity_id": "a1", "operation": "started", "extra": [1]}
"""An answer every result class can read (fields it does not know are kept in ``raw``)."""

ROWS = [pytest.param(endpoint, id=str(name)) for name, endpoint in OPERATIONS.items()]


def _recording() -> tuple[list[httpx.Request], httpx.MockTransport]:
    sent: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json=ANSWER)

    return sent, httpx.MockTransport(answer)


def _method_call(client: Client, endpoint: Endpoint[Any, Any]) -> Any:
    body, path, _ = EXAMPLES[endpoint.name]
    method = getattr(client, str(endpoint.name))
    return method(*(path[name] for name in endpoint.parameters), body)


def test_the_table_has_each_operation_once() -> None:
    """Every Operation has one row, under its own name, and each path parameter a check."""
    assert list(Operation) == list(OPERATIONS)
    assert list(Operation) == [endpoint.name for endpoint in OPERATIONS.values()]
    assert {"stream_key", "key", "notification_id"} == {
        name for endpoint in OPERATIONS.values() for name in endpoint.parameters
    }


def test_idempotence_and_streams_come_from_the_errors_sets() -> None:
    """idempotent and stream are the errors' NOT_IDEMPOTENT and STREAM_OPERATIONS."""
    assert NOT_IDEMPOTENT == {e.name for e in OPERATIONS.values() if not e.idempotent}
    assert STREAM_OPERATIONS == {e.name for e in OPERATIONS.values() if e.stream}
    assert {Operation.START} == NOT_IDEMPOTENT


@pytest.mark.parametrize("endpoint", ROWS)
def test_the_client_sends_each_operation_as_the_table_says(endpoint: Endpoint[Any, Any]) -> None:
    """Each client method sends its row's method, path and body, and returns its result class."""
    body, _, path = EXAMPLES[endpoint.name]
    sent, transport = _recording()
    with Client(api_key=KEY, base_url=BASE, transport=transport, retry=False) as client:
        result = _method_call(client, endpoint)
    (request,) = sent
    assert (endpoint.method, f"{BASE}{path}") == (request.method, str(request.url))
    assert body.to_json() == json.loads(request.content)
    assert (endpoint.result, ANSWER) == (type(result), result.raw)
    assert isinstance(body, endpoint.body)


@pytest.mark.parametrize("endpoint", ROWS)
def test_call_by_name_is_the_method_of_that_name(endpoint: Endpoint[Any, Any]) -> None:
    """client.call(name, body, **path) sends what the method of that name sends."""
    body, path, _ = EXAMPLES[endpoint.name]
    by_method, method_transport = _recording()
    by_name, name_transport = _recording()
    with Client(api_key=KEY, base_url=BASE, transport=method_transport) as client:
        expected = _method_call(client, endpoint)
    with Client(api_key=KEY, base_url=BASE, transport=name_transport) as client:
        actual = client.call(str(endpoint.name), body, **path)
    assert expected == actual
    assert [(r.method, str(r.url), r.content) for r in by_method] == [
        (r.method, str(r.url), r.content) for r in by_name
    ]


@pytest.mark.anyio
async def test_the_async_client_calls_by_name_too() -> None:
    """AsyncClient.call reads the same table (a stream end without a body)."""
    sent: list[httpx.Request] = []

    async def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json=ANSWER)

    transport = httpx.MockTransport(answer)
    async with AsyncClient(api_key=KEY, base_url=BASE, transport=transport) as client:
        result = await client.call(Operation.END_STREAM, stream_key="nightly")
    assert ("DELETE", b"") == (sent[0].method, sent[0].content)
    assert "started" == getattr(result, "operation", None)


def test_call_refuses_what_the_table_does_not_have() -> None:
    """An unknown name is a ValueError, a missing or unknown path parameter a TypeError."""
    _, transport = _recording()
    with Client(api_key=KEY, base_url=BASE, transport=transport) as client:
        with pytest.raises(ValueError, match="teleport"):
            client.call("teleport", PushNotification(title="x"))
        with pytest.raises(TypeError, match="stream_key"):
            client.call(Operation.STREAM, StreamUpdate(content_state=STATE))
        with pytest.raises(TypeError, match="extra"):
            client.call(Operation.PUSH, PushNotification(title="x"), extra="1")


@pytest.mark.parametrize("strict", [False, True])
@pytest.mark.parametrize("endpoint", ROWS)
def test_the_simulator_routes_each_operation_as_the_table_says(
    endpoint: Endpoint[Any, Any], strict: bool
) -> None:
    """The router finds each row at its method and path (a strict simulator lacks the newer
    ones), and answers 405 for the row's path with a method no row has there."""
    _, path, where = EXAMPLES[endpoint.name]
    routed = route(endpoint.method, where, strict=strict)
    if strict and endpoint.newer:
        assert 404 == getattr(routed, "status", None)
        return
    assert (endpoint, path) == routed
    assert 405 == getattr(route("PATCH", where, strict=strict), "status", None)


@pytest.mark.parametrize("endpoint", ROWS)
def test_the_simulator_answers_each_operation(endpoint: Endpoint[Any, Any]) -> None:
    """Every row reaches a handler of the simulated account: neither 404 "Not Found" nor 405."""
    state = SimulatorState(SimulatorConfig())
    body, _, where = EXAMPLES[endpoint.name]
    reply = state.handle(
        endpoint.method,
        where,
        authorization=f"Bearer {state.config.api_key}",
        body=json.dumps(body.to_json()).encode(),
    )
    assert 405 != reply.status
    assert "Not Found" != reply.body.get("error")


def test_the_tests_model_is_the_published_rows(model_validator: ModelValidator) -> None:
    """The tests' model of the API describes exactly the rows the published spec has."""
    paths = model_validator.spec["paths"]
    described = {
        (method.upper(), template, operation["operationId"], operation["requestBody"]["required"])
        for template, item in paths.items()
        for method, operation in item.items()
    }
    expected = {(e.method, e.path, str(e.name), e.body_required) for e in published_operations()}
    assert expected == described
    assert [Operation.REPLACE_PUSH] == [e.name for e in OPERATIONS.values() if e.newer]


def test_the_published_rows_are_the_specs_operations(spec_validator: SpecValidator) -> None:
    """Each published row is an operation of the spec in force (ActivitySmith's when present):
    the same method and path, path parameters, request component and whether a body is needed."""
    spec = spec_validator.spec
    found = {}
    for template, item in spec["paths"].items():
        for method, operation in item.items():
            if not (isinstance(operation, dict) and "responses" in operation):
                continue
            request_body = operation.get("requestBody") or {}
            schema = request_body.get("content", {}).get("application/json", {}).get("schema")
            found[(method.upper(), template)] = (
                tuple(p["name"] for p in operation.get("parameters", []) if p["in"] == "path"),
                bool(request_body.get("required")),
                (schema or {}).get("$ref", "").rsplit("/", 1)[-1] or None,
            )
    expected = {
        (e.method, e.path): (e.parameters, e.body_required, SPEC_COMPONENTS[e.body.__name__])
        for e in published_operations()
    }
    assert expected == found
