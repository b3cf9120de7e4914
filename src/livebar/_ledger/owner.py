"""Who owns a ledger record, and whether that owner is still alive.

A process is named by the kernel instance whose pid space it lives in (``host``: machine id,
boot id and pid namespace, hashed), its pid, and its start time (Linux: field 22 of
``/proc/<pid>/stat``, in clock ticks since boot). The start time is what tells a reused pid from
the original process: a pid alone would let a new, unrelated process keep a dead owner's
records forever, or let a reaper end the activity of a process that merely reused a number.

Liveness, as seen from one process:

* an owner on the same ``host`` is alive exactly while a process with its pid and start time
  exists and is not a zombie. A stopped process (SIGSTOP, a debugger, a laptop lid) is alive:
  it comes back, so its records are never reaped;
* an owner on another host cannot be probed: it is alive while its heartbeat is younger than a
  generous bound (``DEFAULT_STALE_AFTER``).

Off Linux there is no ``/proc``: the start time is unknown (0) and the probe falls back to
"a process with this pid exists", which a reused pid can fool.
"""

from __future__ import annotations

import functools
import hashlib
import os
import socket
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Owner", "host_id", "process_alive", "process_start"]

_PROC = Path("/proc")
_MACHINE_ID_FILES = ("/etc/machine-id", "/var/lib/dbus/machine-id")
_BOOT_ID_FILE = "/proc/sys/kernel/random/boot_id"


@dataclass(frozen=True)
class Owner:
    """One process that writes to a ledger.

    ``host`` names the pid space (equal hosts can probe each other's pids), ``pid`` and
    ``start`` the process in it, ``hostname`` is for messages only ("process 4121 on build-7").
    """

    host: str
    pid: int
    start: int
    hostname: str

    @property
    def token(self) -> str:
        """A string naming this process uniquely across hosts and reboots."""
        return f"{self.host}:{self.pid}:{self.start}"

    @classmethod
    def from_token(cls, token: str) -> Owner:
        """The owner a ``token`` names, when nothing more is known of it."""
        host, _, rest = token.partition(":")
        pid, _, start = rest.partition(":")
        try:
            return cls(host, int(pid), int(start or 0), "")
        except ValueError:
            return cls(host, 0, 0, "")

    @classmethod
    def current(cls, *, host: str | None = None) -> Owner:
        """The calling process; ``host`` overrides the detected host id (tests, containers)."""
        pid = os.getpid()
        return cls(
            host=host or host_id(),
            pid=pid,
            start=process_start(pid) or 0,
            hostname=socket.gethostname(),
        )

    def alive(self, observer: Owner, *, heartbeat_age: float, stale_after: float) -> bool:
        """Whether this owner is alive as ``observer`` can tell (see the module docstring)."""
        if self.host == observer.host:
            if self.pid == observer.pid:
                return self.start == observer.start  # ourselves, or our pid's predecessor
            return process_alive(self.pid, self.start)
        return heartbeat_age <= stale_after


def process_start(pid: int) -> int | None:
    """The start time of process ``pid`` (ticks since boot), or None when it does not exist.

    Off Linux (no ``/proc``) returns 0 for a process that exists.
    """
    if not _PROC.is_dir():
        return 0 if _pid_exists(pid) else None
    fields = _stat_fields(pid)
    if fields is None or fields[0] in ("Z", "X"):  # a zombie has died; only its parent lingers
        return None
    try:
        return int(fields[19])
    except (IndexError, ValueError):
        return 0


def process_alive(pid: int, start: int) -> bool:
    """Whether process ``pid`` that started at ``start`` still exists (0: start unknown)."""
    if pid <= 0:
        return False
    now_start = process_start(pid)
    if now_start is None:
        return False
    return start == 0 or now_start == 0 or now_start == start


def _stat_fields(pid: int) -> list[str] | None:
    """Fields 3.. of ``/proc/<pid>/stat`` (after the command name, which may hold spaces)."""
    try:
        raw = (_PROC / str(pid) / "stat").read_bytes()
    except OSError:
        return None
    close = raw.rfind(b")")
    if close < 0:
        return None
    return raw[close + 1 :].decode("ascii", "replace").split()


def _pid_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: it exists
    except OSError:
        return False
    return True


def _read_first(paths: tuple[str, ...]) -> str:
    for path in paths:
        try:
            text = Path(path).read_text(encoding="ascii", errors="replace").strip()
        except OSError:
            continue
        if text:
            return text
    return ""


@functools.lru_cache(maxsize=1)
def boot_id() -> str:
    """This boot of this machine (Linux's boot id), or ``""`` where the system does not say."""
    return _read_first((_BOOT_ID_FILE,))


@functools.lru_cache(maxsize=1)
def host_id() -> str:
    """A name for this kernel instance's pid space: equal on one boot of one machine, in one pid
    namespace (containers with their own pid namespace get their own); different otherwise."""
    try:
        namespace = os.readlink("/proc/self/ns/pid")
    except OSError:
        namespace = ""
    parts = (
        _read_first(_MACHINE_ID_FILES) or socket.gethostname(),
        _read_first((_BOOT_ID_FILE,)),
        namespace,
    )
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]
