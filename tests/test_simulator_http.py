"""The simulator over real HTTP on 127.0.0.1: spec-valid answers, limits, faults, inspection."""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from conftest import SpecValidator
from livebar._wire.client import AsyncClient, Client
from livebar._wire.errors import (
    NoRecipientsError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    StreamNotFoundError,
)
from livebar._wire.payload import (
    BadgeCount,
    ContentState,
    EndActivity,
    MetricValue,
    StartActivity,
    StreamUpdate,
    UpdateActivity,
)
from livebar.simulator import SimulatorConfig, SimulatorHandle, serve
from livebar.simulator._demo import run_demo
from livebar.testing import (
    assert_all_ended,
    assert_no_budget_warnings,
    assert_no_errors,
    assert_within_rate_limit,
    ended_titles,
    livebar_simulator,  # noqa: F401  (fixture under test)
    simulator,  # noqa: F401  (fixture under test)
)

NEWER_SERVER_FIELDS = ("warning",)
"""Fields FACTS.md says newer servers add to 200 responses; stripped before schema checks."""
SDK_1_14_FIELDS = ("notification_id", "tags", "ignored", "devices_updated", "users_updated", "code")
"""What the default (newer) simulator adds to the published answers, for SDK 1.14."""
SCOPED_KEY = "ask_ops_only"
SEGMENTED = {
    "title": "Deploy",
    "type": "segmented_progress",
    "number_of_steps": 4,
    "current_step": 0,
}


class FakeClock:
    """Wall-clock seconds that only move when a test says so."""

    def __init__(self) -> None:
        self.now = 1_767_225_600.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def sim() -> Iterator[SimulatorHandle]:
    """A strict (published-spec) simulator with an extra ops-only key and an ops-only iPad."""
    config = SimulatorConfig(
        keys={"ask_sim_default": None, SCOPED_KEY: ["ops"]},
        devices={"iPhone": ["devs", "ops"], "iPad": ["ops"]},
        strict=True,
    )
    with serve(config=config) as handle:
        yield handle


@pytest.fixture
def api(sim: SimulatorHandle) -> Iterator[httpx.Client]:
    """An httpx client for the simulator's API with its default key."""
    headers = {"Authorization": f"Bearer {sim.api_key}"}
    with httpx.Client(base_url=sim.url, headers=headers, timeout=5.0) as client:
        yield client


def assert_spec_response(spec_validator: SpecValidator, response: httpx.Response) -> None:
    """Fail unless the response body validates against the spec for its operation and status."""
    request = response.request
    pointer, _ = spec_validator.operation(request.method, request.url.path)
    responses = _resolve(spec_validator.spec, pointer)["responses"]
    status = str(response.status_code)
    assert status in responses, f"{request.method} {request.url.path} answered {status}"
    body = response.json()
    if response.status_code == 200:
        body = {name: value for name, value in body.items() if name not in NEWER_SERVER_FIELDS}
    schema = f"{pointer}/responses/{status}/content/application~1json/schema"
    errors = [error.message for error in spec_validator.validator(schema).iter_errors(body)]
    assert [] == errors, f"{request.method} {request.url.path} -> {status} {body}"


def _resolve(spec: dict[str, Any], pointer: str) -> Any:
    node: Any = spec
    for part in pointer.strip("/").split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def test_every_endpoint_answers_as_the_spec_documents(
    api: httpx.Client, spec_validator: SpecValidator
) -> None:
    """Push, manual lifecycle and stream lifecycle answer spec-valid 200 bodies."""
    responses = [api.post("/push-notification", json={"title": "Hello", "message": "world"})]
    start = api.post("/live-activity/start", json={"content_state": SEGMENTED})
    activity_id = start.json()["activity_id"]
    state = {"title": "Deploy", "current_step": 2}
    responses += [
        start,
        api.post(
            "/live-activity/update", json={"activity_id": activity_id, "content_state": state}
        ),
        api.post("/live-activity/end", json={"activity_id": activity_id, "content_state": state}),
        api.put("/live-activity/stream/job-1", json={"content_state": SEGMENTED}),
        api.put("/live-activity/stream/job-1", json={"content_state": state}),
        api.put("/live-activity/stream/job-1", json={"content_state": state}),
        api.delete("/live-activity/stream/job-1"),
        api.delete("/live-activity/stream/job-1"),
    ]
    assert [200] * 9 == [response.status_code for response in responses]
    for response in responses:
        assert_spec_response(spec_validator, response)


def test_error_answers_match_the_spec(
    sim: SimulatorHandle, api: httpx.Client, spec_validator: SpecValidator
) -> None:
    """400, 403, 404 and the activity-limit 429 validate against the spec's error schemas."""
    scoped = {"Authorization": f"Bearer {SCOPED_KEY}"}
    elsewhere = {"content_state": SEGMENTED, "target": {"channels": ["devs"]}}
    nobody = {"content_state": SEGMENTED, "target": {"channels": ["marketing"]}}
    responses = [
        api.post("/live-activity/start", json={"content_state": SEGMENTED, "extra": 1}),
        api.post("/live-activity/start", json=elsewhere, headers=scoped),
        api.post("/live-activity/start", json=nobody),
        api.post("/push-notification", json={"title": "t", "target": {"channels": ["x"]}}),
        api.put("/live-activity/stream/bad.key", json={"content_state": SEGMENTED}),
        api.delete("/live-activity/stream/never-seen"),
        api.post(
            "/live-activity/update",
            json={"activity_id": "sim-9999", "content_state": {"title": "t"}},
        ),
        api.post(
            "/live-activity/end", json={"activity_id": "sim-9999", "content_state": {"title": "t"}}
        ),
    ]
    responses += [
        api.post("/live-activity/start", json={"content_state": SEGMENTED}) for _ in "12345"
    ]
    assert [400, 403, 404, 404, 400, 404, 403, 403, 200, 200, 200, 200, 429] == [
        response.status_code for response in responses
    ]
    for response in responses:
        assert_spec_response(spec_validator, response)
    assert "extra" == responses[0].json()["field"]


def test_a_request_without_a_key_is_401(api: httpx.Client) -> None:
    """No key, no service: 401 with an error and a message."""
    response = api.post("/push-notification", json={"title": "t"}, headers={"Authorization": ""})
    assert (401, "Unauthorized") == (response.status_code, response.json()["error"])


def test_the_rate_limit_over_http(spec_validator: SpecValidator) -> None:
    """Past the limit the API answers the exact 429, with Retry-After when configured."""
    clock = FakeClock()
    with (
        serve(rate_limit=2, retry_after_header=True, clock=clock, strict=True) as sim,
        httpx.Client(base_url=sim.url, headers={"Authorization": f"Bearer {sim.api_key}"}) as api,
    ):
        statuses = [api.post("/push-notification", json={"title": "t"}).status_code for _ in "123"]
        refused = api.delete("/live-activity/stream/job")
        clock.now += 60.0
        allowed = api.post("/push-notification", json={"title": "t"})
    assert [200, 200, 429, 429, 200] == [*statuses, refused.status_code, allowed.status_code]
    expected = {
        "error": "Rate limit exceeded",
        "message": "Too many requests, please try again later.",
    }
    assert (expected, "60") == (refused.json(), refused.headers["retry-after"])
    assert_spec_response(spec_validator, refused)


def test_the_budget_warning_appears_only_once_it_fires(
    api: httpx.Client, spec_validator: SpecValidator
) -> None:
    """Twelve quick updates are clean; the thirteenth carries a warning, otherwise spec-valid."""
    activity_id = api.post("/live-activity/start", json={"content_state": SEGMENTED}).json()[
        "activity_id"
    ]
    body = {"activity_id": activity_id, "content_state": {"title": "Deploy", "current_step": 1}}
    responses = [api.post("/live-activity/update", json=body) for _ in range(13)]
    assert [False] * 12 + [True] == ["warning" in response.json() for response in responses]
    assert_spec_response(spec_validator, responses[-1])


def test_livebar_client_round_trip(sim: SimulatorHandle) -> None:
    """livebar's own Client drives a manual and a stream activity against the simulator."""
    with Client(api_key=sim.api_key, base_url=sim.url, retry=False) as client:
        state = ContentState.segmented_progress("Deploy", number_of_steps=3, current_step=0)
        started = client.start(StartActivity(content_state=state))
        step = ContentState(title="Deploy", current_step=1)
        client.update(UpdateActivity(activity_id=started.activity_id, content_state=step))
        client.end(EndActivity(activity_id=started.activity_id, content_state=step))
        progress = ContentState.progress("Copy", percentage=10)
        streamed = client.stream("copy", StreamUpdate(content_state=progress))
        client.end_stream("copy")
        with pytest.raises(StreamNotFoundError):
            client.end_stream("never-started")
    assert ("started", ["Deploy", "Copy"]) == (streamed.operation, ended_titles(sim))


@pytest.mark.anyio
async def test_livebar_async_client_against_the_simulator(sim: SimulatorHandle) -> None:
    """The AsyncClient works against the simulator on asyncio and trio."""
    async with AsyncClient(api_key=sim.api_key, base_url=sim.url, retry=False) as client:
        state = ContentState.progress("Upload", value=3, upper_limit=10)
        result = await client.stream("upload", StreamUpdate(content_state=state))
        ended = await client.end_stream("upload")
    assert ("started", "ended") == (result.operation, ended.operation)


def test_fail_next_answers_the_injected_status(sim: SimulatorHandle, api: httpx.Client) -> None:
    """fail_next(n) fails exactly n requests, with Retry-After when asked, then recovers."""
    sim.fail_next(2, status=503, retry_after=1.5)
    responses = [api.post("/push-notification", json={"title": "t"}) for _ in range(3)]
    assert [503, 503, 200] == [response.status_code for response in responses]
    assert "1.5" == responses[0].headers["retry-after"]
    faults = [entry["fault"] for entry in sim.requests()]
    assert ["failed", "failed", None] == faults


def test_an_injected_429_is_seen_by_livebar_as_a_rate_limit(sim: SimulatorHandle) -> None:
    """A 429 fault looks like the real limit, Retry-After included."""
    sim.fail_next(1, status=429, retry_after=7)
    with (
        Client(api_key=sim.api_key, base_url=sim.url, retry=False) as client,
        pytest.raises(RateLimitError) as caught,
    ):
        client.stream("job", StreamUpdate(content_state=ContentState.progress("t", percentage=1)))
    assert 7.0 == caught.value.retry_after


def test_drop_next_closes_the_connection_without_an_answer(
    sim: SimulatorHandle, api: httpx.Client
) -> None:
    """A dropped request raises a transport error in the client; the next one succeeds."""
    sim.drop_next(1)
    with pytest.raises(httpx.RemoteProtocolError):
        api.post("/push-notification", json={"title": "t"})
    assert 200 == api.post("/push-notification", json={"title": "t"}).status_code
    assert [("dropped", None), (None, 200)] == [
        (entry["fault"], entry["status"]) for entry in sim.requests()
    ]


def test_down_drops_every_api_request_until_up(sim: SimulatorHandle, api: httpx.Client) -> None:
    """While down, every API request is dropped; /_sim and the page keep working."""
    sim.down()
    for _ in range(2):
        with pytest.raises(httpx.TransportError):
            api.post("/push-notification", json={"title": "t"})
    assert 200 == httpx.get(f"{sim.root_url}/_sim/state").status_code
    sim.up()
    assert 200 == api.post("/push-notification", json={"title": "t"}).status_code


def test_delay_holds_each_request(sim: SimulatorHandle, api: httpx.Client) -> None:
    """delay(s) makes each API request take at least s seconds."""
    sim.delay(0.2)
    started = time.monotonic()
    assert 200 == api.post("/push-notification", json={"title": "t"}).status_code
    assert time.monotonic() - started >= 0.2
    sim.delay(0)
    assert 0.0 == sim.snapshot()["faults"]["delay"]


def test_faults_over_http(sim: SimulatorHandle, api: httpx.Client) -> None:
    """/_sim/faults, /_sim/down, /_sim/up and /_sim/reset control the same faults."""
    with httpx.Client(base_url=f"{sim.root_url}/_sim") as control:
        set_faults = control.post("/faults", json={"fail_next": 1, "status": 500})
        assert (200, 1) == (set_faults.status_code, set_faults.json()["fail_next"])
        assert 500 == api.post("/push-notification", json={"title": "t"}).status_code
        assert 200 == control.post("/down", json={}).status_code
        with pytest.raises(httpx.TransportError):
            api.post("/push-notification", json={"title": "t"})
        assert False is control.post("/up", json={}).json()["faults"]["down"]
        refused = control.post("/faults", json={"explode": True})
        assert (400, "explode") == (refused.status_code, refused.json()["field"])
        control.post("/faults", json={"drop_next": 3})
        assert 0 == control.delete("/faults").json()["drop_next"]
        control.post("/reset", json={})
        assert [] == control.get("/requests").json()


def test_sim_endpoints_need_no_key_and_do_not_count() -> None:
    """Inspection and control requests never touch the account's rate limit."""
    with serve(rate_limit=1) as sim, httpx.Client(base_url=sim.root_url) as client:
        for path in ("/_sim/state", "/_sim/requests", "/_sim/activities", "/_sim/phone", "/"):
            assert 200 == client.get(path).status_code
        headers = {"Authorization": f"Bearer {sim.api_key}"}
        assert (
            200
            == client.post(
                "/api/push-notification", json={"title": "t"}, headers=headers
            ).status_code
        )


def test_inspection_endpoints_report_history_and_display(
    sim: SimulatorHandle, api: httpx.Client
) -> None:
    """/_sim/activities has each request's state and what the phone displayed when."""
    api.put("/live-activity/stream/job", json={"content_state": SEGMENTED})
    api.put(
        "/live-activity/stream/job", json={"content_state": {"title": "Deploy", "current_step": 1}}
    )
    api.delete("/live-activity/stream/job")
    api.post("/push-notification", json={"title": "Done", "message": "all good"})
    with httpx.Client(base_url=f"{sim.root_url}/_sim") as control:
        activities = control.get("/activities").json()
        requests = control.get("/requests").json()
        pushes = control.get("/pushes").json()
        phone = control.get("/phone").json()
    history = [
        (event["kind"], event["content_state"]["current_step"])
        for event in activities[0]["history"]
    ]
    assert [("start", 0), ("update", 1), ("end", 1)] == history
    assert [0, 1, 1] == [event["content_state"]["current_step"] for event in activities[0]["shown"]]
    assert ["PUT", "PUT", "DELETE", "POST"] == [entry["method"] for entry in requests]
    assert all(entry["at"].endswith("Z") for entry in requests)
    assert (["Done"], ["Done"]) == (
        [push["title"] for push in pushes],
        [notification["title"] for notification in phone["notifications"]],
    )
    assert ["ended"] == [card["state"] for card in phone["activities"]]


def test_the_lock_screen_page_and_its_files_are_served(sim: SimulatorHandle) -> None:
    """/ is the page with the current state inlined; its script and style are local files."""
    with httpx.Client(base_url=sim.root_url) as client:
        page = client.get("/")
        script = client.get("/static/app.js")
        style = client.get("/static/style.css")
        missing = client.get("/static/secret.py")
    assert page.headers["content-type"].startswith("text/html")
    assert '"rate_limit": 60' in page.text
    assert "__INITIAL_STATE__" not in page.text
    assert "http" not in page.text.split("<body>")[0].replace("http-equiv", "")  # no CDN
    assert script.headers["content-type"].startswith("text/javascript")
    assert style.headers["content-type"].startswith("text/css")
    assert 404 == missing.status_code


def test_titles_cannot_break_out_of_the_inlined_state(
    api: httpx.Client, sim: SimulatorHandle
) -> None:
    """A title with </script> is escaped in the page."""
    api.post("/push-notification", json={"title": "</script><b>x</b>"})
    page = httpx.get(sim.page_url).text
    assert "</script><b>" not in page


def test_serve_stops_the_server_on_exit() -> None:
    """Leaving serve() stops the thread and frees the port."""
    before = {thread.name for thread in threading.enumerate()}
    with serve() as sim:
        port = int(sim.url.rsplit(":", 1)[1].split("/")[0])
        assert "livebar-simulator" in {thread.name for thread in threading.enumerate()}
    assert before == {thread.name for thread in threading.enumerate()}
    with socket.socket() as probe:
        assert 0 != probe.connect_ex(("127.0.0.1", port))


def test_handle_repr_and_env_hold_no_surprises(sim: SimulatorHandle) -> None:
    """The handle's repr shows the URL only; env() points livebar at the simulator."""
    assert sim.api_key not in repr(sim)
    assert {"ACTIVITYSMITH_BASE_URL": sim.url, "ACTIVITYSMITH_API_KEY": sim.api_key} == sim.env()


def test_livebar_simulator_fixture_points_the_environment_at_it(
    livebar_simulator: SimulatorHandle,  # noqa: F811
) -> None:
    """Code configured from the environment reaches the simulator."""
    assert livebar_simulator.url == os.environ["ACTIVITYSMITH_BASE_URL"]
    with Client() as client:
        client.stream("env", StreamUpdate(content_state=ContentState.progress("t", percentage=5)))
        client.end_stream("env")
    assert_no_errors(livebar_simulator)
    assert_all_ended(livebar_simulator)
    assert_within_rate_limit(livebar_simulator)
    assert_no_budget_warnings(livebar_simulator)


def test_assertion_helpers_fail_on_misbehaviour(simulator: SimulatorHandle) -> None:  # noqa: F811
    """The helpers catch budget warnings, running activities and API errors."""
    headers = {"Authorization": f"Bearer {simulator.api_key}"}
    with httpx.Client(base_url=simulator.url, headers=headers) as api:
        for step in range(14):
            state: dict[str, Any] = dict(SEGMENTED, current_step=step % 4)
            api.put("/live-activity/stream/busy", json={"content_state": state})
        api.post(
            "/live-activity/update", json={"activity_id": "x", "content_state": {"title": "t"}}
        )
    for helper in (assert_no_budget_warnings, assert_all_ended, assert_no_errors):
        with pytest.raises(AssertionError):
            helper(simulator)


def test_the_demo_runs_fast_and_shows_a_failure() -> None:
    """run_demo(fast=True) finishes in seconds, exits 0 and narrates the failed stage."""
    out = io.StringIO()
    started = time.monotonic()
    assert 0 == run_demo(fast=True, out=out)
    text = out.getvalue()
    assert time.monotonic() - started < 10
    assert "(failed look)" in text
    assert "0 errors, 0 budget warnings" in text


def test_livebar_simulate_serves_until_ctrl_c(tmp_path: Any) -> None:
    """run_simulate prints where to point livebar, serves, and exits 0 on SIGINT."""
    code = (
        "from livebar.simulator._demo import run_simulate; raise SystemExit(run_simulate(port=0))"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(4)]
        url = lines[2].split("=", 1)[1].strip()
        key = lines[3].split("=", 1)[1].strip()
        response = httpx.post(
            f"{url}/push-notification",
            json={"title": "t"},
            headers={"Authorization": f"Bearer {key}"},
        )
        assert 200 == response.status_code
    finally:
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=15)
    assert (0, "") == (process.returncode, stderr)


# The app-icon badge and widget metrics.


def test_badge_and_metric_answers_match_the_spec(
    sim: SimulatorHandle, api: httpx.Client, spec_validator: SpecValidator
) -> None:
    """/badge and /metrics/{key}/value answer 200, 400, 403 and 404 as the spec documents."""
    scoped = {"Authorization": f"Bearer {SCOPED_KEY}"}
    responses = [
        api.post("/badge", json={"badge": 8333}),
        api.post("/badge", json={"badge": 3, "target": {"channels": ["ops"]}}),
        api.post("/badge", json={"badge": -1}),
        api.post("/badge", json={"badge": 1, "target": {"channels": ["devs"]}}, headers=scoped),
        api.post("/badge", json={"badge": 1, "target": {"channels": ["marketing"]}}),
        api.post("/metrics/cpu/value", json={"value": 42}),
        api.post("/metrics/queue_depth/value", json={"value": "busy"}),
        api.post("/metrics/cpu/value", json={"value": "x" * 65}),
        api.post("/metrics/Bad.Key/value", json={"value": 1}),
        api.post("/metrics/deploy.success_rate/value", json={"value": 99.9}),
    ]
    assert [200, 200, 400, 403, 404, 200, 200, 400, 400, 404] == [
        response.status_code for response in responses
    ]
    for response in responses:
        assert_spec_response(spec_validator, response)
    assert {"error": "Metric not found", "message": "No metric with key: deploy.success_rate"} == (
        responses[-1].json()
    )


def test_badge_and_metric_rate_limit_over_http(spec_validator: SpecValidator) -> None:
    """Past the shared account limit both endpoints answer the spec's 429."""
    with (
        serve(rate_limit=2, strict=True) as sim,
        httpx.Client(base_url=sim.url, headers={"Authorization": f"Bearer {sim.api_key}"}) as api,
    ):
        api.post("/push-notification", json={"title": "t"})
        api.post("/metrics/cpu/value", json={"value": 1})
        refused = [
            api.post("/badge", json={"badge": 1}),
            api.post("/metrics/cpu/value", json={"value": 2}),
        ]
    assert [429, 429] == [response.status_code for response in refused]
    for response in refused:
        assert_spec_response(spec_validator, response)


def test_livebar_client_sets_badge_and_metrics(sim: SimulatorHandle) -> None:
    """Client.set_badge and set_metric reach the simulator; their errors map as documented."""
    with Client(api_key=sim.api_key, base_url=sim.url, retry=False) as client:
        badge = client.set_badge(BadgeCount(badge=7, channels=["ops"]))
        metric = client.set_metric("cpu", MetricValue(value=0.75))
        with pytest.raises(NotFoundError):
            client.set_metric("never.created", MetricValue(value=1))
        with pytest.raises(NoRecipientsError):
            client.set_badge(BadgeCount(badge=1, channels=["marketing"]))
    with Client(api_key=SCOPED_KEY, base_url=sim.url, retry=False) as scoped:
        with pytest.raises(PermissionDeniedError):
            scoped.set_badge(BadgeCount(badge=1, channels=["devs"]))
    assert (7, 2, ("ops",), True) == (
        badge.badge,
        badge.devices_notified,
        badge.effective_channel_slugs,
        metric.success,
    )
    assert {"iPhone": 7, "iPad": 7} == sim.badges()
    assert 0.75 == sim.metrics()["cpu"]["value"]


@pytest.mark.anyio
async def test_livebar_async_client_sets_badge_and_metrics(sim: SimulatorHandle) -> None:
    """AsyncClient.set_badge and set_metric work against the simulator on asyncio and trio."""
    async with AsyncClient(api_key=sim.api_key, base_url=sim.url, retry=False) as client:
        badge = await client.set_badge(BadgeCount(badge=2))
        metric = await client.set_metric("queue_depth", MetricValue(value="drained"))
    assert (2, True) == (badge.badge, metric.success)
    assert "drained" == sim.metrics()["queue_depth"]["value"]


def test_sim_badges_and_metrics_endpoints(sim: SimulatorHandle, api: httpx.Client) -> None:
    """/_sim/badges and /_sim/metrics report what was set, without a key and for free."""
    api.post("/badge", json={"badge": 4, "target": {"channels": ["devs"]}})
    api.post("/metrics/cpu/value", json={"value": 3, "timestamp": "2026-07-10T12:00:00Z"})
    with httpx.Client(base_url=f"{sim.root_url}/_sim") as control:
        badges = control.get("/badges").json()
        metrics = control.get("/metrics").json()
        state = control.get("/state").json()
    assert {"iPhone": 4} == badges == state["phone"]["badges"]
    assert (3, "2026-07-10T12:00:00Z", 1) == (
        metrics["cpu"]["value"],
        metrics["cpu"]["timestamp"],
        metrics["cpu"]["updates"],
    )
    assert metrics == state["phone"]["metrics"]
    assert 2 == state["account"]["requests_in_window"]


# /_sim/… is for this machine's tests and page, not for other sites open in the same browser.


def test_sim_controls_refuse_cross_site_requests(sim: SimulatorHandle) -> None:
    """text/plain POSTs, foreign origins, cross-site fetches and foreign hosts are refused."""
    with httpx.Client(base_url=f"{sim.root_url}/_sim") as control:
        refused = [
            control.post("/down", content=b"{}", headers={"Content-Type": "text/plain"}),
            control.post("/reset", content=b"x"),
            control.post("/down", json={}, headers={"Origin": "https://evil.test"}),
            control.post("/down", json={}, headers={"Sec-Fetch-Site": "cross-site"}),
            control.post("/down", json={}, headers={"Sec-Fetch-Site": "same-site"}),
            control.delete("/faults", headers={"Origin": "null"}),
            control.post("/down", json={}, headers={"Host": "evil.test"}),
            control.get("/state", headers={"Host": "rebound.evil.test"}),
        ]
        assert [415, 415, 403, 403, 403, 403, 403, 403] == [r.status_code for r in refused]
        assert False is sim.snapshot()["faults"]["down"]
        own_origin = {"Origin": sim.root_url, "Sec-Fetch-Site": "same-origin"}
        accepted = [
            control.post("/faults", json={"fail_next": 1}, headers=own_origin),
            control.post("/down", json={}, headers={"Content-Type": "application/json"}),
            control.post("/up", content=b"{}", headers={"Content-Type": "application/json; x=1"}),
            control.get("/state", headers={"Sec-Fetch-Site": "none"}),
        ]
        assert [200, 200, 200, 200] == [response.status_code for response in accepted]
    assert 1 == sim.snapshot()["faults"]["fail_next"]


def test_the_page_answers_only_for_this_machine(sim: SimulatorHandle) -> None:
    """The page and its files refuse a foreign Host (DNS rebinding); localhost works."""
    port = sim.root_url.rsplit(":", 1)[1]
    assert 403 == httpx.get(sim.page_url, headers={"Host": f"evil.test:{port}"}).status_code
    assert (
        403 == httpx.get(f"{sim.root_url}/static/app.js", headers={"Host": "evil.test"}).status_code
    )
    assert 200 == httpx.get(sim.page_url, headers={"Host": f"localhost:{port}"}).status_code
    assert 200 == httpx.get(sim.page_url, headers={"Sec-Fetch-Site": "cross-site"}).status_code


def test_the_api_key_never_reaches_the_page_or_sim(sim: SimulatorHandle, api: httpx.Client) -> None:
    """After requests with the key, neither the page nor any /_sim answer contains it."""
    api.post("/push-notification", json={"title": "t"})
    api.put("/live-activity/stream/job", json={"content_state": SEGMENTED})
    texts = [httpx.get(sim.page_url).text] + [
        httpx.get(f"{sim.root_url}/_sim/{name}").text
        for name in ("state", "requests", "activities", "pushes", "phone", "faults")
    ]
    assert [False] * len(texts) == [sim.api_key in text for text in texts]
    assert [False] * len(texts) == [SCOPED_KEY in text for text in texts]


def test_billing_control_over_http() -> None:
    """/_sim/billing sets and lifts a billing block; a bad reason is a 400."""
    with serve() as sim, httpx.Client(base_url=sim.root_url) as client:
        headers = {"Authorization": f"Bearer {sim.api_key}"}
        assert 200 == client.post("/_sim/billing", json={"blocked": "trial_exhausted"}).status_code
        blocked = client.post("/api/push-notification", json={"title": "t"}, headers=headers)
        assert (402, "trial_exhausted") == (blocked.status_code, blocked.json()["error"])
        assert 400 == client.post("/_sim/billing", json={"blocked": "broke"}).status_code
        assert 200 == client.post("/_sim/billing", json={"blocked": None}).status_code
        assert (
            200
            == client.post(
                "/api/push-notification", json={"title": "t"}, headers=headers
            ).status_code
        )


def test_the_default_answers_are_the_published_ones_plus_newer_fields(
    spec_validator: SpecValidator,
) -> None:
    """Without strict, answers validate against the spec once SDK 1.14's fields are removed."""
    with (
        serve(rate_limit=11, devices={"iPhone": ["ops"]}) as sim,
        httpx.Client(base_url=sim.url, headers={"Authorization": f"Bearer {sim.api_key}"}) as api,
    ):
        start = api.post("/live-activity/start", json={"content_state": SEGMENTED})
        activity_id = start.json()["activity_id"]
        state = {"title": "Deploy", "current_step": 2}
        end = {"activity_id": activity_id, "content_state": state}
        responses = [
            api.post("/push-notification", json={"title": "t"}),
            start,
            api.post("/live-activity/update", json=end),
            api.post("/live-activity/end", json=end),
            api.post("/live-activity/end", json=end),
            api.put("/live-activity/stream/j", json={"content_state": SEGMENTED}),
            api.put("/live-activity/stream/j", json={"content_state": SEGMENTED}),
            api.delete("/live-activity/stream/j"),
            api.delete("/live-activity/stream/j"),
            api.post("/badge", json={"badge": 2}),
            api.post("/metrics/cpu/value", json={"value": 2}),
        ]
        responses.append(api.post("/push-notification", json={"title": "t"}))
    assert [200] * 11 + [429] == [response.status_code for response in responses]
    added = set()
    for response in responses:
        body = response.json()
        newer = SDK_1_14_FIELDS + (("message",) if response.status_code == 200 else ())
        added |= set(body) & set(newer)
        stripped = {k: v for k, v in body.items() if k not in newer}
        if stripped.get("effective_channel_slugs") == [] and "badge" in stripped:
            stripped["effective_channel_slugs"] = None
        request = response.request
        pointer, _ = spec_validator.operation(request.method, request.url.path)
        schema = f"{pointer}/responses/{response.status_code}/content/application~1json/schema"
        errors = [e.message for e in spec_validator.validator(schema).iter_errors(stripped)]
        assert [] == errors, f"{request.method} {request.url.path} -> {body}"
    assert {*SDK_1_14_FIELDS, "message"} - {"tags"} == added
