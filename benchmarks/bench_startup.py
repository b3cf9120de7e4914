"""Import time (a fresh interpreter for every measurement) and memory over a long loop.

``processes``: the tqdm drop-in as a user pays for it, a whole ``python -c "from livebar import
tqdm"`` against ``python -c "from tqdm.auto import tqdm"`` (wall and CPU time, and instructions
counted by callgrind, which a busy machine does not disturb).

Import time is measured inside each fresh interpreter with ``time.perf_counter()`` around the
import statement alone, so the interpreter's own start-up is not counted; the statements are
interleaved across runs. Memory: ``livebar.track`` mirrors a 10-million-item loop to an
in-process simulator in a fresh interpreter; the resident set is read from ``/proc/self/status``
after one million items and after ten, and the peak (``VmHWM``) at the end.
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

from bench_common import Spread, compiled, emit, without_bytecode

IMPORTS = {
    "import tqdm": "import tqdm",
    "import livebar": "import livebar",
    "from livebar import tqdm": "from livebar import tqdm",
    "import livebar + track()": "import livebar; list(livebar.track([1], disable=True))",
    "import httpx": "import httpx",
    "import rich.progress": "import rich.progress",
    "import activitysmith": "import activitysmith",
}
PROBE = "import time; _t = time.perf_counter(); {stmt}; print(time.perf_counter() - _t)"


def _clean_env() -> dict[str, str]:
    env = dict(os.environ)
    for name in ("ACTIVITYSMITH_API_KEY", "ACTIVITYSMITH_BASE_URL"):
        env.pop(name, None)
    env["LIVEBAR_DISABLE"] = "1"
    return env


def import_times(runs: int) -> dict[str, Any]:
    samples: dict[str, list[float]] = {name: [] for name in IMPORTS}
    env = _clean_env()
    for _ in range(runs):
        for name, stmt in IMPORTS.items():
            out = subprocess.run(
                [sys.executable, "-c", PROBE.format(stmt=stmt)],
                capture_output=True,
                text=True,
                env=env,
                check=True,
                timeout=60,
            ).stdout
            samples[name].append(float(out.strip().splitlines()[-1]) * 1000)
    result = {name: Spread.of(values).to_json() for name, values in samples.items()}
    per_run = [lb / tq for lb, tq in zip(samples["import livebar"], samples["import tqdm"])]
    return {"ms": result, "livebar_vs_tqdm": Spread.of(per_run).to_json(), "runs": runs}


PROCESSES = {
    "from livebar import tqdm": "from livebar import tqdm",
    "from tqdm.auto import tqdm": "from tqdm.auto import tqdm",
}
"""The drop-in's cost as a user sees it: a whole ``python -c`` process, start-up included."""


def process_times(runs: int) -> dict[str, Any]:
    """Wall and CPU time of whole ``python -c`` processes, interleaved, with livebar's bytecode
    compiled (as after ``pip install``) and without (an editable install under
    ``PYTHONDONTWRITEBYTECODE=1``: livebar compiles from source at each import, tqdm does not);
    instructions counted by callgrind when valgrind is installed (repeatable on a loaded
    machine)."""
    base = _clean_env()
    out: dict[str, Any] = {"runs": runs}
    with without_bytecode(base) as source:
        for mode, env in (("compiled", compiled(base)), ("no bytecode", source)):
            out[mode] = _process_times(runs, env)
    return out


def _process_times(runs: int, env: dict[str, str]) -> dict[str, Any]:
    import resource
    import shutil
    import time

    for stmt in PROCESSES.values():  # warm: files in the page cache
        subprocess.run([sys.executable, "-c", stmt], env=env, check=True, timeout=60)
    wall: dict[str, list[float]] = {name: [] for name in PROCESSES}
    cpu: dict[str, list[float]] = {name: [] for name in PROCESSES}
    for _ in range(runs):
        for name, stmt in PROCESSES.items():
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            began = time.perf_counter()
            subprocess.run([sys.executable, "-c", stmt], env=env, check=True, timeout=60)
            wall[name].append((time.perf_counter() - began) * 1000)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            used = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
            cpu[name].append(used * 1000)
    mine, theirs = PROCESSES
    out: dict[str, Any] = {
        "wall_ms": {name: Spread.of(v).to_json() for name, v in wall.items()},
        "cpu_ms": {name: Spread.of(v).to_json() for name, v in cpu.items()},
        "wall_ratio": Spread.of([a / b for a, b in zip(wall[mine], wall[theirs])]).to_json(),
        "cpu_ratio": Spread.of([a / b for a, b in zip(cpu[mine], cpu[theirs])]).to_json(),
    }
    if shutil.which("valgrind"):
        counted = {name: _instructions(stmt, env) for name, stmt in PROCESSES.items()}
        out["instructions"] = counted
        out["instruction_ratio"] = counted[mine] / counted[theirs]
    return out


def _instructions(stmt: str, env: dict[str, str]) -> int:
    done = subprocess.run(
        [
            "valgrind",
            "--tool=callgrind",
            "--callgrind-out-file=/dev/null",
            sys.executable,
            "-c",
            stmt,
        ],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=600,
    )
    for line in done.stderr.splitlines():
        if "Collected :" in line:
            return int(line.rsplit(":", 1)[1].strip())
    raise RuntimeError("callgrind printed no instruction count")


MEMORY_PROBE = """
import sys, time
import livebar
from livebar.simulator import serve

def rss(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")

N = {n}
with serve() as sim:
    data = range(N) if {sized} else (x for x in range(N))
    act = livebar.live_activity("Memory", total=N, api_key=sim.api_key, base_url=sim.url)
    act.start()
    while act.stats.requests < 1:  # the engine is up (its client built on its own thread)
        time.sleep(0.01)
    before = rss("VmRSS")
    at_1m = None
    began = time.perf_counter()
    for i in act.track(data):
        if i == 1_000_000:
            at_1m = rss("VmRSS")
    seconds = time.perf_counter() - began
    at_end = rss("VmRSS")
    act.close()
    livebar.flush(10.0)
    print(before, at_1m, at_end, rss("VmHWM"), seconds)
"""


def memory(n: int) -> dict[str, Any]:
    env = _clean_env()
    env.pop("LIVEBAR_DISABLE")
    out: dict[str, Any] = {"n": n}
    for label, sized in (("range", True), ("generator", False)):
        text = subprocess.run(
            [sys.executable, "-c", MEMORY_PROBE.format(n=n, sized=sized)],
            capture_output=True,
            text=True,
            env=env,
            check=True,
            timeout=300,
        ).stdout
        before, at_1m, at_end, peak, seconds = (
            float(v) for v in text.strip().splitlines()[-1].split()
        )
        out[label] = {
            "rss_before_mb": before,
            "rss_1m_mb": at_1m,
            "rss_end_mb": at_end,
            "hwm_mb": peak,
            "seconds": seconds,
        }
    return out


def run(quick: bool = False) -> dict[str, Any]:
    return {
        "imports": import_times(5 if quick else 15),
        "processes": process_times(5 if quick else 15),
        "memory": memory(2_000_000 if quick else 10_000_000),
    }


if __name__ == "__main__":
    emit(run(quick="--quick" in sys.argv[1:]))
