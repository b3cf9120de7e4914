"""One account, many client objects, processes and hosts: one budget, and the truth after a kill.

Real processes (spawned, never forked), the real engine and the simulator on 127.0.0.1 at
ActivitySmith's limits (time scaled down where a job must be long): no 429 of livebar's own
making, every end delivered, queued starts served as slots free, and a process killed with -9
ended "Lost" by the next livebar process on the account, or by ``livebar reap``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import livebar
from livebar.simulator import SimulatorHandle, serve

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ledger_support import RedisServer, redis_server_fixture

WINDOW = 6.0
"""The simulator's rate window in these tests: ActivitySmith's 60 s, scaled down by 10."""
JOB = textwrap.dedent(
    """
    import json, sys, time, livebar
    name, jobs, pushes = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    livebar.configure(budgets=livebar.Budgets(
        window={window}, requests_per_window=40, activity_limit_initial=0.2,
        activity_limit_max=0.5, min_update_gap=0.05, backoff_initial=0.2))
    acts = [livebar.live_activity(f"{{name}} job {{i}}", total=40).start() for i in range(jobs)]
    for n in range(40):
        for i, act in enumerate(acts):
            act.update(n + 1)
            if n == 20 * (i + 1) - 1:  # the first job ends half-way, the second at the end
                act.close()
        if n < pushes:
            livebar.push(f"{{name}} push {{n}}")
        time.sleep(0.05)
    assert livebar.flush(60.0), [a.stats for a in acts]
    print(json.dumps([[a.stats.end_delivered, a.stats.delivered_by_push] for a in acts]))
    """
).format(window=WINDOW)


def env_for(sim: SimulatorHandle, ledger: str, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "ACTIVITYSMITH_API_KEY": sim.api_key,
        "ACTIVITYSMITH_BASE_URL": sim.url,
        "LIVEBAR_LEDGER": ledger,
        **extra,
    }


def spawn(code: str, *args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(proc: subprocess.Popen[str], timeout: float = 120.0) -> str:
    out, err = proc.communicate(timeout=timeout)
    assert 0 == proc.returncode, err
    return out


def delivered(outs: list[str]) -> tuple[int, int]:
    """(activities whose end reached the phone, those whose outcome went out as a push)."""
    ends = [tuple(end) for out in outs for end in json.loads(out)]
    assert all(arrived for arrived, _ in ends), ends
    by_push = sum(1 for _, pushed in ends if pushed)
    return len(ends) - by_push, by_push


def refused_by_the_window(sim: SimulatorHandle) -> list[dict[str, Any]]:
    return [
        r
        for r in sim.requests()
        if r["status"] == 429 and (r["response"] or {}).get("error") == "Rate limit exceeded"
    ]


def refused_for_slots(sim: SimulatorHandle) -> list[dict[str, Any]]:
    return [r for r in sim.requests() if r["status"] == 429 and "limit" in (r["response"] or {})]


def test_eight_clients_on_one_key_share_the_four_slots() -> None:
    """Eight activities, each with its own Client on one key: one budget, no slot 429."""
    with serve() as sim:
        clients = [livebar.Client(api_key=sim.api_key, base_url=sim.url) for _ in range(8)]
        acts = [
            livebar.live_activity(f"Job {i}", client=clients[i], total=2).start() for i in range(8)
        ]
        time.sleep(0.5)
        for act in acts:
            act.update(2)
            act.close()
            time.sleep(0.1)
        assert livebar.flush(30.0)
        for client in clients:
            client.close()
        assert [] == refused_for_slots(sim)
        assert all(act.stats.end_delivered for act in acts)
        assert 8 == len([a for a in sim.activities() if a["state"] == "ended"])


@pytest.mark.timeout(180)
def test_processes_on_one_key_stay_within_the_account(
    tmp_path: Path,
) -> None:
    """Three processes, two activities and twelve pushes each, on one key at the account's
    limits (time scaled by ten): the shared ledger keeps them all within the window and the
    four slots; every end and push arrives, the last two starts once slots free."""
    with serve(rate_limit=60, rate_window=WINDOW) as sim:
        env = env_for(sim, str(tmp_path))
        procs = [spawn(JOB, f"P{i}", "2", "12", env=env) for i in range(3)]
        on_the_phone, by_push = delivered([finish(proc) for proc in procs])
        assert [] == refused_by_the_window(sim), sim.requests()
        assert [] == refused_for_slots(sim), sim.requests()
        assert 36 + by_push == len(sim.pushes()), [p["title"] for p in sim.pushes()]
        assert on_the_phone == len([a for a in sim.activities() if a["state"] == "ended"])
        assert on_the_phone >= 5  # four at once, and at least one start served as a slot freed


BARRIER = textwrap.dedent(
    """
    import pathlib
    here = pathlib.Path(sys.argv[4])
    (here / name).touch()
    waited = time.monotonic() + 60
    while not (here / "go").exists() and time.monotonic() < waited:
        time.sleep(0.01)
    """
)


def test_the_same_jobs_without_the_ledger_collide(tmp_path: Path) -> None:
    """The control: with LIVEBAR_LEDGER=off each process thinks the account is its own, and
    the simulator refuses some of them (what the shared ledger prevents). The three start
    their activities together and hold them five times longer (10 s), so that they meet on the
    slots however slowly a loaded machine starts their engines."""
    with serve(rate_limit=60, rate_window=WINDOW) as sim:
        env = env_for(sim, "off")
        together = JOB.replace("acts = [", BARRIER + "acts = [", 1)
        together = together.replace("time.sleep(0.05)", "time.sleep(0.25)", 1)
        names = [f"P{i}" for i in range(3)]
        procs = [spawn(together, name, "2", "12", str(tmp_path), env=env) for name in names]
        waited = time.monotonic() + 60
        while not all((tmp_path / n).exists() for n in names) and time.monotonic() < waited:
            time.sleep(0.01)
        (tmp_path / "go").touch()
        for proc in procs:
            finish(proc)  # every job still ends: the engine retries what was refused
        assert refused_for_slots(sim)


HOLDER = textwrap.dedent(
    """
    import sys, time, livebar
    act = livebar.live_activity("Nightly backup", total=100).start()
    act.update(61)
    livebar.flush(10.0)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and act.stats.requests < 1:
        time.sleep(0.05)
    print("ready", flush=True)
    time.sleep(120)
    """
)
NEXT_JOB = textwrap.dedent(
    """
    import livebar
    with livebar.live_activity("Next job") as act:
        pass
    assert livebar.flush(20.0)
    print("ok")
    """
)


def start_holder(env: dict[str, str], code: str = HOLDER) -> subprocess.Popen[str]:
    holder = spawn(code, env=env)
    assert holder.stdout is not None
    assert "ready" == holder.stdout.readline().strip(), holder.stderr
    return holder


def lost(sim: SimulatorHandle) -> list[dict[str, Any]]:
    return [
        a
        for a in sim.activities()
        if (a["displayed"] or {}).get("subtitle", "").startswith("Lost: process")
    ]


def test_a_killed_process_is_ended_lost_by_the_next_livebar_process(tmp_path: Path) -> None:
    """kill -9 leaves the activity running on the phone until another livebar process on the
    account looks: then it ends red, "Lost: process N was killed after … at 61%", once."""
    with serve() as sim:
        env = env_for(sim, str(tmp_path))
        holder = start_holder(env)
        holder.kill()
        holder.communicate(timeout=10)
        assert [] == lost(sim)
        began = time.monotonic()
        finish(spawn(NEXT_JOB, env=env))
        finish(spawn(NEXT_JOB, env=env))
        [gone] = lost(sim)
        assert f"Lost: process {holder.pid} was killed after" in gone["displayed"]["subtitle"]
        assert gone["displayed"]["subtitle"].endswith("at 61%")
        assert "red" == gone["displayed"]["color"]
        assert 30 == gone["auto_dismiss_minutes"]
        assert time.monotonic() - began < 30.0  # the bound: the next process's first look


def test_a_card_another_process_carries_on_is_ended_by_it_not_lost(tmp_path: Path) -> None:
    """The process that killed the holder opens a card on the holder's stream key to end it
    with what it knows (Celery's worker ending the card of a task whose pool process it
    terminated): the card says that, and is never first ended "Lost" by the same process."""
    carried = "Revoked (terminated)"
    with serve() as sim:
        env = env_for(sim, str(tmp_path))
        holder = start_holder(env, HOLDER.replace("total=100)", 'total=100, stream_key="task-7")'))
        holder.kill()
        holder.communicate(timeout=10)
        ender = (
            "import livebar\n"
            "act = livebar.live_activity('Nightly backup', stream_key='task-7').start()\n"
            f"act.close(outcome='cancelled', subtitle={carried!r})\n"
            "assert livebar.flush(20.0)\n"
        )
        finish(spawn(ender, env=env))
        [card] = sim.activities()
    assert ([], "ended", carried) == (lost(sim), card["state"], card["displayed"]["subtitle"])


def test_livebar_reap_ends_a_killed_process(tmp_path: Path) -> None:
    """`livebar reap` (from cron or a shell) does the same; a second run finds nothing."""
    with serve() as sim:
        env = env_for(sim, str(tmp_path))
        holder = start_holder(env)
        os.kill(holder.pid, signal.SIGKILL)
        holder.communicate(timeout=10)
        reap = [sys.executable, "-m", "livebar", "reap"]
        done = subprocess.run(reap, env=env, capture_output=True, text=True, timeout=60)
        assert 0 == done.returncode, done.stderr
        assert "ended 'Nightly backup'" in done.stdout
        [gone] = lost(sim)
        assert gone["displayed"]["subtitle"].startswith(f"Lost: process {holder.pid} was killed")
        again = subprocess.run(reap, env=env, capture_output=True, text=True, timeout=60)
        assert "nothing to reap" in again.stdout
        assert sim.api_key not in done.stdout + done.stderr + again.stdout + again.stderr


def test_a_stopped_process_is_not_reaped(tmp_path: Path) -> None:
    """A process paused with SIGSTOP is alive: nobody ends its activity."""
    with serve() as sim:
        env = env_for(sim, str(tmp_path))
        holder = start_holder(env)
        os.kill(holder.pid, signal.SIGSTOP)
        try:
            finish(spawn(NEXT_JOB, env=env))
            assert [] == lost(sim)
        finally:
            os.kill(holder.pid, signal.SIGKILL)
            holder.communicate(timeout=10)


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    """A redis-server on 127.0.0.1 for this module."""
    yield from redis_server_fixture()


@pytest.mark.timeout(180)
def test_two_hosts_share_one_budget_through_redis(redis_server: RedisServer) -> None:
    """Two "hosts" (process groups with their own host id) on one Redis ledger: together they
    stay within the account's window and slots, as if they were one process."""
    redis_server.flush()
    with serve(rate_limit=60, rate_window=WINDOW) as sim:
        procs = []
        for host in ("build-1", "build-2"):
            env = env_for(sim, redis_server.url, LIVEBAR_HOST_ID=host)
            procs += [spawn(JOB, f"{host}-{i}", "2", "14", env=env) for i in range(2)]
        on_the_phone, by_push = delivered([finish(proc) for proc in procs])
        assert [] == refused_by_the_window(sim)
        assert [] == refused_for_slots(sim)
        assert 56 + by_push == len(sim.pushes())
        assert on_the_phone == len([a for a in sim.activities() if a["state"] == "ended"])
        assert on_the_phone >= 5
