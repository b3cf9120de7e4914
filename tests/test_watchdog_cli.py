"""``--stall-after`` and ``--expected`` on the command line: the durations they take, the
errors that name them, and ``livebar run --stall-after`` against the simulator."""

from __future__ import annotations

import argparse
import subprocess
import sys
import textwrap
from typing import Any

import pytest

from livebar._cli import main
from livebar._cli.common import duration
from livebar._cli.parsers import parsers

PY = sys.executable


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90", 90.0),
        ("90s", 90.0),
        ("10m", 600.0),
        ("2h", 7200.0),
        ("1h30m", 5400.0),
        ("1d", 86400.0),
        ("1.5h", 5400.0),
        ("2H", 7200.0),
        ("0.5", 0.5),
    ],
)
def test_durations(text: str, seconds: float) -> None:
    """Seconds, or amounts of days, hours, minutes and seconds in that order."""
    assert seconds == duration(text)


@pytest.mark.parametrize("text", ["", "x", "10x", "m", "-5m", "0", "0s", "nan", "inf", "10m2h"])
def test_bad_durations_are_refused(text: str) -> None:
    """Anything else (and zero) is an argparse type error."""
    with pytest.raises(argparse.ArgumentTypeError):
        duration(text)


@pytest.mark.parametrize("command", ["run", "pipe", "watch"])
def test_every_live_command_takes_both_flags(command: str) -> None:
    """``run``, ``pipe`` and ``watch`` share the activity's options, the watchdog's included."""
    args, _ = parsers()[0].parse_known_args(
        [command, "--stall-after", "10m", "--expected", "2h", "--", "true"]
    )
    assert (600.0, 7200.0) == (args.stall_after, args.expected)


@pytest.mark.parametrize("flag", ["--stall-after", "--expected"])
def test_a_bad_duration_names_the_flag(flag: str, capsys: pytest.CaptureFixture[str]) -> None:
    """A bad value exits 2 with argparse's error naming the flag and showing what it takes."""
    assert 2 == main(["run", flag, "10x", "--", "true"])
    err = capsys.readouterr().err
    assert f"argument {flag}: give a duration such as 90, 90s, 10m, 2h" in err


def test_run_with_a_fleet_refuses_a_watchdog(capsys: pytest.CaptureFixture[str]) -> None:
    """A fleet's card has no watchdog: a usage error naming the option."""
    code = main(["run", "--fleet", "F", "--members", "2", "--stall-after", "1m", "--", "true"])
    assert 2 == code
    assert "stall_after" in capsys.readouterr().err


def test_run_stall_after_shows_and_recovers(sim: Any, env: dict[str, str]) -> None:
    """``livebar run --stall-after 2s --notify-on stalled``: a command silent for 5 s shows "No
    progress for … at 10%" in orange and pushes it once, then its next progress line brings the
    card back, and it ends Done (no push for that: only what ``--notify-on`` names)."""
    code = textwrap.dedent(
        """
        import sys, time
        print("10%", flush=True)
        time.sleep(5)
        print("60%", flush=True)
        time.sleep(1.5)
        """
    )
    flags = ["--stall-after", "2s", "--notify-on", "stalled", "--progress-regex", r"(\d+)%"]
    done = subprocess.run(
        [PY, "-m", "livebar", "run", *flags, "--", PY, "-c", code],
        env=env,
        capture_output=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert 0 == done.returncode, done.stderr
    states = [
        (r["body"] or {}).get("content_state") or {}
        for r in sim.requests()
        if r["method"] in ("PUT", "DELETE") and r["status"] == 200
    ]
    stalls = [s for s in states if (s.get("subtitle") or "").startswith("No progress for")]
    assert stalls, states
    assert "at 10%" in stalls[0]["subtitle"]
    assert "orange" == stalls[0]["color"]
    after = states[states.index(stalls[-1]) + 1 :]
    assert any(s.get("percentage") == 60 and s.get("color") is None for s in after), states
    assert states[-1]["subtitle"].startswith("Done")
    activity = sim.activities()[0]
    assert (0, 0) == (activity["warnings"], activity["throttles"])
    [push] = sim.pushes()
    assert push["title"].endswith("stalled")
    assert push["message"].startswith("No progress for")


@pytest.mark.parametrize(
    ("given", "events"),
    [("stalled", ["stalled"]), ("failed, overrun,", ["failed", "overrun"])],
)
def test_every_live_command_takes_notify_on(given: str, events: list[str]) -> None:
    """``--notify-on`` takes the library's events, comma-separated (blanks dropped)."""
    for command in ("run", "pipe", "watch"):
        args, _ = parsers()[0].parse_known_args([command, "--notify-on", given, "--", "true"])
        assert events == args.notify_on


def test_a_bad_notify_on_names_the_option(capsys: pytest.CaptureFixture[str]) -> None:
    """An event livebar does not know: exit 2 before anything runs, naming the option and what
    it takes."""
    assert 2 == main(["run", "--notify-on", "stalled,exploded", "--", "true"])
    err = capsys.readouterr().err
    assert "notify_on" in err
    assert "'exploded'" in err
    assert "overrun" in err
