"""A real process that hangs (SIGSTOP), as the rest of the account sees it: ``livebar reap`` (or
another livebar process) marks its card "Not responding", SIGCONT brings its own state back.

Against the simulator on 127.0.0.1 and a sqlite ledger shared through ``LIVEBAR_LEDGER``; the
threshold is scaled down by ``LIVEBAR_HANG_AFTER=3`` (heartbeats every 0.3 s, looks every
0.1 s). Every process started is waited for with a deadline, or killed.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from livebar.simulator import SimulatorHandle, serve
from livebar.testing import assert_no_budget_warnings, assert_within_rate_limit

pytestmark = [
    pytest.mark.timeout(120),
    pytest.mark.skipif(not hasattr(signal, "SIGSTOP"), reason="needs SIGSTOP"),
]

HANG_AFTER = 3.0
JOB = textwrap.dedent(
    """
    import os, sys, time, livebar
    title, stop = sys.argv[1], sys.argv[2]
    with livebar.live_activity(title, total=100) as act:
        act.advance(61)
        print("running", flush=True)
        while not os.path.exists(stop):  # the test says when the work is done
            time.sleep(0.05)
        act.advance(39)
    """
)


@pytest.fixture
def sim() -> Iterator[SimulatorHandle]:
    with serve() as handle:
        yield handle


class Account:
    """Processes on one account and one sqlite ledger; all killed at the end of the test."""

    def __init__(self, sim: SimulatorHandle, tmp: Path) -> None:
        self.env = {
            **os.environ,
            **sim.env(),
            "LIVEBAR_LEDGER": str(tmp / "ledger"),
            "LIVEBAR_HANG_AFTER": str(HANG_AFTER),
            "LIVEBAR_COURIER": "0",
        }
        self.procs: list[subprocess.Popen[str]] = []

    def job(self, title: str, stop: Path) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            [sys.executable, "-c", JOB, title, str(stop)],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.procs.append(proc)
        assert proc.stdout is not None
        assert "running" == proc.stdout.readline().strip()
        return proc

    def reap(self) -> dict[str, Any]:
        return self._json("reap")

    def status(self) -> list[dict[str, Any]]:
        jobs: list[dict[str, Any]] = self._json("status")["jobs"]
        return jobs

    def _json(self, command: str) -> dict[str, Any]:
        """``livebar COMMAND --json``, which must succeed, as the object it prints."""
        done = subprocess.run(
            [sys.executable, "-m", "livebar", command, "--json"],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert 0 == done.returncode, done.stderr
        answer: dict[str, Any] = json.loads(done.stdout)
        return answer

    def recorded(self, title: str, what: str) -> bool:
        """Whether the ledger holds ``title``'s card showing ``what`` (``livebar status``)."""
        return any(j["title"] == title and what in j["detail"] for j in self.status())

    def cleanup(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGCONT)
                proc.kill()
            proc.communicate(timeout=10)


@pytest.fixture
def account(sim: SimulatorHandle, tmp_path: Path) -> Iterator[Account]:
    acc = Account(sim, tmp_path)
    try:
        yield acc
    finally:
        acc.cleanup()


def card(sim: SimulatorHandle, title: str) -> dict[str, Any]:
    found = shown(sim, title)
    assert found is not None, f"no card {title!r}"
    return found


def shown(sim: SimulatorHandle, title: str) -> dict[str, Any] | None:
    """The card titled ``title`` (there is one at most), or None before it started."""
    found = [a for a in sim.activities() if a["title"] == title]
    assert len(found) <= 1, found
    return found[0] if found else None


def until(condition: Any, what: str, timeout: float = 30.0) -> float:
    """Wait for ``condition()`` (polling); answers when it held (``time.monotonic``)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)
    return time.monotonic()


def at(sim: SimulatorHandle, title: str) -> Any:
    found = shown(sim, title)
    return None if found is None else found["content_state"].get("percentage")


def shows(sim: SimulatorHandle, title: str, color: str | None) -> bool:
    found = shown(sim, title)
    return found is not None and found["content_state"].get("color") == color


def nightly_at_61(sim: SimulatorHandle, account: Account, stop: Path) -> Any:
    """The "Nightly backup" job, once the phone shows it at 61% and the ledger holds that."""
    job = account.job("Nightly backup", stop)
    until(lambda: at(sim, "Nightly backup") == 61.0, "the phone shows 61%")
    until(lambda: account.recorded("Nightly backup", "61%"), "the ledger holds its state")
    return job


def test_reap_marks_a_stopped_job_and_sigcont_restores_it(
    sim: SimulatorHandle, account: Account, tmp_path: Path
) -> None:
    """SIGSTOP: reap marks it once past the threshold (never Lost); SIGCONT: its own state."""
    stop = tmp_path / "stop"
    job = nightly_at_61(sim, account, stop)
    os.kill(job.pid, signal.SIGSTOP)
    stopped = time.monotonic()

    early = account.reap()
    if time.monotonic() - stopped < HANG_AFTER - 0.4:  # within the threshold (a heartbeat is 0.3 s)
        assert ([], [], []) == (early["marked"], early["ended"], early["not_responding"])
    reports = [early]
    while not shows(sim, "Nightly backup", "orange"):
        assert time.monotonic() - stopped < 30.0, f"never marked: {reports[-3:]}"
        reports.append(account.reap())
    marked = time.monotonic()
    [mark] = [c for r in reports for c in r["marked"]]
    said = re.fullmatch(r"Not responding for ([0-9.]+)s at 61%", mark["message"])
    assert said is not None, mark["message"]
    # never early; and no longer than it had been silent (its last heartbeat at most 0.3 s
    # before the stop), however slowly a loaded machine ran the reaps
    assert HANG_AFTER <= float(said.group(1)) <= marked - stopped + 0.4
    again = account.reap()  # once is enough: nobody marks it twice
    assert ([], ["Nightly backup"]) == (
        again["marked"],
        [c["title"] for c in again["not_responding"]],
    )
    assert [] == again["ended"]  # alive: never Lost

    os.kill(job.pid, signal.SIGCONT)
    continued = time.monotonic()
    restored = until(lambda: shows(sim, "Nightly backup", None), "restored")
    stop.touch()
    _out, err = job.communicate(timeout=30)
    assert 0 == job.returncode, err
    final = card(sim, "Nightly backup")
    assert ("ended", 100.0) == (final["state"], final["content_state"]["percentage"])
    subtitles = [s["content_state"].get("subtitle") or "" for s in final["shown"]]
    assert 1 == sum(s.startswith("Not responding") for s in subtitles)
    assert not any(s.startswith("Lost") for s in subtitles)
    assert_no_budget_warnings(sim)
    assert_within_rate_limit(sim)
    print(
        f"\nstopped→marked {marked - stopped:.2f}s (threshold {HANG_AFTER}s), "
        f"continued→restored {restored - continued:.2f}s, "
        f"requests {len(sim.requests())}"
    )


def test_another_livebar_process_marks_a_stopped_job(
    sim: SimulatorHandle, account: Account, tmp_path: Path
) -> None:
    """The engine of any livebar process on the account marks it; SIGCONT restores it."""
    stop = tmp_path / "stop"
    job = nightly_at_61(sim, account, stop)
    other = account.job("Training", tmp_path / "stop-other")
    os.kill(job.pid, signal.SIGSTOP)
    stopped = time.monotonic()
    marked = until(lambda: shows(sim, "Nightly backup", "orange"), "marked by the other process")
    os.kill(job.pid, signal.SIGCONT)
    continued = time.monotonic()
    restored = until(lambda: shows(sim, "Nightly backup", None), "restored")
    stop.touch()
    (tmp_path / "stop-other").touch()
    for proc in (job, other):
        _out, err = proc.communicate(timeout=30)
        assert 0 == proc.returncode, err
    subtitles = [
        s["content_state"].get("subtitle") or "" for s in card(sim, "Nightly backup")["shown"]
    ]
    assert 1 == sum(s.startswith("Not responding") for s in subtitles)
    assert not any(s.startswith("Lost") for s in subtitles)
    assert_no_budget_warnings(sim)
    assert_within_rate_limit(sim)
    print(
        f"\nstopped→marked {marked - stopped:.2f}s (threshold {HANG_AFTER}s), "
        f"continued→restored {restored - continued:.2f}s"
    )


def test_livebar_run_records_its_schedule_and_status_lists_it(account: Account) -> None:
    """`livebar run --name --expect-every --grace` records it; `livebar status` lists it."""
    command = ["run", "--name", "nightly", "--expect-every", "24h", "--grace", "1h"]
    command += ["--title", "Nightly backup", "--", sys.executable, "-c", "pass"]
    done = subprocess.run(
        [sys.executable, "-m", "livebar", *command],
        env=account.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert 0 == done.returncode, done.stderr
    shown = subprocess.run(
        [sys.executable, "-m", "livebar", "status", "--json"],
        env=account.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert 0 == shown.returncode, shown.stderr
    [job] = json.loads(shown.stdout)["jobs"]
    assert ("Nightly backup", "nightly", "waiting", "done") == (
        job["title"],
        job["name"],
        job["state"],
        job["last_outcome"],
    )
    assert job["detail"].endswith("next due in 23h")
    table = subprocess.run(
        [sys.executable, "-m", "livebar", "status"],
        env=account.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ["JOB", "STATE", "LAST", "OUTCOME", "DETAIL"] == table.stdout.splitlines()[0].split()
    assert table.stdout.splitlines()[1].split()[:4] == ["Nightly", "backup", "waiting", "done"]
    bad = subprocess.run(
        [sys.executable, "-m", "livebar", "run", "--expect-every", "1x", "--", "true"],
        env=account.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert 2 == bad.returncode
    assert "give a duration" in bad.stderr
    forget = [sys.executable, "-m", "livebar", "status", "--forget", "nightly"]
    said = [
        subprocess.run(forget, env=account.env, capture_output=True, text=True, timeout=60)
        for _ in range(2)
    ]
    assert [0, 1] == [s.returncode for s in said], said
    assert "forgot the schedule of 'nightly'" in said[0].stdout
    assert "no schedule named 'nightly'" in said[1].stdout
    gone = subprocess.run(
        [sys.executable, "-m", "livebar", "status", "--json"],
        env=account.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert [] == json.loads(gone.stdout)["jobs"]
