"""Real threads, real sockets: a timed job and the latency of an exit, through the simulator.

``realtime``: one job of ``duration`` seconds (10 items a second, ``livebar.track``) against a
simulator with ActivitySmith's default limits on 127.0.0.1; the requests, warnings, final state
and displayed error it produced are set beside the virtual-clock harness's figures for the same
job.

``exit``: the time from leaving ``with live_activity(...)`` to the end request arriving at the
simulator (its request log's timestamp), how long leaving the block blocks, and how long
``livebar.flush()`` (what the interpreter's exit does) blocks: with the account budget free, and
with it exhausted by push notifications queued just before the exit.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from bench_common import Spread, emit


def _fraction(state: dict[str, Any]) -> float:
    from livebar._wire.payload import state_fraction

    fraction = state_fraction(state)
    return 0.0 if fraction is None else fraction


def realtime(duration: float) -> dict[str, Any]:
    import bench_pacing as bp

    import livebar
    from livebar.simulator import serve

    items = round(duration * 10)
    step = duration / items
    with serve() as sim:
        began = time.time()
        for i in livebar.track(range(items), "Realtime", api_key=sim.api_key, base_url=sim.url):
            time.sleep(max(0.0, began + (i + 1) * step - time.time()))
        finished = time.time()
        delivered = livebar.flush(10.0)
        [activity] = sim.activities()
        log = sim.requests()
    shown = [(event["t"], _fraction(event["content_state"])) for event in activity["shown"]]
    grid = 0.25
    cells = int(duration / grid)
    total = 0.0
    for m in range(cells):
        t = began + m * grid
        true = min(int((t - began) / step + 1e-9), items) / items
        display = 0.0
        for at, fraction in shown:
            if at <= t:
                display = fraction
        total += abs(true - display)
    real_error = total / cells
    final = activity["displayed"] or {}

    scenario = bp.Scenario(
        "realtime", "realtime", (bp.uniform("r", duration, items, title="Realtime"),)
    )
    virtual = bp.evaluate(scenario, peers=())
    trace = bp.run_livebar(scenario)
    return {
        "duration": duration,
        "items": items,
        "loop_seconds": finished - began,
        "flushed": delivered,
        "real": {
            "requests": len(log),
            "updates": activity["updates"],
            "warnings": activity["warnings"],
            "throttles": activity["throttles"],
            "error": real_error,
            "state": activity["state"],
            "final_percentage": final.get("percentage"),
            "final_subtitle": final.get("subtitle"),
        },
        "virtual": {
            "requests": virtual["livebar"]["requests"],
            "updates": virtual["livebar"]["updates"],
            "warnings": virtual["livebar"]["warnings"],
            "error": virtual["livebar"]["error"],
            "final_percentage": 100.0 if trace.end_shown.get("r") else None,
        },
    }


def _wait_for(
    sim: Any, kind: str, count: int, timeout: float, key: str | None = None
) -> dict[str, Any] | None:
    """The ``count``-th successful ``kind`` (``start`` or ``end``) in the simulator's log, for
    either lifecycle (a stream's first PUT starts it, its DELETE ends it), waiting up to
    ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        hits = [r for r in sim.requests() if r["status"] == 200 and _kind(r) == kind]
        if len(hits) >= count:
            return hits[count - 1]
        time.sleep(0.005)
    return None


def _kind(request: dict[str, Any]) -> str:
    path = request["path"]
    if path.startswith("/live-activity/stream/"):
        if request["method"] == "DELETE":
            return "end"
        return "start" if (request["response"] or {}).get("operation") == "started" else "update"
    return path.rsplit("/", 1)[-1]


def exit_latency(quick: bool) -> dict[str, Any]:
    import livebar
    from livebar.simulator import serve

    repeats = 3 if quick else 5
    out: dict[str, Any] = {}
    with serve() as sim:
        latency: list[float] = []
        blocks: list[float] = []
        flushes: list[float] = []
        for i in range(1, repeats + 1):
            with livebar.live_activity(
                "Exit", total=10, api_key=sim.api_key, base_url=sim.url
            ) as act:
                act.update(5)
                _wait_for(sim, "start", i, 10.0)
                left = time.time()
                began = time.perf_counter()
            blocks.append(time.perf_counter() - began)
            began = time.perf_counter()
            livebar.flush()
            flushes.append(time.perf_counter() - began)
            end = _wait_for(sim, "end", i, 10.0)
            latency.append((end["t"] - left) if end else float("nan"))
        out["free"] = {
            "latency": Spread.of(latency).to_json(),
            "with_exit_blocks": Spread.of(blocks).to_json(),
            "flush_blocks": Spread.of(flushes).to_json(),
        }
    if quick:
        out["exhausted"] = None
        return out
    with serve() as sim:
        pushes = 40
        with livebar.live_activity("Exit", total=10, api_key=sim.api_key, base_url=sim.url) as act:
            act.update(5)
            _wait_for(sim, "start", 1, 10.0)
            for i in range(pushes):
                livebar.push(f"Alert {i}", api_key=sim.api_key, base_url=sim.url)
            deadline = time.monotonic() + 10.0
            while len(sim.pushes()) < pushes - 1 and time.monotonic() < deadline:
                time.sleep(0.01)
            left = time.time()
            began = time.perf_counter()
        block = time.perf_counter() - began
        began = time.perf_counter()
        flushed = livebar.flush()
        flush_block = time.perf_counter() - began
        end = _wait_for(sim, "end", 1, 90.0)
        out["exhausted"] = {
            "pushes": pushes,
            "pushes_before_exit": len(sim.pushes()),
            "latency": (end["t"] - left) if end else None,
            "with_exit_blocks": block,
            "flush_blocks": flush_block,
            "flush_delivered": flushed,
        }
    return out


def run(quick: bool = False) -> dict[str, Any]:
    return {
        "realtime": realtime(15.0 if quick else 60.0),
        "exit": exit_latency(quick),
    }


if __name__ == "__main__":
    args = sys.argv[1:]
    quick = "--quick" in args
    if "--realtime" in args:
        emit({"realtime": realtime(15.0 if quick else 60.0)})
    elif "--exit" in args:
        emit({"exit": exit_latency(quick)})
    else:
        emit(run(quick))
