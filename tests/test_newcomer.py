"""A newcomer's first ten minutes: a fresh clone's tests pass, and the docs tell the truth.

Without ActivitySmith's spec beside the repository, requests are checked by livebar's own model
and the run says so; ``LIVEBAR_REQUIRE_SPEC=1`` (CI) makes a missing spec fail the run.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from livebar.simulator import SimulatorHandle, create_app

if TYPE_CHECKING:
    from conftest import ModelValidator, SpecValidator

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
NO_SPEC = "requests checked against the ActivitySmith spec: no (set LIVEBAR_OPENAPI_SPEC)"
SEGMENTED = {
    "title": "Deploy",
    "type": "segmented_progress",
    "number_of_steps": 3,
    "current_step": 0,
}

PROBE = '''
"""Requests a test sends, as the suite's fixtures check them."""

import httpx


def send(mock_transport, path, body):
    """POST ``body`` to ``path`` through the checking transport."""
    headers = {"Authorization": "Bearer ask_probe", "User-Agent": "livebar/0"}
    reply = lambda request: httpx.Response(200, json={"success": True})
    with httpx.Client(transport=mock_transport(reply), headers=headers) as client:
        return client.post(f"https://api.invalid/api{path}", json=body).status_code


def test_a_valid_push(mock_transport):
    """A push with a title is a valid request."""
    assert 200 == send(mock_transport, "/push-notification", {"title": "hello"})


def test_a_start_without_a_type(mock_transport):
    """A start whose content state has no type is not."""
    assert 200 == send(mock_transport, "/live-activity/start", {"content_state": {"title": "x"}})
'''

# A spec of our own making (not ActivitySmith's): one operation whose title must be "spec".
TINY_SPEC = {
    "openapi": "3.1.0",
    "paths": {
        "/push-notification": {
            "post": {
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {"type": "object", "properties": {"title": {"const": "spec"}}}
                        }
                    },
                },
                "responses": {"200": {"description": "sent"}},
            }
        }
    },
}


def fresh_copy(tmp_path: Path) -> Path:
    """The suite's conftest and settings, with a probe test, where no ``../shared`` exists."""
    repo = tmp_path / "clone"
    (repo / "tests").mkdir(parents=True)
    shutil.copy(ROOT / "pyproject.toml", repo / "pyproject.toml")
    shutil.copy(ROOT / "tests" / "conftest.py", repo / "tests" / "conftest.py")
    (repo / "tests" / "test_probe.py").write_text(PROBE, encoding="utf-8")
    assert not (tmp_path / "shared").exists()
    return repo


def run_pytest(repo: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """``python -m pytest`` in ``repo``, with none of this run's LIVEBAR_ or CI settings."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("LIVEBAR_", "CI"))}
    environ.update(env, COLUMNS="300")  # short test summary lines uncut
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rfs"],
        cwd=repo,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )


# Point 1: the test command on a fresh clone.


def test_without_the_spec_the_model_checks_requests_and_says_so(tmp_path: Path) -> None:
    """No spec: every test runs, the payload model refuses a bad body, one line says so."""
    done = run_pytest(fresh_copy(tmp_path))
    lines = done.stdout.splitlines()
    assert 1 == done.returncode, done.stdout + done.stderr
    assert [NO_SPEC, NO_SPEC] == [line for line in lines if line.startswith("requests checked")]
    assert "1 failed, 1 passed" in lines[-1]
    assert "FAILED tests/test_probe.py::test_a_start_without_a_type" in done.stdout
    assert "content_state.type" in done.stdout
    assert "skipped" not in done.stdout


def test_a_spec_found_through_the_variable_validates_every_request(tmp_path: Path) -> None:
    """LIVEBAR_OPENAPI_SPEC: the header names the file and bodies are validated against it."""
    spec = tmp_path / "openapi.json"
    spec.write_text(json.dumps(TINY_SPEC), encoding="utf-8")
    done = run_pytest(fresh_copy(tmp_path), LIVEBAR_OPENAPI_SPEC=str(spec))
    assert 1 == done.returncode, done.stdout + done.stderr
    assert f"requests checked against the ActivitySmith spec: yes ({spec})" in done.stdout
    assert "2 failed" in done.stdout.splitlines()[-1]
    assert "'spec' was expected" in done.stdout
    assert "/live-activity/start is not an operation" in done.stdout


def test_a_required_spec_that_is_missing_fails_the_run(tmp_path: Path) -> None:
    """LIVEBAR_REQUIRE_SPEC=1 (CI) without the spec: no test runs and the run fails."""
    done = run_pytest(fresh_copy(tmp_path), LIVEBAR_REQUIRE_SPEC="1")
    assert 4 == done.returncode
    assert "LIVEBAR_REQUIRE_SPEC=1 but the ActivitySmith spec is not at" in done.stderr
    assert "set LIVEBAR_OPENAPI_SPEC" in done.stderr
    assert "passed" not in done.stdout


def test_a_spec_variable_naming_no_file_is_an_error(tmp_path: Path) -> None:
    """A LIVEBAR_OPENAPI_SPEC that names a missing file fails instead of checking less."""
    missing = tmp_path / "nowhere.json"
    done = run_pytest(fresh_copy(tmp_path), LIVEBAR_OPENAPI_SPEC=str(missing))
    assert 4 == done.returncode
    assert f"LIVEBAR_OPENAPI_SPEC={missing}: no such file" in done.stderr


def test_ci_requires_the_spec_and_the_browser() -> None:
    """.ci/run sets LIVEBAR_REQUIRE_SPEC, _BROWSER and _REDIS to 1 before the tests."""
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    tests_at = next(i for i, line in enumerate(ci) if "python -m pytest" in line)
    exports = [line for line in ci[:tests_at] if line.startswith("export ")]
    assert [
        "export LIVEBAR_REQUIRE_SPEC=1",
        "export LIVEBAR_REQUIRE_BROWSER=1",
        "export LIVEBAR_REQUIRE_REDIS=1",
    ] == exports


@pytest.mark.parametrize(
    ("env", "outcome"),
    [({}, "SKIPPED"), ({"LIVEBAR_REQUIRE_BROWSER": "1"}, "FAILED")],
)
def test_a_missing_browser_skips_only_when_not_required(
    tmp_path: Path, env: dict[str, str], outcome: str
) -> None:
    """Without chromium a browser test skips with one reason, and fails where it is required."""
    no_browser = tmp_path / "bin"
    no_browser.mkdir()
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("LIVEBAR_", "CI"))}
    environ.update(env, PATH=str(no_browser), COLUMNS="300")
    test = "tests/test_lockscreen_browser.py::test_the_page_follows_changes_without_a_reload"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rfs", test],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (1 if outcome == "FAILED" else 0) == done.returncode, done.stdout
    reason = [line for line in done.stdout.splitlines() if line.startswith(outcome)]
    assert 1 == len(reason), done.stdout
    assert "chromium" in reason[0]


# The payload model that checks requests when the spec is absent (exercised here either way).


def test_the_model_knows_the_operations_and_components_of_the_spec(
    model_validator: ModelValidator, spec_validator: SpecValidator
) -> None:
    """The model describes exactly the operations (and request components) the spec has."""

    def operations(spec: dict[str, Any]) -> set[str]:
        return {
            f"{method.upper()} {template}"
            for template, item in spec["paths"].items()
            for method, operation in item.items()
            if isinstance(operation, dict) and "responses" in operation
        }

    assert operations(spec_validator.spec) == operations(model_validator.spec)
    for name in model_validator.spec["components"]["schemas"]:
        assert name in spec_validator.spec["components"]["schemas"]


def test_the_model_refuses_bad_bodies_naming_the_field(model_validator: ModelValidator) -> None:
    """A start without a type, a push without a title, an unknown field: refused by name."""
    model_validator.validate_body("POST", "/live-activity/start", {"content_state": SEGMENTED})
    model_validator.validate_body("DELETE", "/api/live-activity/stream/job", None)
    refused = [
        ("POST", "/live-activity/start", {"content_state": {"title": "x"}}, "content_state.type"),
        ("POST", "/push-notification", {"message": "no title"}, "title"),
        ("POST", "/badge", {"badge": 1, "extra": True}, "extra"),
        ("PUT", "/live-activity/stream/job", None, "needs a JSON body"),
    ]
    for method, path, body, named in refused:
        with pytest.raises(AssertionError, match=re.escape(named)):
            model_validator.validate_body(method, path, body)


def test_the_model_checks_operations_and_path_parameters(
    model_validator: ModelValidator,
) -> None:
    """An operation the API lacks fails; a bad stream or metric key in the path is refused."""
    with pytest.raises(pytest.fail.Exception, match="is not an operation"):
        model_validator.validate_body("GET", "/push-notification", None)
    headers = {"Authorization": "Bearer ask_x", "User-Agent": "livebar/0"}
    good = httpx.Request(
        "PUT",
        "https://h/api/live-activity/stream/job-1",
        headers=headers,
        json={"content_state": SEGMENTED},
    )
    model_validator.validate_request(good)
    for path, body in [
        ("/live-activity/stream/bad.key", {"content_state": SEGMENTED}),
        ("/metrics/CPU/value", {"value": 1}),
    ]:
        method = "PUT" if "stream" in path else "POST"
        request = httpx.Request(method, f"https://h/api{path}", headers=headers, json=body)
        with pytest.raises(AssertionError, match="path parameter"):
            model_validator.validate_request(request)


def test_the_model_checks_answers_as_the_client_reads_them(
    model_validator: ModelValidator,
) -> None:
    """A 200 must carry what the result class reads; an error must be one livebar can read."""
    start = "/paths/~1live-activity~1start/post/responses"
    ok = model_validator.validator(f"{start}/200/content/application~1json/schema")
    assert ok.is_valid({"success": True, "activity_id": "a1", "devices_notified": 1})
    assert not ok.is_valid({"success": True})
    assert not ok.is_valid({"success": True, "activity_id": "a1", "devices_notified": "1"})
    assert not ok.is_valid({"success": True, "activity_id": "a1", "effective_channel_slugs": [1]})
    limit = model_validator.validator(f"{start}/429/content/application~1json/schema")
    assert limit.is_valid({"error": "Rate limit exceeded", "message": "Too many requests"})
    assert limit.is_valid({"error": "Live Activity limit reached", "limit": 4, "active": 4})
    assert not limit.is_valid({"error": "Live Activity limit reached", "limit": "4"})
    assert not limit.is_valid({"message": "no error field"})
    assert "500" not in model_validator._resolve(start)


def test_the_sim_fixture_checks_what_reached_the_simulator(
    sim: SimulatorHandle, spec_validator: SpecValidator
) -> None:
    """A malformed request logged by the simulator fails the check the fixture runs after."""
    headers = {"Authorization": f"Bearer {sim.api_key}"}
    with httpx.Client(base_url=sim.url, headers=headers) as api:
        api.post("/push-notification", json={"title": "fine"})
        api.post("/live-activity/start", json={"content_state": {"title": "untyped"}})
    (push, start) = sim.requests()
    spec_validator.validate_body(push["method"], push["path"], push["body"])
    with pytest.raises(AssertionError):
        spec_validator.validate_body(start["method"], start["path"], start["body"])
    sim.reset()  # so that the fixture's own check afterwards sees only valid requests


# Point 6: what ActivitySmith is, and the simulator's own endpoints.


def test_the_readme_says_what_activitysmith_needs_before_the_api() -> None:
    """A "Before you start" section: the iOS app, an account, where a key comes from, billing."""
    section = README.split("## Before you start", 1)[1].split("\n## ", 1)[0]
    for needed in ("iOS app", "account", "`ask_", "https://activitysmith.com/app/keys"):
        assert needed in section, needed
    assert "hosted" in section
    assert "402" in section
    assert README.index("## Before you start") < README.index("## Progress")


def test_every_simulator_endpoint_is_documented() -> None:
    """Each ``/_sim/…`` route the simulator serves is named in the README."""
    from livebar.simulator import SimulatorConfig, SimulatorState

    app = create_app(SimulatorState(SimulatorConfig()))
    paths = [route.path for route in app.routes if route.path.startswith("/_sim/")]
    assert len(paths) >= 10
    for path in paths:
        assert f"`{path}`" in README, path


# Point 7: which clients read ACTIVITYSMITH_BASE_URL, and the official Python SDK.


def sdk_snippet() -> str:
    """The README's snippet for the official Python SDK."""
    blocks = re.findall(r"```python\n(.*?)```", README, re.S)
    (snippet,) = [block for block in blocks if "activitysmith_openapi" in block]
    return snippet


def test_the_official_sdk_snippet_reaches_the_simulator(sim: SimulatorHandle) -> None:
    """The README's snippet, run as written, sends its push to the simulator."""
    env = {**os.environ, **sim.env()}
    done = subprocess.run(
        [sys.executable, "-c", sdk_snippet()], env=env, capture_output=True, text=True, timeout=30
    )
    assert 0 == done.returncode, done.stderr
    assert ["Hello from the simulator"] == [push["title"] for push in sim.pushes()]


def test_the_official_sdk_ignores_activitysmith_base_url(
    sim: SimulatorHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Why the docs say so: ActivitySmith() still aims at production with the variable set."""
    from activitysmith import ActivitySmith

    monkeypatch.setenv("ACTIVITYSMITH_BASE_URL", sim.url)
    client = ActivitySmith(api_key=sim.api_key)
    host = client.notifications._api.api_client.configuration.host
    assert "https://activitysmith.com/api" == host


def test_nothing_claims_the_official_sdks_read_the_variables() -> None:
    """env() and ``livebar simulate`` say which clients read them, and that the SDKs do not."""
    doc = " ".join((SimulatorHandle.env.__doc__ or "").split())
    assert "official ActivitySmith SDKs do not read it" in doc
    code = (
        "from livebar.simulator._demo import run_simulate; raise SystemExit(run_simulate(port=0))"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(6)]
    finally:
        process.terminate()
        process.communicate(timeout=15)
    text = "".join(lines)
    assert "any ActivitySmith client" not in text
    assert "The official ActivitySmith SDKs do not read ACTIVITYSMITH_BASE_URL" in text
    assert lines[2].startswith("  export ACTIVITYSMITH_BASE_URL=http://127.0.0.1:")
