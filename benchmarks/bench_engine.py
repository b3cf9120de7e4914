"""What a user feels of the engine (issue #19): the first activity, an engine that sleeps, the
exit's one deadline, a bar's creation. Every figure comes from fresh interpreters against a
simulator served in a process of its own (so its work never shares the measured process's GIL),
or, for the peers, from the same interpreter in interleaved rounds.

* ``first``: entering the first ``with live_activity(...)`` of a process (the time ``__enter__``
  blocks), the longest gap of an asyncio loop around the first ``async with`` (a ticker task
  measures it; the statement includes ``livebar.live_activity``'s first use, as a user who
  imported only ``livebar`` pays it), and when the first start request reached the server
  after the enter (the simulator's own request log). Each with bytecode compiled and with
  ``PYTHONDONTWRITEBYTECODE=1`` and no bytecode for livebar (an editable install on these
  machines), interleaved.
* ``wakeups``: the engine's turns per second and the process's voluntary context switches per
  second while a real job runs (10 items a second) and after its activity ended, beside the
  same loop without livebar; system calls over the whole process when ``strace`` is installed;
  and, on the virtual clock, turns per second of a 20-minute job once the iOS budget allows only
  one update per ~2 minutes (nothing sendable between them).
* ``exits``: whole-process seconds after the job for each front end (a ``with`` block,
  ``flush()`` then exit, ``livebar run``, pipe mode) against a server that accepts and never
  answers, and against a port where nothing listens (connection refused for the whole run).
* ``bars``: creating and closing a ``livebar.tqdm`` bar against a plain ``tqdm`` bar
  (mirrored, and with ``LIVEBAR_DISABLE=1``), in interleaved rounds.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench_common import Spread, compiled, emit, without_bytecode

FIRST = r"""
import asyncio, json, os, socket, sys, time
mode = sys.argv[1]
host, port = os.environ["ACTIVITYSMITH_BASE_URL"].split("//")[1].split("/")[0].split(":")
def requests_seen():  # a bare GET: urllib would import half of what livebar imports, early
    with socket.create_connection((host, int(port))) as conn:
        conn.sendall(f"GET /_sim/requests HTTP/1.0\r\nHost: {host}:{port}\r\n\r\n".encode())
        data = b""
        while chunk := conn.recv(65536):
            data += chunk
    return json.loads(data.split(b"\r\n\r\n", 1)[1])
import livebar
if mode == "async, imported first":
    from livebar import live_activity  # the activity's own modules load here, not in the loop
if mode == "with":
    act = livebar.live_activity("First", total=10)
    wall = time.time()
    t = time.perf_counter(); act.__enter__(); enter = time.perf_counter() - t
    first = None
    for _ in range(400):
        time.sleep(0.005)
        mine = [r["t"] for r in requests_seen() if r["t"] >= wall - 0.001]
        if mine:
            first = min(mine) - wall
            break
    act.__exit__(None, None, None)
    livebar.flush(5.0)
    first_ms = None if first is None else first * 1e3
    print(json.dumps({"enter_ms": enter * 1e3, "first_request_ms": first_ms}))
else:
    async def ticker(gaps, stop):
        last = time.perf_counter()
        while not stop.is_set():
            await asyncio.sleep(0)
            now = time.perf_counter(); gaps.append(now - last); last = now
    async def main():
        gaps, stop = [], asyncio.Event()
        task = asyncio.ensure_future(ticker(gaps, stop))
        await asyncio.sleep(0.2)
        quiet = max(gaps); gaps.clear()
        async with livebar.live_activity("Async", total=10):
            await asyncio.sleep(0.5)
        stall = max(gaps)
        stop.set(); await task
        return quiet, stall
    quiet, stall = asyncio.run(main())
    livebar.flush(5.0)
    key = "loop_stall_ms" if mode == "async" else "loop_stall_imported_ms"
    print(json.dumps({"loop_quiet_ms": quiet * 1e3, key: stall * 1e3}))
"""

WAKEUPS = r"""
import json, os, sys, time
seconds, mirrored = float(sys.argv[1]), sys.argv[2] == "1"
def switches():
    total = 0
    for tid in os.listdir("/proc/self/task"):
        with open(f"/proc/self/task/{tid}/status") as f:
            for line in f:
                if line.startswith("voluntary_ctxt_switches"):
                    total += int(line.split()[1])
    return total
out = {}
if mirrored:
    import livebar
    from livebar._engine.runtime import runtime
    act = livebar.live_activity("Sleepy", total=int(seconds * 10))
    act.__enter__()
    time.sleep(1.0)
    intake = runtime.driver.intake
t0, s0 = time.monotonic(), switches()
n0 = intake.turns_started if mirrored else 0
for _ in range(int(seconds * 10)):
    time.sleep(0.1)
    if mirrored:
        act.advance()
t1, s1 = time.monotonic(), switches()
out["running_switches_per_s"] = (s1 - s0) / (t1 - t0)
if mirrored:
    out["running_turns_per_s"] = (intake.turns_started - n0) / (t1 - t0)
    act.__exit__(None, None, None)
    livebar.flush(10.0)
    n0, s0, t0 = intake.turns_started, switches(), time.monotonic()
    time.sleep(min(seconds, 10.0))
    t1 = time.monotonic()
    out["after_turns_per_s"] = (intake.turns_started - n0) / (t1 - t0)
    out["after_switches_per_s"] = (switches() - s0) / (t1 - t0)
    out["updates"] = act.stats.updates
print(json.dumps(out))
"""

IMPORTS_ALONE = (
    "import livebar, livebar._activity, livebar._engine.dispatcher, livebar._ledger.settings, "
    "livebar._ledger.sqlite, livebar._wire.client"
)

EXIT_JOBS = {
    "with block, then exit": "import livebar\nwith livebar.live_activity('Exit', total=3): pass\n",
    "flush() then exit": (
        "import livebar\nwith livebar.live_activity('Exit', total=3): pass\nlivebar.flush()\n"
    ),
    "livebar run -- true": None,
    "pipe mode": None,
}

BARS = r"""
import json, os, statistics, sys, time
import tqdm as plain
from livebar import tqdm as live
null = open(os.devnull, "w")
for _ in range(30):
    live(range(3), file=null).close(); plain.tqdm(range(3), file=null).close()
rounds, n = int(sys.argv[1]), int(sys.argv[2])
ratios, mine, theirs = [], [], []
for _ in range(rounds):
    t = time.perf_counter()
    for _ in range(n):
        plain.tqdm(range(10), file=null).close()
    a = (time.perf_counter() - t) / n
    t = time.perf_counter()
    for _ in range(n):
        live(range(10), file=null).close()
    b = (time.perf_counter() - t) / n
    theirs.append(a * 1e6); mine.append(b * 1e6); ratios.append(b / a)
print(json.dumps({"tqdm_us": theirs, "livebar_us": mine, "ratio": ratios}))
"""


# -- the simulator and the servers, in processes of their own ----------------------------------


@contextlib.contextmanager
def served() -> Iterator[str]:
    """A simulator in a child process; yields its API base URL."""
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "livebar", "simulate", "--port", str(port), "--key", KEY],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for_port(port)
        yield f"http://127.0.0.1:{port}/api"
    finally:
        proc.terminate()
        proc.wait(10)


@contextlib.contextmanager
def silent_server() -> Iterator[str]:
    """A server that accepts every connection and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            with contextlib.suppress(OSError):
                held.append(listener.accept()[0])

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/api"
    finally:
        stop.set()
        thread.join(5)
        for conn in held:
            conn.close()
        listener.close()


KEY = "ask_bench_engine"
STRACE_SECONDS = 20.0
"""The traced job's length (tracing slows the process; the calls scale with it)."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _wait_for_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError("the simulator did not start")


def _env(url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIVEBAR_")}
    env.update(ACTIVITYSMITH_BASE_URL=url, ACTIVITYSMITH_API_KEY=KEY)
    env.update(extra)
    return env


def _json_run(argv: list[str], env: dict[str, str], timeout: float = 120.0) -> dict[str, Any]:
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    parsed: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return parsed


# -- the sections ---------------------------------------------------------------------------------


def first(runs: int) -> dict[str, Any]:
    """The first activity of a process: enter, the first request, an asyncio loop's stall."""
    out: dict[str, Any] = {}
    with served() as url:
        base = _env(url)
        with without_bytecode(base) as source:
            envs = {"compiled": compiled(base), "no bytecode": source}
            samples: dict[str, dict[str, list[float]]] = {m: {} for m in envs}
            for _ in range(runs):
                for mode, env in envs.items():
                    for kind in ("with", "async", "async, imported first"):
                        got = _json_run([sys.executable, "-c", FIRST, kind], env)
                        for key, value in got.items():
                            if value is not None:
                                samples[mode].setdefault(key, []).append(value)
    for mode, figures in samples.items():
        out[mode] = {key: Spread.of(values).to_json() for key, values in figures.items()}
    out["runs"] = runs
    return out


def wakeups(seconds: float) -> dict[str, Any]:
    """Turns and context switches while a job runs and after, beside no library; syscalls."""
    out: dict[str, Any] = {"seconds": seconds}
    with served() as url:
        env = compiled(_env(url))
        argv = [sys.executable, "-c", WAKEUPS, str(seconds)]
        out["livebar"] = _json_run([*argv, "1"], env, timeout=seconds * 4 + 60)
        out["no library"] = _json_run([*argv, "0"], env, timeout=seconds * 4 + 60)
        if shutil.which("strace"):
            traced = [sys.executable, "-c", WAKEUPS, str(STRACE_SECONDS)]
            out["syscalls"] = {
                f"{label}, {STRACE_SECONDS:g}-s job": _syscalls([*traced, flag], env, seconds)
                for label, flag in (("livebar", "1"), ("no library", "0"))
            }
            # What the start-up alone costs (imports: the import system stats each directory
            # on the path for every module), to tell it from the run's own calls.
            out["syscalls"]["imports alone"] = _syscalls(
                [sys.executable, "-c", IMPORTS_ALONE], env, seconds
            )
    out["virtual"] = virtual_wakeups()
    return out


def _syscalls(argv: list[str], env: dict[str, str], seconds: float) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile("r", suffix=".strace") as log:
        subprocess.run(
            ["strace", "-f", "-c", "-o", log.name, *argv],
            env=env,
            capture_output=True,
            timeout=seconds * 6 + 120,
            check=True,
        )
        calls: dict[str, int] = {}
        for line in Path(log.name).read_text().splitlines():
            parts = line.split()
            if len(parts) >= 5 and parts[0][0].isdigit() and parts[-1] != "total":
                with contextlib.suppress(ValueError):
                    calls[parts[-1]] = int(parts[3])
        top = dict(sorted(calls.items(), key=lambda kv: -kv[1])[:5])
        return {"total": sum(calls.values()), "top": top}


def virtual_wakeups() -> dict[str, float]:
    """Turns per second of a 20-minute job past its iOS burst, on the virtual clock."""
    import livebar
    from livebar.testing import virtual_time

    with virtual_time() as vt:
        with livebar.live_activity("Long", total=1200) as act:
            act.set_source(lambda: vt.now)
            vt.advance(600.0)
            before = vt.dispatcher.intake.turns_started
            vt.advance(600.0)
            running = (vt.dispatcher.intake.turns_started - before) / 600.0
        vt.flush()
        before = vt.dispatcher.intake.turns_started
        vt.advance(600.0)
        after = (vt.dispatcher.intake.turns_started - before) / 600.0
    return {"past_burst_turns_per_s": running, "after_turns_per_s": after}


def exits(runs: int) -> dict[str, Any]:
    """Seconds each front end's process takes after the job, against a silent server and a
    refused port, minus the same process with mirroring off."""
    out: dict[str, Any] = {"runs": runs}
    with silent_server() as silent:
        targets = {
            "never answers": silent,
            "connection refused": f"http://127.0.0.1:{_free_port()}/api",
        }
        for label, url in targets.items():
            # No shared ledger: every run leaves an activity unended, which the next run on the
            # key would otherwise reap (a "Lost" end of its own to wait for).
            env = compiled(_env(url, LIVEBAR_LEDGER="off"))
            off = {**env, "LIVEBAR_DISABLE": "1"}
            figures: dict[str, list[float]] = {}
            for _ in range(runs):
                for name in EXIT_JOBS:
                    took = _seconds(name, env) - _seconds(name, off)
                    figures.setdefault(name, []).append(took)
            out[label] = {name: Spread.of(values).to_json() for name, values in figures.items()}
    return out


def _seconds(name: str, env: dict[str, str]) -> float:
    code = EXIT_JOBS[name]
    given = None
    if code is not None:
        argv = [sys.executable, "-c", code]
    elif name.startswith("livebar run"):
        argv = [sys.executable, "-m", "livebar", "run", "--", "true"]
    else:
        argv, given = [sys.executable, "-m", "livebar", "--total", "2"], b"one\ntwo\n"
    began = time.perf_counter()
    subprocess.run(argv, env=env, input=given, capture_output=True, timeout=60)
    return time.perf_counter() - began


def bars(rounds: int, n: int) -> dict[str, Any]:
    """A ``livebar.tqdm`` bar's creation and close against a plain tqdm bar's."""
    out: dict[str, Any] = {"rounds": rounds, "n": n}
    with served() as url:
        for label, extra in (("mirrored", {}), ("LIVEBAR_DISABLE=1", {"LIVEBAR_DISABLE": "1"})):
            env = compiled(_env(url, LIVEBAR_FLUSH_TIMEOUT="0.1", **extra))
            got = _json_run([sys.executable, "-c", BARS, str(rounds), str(n)], env, timeout=600)
            out[label] = {key: Spread.of(values).to_json() for key, values in got.items()}
    return out


SIZES = {"quick": (3, 15.0, 1, 5, 100), "full": (7, 60.0, 2, 9, 300)}
"""Processes per first-activity figure, the real job's seconds, exits' runs, bars' rounds and
bars per round."""


def run(quick: bool = False) -> dict[str, Any]:
    processes, seconds, exit_runs, rounds, per_round = SIZES["quick" if quick else "full"]
    out = {"first": first(processes), "wakeups": wakeups(seconds), "exits": exits(exit_runs)}
    out["bars"] = bars(rounds, per_round)
    return out


if __name__ == "__main__":
    emit(run(quick="--quick" in sys.argv[1:]))
