"""What the account ledger costs per request: the dispatcher's ``acquire`` (record one request
before sending it) and ``record_state`` (after an update), through ``AccountLedger`` exactly as
the engine calls it.

    python benchmarks/bench_ledger.py              # memory, sqlite, redis; 1 and 4 processes
    python benchmarks/bench_ledger.py --calls 500  # quicker
    python benchmarks/bench_ledger.py --json out.json

Each case spawns N processes that call as fast as they can at the same moment (a barrier), so
the 4-process figures are a worst case: a real livebar process makes at most about one ledger
call a second. The window is kept short (10 ms, limit 10^9) so every call is admitted (the write
path) while the sqlite table and the Redis set stay as small as at ActivitySmith's real limits.
Latencies are per call, in microseconds, over every call of every process; "busy" counts calls
that found the sqlite file locked past its 10 ms busy timeout (the ledger then answers "not
now"). ``redis-server`` (Debian's package) is started on 127.0.0.1 with a free port.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "src"))

WINDOW = 0.01
LIMIT = 10**9
ACCOUNT_ID = "be9c4ed1e2a94b4f9c1b2d0e3f4a5b6c"


def _backend(kind: str, location: str) -> Any:
    from livebar._ledger.memory import MemoryBackend
    from livebar._ledger.owner import Owner
    from livebar._wire.account import Account

    owner = Owner.current()
    if kind == "memory":
        return MemoryBackend(window=WINDOW, owner=owner)
    if kind == "sqlite":
        from livebar._ledger.sqlite import SqliteBackend

        return SqliteBackend(location, window=WINDOW, owner=owner)
    from livebar._ledger.redis import RedisBackend

    account = Account(server="https://activitysmith.com/api", id=ACCOUNT_ID)
    return RedisBackend(location, account=account, window=WINDOW, owner=owner)


def worker(kind: str, location: str, calls: int, barrier: Any, out: Any) -> None:
    """One contending process: ``calls`` acquires, then ``calls // 4`` state records."""
    from livebar._ledger.ledger import AccountLedger

    ledger = AccountLedger(_backend(kind, location), degrade_after=1e9)
    key = f"job-{os.getpid()}"
    ledger.request_slot(key, time.monotonic(), max_active=10**6, title="bench")
    state = {"title": "bench", "type": "progress", "percentage": 0.0}
    for _ in range(50):  # warm-up: connections, prepared statements, script cache
        ledger.acquire(time.monotonic(), limit=LIMIT)
    barrier.wait(60)
    acquire: list[float] = []
    busy = 0
    clock = time.perf_counter_ns
    for _ in range(calls):
        start = clock()
        answer = ledger.acquire(time.monotonic(), limit=LIMIT)
        acquire.append((clock() - start) / 1000)
        busy += answer.busy
    record: list[float] = []
    for i in range(calls // 4):
        state["percentage"] = i % 100
        start = clock()
        ledger.record_state(key, time.monotonic(), state=state)
        record.append((clock() - start) / 1000)
    ledger.close(time.monotonic())
    out.put((acquire, record, busy))


def measure(kind: str, location: str, processes: int, calls: int) -> dict[str, Any]:
    ctx = multiprocessing.get_context("spawn")
    barrier, out = ctx.Barrier(processes), ctx.Queue()
    started = [
        ctx.Process(target=worker, args=(kind, location, calls, barrier, out))
        for _ in range(processes)
    ]
    for p in started:
        p.start()
    reports = [out.get(timeout=300) for _ in started]
    for p in started:
        p.join(60)
    acquire = sorted(x for a, _r, _b in reports for x in a)
    record = sorted(x for _a, r, _b in reports for x in r)
    return {
        "backend": kind,
        "processes": processes,
        "calls": len(acquire),
        "acquire_median_us": statistics.median(acquire),
        "acquire_p99_us": _p99(acquire),
        "record_median_us": statistics.median(record),
        "record_p99_us": _p99(record),
        "busy": sum(b for _a, _r, b in reports),
    }


def _p99(values: list[float]) -> float:
    return values[min(len(values) - 1, int(len(values) * 0.99))]


class Redis:
    """A throwaway redis-server on 127.0.0.1."""

    def __init__(self) -> None:
        binary = shutil.which("redis-server")
        self.dir = tempfile.mkdtemp(prefix="livebar-bench-redis-")
        self.process: subprocess.Popen[bytes] | None = None
        if binary is None:
            return
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        options = ["--bind", "127.0.0.1", "--dir", self.dir, "--save", "", "--appendonly", "no"]
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), *options],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)

    @property
    def url(self) -> str | None:
        return None if self.process is None else f"redis://127.0.0.1:{self.port}/0"

    def close(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)


def run(*, calls: int = 3000) -> dict[str, Any]:
    """Every backend, alone and with 4 contending processes (``run.py``'s section)."""
    return {"rows": _rows(calls)}


def _rows(calls: int) -> list[dict[str, Any]]:
    tmp = Path(tempfile.mkdtemp(prefix="livebar-bench-ledger-"))
    redis = Redis()
    rows = []
    try:
        cases = [("memory", ""), ("sqlite", str(tmp / "ledger.sqlite3"))]
        if redis.url is not None:
            cases.append(("redis", redis.url))
        else:
            print("redis-server not found: the Redis rows are left out", file=sys.stderr)
        for kind, location in cases:
            for processes in (1, 4):
                if kind == "memory" and processes > 1:
                    continue  # nothing is shared
                rows.append(measure(kind, location, processes, calls))
    finally:
        redis.close()
        shutil.rmtree(tmp, ignore_errors=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=3000, help="acquires per process")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    rows = _rows(args.calls)
    print(
        "| backend | processes | acquire median / p99 (µs) | record_state median / p99 (µs)", end=""
    )
    print(" | busy |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['backend']} | {r['processes']} | {r['acquire_median_us']:.0f} / "
            f"{r['acquire_p99_us']:.0f} | {r['record_median_us']:.0f} / "
            f"{r['record_p99_us']:.0f} | {r['busy']} of {r['calls']} |"
        )
    if args.json is not None:
        args.json.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
