"""The lock-screen page in headless Chromium, while the test drives activities over HTTP."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, Callable

import httpx
import pytest

from livebar.simulator import SimulatorHandle, serve

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[1]
SCREENSHOT = REPO / "artifacts" / "lockscreen.png"
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--virtual-time-budget=3000",
)
START_TIME = 1_767_225_600.0


def chromium() -> str:
    """The Chromium binary; skips when it is missing, fails where it is required (CI)."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if os.environ.get("LIVEBAR_REQUIRE_BROWSER") == "1" or os.environ.get("CI"):
        pytest.fail("chromium is required here (LIVEBAR_REQUIRE_BROWSER=1 or CI) but not on PATH")
    pytest.skip("chromium not found on PATH (apt-get install chromium)")


def run_chromium(tmp_path: Path, *args: str) -> str:
    """Run headless Chromium with a throwaway profile; return its stdout."""
    result = subprocess.run(
        [chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}", *args],
        capture_output=True,
        text=True,
        timeout=45,
        check=True,
    )
    return result.stdout


class Element:
    """A parsed element: tag, attributes, children and text."""

    def __init__(self, tag: str, attrs: dict[str, str]) -> None:
        self.tag = tag
        self.attrs = attrs
        self.children: list[Element] = []
        self.parts: list[str] = []

    @property
    def text(self) -> str:
        """All text inside the element, children included."""
        return "".join(self.parts + [child.text for child in self.children]).strip()

    @property
    def classes(self) -> list[str]:
        return self.attrs.get("class", "").split()

    def find_all(self, match: Callable[[Element], bool]) -> list[Element]:
        """Every descendant for which ``match`` is true, in document order."""
        found: list[Element] = []
        for child in self.children:
            if match(child):
                found.append(child)
            found.extend(child.find_all(match))
        return found

    def by_class(self, name: str) -> list[Element]:
        return self.find_all(lambda element: name in element.classes)

    def one(self, name: str) -> Element:
        """The single descendant with class ``name``."""
        (element,) = self.by_class(name)
        return element


VOID_TAGS = {"meta", "link", "br", "img", "input", "hr"}


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.root = Element("#document", {})
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, {name: value or "" for name, value in attrs})
        self.stack[-1].children.append(element)
        if tag not in VOID_TAGS:
            self.stack.append(element)

    def handle_endtag(self, tag: str) -> None:
        for depth in range(len(self.stack) - 1, 0, -1):
            if self.stack[depth].tag == tag:
                del self.stack[depth:]
                return

    def handle_data(self, data: str) -> None:
        self.stack[-1].parts.append(data)


def dump_dom(tmp_path: Path, url: str) -> Element:
    """The page's DOM after its scripts ran (3 s of virtual time: several polls)."""
    builder = _TreeBuilder()
    builder.feed(run_chromium(tmp_path, "--dump-dom", url))
    return builder.root


def card(dom: Element, activity_id: str) -> Element:
    """The lock-screen card of ``activity_id``."""
    (found,) = dom.find_all(
        lambda element: (
            element.attrs.get("data-activity-id") == activity_id and element.tag == "article"
        )
    )
    return found


class SteppingClock:
    """A fake clock that jumps forward right after its next read, once armed."""

    def __init__(self) -> None:
        self.now = START_TIME
        self.jump: float | None = None

    def __call__(self) -> float:
        now = self.now
        if self.jump is not None:
            self.now += self.jump
            self.jump = None
        return now


@pytest.fixture
def sim() -> Iterator[SimulatorHandle]:
    """A running simulator."""
    with serve() as handle:
        yield handle


@pytest.fixture
def api(sim: SimulatorHandle) -> Iterator[httpx.Client]:
    """An httpx client for the simulator's API."""
    headers = {"Authorization": f"Bearer {sim.api_key}"}
    with httpx.Client(base_url=sim.url, headers=headers) as client:
        yield client


def start(api: httpx.Client, content_state: dict[str, Any], **extra: Any) -> str:
    """Start an activity and return its id."""
    response = api.post("/live-activity/start", json={"content_state": content_state, **extra})
    assert 200 == response.status_code, response.text
    activity_id: str = response.json()["activity_id"]
    return activity_id


def drive_sample_screen(api: httpx.Client) -> dict[str, str]:
    """A deploy in progress, a file loop, a failed training run and a notification."""
    deploy = start(
        api,
        {
            "title": "Deploy web",
            "subtitle": "Test",
            "type": "segmented_progress",
            "number_of_steps": 5,
            "current_step": 2,
            "color": "green",
            "step_colors": ["green", "cyan"],
            "icon": {"symbol": "shippingbox.fill"},
            "badge": {"title": "prod", "color": "orange"},
        },
        action={"title": "Open CI", "type": "open_url", "url": "https://ci.example.com/1"},
    )
    files = start(
        api,
        {
            "title": "Resize images",
            "type": "progress",
            "value": 420,
            "upper_limit": 1000,
            "color": "cyan",
        },
    )
    training = start(api, {"title": "Train model", "type": "progress", "percentage": 10})
    failed = {
        "title": "Train model",
        "subtitle": "CUDA out of memory",
        "percentage": 63,
        "color": "red",
        "auto_dismiss_minutes": 30,
    }
    api.post("/live-activity/end", json={"activity_id": training, "content_state": failed})
    api.post("/push-notification", json={"title": "Backup finished", "message": "42 GB"})
    actions = [{"title": "Retry", "type": "webhook", "url": "https://ci.example.com/retry"}]
    api.post("/push-notification", json={"title": "Tests failed", "actions": actions})
    return {"deploy": deploy, "files": files, "training": training}


def test_the_lock_screen_draws_each_activity(
    tmp_path: Path, sim: SimulatorHandle, api: httpx.Client
) -> None:
    """Titles, subtitles, steps, percentages, value/limit, badge, icon and action are drawn."""
    ids = drive_sample_screen(api)
    dom = dump_dom(tmp_path, sim.page_url)
    deploy = card(dom, ids["deploy"])
    steps = deploy.by_class("la-step")
    assert ("Deploy web", "Test", "active") == (
        deploy.one("la-title").text,
        deploy.one("la-subtitle").text,
        deploy.attrs["data-state"],
    )
    assert (["1", "2", "3", "4", "5"], ["true", "true", "false", "false", "false"]) == (
        [step.attrs["data-step"] for step in steps],
        [step.attrs["data-filled"] for step in steps],
    )
    assert ("prod", "shippingbox.fill", "Open CI") == (
        deploy.one("la-badge").text,
        deploy.one("la-icon").attrs["data-symbol"],
        deploy.one("la-action").text,
    )
    files = card(dom, ids["files"])
    assert ("42%", "420 / 1000") == (files.one("la-percentage").text, files.one("la-value").text)


def test_a_failed_activity_looks_failed_and_a_push_is_a_banner(
    tmp_path: Path, sim: SimulatorHandle, api: httpx.Client
) -> None:
    """A red ended activity gets the failed look; a push shows as a notification banner."""
    ids = drive_sample_screen(api)
    dom = dump_dom(tmp_path, sim.page_url)
    training = card(dom, ids["training"])
    assert ("ended", True, "63%") == (
        training.attrs["data-state"],
        "la-failed" in training.classes,
        training.one("la-percentage").text,
    )
    assert training.one("la-state").text.startswith("Failed · dismisses in ")
    actionable, banner = dom.by_class("notification")
    assert ("Backup finished", "42 GB") == (
        banner.one("n-title").text,
        banner.one("n-message").text,
    )
    assert ("Tests failed", "Retry") == (
        actionable.one("n-title").text,
        actionable.one("n-action").text,
    )


def test_the_page_follows_changes_without_a_reload(tmp_path: Path) -> None:
    """The page polls: a card dismissed after the page loaded disappears from the phone."""
    clock = SteppingClock()
    with (
        serve(clock=clock) as sim,
        httpx.Client(base_url=sim.url, headers={"Authorization": f"Bearer {sim.api_key}"}) as api,
    ):
        activity_id = start(api, {"title": "Quick job", "type": "progress", "percentage": 100})
        final = {"title": "Quick job", "percentage": 100, "auto_dismiss_minutes": 1}
        api.post("/live-activity/end", json={"activity_id": activity_id, "content_state": final})
        clock.jump = 120.0  # the page's first read sees the card, every later read is past it
        dom = dump_dom(tmp_path, sim.page_url)
    (row,) = dom.by_class("budget-activity")
    assert ([], "dismissed") == (dom.by_class("la"), row.attrs["data-state"])
    assert "true" == dom.find_all(lambda element: "data-connection" in element.attrs)[0].attrs.get(
        "data-ok"
    )


def test_the_budget_panel_shows_a_throttled_activity_frozen_on_the_phone(
    tmp_path: Path, sim: SimulatorHandle, api: httpx.Client
) -> None:
    """Past the iOS budget the panel says throttled while the phone keeps the last shown step."""
    path = "/live-activity/stream/busy"
    for step in range(15):
        state = {
            "title": "Busy loop",
            "type": "segmented_progress",
            "number_of_steps": 20,
            "current_step": step,
        }
        api.put(path, json={"content_state": state})
    dom = dump_dom(tmp_path, sim.page_url)
    (row,) = dom.by_class("budget-activity")
    (activity,) = dom.by_class("la")
    assert ("true", "true", "14") == (
        row.attrs["data-throttled"],
        row.attrs["data-warning"],
        row.attrs["data-updates"],
    )
    assert "12" == activity.one("la-steps").attrs["data-current"]
    assert "15" == dom.one("requests-count").text


def test_screenshot_of_the_lock_screen(
    tmp_path: Path, sim: SimulatorHandle, api: httpx.Client
) -> None:
    """A screenshot of the sample screen is saved to artifacts/lockscreen.png."""
    drive_sample_screen(api)
    for step in range(1, 4):
        api.put(
            "/live-activity/stream/etl",
            json={
                "content_state": {
                    "title": "Nightly ETL",
                    "type": "progress",
                    "percentage": step * 20,
                    "color": "purple",
                    "subtitle": f"batch {step} of 5",
                }
            },
        )
    SCREENSHOT.parent.mkdir(exist_ok=True)
    run_chromium(tmp_path, f"--screenshot={SCREENSHOT}", "--window-size=1200,900", sim.page_url)
    assert SCREENSHOT.read_bytes().startswith(b"\x89PNG")


class FakeClock:
    """Wall-clock seconds that only move when a test says so."""

    def __init__(self) -> None:
        self.now = START_TIME

    def __call__(self) -> float:
        return self.now


def test_an_activity_ios_ended_at_the_limit_looks_different(tmp_path: Path) -> None:
    """Past 8 h the card is drawn as ended by iOS; a rotated stream's card names its predecessor."""
    clock = FakeClock()
    with (
        serve(clock=clock) as sim,
        httpx.Client(base_url=sim.url, headers={"Authorization": f"Bearer {sim.api_key}"}) as api,
    ):
        stale = start(api, {"title": "Overnight backup", "type": "progress", "percentage": 40})
        first = api.put(
            "/live-activity/stream/etl",
            json={"content_state": {"title": "ETL", "type": "progress", "percentage": 10}},
        ).json()["activity_id"]
        clock.now += 8 * 3600.0
        rotated = api.put(
            "/live-activity/stream/etl", json={"content_state": {"title": "ETL", "percentage": 80}}
        ).json()["activity_id"]
        dom = dump_dom(tmp_path, sim.page_url)
    expired = card(dom, stale)
    assert ("expired", True) == (expired.attrs["data-state"], "la-expired" in expired.classes)
    assert expired.one("la-state").text.startswith(
        "Ended by iOS · 8-hour limit · leaves in 4:00:00"
    )
    fresh = card(dom, rotated)
    assert ("active", first, "80%") == (
        fresh.attrs["data-state"],
        fresh.attrs["data-rotated-from"],
        fresh.one("la-percentage").text,
    )
    assert "la-expired" not in fresh.classes


def test_the_newer_surface_is_drawn(
    tmp_path: Path, sim: SimulatorHandle, api: httpx.Client
) -> None:
    """A value readout, a time-sensitive push with its own icon, and a replaced push."""
    revenue = start(api, {"title": "Revenue", "type": "value", "value": "$1,240", "color": "green"})
    sent = api.post(
        "/push-notification",
        json={
            "title": "checkout-api is down",
            "icon": "https://example.test/icons/api.png",
            "interruption_level": "time-sensitive",
        },
    ).json()
    replacement = {"title": "checkout-api recovered", "icon": "https://example.test/icons/ok.png"}
    api.put(f"/push-notification/{sent['notification_id']}", json=replacement)
    api.post("/push-notification", json={"title": "Daily summary", "interruption_level": "passive"})
    dom = dump_dom(tmp_path, sim.page_url)
    assert "$1,240" == card(dom, revenue).one("la-readout").text
    passive, replaced = dom.by_class("notification")
    assert ("passive", True) == (
        passive.attrs["data-interruption-level"],
        "n-passive" in passive.classes,
    )
    assert ("checkout-api recovered", "1", "updated") == (
        replaced.one("n-title").text,
        replaced.attrs["data-replaced"],
        replaced.one("n-time").text,
    )
    assert "Time Sensitive" == replaced.one("n-level").text
    assert "https://example.test/icons/ok.png" == replaced.one("n-icon").attrs["data-icon-url"]


EVIL_PAGE = """<!doctype html><html><body><script>
const sim = "{sim}";
Promise.all([
  fetch(sim + "/_sim/down", {{method: "POST", mode: "no-cors", body: "{{}}",
                              headers: {{"Content-Type": "text/plain"}}}}),
  fetch(sim + "/_sim/faults", {{method: "POST", mode: "no-cors",
                                body: JSON.stringify({{fail_next: 5}})}}),
  fetch(sim + "/_sim/reset", {{method: "POST", mode: "no-cors"}}),
]).then(() => {{ document.body.dataset.sent = "yes"; }},
        (error) => {{ document.body.dataset.sent = "error: " + error; }});
</script></body></html>
"""


def test_another_site_in_the_browser_cannot_drive_the_simulator(tmp_path: Path) -> None:
    """A page served from another origin POSTs text/plain to /_sim in Chromium: nothing changes."""
    import functools
    import http.server
    import threading

    site = tmp_path / "site"
    site.mkdir()
    with serve() as sim:
        sim.fail_next(1, status=500)
        (site / "evil.html").write_text(EVIL_PAGE.format(sim=sim.root_url), encoding="utf-8")
        handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site))
        handler.log_message = lambda *args: None  # type: ignore[attr-defined]
        evil = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        thread = threading.Thread(target=evil.serve_forever, daemon=True)
        thread.start()
        try:
            page = f"http://localhost:{evil.server_address[1]}/evil.html"
            dom = dump_dom(tmp_path, page)
        finally:
            evil.shutdown()
            evil.server_close()
        faults = sim.snapshot()["faults"]
    (body,) = dom.find_all(lambda element: element.tag == "body")
    assert "yes" == body.attrs.get("data-sent")
    assert (False, 1) == (faults["down"], faults["fail_next"])
