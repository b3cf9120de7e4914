"""One account, several processes: 429s with and without the shared ledger, and reap latency.

``collisions``: three real processes on one key against the simulator at ActivitySmith's limits
(60 requests per window, 4 concurrent activities), with time scaled by ten (a 6-second window,
livebar's share 40 of it), each running two activities and queueing 30 pushes at once: the
requests refused with 429 (the window, the slots), with ``LIVEBAR_LEDGER=off`` (each process
believes the account is its own) and with the default ledger (one file per account).

``reap``: a process with an open activity is killed with ``kill -9`` while another livebar
process on the account runs a job; the latency is the time from the kill to the "Lost" end
reaching the simulator (its request log's clock). The watcher is already running when the kill
happens, so the latency is that of its periodic look (at most ``DEFAULT_REAP_INTERVAL``), not of
a process's first look at the account (which is at once).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import textwrap
import time
from typing import Any

from bench_common import emit

WINDOW = 6.0
JOB = textwrap.dedent(
    """
    import sys, time, livebar
    livebar.configure(budgets=livebar.Budgets(window={window}, activity_limit_initial=0.2,
                                              activity_limit_max=0.5, backoff_initial=0.2))
    acts = [livebar.live_activity(f"{{sys.argv[1]}} job {{i}}", total=40).start()
            for i in range(2)]
    for i in range(30):
        livebar.push(f"{{sys.argv[1]}} push {{i}}")
    for n in range(40):
        for act in acts:
            act.update(n + 1)
        time.sleep(0.05)
    for act in acts:
        act.close()
    print(livebar.flush(90.0))
    """
).format(window=WINDOW)
HOLDER = textwrap.dedent(
    """
    import time, livebar
    act = livebar.live_activity("Held", total=100).start()
    act.update(61)
    while act.stats.requests < 1:
        time.sleep(0.02)
    print("ready", flush=True)
    time.sleep(300)
    """
)
WATCHER = textwrap.dedent(
    """
    import time, livebar
    with livebar.live_activity("Watcher", total=100) as act:
        for i in range(100):
            act.update(i)
            time.sleep(0.3)
    livebar.flush(10.0)
    """
)


def _env(sim: Any, ledger: str) -> dict[str, str]:
    return {
        **os.environ,
        "ACTIVITYSMITH_API_KEY": sim.api_key,
        "ACTIVITYSMITH_BASE_URL": sim.url,
        "LIVEBAR_LEDGER": ledger,
    }


def collisions(ledger: str) -> dict[str, Any]:
    from livebar.simulator import serve

    with serve(rate_limit=60, rate_window=WINDOW) as sim:
        env = _env(sim, ledger)
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", JOB, f"P{i}"],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
            )
            for i in range(3)
        ]
        flushed = [proc.communicate(timeout=180)[0].strip() == "True" for proc in procs]
        log = sim.requests()
        window = [
            r
            for r in log
            if r["status"] == 429 and (r["response"] or {}).get("error") == "Rate limit exceeded"
        ]
        slots = [r for r in log if r["status"] == 429 and "limit" in (r["response"] or {})]
        return {
            "requests": len(log),
            "refused_window": len(window),
            "refused_slots": len(slots),
            "pushes_received": len(sim.pushes()),
            "all_flushed": all(flushed),
        }


def reap_latency() -> dict[str, Any]:
    from livebar.simulator import serve

    with serve() as sim, tempfile.TemporaryDirectory() as ledger:
        env = _env(sim, ledger)
        holder = subprocess.Popen(
            [sys.executable, "-c", HOLDER], env=env, stdout=subprocess.PIPE, text=True
        )
        assert holder.stdout is not None
        holder.stdout.readline()
        watcher = subprocess.Popen([sys.executable, "-c", WATCHER], env=env)
        while not any(a["title"] == "Watcher" for a in sim.activities()):
            time.sleep(0.05)  # the watcher is running: its first look at the account is done
        time.sleep(1.0)
        killed = time.time()
        holder.kill()
        holder.communicate(timeout=10)
        deadline = time.monotonic() + 60
        latency = None
        while time.monotonic() < deadline and latency is None:
            for request in sim.requests():
                body = request["body"] or {}
                subtitle = str((body.get("content_state") or {}).get("subtitle", ""))
                if subtitle.startswith("Lost: process") and request["status"] == 200:
                    latency = request["t"] - killed
            time.sleep(0.05)
        watcher.kill()
        watcher.communicate(timeout=10)
        return {"seconds": latency}


def run(quick: bool = False) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as ledger:
        shared = collisions(ledger)
    return {
        "collisions": {"ledger_off": collisions("off"), "shared_ledger": shared},
        "reap": reap_latency(),
    }


if __name__ == "__main__":
    emit(run(quick="--quick" in sys.argv[1:]))
