"""``livebar simulate`` and ``livebar demo``: the simulator in the foreground, and a guided tour.

The CLI (``livebar._cli``) calls ``run_simulate`` and ``run_demo``; both return an exit status.
"""

from __future__ import annotations

import os
import sys
import time
import webbrowser
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence, TextIO

from livebar._client import Client
from livebar._errors import LivebarError
from livebar._payload import (
    Action,
    Badge,
    ContentState,
    EndActivity,
    Icon,
    PushNotification,
    StartActivity,
    UpdateActivity,
)
from livebar.simulator._server import SimulatorHandle, SimulatorServer, serve
from livebar.simulator._state import DEFAULT_API_KEY, SimulatorConfig

ENV_DEMO_FAST = "LIVEBAR_DEMO_FAST"
FAST_SCALE = 0.15
"""The fast demo runs at this fraction of the normal pace (about 3 s instead of 20 s)."""
DEMO_STAGES = ("Build", "Test", "Migrate", "Release")
DEMO_TOTAL = 500


def run_simulate(
    *,
    host: str = "127.0.0.1",
    port: int = 8787,
    keys: Sequence[str] = (),
    open_browser: bool = False,
    out: TextIO | None = None,
) -> int:
    """Serve the simulator in the foreground until Ctrl-C; return the exit status (0)."""
    out = out or sys.stdout
    config = SimulatorConfig(keys=dict.fromkeys(keys)) if keys else SimulatorConfig()
    server = SimulatorServer(config, host=host, port=port)
    handle = server.handle
    key_hint = DEFAULT_API_KEY if not keys else "<one of the keys you passed>"
    print(f"livebar simulator: lock screen at {handle.page_url}", file=out)
    print("Point livebar (or any ActivitySmith client) at it:", file=out)
    print(f"  export ACTIVITYSMITH_BASE_URL={handle.url}", file=out)
    print(f"  export ACTIVITYSMITH_API_KEY={key_hint}", file=out)
    print("Press Ctrl-C to stop.", file=out, flush=True)
    if open_browser:
        webbrowser.open(handle.page_url)
    server.run_forever()
    return 0


def run_demo(
    *,
    keep_open: bool = False,
    port: int = 0,
    fast: bool = False,
    out: TextIO | None = None,
) -> int:
    """Run a short job against a fresh simulator and narrate what the phone showed.

    ``fast`` (or ``LIVEBAR_DEMO_FAST=1``) runs it in about 3 s; ``keep_open`` keeps serving the
    lock screen after the job until Ctrl-C.
    """
    out = out or sys.stdout
    fast = fast or os.environ.get(ENV_DEMO_FAST, "").strip().lower() in ("1", "true", "yes", "on")
    scale = FAST_SCALE if fast else 1.0
    with serve(port=port) as sim:
        print(f"livebar demo: open {sim.page_url} to watch the lock screen.", file=out, flush=True)
        if not fast:
            time.sleep(2.0)  # time to open the page before anything happens
        narrator = _Narrator(sim, out, started=time.monotonic())
        with Client(api_key=sim.api_key, base_url=sim.url) as client:
            try:
                demo_job(client, pause=lambda seconds: time.sleep(seconds * scale), log=narrator)
            except LivebarError as exc:
                print(f"demo failed: {exc}", file=out)
                return 1
        narrator.summary()
        if keep_open:
            print(f"Still serving {sim.page_url}; press Ctrl-C to stop.", file=out, flush=True)
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                pass
    return 0


Log = Callable[[str, Optional[str]], None]
"""``log(what_was_sent, activity_id)``: narrates one request and what the phone then showed."""


def demo_job(client: Client, *, pause: Callable[[float], None], log: Log) -> None:
    """The demo: a staged deploy that fails at its migration, beside a progress loop that succeeds.

    Stays far inside every limit: 11 requests in about 18 s, at most 4 updates per activity.
    """
    deploy_color = "blue"

    def deploy_state(step: int, **extra: Any) -> ContentState:
        stage = DEMO_STAGES[min(step, len(DEMO_STAGES) - 1)]
        options: Dict[str, Any] = {
            "subtitle": stage,
            "color": deploy_color,
            "icon": Icon(symbol="shippingbox.fill"),
        }
        options.update(extra)
        return ContentState.segmented_progress(
            "Deploy web",
            number_of_steps=len(DEMO_STAGES),
            current_step=step,
            badge=Badge(title="prod", color="orange"),
            **options,
        )

    def resize_state(done: int, **extra: Any) -> ContentState:
        options: Dict[str, Any] = {
            "subtitle": f"{done} of {DEMO_TOTAL}",
            "color": "cyan",
            "icon": Icon(symbol="photo.stack"),
        }
        options.update(extra)
        return ContentState.progress("Resize images", value=done, upper_limit=DEMO_TOTAL, **options)

    deploy = client.start(
        StartActivity(
            content_state=deploy_state(0),
            action=Action.open_url("Open CI", "https://ci.example.com/deploy/42"),
        )
    ).activity_id
    log("start  Deploy web: stage 1 of 4 (Build)", deploy)
    pause(1.0)
    resize = client.start(StartActivity(content_state=resize_state(0))).activity_id
    log(f"start  Resize images: 0 of {DEMO_TOTAL}", resize)
    for tick in range(1, 5):
        pause(3.0)
        done = tick * DEMO_TOTAL // 5
        client.update(UpdateActivity(activity_id=resize, content_state=resize_state(done)))
        log(f"update Resize images: {done} of {DEMO_TOTAL}", resize)
        if tick in (1, 3):
            step = 1 if tick == 1 else 2
            client.update(UpdateActivity(activity_id=deploy, content_state=deploy_state(step)))
            log(f"update Deploy web: stage {step + 1} of 4 ({DEMO_STAGES[step]})", deploy)
    pause(2.0)
    failed = deploy_state(
        2,
        color="red",
        subtitle="Migrate failed: lock timeout",
        step_colors=["green", "green"],
        step_color="red",
        icon=Icon(symbol="xmark.octagon.fill", color="red"),
    )
    client.end(EndActivity(activity_id=deploy, content_state=failed, auto_dismiss_minutes=30))
    log("end    Deploy web: FAILED at stage 3 (Migrate)", deploy)
    pause(2.0)
    finished = resize_state(DEMO_TOTAL, color="green", icon=Icon(symbol="checkmark.circle.fill"))
    client.end(EndActivity(activity_id=resize, content_state=finished, auto_dismiss_minutes=3))
    log(f"end    Resize images: {DEMO_TOTAL} of {DEMO_TOTAL}, done", resize)
    pause(1.0)
    client.push(
        PushNotification(
            title="Deploy web failed",
            subtitle="stage Migrate",
            message="Lock timeout after 30 s; the release was not started.",
        )
    )
    log("push   'Deploy web failed'", None)


@dataclass
class _Narrator:
    sim: SimulatorHandle
    out: TextIO
    started: float

    def __call__(self, sent: str, activity_id: Optional[str]) -> None:
        elapsed = time.monotonic() - self.started
        shown = "a banner" if activity_id is None else self._shown(activity_id)
        print(f"{elapsed:5.1f}s  sent {sent:<46} phone shows {shown}", file=self.out, flush=True)

    def _shown(self, activity_id: str) -> str:
        for card in self.sim.phone()["activities"]:
            if card["activity_id"] == activity_id:
                return describe_card(card)
        return "nothing (dismissed)"

    def summary(self) -> None:
        requests = self.sim.requests()
        errors = [entry for entry in requests if entry["status"] != 200]
        warnings = sum(1 for entry in requests if "warning" in (entry["response"] or {}))
        lines: List[str] = [
            f"{len(requests)} requests, {len(errors)} errors, {warnings} budget warnings.",
        ]
        for activity in self.sim.activities():
            lines.append(
                f"  {activity['title']}: {activity['updates']} updates, "
                f"{len(activity['shown'])} states shown, now {activity['state']} on the phone"
            )
        print("\n".join(lines), file=self.out, flush=True)


def describe_card(card: Dict[str, Any]) -> str:
    """A one-line description of a lock-screen card (``'Deploy web' 2/4 ended red``)."""
    state: Dict[str, Any] = card["content_state"]
    parts = [repr(state.get("title"))]
    if state.get("type") == "segmented_progress":
        parts.append(f"{state.get('current_step')}/{state.get('number_of_steps')}")
    elif "percentage" in state:
        parts.append(f"{state['percentage']:g}%")
    elif "value" in state and state.get("upper_limit"):
        parts.append(f"{round(100 * state['value'] / state['upper_limit'])}%")
    if card["state"] != "active":
        parts.append(str(card["state"]))
    if state.get("color") == "red":
        parts.append("(failed look)")
    return " ".join(parts)
