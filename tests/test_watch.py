"""``livebar watch``: a card for a process already running, against the simulator."""

from __future__ import annotations

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

from livebar._integrations.watch import LogFollower, NoSuchProcess, Process

PY = sys.executable


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    """A ``sleep 1.5`` process (not livebar's child: the test's), reaped after the test."""
    process = subprocess.Popen(["sleep", "1.5"])
    yield process
    process.kill()
    process.wait()


def watch(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PY, "-m", "livebar", "watch", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        stdin=subprocess.DEVNULL,
    )


def test_watch_shows_a_sleep_until_it_exits(
    sim: Any, env: dict[str, str], sleeper: subprocess.Popen[bytes]
) -> None:
    """A card while ``sleep`` runs; its exit status is unknowable: "Ended after 2s"."""
    done = watch("--pid", str(sleeper.pid), env=env)
    assert (0, "") == (done.returncode, done.stderr)
    [activity] = sim.activities()
    displayed = activity["displayed"]
    assert ("sleep", "ended") == (displayed["title"], activity["state"])
    assert re.fullmatch(r"Ended after [12]\.\ds", displayed["subtitle"])
    assert "red" != displayed.get("color")


def test_watch_follows_a_log_and_its_last_matching_line(
    sim: Any, env: dict[str, str], tmp_path: Path
) -> None:
    """--log and --progress-regex: the bar follows "epoch 3/4", the line is the subtitle."""
    log = tmp_path / "train.log"
    writer = subprocess.Popen(
        [
            PY,
            "-c",
            textwrap.dedent(
                f"""
                import time
                with open({str(log)!r}, "a", buffering=1) as log:
                    log.write("loading data\\n")
                    for epoch in range(1, 5):
                        time.sleep(0.8)
                        log.write(f"epoch {{epoch}}/4 loss {{1 / epoch:.2f}}\\n")
                        log.write("checkpoint saved\\n")
                    time.sleep(0.5)
                """
            ),
        ]
    )
    try:
        done = watch(
            "--pid",
            str(writer.pid),
            "--title",
            "Train",
            "--log",
            str(log),
            "--progress-regex",
            r"epoch (\d+)/(\d+)",
            env=env,
        )
    finally:
        writer.wait()
    assert (0, "") == (done.returncode, done.stderr)
    [activity] = sim.activities()
    history = [event["content_state"] for event in activity["history"]]
    seen = [state.get("subtitle") for state in history]
    assert any(re.fullmatch(r"epoch [1-4]/4 loss \d\.\d\d", text or "") for text in seen), seen
    assert "checkpoint saved" not in seen
    displayed = activity["displayed"]
    assert (100, "Train") == (displayed["percentage"], displayed["title"])
    assert re.fullmatch(r"Ended after [3-5]\.\ds", displayed["subtitle"])


def test_watch_refuses_a_pid_that_does_not_exist(sim: Any, env: dict[str, str]) -> None:
    """One clear line, exit code 2, nothing sent."""
    done = watch("--pid", "4194303", env=env)
    assert (2, "livebar watch: --pid 4194303: no such process\n") == (
        done.returncode,
        done.stderr,
    )
    assert [] == sim.requests()


def test_watch_refuses_a_command_with_a_pointer_to_run(env: dict[str, str]) -> None:
    """``livebar watch -- CMD`` says to use ``livebar run``."""
    done = watch("--", "sleep", "5", env=env)
    assert 2 == done.returncode
    assert "livebar run -- sleep 5" in done.stderr


def test_ctrl_c_stops_watching_and_says_so(
    sim: Any, env: dict[str, str], sleeper: subprocess.Popen[bytes]
) -> None:
    """SIGINT to ``livebar watch``: exit 130; the card says the process was left running."""
    watcher = subprocess.Popen(
        [PY, "-m", "livebar", "watch", "--pid", str(sleeper.pid), "--title", "Long"],
        env=env,
        stdin=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while not sim.activities() and time.monotonic() < deadline:
        time.sleep(0.05)  # a real process: wait until its card is up
    watcher.send_signal(signal.SIGINT)
    assert 130 == watcher.wait(timeout=20)
    expected = f"No longer watched; process {sleeper.pid} still running"
    assert expected == sim.activities()[0]["displayed"]["subtitle"]


@pytest.mark.parametrize("use_pidfd", [True, False], ids=["pidfd", "polling"])
def test_the_exit_is_seen_with_a_pidfd_and_by_polling(use_pidfd: bool) -> None:
    """Both ways see a process exit, a zombie not yet reaped counted as gone."""
    child = subprocess.Popen(["sleep", "0.3"])
    try:
        process = Process(child.pid, use_pidfd=use_pidfd)
        assert use_pidfd == process.uses_pidfd or not hasattr(os, "pidfd_open")
        assert not process.wait(0.01)
        assert process.wait(10)
    finally:
        child.wait()


def test_a_bad_pid_is_refused() -> None:
    """0, negative and missing pids raise NoSuchProcess, naming --pid."""
    for pid in (0, -3, 4194303):
        with pytest.raises(NoSuchProcess, match="--pid"):
            Process(pid)


def test_the_log_follower_waits_for_whole_lines_and_survives_truncation(tmp_path: Path) -> None:
    """A partial line waits for its end; a truncated log is read again from the start."""
    path = tmp_path / "job.log"
    follower = LogFollower(str(path))
    assert [] == list(follower.lines())
    path.write_bytes(b"one\ntw")
    assert ["one"] == list(follower.lines())
    with path.open("ab") as log:
        log.write(b"o\r\nthree\n")
    assert ["two", "three"] == list(follower.lines())
    path.write_bytes(b"new\n")
    assert ["new"] == list(follower.lines())
