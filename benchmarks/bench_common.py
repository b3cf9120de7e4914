"""What every benchmark shares: statistics, the machine description, and the peers' clients.

Each figure the benchmarks report is a median with its spread (the smallest and largest of the
repeated runs), so a noisy machine shows up as a wide spread instead of a wrong number.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PEERS = ("tqdm", "rich", "activitysmith", "httpx", "anyio", "starlette", "uvicorn")


@dataclass(frozen=True)
class Spread:
    """The median of repeated measurements, with the smallest and largest."""

    median: float
    low: float
    high: float
    runs: int

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        if not values:
            raise ValueError("no measurements")
        return cls(statistics.median(values), min(values), max(values), len(values))

    def to_json(self) -> dict[str, float]:
        return {"median": self.median, "low": self.low, "high": self.high, "runs": self.runs}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Spread:
        return cls(data["median"], data["low"], data["high"], int(data["runs"]))

    def show(self, fmt: str = "{:.1f}", unit: str = "") -> str:
        """``12.3 (11.9-13.0)``: the median, then the range over the runs."""
        return f"{fmt.format(self.median)}{unit} ({fmt.format(self.low)}-{fmt.format(self.high)})"


def version_of(distribution: str) -> str:
    try:
        from importlib.metadata import version

        return version(distribution)
    except Exception:
        return "not installed"


def machine() -> dict[str, Any]:
    """The machine and the versions the figures were measured with."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    versions = {"livebar": version_of("livebar")}
    versions.update({name: version_of(name) for name in PEERS})
    return {
        "cpus": os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(terse=True),
        "versions": versions,
    }


def describe_machine(info: dict[str, Any]) -> str:
    versions = ", ".join(f"{name} {v}" for name, v in info["versions"].items())
    return (
        f"{info['cpus']} CPUs ({info['cpu']}), {info['implementation']} {info['python']} "
        f"on {info['platform']}; {versions}"
    )


def sdk_client(base_url: str, api_key: str) -> Any:
    """The official ``activitysmith`` SDK, pointed at ``base_url`` (it has no argument for it).

    The SDK builds an OpenAPI-generated ``Configuration`` whose ``host`` is the base URL; every
    resource shares the one ``ApiClient``, so setting it once moves them all.
    """
    from activitysmith import ActivitySmith

    client = ActivitySmith(api_key=api_key)
    client.live_activities._api.api_client.configuration.host = base_url
    return client


def run_json(module: str, *args: str, timeout: float = 600.0) -> dict[str, Any]:
    """Run ``benchmarks/<module>.py`` in a fresh interpreter; it prints one JSON document."""
    env = dict(os.environ)
    env.pop("ACTIVITYSMITH_API_KEY", None)
    env.pop("ACTIVITYSMITH_BASE_URL", None)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE), env.get("PYTHONPATH", "")]))
    proc = subprocess.run(
        [sys.executable, str(HERE / f"{module}.py"), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{module} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def emit(result: dict[str, Any]) -> None:
    """How a benchmark run as a script hands its result to ``run.py``."""
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()


def ratio(a: float, b: float) -> float | None:
    if b == 0:
        return None if a else 1.0
    return a / b


@contextlib.contextmanager
def without_bytecode(env: dict[str, str]) -> Iterator[dict[str, str]]:
    """``env`` for a livebar imported from a copy with no bytecode, never writing any (an
    editable install under ``PYTHONDONTWRITEBYTECODE=1``, as on these machines): it compiles
    from source at every import; the peers keep their bytecode."""
    import shutil
    import tempfile

    with tempfile.TemporaryDirectory(prefix="livebar-src-") as tmp:
        shutil.copytree(
            ROOT / "src" / "livebar",
            Path(tmp) / "livebar",
            ignore=shutil.ignore_patterns("__pycache__"),
        )
        yield {**env, "PYTHONPATH": tmp, "PYTHONDONTWRITEBYTECODE": "1"}


def compiled(env: dict[str, str]) -> dict[str, str]:
    """``env`` with livebar's bytecode written first (as after ``pip install``)."""
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(ROOT / "src" / "livebar")],
        check=True,
        capture_output=True,
    )
    out = dict(env)
    out.pop("PYTHONDONTWRITEBYTECODE", None)
    return out
