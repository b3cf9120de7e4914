"""Owners: a dead process is told from a paused one, and from a process that reused its pid."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from livebar._ledger.owner import Owner, host_id, process_alive, process_start


def sleeper() -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])


def test_the_current_process_is_alive() -> None:
    """Owner.current() names this process; it is alive to itself and to its host."""
    me = Owner.current()
    assert os.getpid() == me.pid
    assert host_id() == me.host
    assert process_alive(me.pid, me.start)
    assert me.alive(me, heartbeat_age=1e9, stale_after=1.0)
    assert f"{me.host}:{me.pid}:{me.start}" == me.token


def test_a_killed_process_is_dead_even_before_its_parent_waits() -> None:
    """SIGKILL makes a zombie until the parent reaps it; a zombie counts as dead."""
    child = sleeper()
    try:
        start = process_start(child.pid)
        assert start is not None
        assert process_alive(child.pid, start)
        os.kill(child.pid, signal.SIGKILL)
        deadline = time.monotonic() + 5.0
        while process_alive(child.pid, start) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not process_alive(child.pid, start)  # the zombie is still there, unreaped
        assert child.poll() is None or child.returncode == -signal.SIGKILL
    finally:
        child.kill()
        child.wait()
    assert not process_alive(child.pid, start)


def test_a_stopped_process_is_alive() -> None:
    """SIGSTOP pauses a process; it comes back, so it is never taken for dead."""
    child = sleeper()
    try:
        start = process_start(child.pid)
        assert start is not None
        os.kill(child.pid, signal.SIGSTOP)
        owner = Owner(host_id(), child.pid, start, "here")
        assert owner.alive(Owner.current(), heartbeat_age=1e9, stale_after=1.0)
        os.kill(child.pid, signal.SIGCONT)
    finally:
        child.kill()
        child.wait()


def test_a_reused_pid_is_not_its_old_owner() -> None:
    """The same pid with another start time is another process: the old owner is dead."""
    me = Owner.current()
    predecessor = Owner(me.host, me.pid, me.start - 1, me.hostname)
    assert not predecessor.alive(me, heartbeat_age=0.0, stale_after=1e9)
    child = sleeper()
    try:
        start = process_start(child.pid)
        assert start is not None
        assert not process_alive(child.pid, start + 1)
    finally:
        child.kill()
        child.wait()


def test_an_owner_on_another_host_lives_by_its_heartbeat() -> None:
    """Another host's pids cannot be probed: a heartbeat older than the bound means gone."""
    me = Owner.current()
    elsewhere = Owner("another-host", me.pid, me.start, "build-7")
    assert elsewhere.alive(me, heartbeat_age=599.0, stale_after=600.0)
    assert not elsewhere.alive(me, heartbeat_age=601.0, stale_after=600.0)


def test_a_host_override_names_another_host() -> None:
    """Owner.current(host=...) is how tests (and LIVEBAR_HOST_ID) make two hosts on one."""
    assert "hostA" == Owner.current(host="hostA").host
    assert Owner.from_token("hostA:41:7") == Owner("hostA", 41, 7, "")
