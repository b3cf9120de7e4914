"""What a fleet costs and how fast it shows (issue 21), measured.

    python benchmarks/bench_fleet.py               # everything (about a minute)
    python benchmarks/bench_fleet.py --json out.json

* **requests per fleet-hour**: a fleet of 20 (and of 200) members running an hour on the
  virtual clock against the simulator, all through the real engine and an in-memory ledger,
  next to one activity running the same hour; and the ceiling iOS allows one activity in an
  hour (12 quick updates, then one per 2 min x 1.05, plus its start and end);
* **member change to phone**: on the virtual clock, how long after a member's news (a member
  fails; the first member starts; the last member ends) the phone shows it, with the default
  cadences (reports at least every 2.5 s, at once on a change but at most every 1 s; the
  sender reads every 1 s);
* **Redis calls per member per minute**: 20 members on the virtual clock sharing a real
  ``redis-server`` on 127.0.0.1 for ten virtual minutes, counted by Redis itself (``INFO
  commandstats``: each script call and each read pipeline is one round trip), split into the
  fleet's calls and the account ledger's own; and the sender's read of a 200-member record;
* **sender killed**: real processes on that Redis with the default 10 s lease; seconds from
  the SIGKILL of the sender to the next sender's first card request.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "src"))

import livebar  # noqa: E402
from livebar._engine.budgets import Budgets  # noqa: E402
from livebar.testing import VIRTUAL_EPOCH, virtual_time  # noqa: E402

HOUR = 3600.0


def _card_requests(clock: Any) -> list[dict[str, Any]]:
    return [r for r in clock.simulator.requests() if "/live-activity/" in r["path"]]


def fleet_hour(members: int, *, ledgers: Any = None, minutes: int = 60) -> dict[str, Any]:
    """``members`` members, each 60 items at its own pace over up to ``minutes``."""
    with virtual_time(sample_interval=1.0, ledgers=ledgers) as clock:
        fleet = [
            livebar.fleet("bench", members=members, member=f"h{i}", total=60).start()
            for i in range(members)
        ]
        for minute in range(minutes):
            for i, member in enumerate(fleet):
                if minute < minutes // 2 + i % (minutes // 2):  # ends spread over the hour
                    member.update(min(60, (minute + 1) * 60 // (minutes // 2 + i % (minutes // 2))))
                elif not member.closed:
                    member.close()
            clock.advance(60.0)
        for member in fleet:
            member.close()
        assert clock.flush(60.0)
    [activity] = clock.simulator.activities()
    return {
        "members": members,
        "requests": len(_card_requests(clock)),
        "warnings": activity["warnings"],
        "type": activity["content_state"]["type"],
    }


def one_activity_hour() -> int:
    with virtual_time(sample_interval=1.0) as clock:
        with livebar.live_activity("bench", total=3600) as act:
            for second in range(0, 3600, 10):
                act.update(second)
                clock.advance(10.0)
        assert clock.flush(30.0)
    return len(_card_requests(clock))


def ios_ceiling(budgets: Budgets, seconds: float) -> int:
    """Updates iOS tolerates for one activity over ``seconds``, with its start and end."""
    return budgets.ios_allowance(seconds) + 2


def _shown_at(clock: Any, predicate: Any) -> float | None:
    """When the phone first showed a state matching ``predicate`` (virtual seconds)."""
    for activity in clock.simulator.activities():
        for event in activity.get("history", []):
            if predicate(event.get("content_state") or {}):
                return float(event["t"]) - VIRTUAL_EPOCH
    return None


def delays() -> dict[str, float | None]:
    """Virtual seconds from a member's news to the phone, at the default cadences."""
    with virtual_time() as clock:
        a = livebar.fleet("d", members=["a", "b", "c"], member="a", total=100).start()
        clock.advance(0.3)
        b = livebar.fleet("d", members=["a", "b", "c"], member="b", total=100).start()
        c = livebar.fleet("d", members=["a", "b", "c"], member="c", total=100).start()
        first = _shown_at(clock, lambda s: True)
        clock.advance(600.0)  # ten minutes in: the card's quick updates may be spent
        failed_at = clock.now
        b.fail(OSError("disk"))
        clock.advance(300.0)
        failed = _shown_at(clock, lambda s: "failed" in str(s.get("subtitle")))
        a.close()
        clock.advance(60.0)
        ended_at = clock.now
        c.close()
        assert clock.flush(60.0)
        ended = _shown_at(clock, lambda s: str(s.get("subtitle", "")).startswith("Done"))
    return {
        "first_member_to_card_s": first,
        "member_failed_to_phone_s": None if failed is None else failed - failed_at,
        "last_member_ended_to_phone_s": None if ended is None else ended - ended_at,
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Redis:
    def __init__(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise SystemExit("redis-server is not installed")
        self.dir = tempfile.mkdtemp(prefix="livebar-bench-redis-")
        self.port = _free_port()
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.dir,
             "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        import redis

        self.client = redis.Redis(port=self.port)
        deadline = time.monotonic() + 10
        while True:
            try:
                self.client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def calls(self) -> dict[str, int]:
        stats = self.client.info("commandstats")
        return {name.removeprefix("cmdstat_"): int(v["calls"]) for name, v in stats.items()}

    def close(self) -> None:
        self.client.close()
        self.process.terminate()
        self.process.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)


def redis_calls(redis: Redis, members: int = 20, minutes: int = 10) -> dict[str, Any]:
    """Round trips to Redis per member per minute, counted by the server."""
    from livebar._ledger.settings import LedgerSetting, open_ledger

    setting = LedgerSetting("redis", redis.url)

    def ledgers(account: Any, window: float) -> Any:
        return open_ledger(account, window=window, setting=setting)

    before = redis.calls()
    result = fleet_hour(members, ledgers=ledgers, minutes=minutes)
    after = redis.calls()
    trips = {k: after.get(k, 0) - before.get(k, 0) for k in after}
    scripts = trips.get("evalsha", 0) + trips.get("eval", 0)
    pipelines = trips.get("exec", 0)
    per = members * minutes
    return {
        "members": members,
        "minutes": minutes,
        "script_calls": scripts,
        "read_pipelines": pipelines,
        "round_trips_per_member_minute": round((scripts + pipelines) / per, 1),
        "card_requests": result["requests"],
    }


def big_read(redis: Redis, members: int = 200) -> dict[str, Any]:
    """The sender's read of a ``members``-member record: bytes and milliseconds."""
    from livebar._ledger.backend import FleetJoin, FleetReport
    from livebar._ledger.owner import Owner
    from livebar._ledger.redis import RedisBackend
    from livebar._wire.account import Account

    account = Account(server="https://bench.example/api", id="f" * 32)
    backend = RedisBackend(redis.url, account=account, window=60.0, owner=Owner.current())
    meta = {"title": "Big", "expected": members}
    run = backend.fleet_join("big", "h0", 0.0, FleetJoin(None, meta, None, 3600.0, 30.0))
    state = {"done": 30, "total": 60, "fraction": 0.5, "stage": None, "outcome": None}
    for i in range(members):
        backend.fleet_report(run, f"h{i}", 0.0, FleetReport(state, f"H{i}", 10.0))
    times = []
    for _ in range(50):
        started = time.perf_counter()
        backend.fleet_read(run, 0.0)
        times.append(time.perf_counter() - started)
    size = sum(
        len(k) + len(v)
        for k, v in redis.client.hgetall(f"livebar:{{{account.id}}}:fleet:{run}").items()
    )
    backend.close()
    times.sort()
    return {"members": members, "bytes": size, "read_ms_median": round(times[25] * 1000, 2)}


MEMBER = textwrap.dedent(
    """
    import sys, time, livebar
    name = sys.argv[1]
    with livebar.fleet("takeover", members=3, member=name, total=600) as m:
        print("started", flush=True)
        for i in range(600):
            time.sleep(0.1)
            m.advance()
            if name != "h1" and i > 200:
                break
    """
)


def takeover(redis: Redis, trials: int = 2) -> list[float]:
    """Seconds from the SIGKILL of the sender to the next sender's first card request."""
    from livebar.simulator import serve

    gaps = []
    for trial in range(trials):
        redis.client.flushall()
        with serve() as sim:
            env = {**os.environ, **sim.env(), "LIVEBAR_LEDGER": redis.url}
            procs = {}
            for name in ("h1", "h2", "h3"):
                procs[name] = subprocess.Popen(
                    [sys.executable, "-c", MEMBER, name],
                    env={**env, "LIVEBAR_HOST_ID": f"{name}-{trial}"},
                    stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL,
                    text=True,
                )
                assert procs[name].stdout is not None
                procs[name].stdout.readline()
                if name == "h1":
                    while not [r for r in sim.requests() if "/stream/" in r["path"]]:
                        time.sleep(0.05)
            time.sleep(3.0)
            procs["h1"].kill()
            killed = time.time()
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                after = [r["t"] for r in sim.requests() if r["t"] > killed]
                if after:
                    gaps.append(round(min(after) - killed, 2))
                    break
                time.sleep(0.05)
            for proc in procs.values():
                proc.kill()
                proc.communicate()
    return gaps


def run() -> dict[str, Any]:
    budgets = Budgets()
    results: dict[str, Any] = {
        "fleet_hour_20": fleet_hour(20),
        "fleet_hour_200": fleet_hour(200),
        "one_activity_hour": one_activity_hour(),
        "ios_ceiling_one_activity_hour": ios_ceiling(budgets, HOUR),
        "delays": delays(),
        "lease_s": budgets.fleet_lease,
        "report_every_s": budgets.fleet_report_every,
    }
    redis = Redis()
    try:
        results["redis_20"] = redis_calls(redis)
        results["read_200"] = big_read(redis)
        results["takeover_gaps_s"] = takeover(redis)
    finally:
        redis.close()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", type=Path, help="write the figures here too")
    args = parser.parse_args(argv)
    results = run()
    text = json.dumps(results, indent=2)
    print(text)
    if args.json is not None:
        args.json.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
