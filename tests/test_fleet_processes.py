"""Fleets of real processes standing in for hosts (each its own ``LIVEBAR_HOST_ID``), against the
simulator on 127.0.0.1 and a real ``redis-server`` (or, on one machine, the sqlite ledger and
``livebar run --fleet``): one card on the phone whatever happens to the members.

Time is scaled down (a lease of 2 s, members lost after 3 s of silence); every process started
is waited for with a deadline, or killed.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ledger_support import RedisServer, redis_server_fixture
from livebar._ledger.settings import LedgerSetting, open_ledger
from livebar._wire.account import account_for
from livebar.simulator import SimulatorHandle, serve

pytestmark = pytest.mark.timeout(120)

BUDGETS = (
    "livebar.Budgets(fleet_lease=2.0, fleet_report_every=0.3, fleet_min_write=0.1, "
    "fleet_read_every=0.2, fleet_lost_after=3.0, min_update_gap=0.05)"
)
MEMBER = textwrap.dedent(
    f"""
    import os, sys, time, livebar
    name, members, steps, fate = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    deadline = float(sys.argv[5])
    livebar.configure(budgets={BUDGETS})
    fleet = livebar.fleet("nightly", title="Nightly backups", members=members.split(","),
                          member=name, steps=steps, deadline=deadline)
    with fleet as m:
        print("started", flush=True)
        for i in range(steps):
            time.sleep(0.1)
            m.advance()
            if fate == "fail" and i == 3:
                raise SystemExit(3)
            if fate.startswith("hold:") and i == steps - 2:
                while not os.path.exists(fate[5:]):  # the test says when the others are done
                    time.sleep(0.05)
    """
)
NAMES = "h1,h2,h3,h4,h5"


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    yield from redis_server_fixture()


class Hosts:
    """Member processes, each as its own host; all killed at the end of the test."""

    def __init__(self, sim: SimulatorHandle, ledger: str) -> None:
        self.env = {**os.environ, **sim.env(), "LIVEBAR_LEDGER": ledger}
        self.procs: dict[str, subprocess.Popen[str]] = {}

    def start(
        self, name: str, steps: int, fate: str = "ok", *, host: bool = True, deadline: float = 60.0
    ) -> None:
        env = {**self.env, "LIVEBAR_HOST_ID": name} if host else self.env
        proc = subprocess.Popen(
            [sys.executable, "-c", MEMBER, name, NAMES, str(steps), fate, str(deadline)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.procs[name] = proc
        assert proc.stdout is not None
        assert "started" == proc.stdout.readline().strip(), proc.stderr.read()  # type: ignore[union-attr]

    def kill(self, name: str) -> float:
        self.procs[name].kill()
        self.procs[name].wait(10)
        return time.time()

    def wait(self, name: str) -> int:
        proc = self.procs[name]
        _out, err = proc.communicate(timeout=60)
        assert proc.returncode in (0, 3), err
        return proc.returncode

    def cleanup(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.kill()
            proc.communicate(timeout=10)


@pytest.fixture
def sim() -> Iterator[SimulatorHandle]:
    with serve() as handle:
        yield handle


def until(condition: Any, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def cards(sim: SimulatorHandle) -> list[dict[str, Any]]:
    return [r for r in sim.requests() if "/live-activity/" in r["path"]]


def reported(sim: SimulatorHandle, ledger: str) -> set[str]:
    """The members in the fleet's record, as the ledger the members share holds it."""
    kind = "redis" if ledger.startswith("redis://") else "sqlite"
    account = account_for(api_key=sim.api_key, base_url=sim.url)
    shared = open_ledger(account, setting=LedgerSetting(kind, ledger))
    try:
        record = shared.fleet_read("nightly#1", time.monotonic(), lost_after=60.0)
    finally:
        shared.close(time.monotonic())
    return set() if record is None else set(record.members)


def run_five(sim: SimulatorHandle, ledger: str, *, hosts: bool) -> None:
    """h1 runs longest (until the test releases it), h2 finishes, h3 fails, h4 is killed with
    SIGKILL, h5 never starts: when h1, the last one running, leaves, h5 has never started.
    (The deadline is generous: a member that joins after it belongs to the fleet's next run,
    and four interpreters may take seconds to start on a busy machine.)"""
    members = Hosts(sim, ledger)
    release = Path(tempfile.mkdtemp(prefix="livebar-fleet-")) / "release"
    try:
        # h1 stays until the others are done (as the longest host would): on a loaded machine
        # the later interpreters may start after a fixed-length h1 had left, and join the next
        # run of the fleet.
        members.start("h1", 100, f"hold:{release}", host=hosts)
        members.start("h2", 15, host=hosts)
        members.start("h3", 30, "fail", host=hosts)
        members.start("h4", 600, host=hosts)
        until(lambda: "h4" in reported(sim, ledger), "h4 never reported")
        members.kill("h4")
        assert (0, 3) == (members.wait("h2"), members.wait("h3"))
        release.touch()
        assert 0 == members.wait("h1")
    finally:
        release.touch()
        members.cleanup()


def assert_one_card_naming_each(sim: SimulatorHandle) -> None:
    [activity] = sim.activities()
    state = activity["content_state"]
    assert "ended" == activity["state"]
    assert (
        "Done 2/5 \u00b7 failed: h3 \u00b7 lost: h4 \u00b7 1 never started (h5)"
        == state["subtitle"]
    )
    assert ("red", 5, 4) == (state["color"], state["number_of_steps"], state["current_step"])
    assert 1 == len({r["path"] for r in cards(sim)})
    assert 0 == activity["warnings"]


def test_five_hosts_on_redis_show_one_card_naming_each(
    sim: SimulatorHandle, redis_server: RedisServer
) -> None:
    """Five hosts on one Redis: one finishes, one fails, one is SIGKILLed, one never starts:
    exactly one activity, a segment per member, its end naming each."""
    redis_server.flush()
    run_five(sim, redis_server.url, hosts=True)
    assert_one_card_naming_each(sim)


def test_five_processes_on_one_machine_share_the_sqlite_ledger(
    sim: SimulatorHandle, tmp_path: Path
) -> None:
    """The same on one machine through the sqlite ledger: the killed member is known dead by
    its process (no waiting for its heartbeat to go stale)."""
    run_five(sim, str(tmp_path), hosts=False)
    assert_one_card_naming_each(sim)


def test_the_card_keeps_moving_when_its_sender_is_killed(
    sim: SimulatorHandle, redis_server: RedisServer
) -> None:
    """SIGKILL the member that sends: another member takes over (once the lease lapses) and
    keeps PUTting the same stream; the end names the killed sender as lost. (How soon is
    measured in ``benchmarks/bench_fleet.py``.)"""
    redis_server.flush()
    members = Hosts(sim, redis_server.url)
    try:
        members.start("h1", 600)
        until(lambda: cards(sim), "the first member never sent the card")
        members.start("h2", 80)
        members.start("h3", 100)
        time.sleep(1.0)
        killed = members.kill("h1")
        until(
            lambda: any(r["t"] > killed + 0.1 and r["method"] == "PUT" for r in cards(sim)),
            "nobody took over the card",
        )
        assert (0, 0) == (members.wait("h2"), members.wait("h3"))
    finally:
        members.cleanup()
    assert 1 == len({r["path"] for r in cards(sim)})
    [activity] = sim.activities()
    assert ("ended", 0) == (activity["state"], activity["warnings"])
    assert activity["content_state"]["subtitle"].startswith("Done 2/5 \u00b7 lost: h1")


def test_livebar_run_fleet_on_one_machine(sim: SimulatorHandle, tmp_path: Path) -> None:
    """``livebar run --fleet``: three commands, one exits 3; one card, the failure named. (The
    commands take a few seconds: members must overlap, or the first to finish, alone, would
    end the card before the others joined.)"""
    env = {**os.environ, **sim.env(), "LIVEBAR_LEDGER": str(tmp_path)}
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "livebar",
                "run",
                "--fleet",
                "nightly",
                "--members",
                "3",
                "--member",
                name,
                "--title",
                "Nightly backups",
                "--",
                "sh",
                "-c",
                f"sleep 5; exit {code}",
            ],
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name, code in (("db1", 0), ("db2", 3), ("db3", 0))
    ]
    said = [proc.communicate(timeout=60)[1] for proc in procs]
    assert [0, 3, 0] == [proc.returncode for proc in procs], said
    [activity] = sim.activities()
    assert "Done 2/3 \u00b7 failed: db2" == activity["content_state"]["subtitle"], said
