"""``livebar simulate`` and ``livebar demo``: the simulator in the foreground, and a guided tour.

The CLI (``livebar._cli``) calls ``run_simulate`` and ``run_demo``; both return an exit status:
0, or 2 (after one line on stderr) when the simulator cannot listen where it was asked to.
"""

from __future__ import annotations

import errno
import os
import sys
import threading
import time
import webbrowser
from collections.abc import Sequence
from typing import Any, Callable, TextIO

from livebar._wire.payload import (
    Action,
    Badge,
    Icon,
)
from livebar.simulator._config import DEFAULT_API_KEY, SimulatorConfig
from livebar.simulator._server import SimulatorHandle, SimulatorServer

EXIT_USAGE = 2
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
    try:
        server = SimulatorServer(config, host=host, port=port)
    except OSError as exc:
        return _cannot_listen("simulate", host, port, exc)
    handle = server.handle
    key_hint = DEFAULT_API_KEY if not keys else "<one of the keys you passed>"
    print(f"livebar simulator: lock screen at {handle.page_url}", file=out)
    print("Point livebar at it (the livebar library and the livebar command read these):", file=out)
    print(f"  export ACTIVITYSMITH_BASE_URL={handle.url}", file=out)
    print(f"  export ACTIVITYSMITH_API_KEY={key_hint}", file=out)
    print(
        "The official ActivitySmith SDKs do not read ACTIVITYSMITH_BASE_URL: give them the URL "
        "in code (see the README), or they send this key to the real service.",
        file=out,
    )
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

    The job uses livebar itself (``live_activity`` and ``livebar.tqdm``), so what you watch is
    what your own jobs will do. ``fast`` (or ``LIVEBAR_DEMO_FAST=1``) runs it in about 3 s;
    ``keep_open`` keeps serving the lock screen after the job until Ctrl-C.
    """
    out = out or sys.stdout
    fast = fast or os.environ.get(ENV_DEMO_FAST, "").strip().lower() in ("1", "true", "yes", "on")
    try:
        server = SimulatorServer(SimulatorConfig(), port=port)
    except OSError as exc:
        return _cannot_listen("demo", "127.0.0.1", port, exc)
    server.start()
    sim = server.handle
    try:
        print(f"livebar demo: open {sim.page_url} to watch the lock screen.", file=out, flush=True)
        if not fast:
            time.sleep(2.0)  # time to open the page before anything happens
        if not _tour(sim, out, scale=FAST_SCALE if fast else 1.0):
            print("Interrupted: the demo's cards ended Cancelled.", file=out, flush=True)
            return 130
        if keep_open:
            print(f"Still serving {sim.page_url}; press Ctrl-C to stop.", file=out, flush=True)
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                pass
    finally:
        server.stop()
    again = "" if keep_open else " (run `livebar demo --keep-open` to keep it up after the tour)"
    print(
        f"The demo's simulator has stopped: {sim.page_url} no longer answers{again}.",
        file=out,
        flush=True,
    )
    return 0


def _tour(sim: SimulatorHandle, out: TextIO, *, scale: float) -> bool:
    """Run the demo's job, narrating what the phone shows; False when Ctrl-C cut it short (its
    cards end Cancelled, at once)."""
    from livebar._engine import runtime

    narrator = _Narrator(sim, out)
    narrator.start()
    stop = threading.Event()
    interrupted = False
    try:
        demo_job(
            api_key=sim.api_key,
            base_url=sim.url,
            pause=lambda seconds: _pause(stop, seconds * scale),
            stop=stop,
        )
    except KeyboardInterrupt:
        interrupted = True
    finally:
        runtime.flush(5.0 if interrupted else 10.0)
        narrator.stop()
    narrator.summary()
    return not interrupted


def _cannot_listen(command: str, host: str, port: int, exc: OSError) -> int:
    """Say in one line why the simulator cannot listen on ``host:port``; the exit status."""
    if exc.errno == errno.EADDRINUSE:
        problem = f"{host}:{port} is already in use"
    else:
        problem = f"cannot listen on {host}:{port} ({exc.strerror or exc})"
    print(
        f"livebar {command}: {problem}; pick another port with --port N, "
        "or --port 0 for a free one",
        file=sys.stderr,
        flush=True,
    )
    return EXIT_USAGE


class DemoFailure(RuntimeError):
    """The failure the demo's deploy runs into on purpose."""


def _pause(stop: threading.Event, seconds: float) -> None:
    """Wait ``seconds`` of the demo's time; raise ``KeyboardInterrupt`` once it is stopped."""
    if stop.wait(seconds):
        raise KeyboardInterrupt


def demo_job(
    *,
    api_key: str,
    base_url: str,
    pause: Callable[[float], None],
    stop: threading.Event | None = None,
) -> None:
    """The demo: a staged deploy that fails at its migration, beside a tqdm loop that succeeds.

    Written as a user would write it: ``live_activity`` with stages in one thread, ``livebar.tqdm``
    in the other; livebar decides what to send. Ctrl-C (``KeyboardInterrupt`` in the main
    thread) sets ``stop``: the deploy is interrupted too, and both cards end Cancelled.
    """
    import livebar

    def deploy() -> None:
        try:
            with livebar.live_activity(
                "Deploy web",
                steps=list(DEMO_STAGES),
                color="blue",
                icon=Icon(symbol="shippingbox.fill"),
                badge=Badge(title="prod", color="orange"),
                action=Action.open_url("Open CI", "https://ci.example.com/deploy/42"),
                notify_on=["failed"],
                api_key=api_key,
                base_url=base_url,
            ) as act:
                with act.stage("Build"):
                    pause(3.0)
                with act.stage("Test"):
                    pause(4.0)
                with act.stage("Migrate"):
                    pause(3.0)
                    raise DemoFailure("lock timeout after 30s")
        except (DemoFailure, KeyboardInterrupt):
            pass  # the phone shows it; the demo goes on (or stops)

    deployer = threading.Thread(target=deploy, name="demo-deploy", daemon=True)
    deployer.start()
    try:
        pause(1.0)
        with livebar.tqdm(
            range(DEMO_TOTAL),
            desc="Resize images",
            unit="images",
            color="cyan",
            icon=Icon(symbol="photo.stack"),
            leave=False,
            api_key=api_key,
            base_url=base_url,
        ) as images:
            for _ in images:
                pause(15.0 / DEMO_TOTAL)
    except KeyboardInterrupt:
        if stop is not None:
            stop.set()  # the deploy stops at its next pause, and ends Cancelled
        deployer.join(5.0)
        raise
    deployer.join()


class _Narrator:
    """Prints each request the simulator answered, and what the phone showed right after."""

    def __init__(self, sim: SimulatorHandle, out: TextIO) -> None:
        self.sim = sim
        self.out = out
        self.started = time.time()  # the simulator's log is in wall-clock seconds
        self._seen = 0
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="demo-narrator", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=2.0)
        self._print_new()

    def _run(self) -> None:
        while not self._stopping.wait(0.1):
            self._print_new()

    def _print_new(self) -> None:
        from livebar import tqdm

        requests = self.sim.requests()
        for entry in requests[self._seen :]:
            tqdm.write(self._line(entry), file=self.out)
        self.out.flush()
        self._seen = len(requests)

    def _line(self, entry: dict[str, Any]) -> str:
        elapsed = entry["t"] - self.started
        body = entry.get("body") or {}
        state = body.get("content_state") or {}
        what = entry["path"].rsplit("/", 1)[-1]
        if entry["path"].startswith("/push"):
            sent = f"push   {body.get('title')!r}"
            shown = "a banner"
        else:
            sent = f"{what:<6} {state.get('title', '')}"
            activity_id = (entry.get("response") or {}).get("activity_id") or body.get(
                "activity_id"
            )
            shown = self._shown(activity_id) if activity_id else "nothing yet"
        status = "" if entry["status"] == 200 else f" -> {entry['status']}"
        return f"{elapsed:5.1f}s  sent {sent:<28}{status} phone shows {shown}"

    def _shown(self, activity_id: str) -> str:
        for card in self.sim.phone()["activities"]:
            if card["activity_id"] == activity_id:
                return describe_card(card)
        return "nothing (dismissed)"

    def summary(self) -> None:
        requests = self.sim.requests()
        errors = [entry for entry in requests if entry["status"] != 200]
        warnings = sum(1 for entry in requests if "warning" in (entry["response"] or {}))
        lines: list[str] = [
            f"{len(requests)} requests, {len(errors)} errors, {warnings} budget warnings.",
        ]
        for activity in self.sim.activities():
            lines.append(
                f"  {activity['title']}: {activity['updates']} updates, "
                f"{len(activity['shown'])} states shown, now {activity['state']} on the phone"
            )
        print("\n".join(lines), file=self.out, flush=True)


def describe_card(card: dict[str, Any]) -> str:
    """A one-line description of a lock-screen card (``'Deploy web' 2/4 ended red``)."""
    state: dict[str, Any] = card["content_state"]
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
