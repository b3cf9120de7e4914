"""``livebar watch --pid N``: a card for a process that is already running, until it exits.

The process is not ours, so it is only watched: its exit is seen through a pidfd where the
kernel has them (Linux 5.3+: ``os.pidfd_open``, readable once the process has terminated), else
by polling (``kill(pid, 0)``, a zombie counted as gone, and the start time checked so a reused
pid is not mistaken for it). A process that is not our child leaves no exit status we can read
on Linux, so the card ends "Ended after 3h 12m" (counted from the process's own start), never
"Done" or "Failed" on a guess: done when the bar is full or there is none, stopped at the real
progress otherwise.

With ``--log FILE --progress-regex RE`` the card follows the log as it grows (from its start,
so a job watched late shows where it is): each line goes through the command line's
``LineWatcher`` (the same rules as ``livebar run``), and the last matching line is the
subtitle. A truncated or replaced log is read again from its start.

This module is the logic; ``livebar._cli`` only registers the subcommand and hands in the
line watcher.
"""

from __future__ import annotations

import contextlib
import os
import re
import select
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Callable, Protocol

from livebar._job.endings import format_duration

if TYPE_CHECKING:
    from livebar._activity import LiveActivity

__all__ = ["LogFollower", "NoSuchProcess", "Process", "watch"]

DEFAULT_POLL = 1.0
"""Seconds between looks at a process without a pidfd (and at a log without news)."""
LOG_POLL = 0.5
"""Seconds between looks at a followed log."""
MAX_SUBTITLE = 120
READ_CHUNK = 1024 * 1024


class NoSuchProcess(ValueError):
    """The pid names no running process."""


class LineSink(Protocol):
    """What reads the log's lines: the command line's ``LineWatcher``."""

    def line(self, text: str) -> None: ...


class Process:
    """A running process we did not start: its name, its start, and when it is gone."""

    def __init__(self, pid: int, *, use_pidfd: bool = True) -> None:
        if isinstance(pid, bool) or not isinstance(pid, int) or pid <= 0:
            raise NoSuchProcess(f"--pid: {pid!r} is not a process id")
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            raise NoSuchProcess(f"--pid {pid}: no such process") from None
        except PermissionError:
            pass  # another user's process: it exists, and we may still watch it
        self.pid = pid
        self.started = _start_ticks(pid)
        if self.started is not None and _zombie(pid):
            raise NoSuchProcess(f"--pid {pid}: the process has already exited")
        self.name = _command_name(pid) or f"process {pid}"
        self._pidfd: int | None = None
        if use_pidfd and hasattr(os, "pidfd_open"):
            with contextlib.suppress(OSError):
                self._pidfd = os.pidfd_open(pid)

    @property
    def uses_pidfd(self) -> bool:
        return self._pidfd is not None

    def age(self) -> float | None:
        """Seconds since the process started (from ``/proc``), or None where unknown."""
        if self.started is None:
            return None
        boot = _boot_time()
        if boot is None:
            return None
        return max(time.time() - (boot + self.started / _ticks_per_second()), 0.0)

    def wait(self, timeout: float | None) -> bool:
        """Wait at most ``timeout`` seconds (None: for ever); True once the process is gone."""
        if self._pidfd is not None:
            ready, _, _ = select.select([self._pidfd], [], [], timeout)
            return bool(ready)
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            if not self.alive():
                return True
            left = DEFAULT_POLL if deadline is None else deadline - time.monotonic()
            if left <= 0:
                return False
            time.sleep(min(left, DEFAULT_POLL))

    def alive(self) -> bool:
        """Polling's answer: the pid exists, is no zombie, and is still the same process."""
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            pass
        if self.started is None:
            return True
        return _start_ticks(self.pid) == self.started and not _zombie(self.pid)

    def close(self) -> None:
        if self._pidfd is not None:
            os.close(self._pidfd)
            self._pidfd = None


class LogFollower:
    """Reads a growing file's complete lines, from its start; survives truncation and rotation."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._pending = b""
        self._position = 0
        self._inode: int | None = None

    def lines(self) -> Iterator[str]:
        """The complete lines written since the last call (a partial last line waits)."""
        try:
            stat = os.stat(self.path)
        except OSError:
            return  # not there (yet, or for the moment): nothing new
        if stat.st_ino != self._inode or stat.st_size < self._position:
            self._inode, self._position, self._pending = stat.st_ino, 0, b""
        if stat.st_size == self._position:
            return
        try:
            with open(self.path, "rb") as log:
                log.seek(self._position)
                data = log.read(READ_CHUNK)
        except OSError:
            return
        self._position += len(data)
        *complete, self._pending = re.split(rb"\r\n|[\r\n]", self._pending + data)
        for line in complete:
            if line.strip():
                yield line.decode("utf-8", errors="replace")


def watch(
    process: Process,
    activity: LiveActivity | None,
    *,
    log: str | None = None,
    progress: re.Pattern[str] | None = None,
    lines: LineSink | None = None,
    say: Callable[[str], None] = print,
) -> int:
    """Show ``process`` on ``activity`` until it exits (Ctrl-C stops watching): exit code 0,
    or 130 after Ctrl-C. ``lines`` reads each new line of ``log``; a line matching ``progress``
    becomes the subtitle. Without an activity (mirroring off) it only waits."""
    follower = LogFollower(log) if log is not None else None
    if activity is not None:
        activity.start()
    try:
        while not process.wait(LOG_POLL if follower is not None else None):
            if follower is not None and activity is not None:
                _read(follower, activity, progress, lines)
    except KeyboardInterrupt:
        if activity is not None:
            activity.close(
                outcome="stopped",
                subtitle=f"No longer watched; process {process.pid} still running",
            )
            activity.wait()
        return 130
    finally:
        process.close()
    if activity is None:
        return 0
    if follower is not None:
        _read(follower, activity, progress, lines)
    age = process.age()
    text = "Ended" if age is None else f"Ended after {format_duration(age)}"
    fraction = activity.fraction()
    outcome = "done" if fraction is None or fraction >= 1 else "stopped"
    activity.close(outcome=outcome, subtitle=text)
    if not activity.wait():
        say(f"livebar watch: {process.name} ended; the card's end was not confirmed")
    return 0


def _read(
    follower: LogFollower,
    activity: LiveActivity,
    progress: re.Pattern[str] | None,
    lines: LineSink | None,
) -> None:
    last = None
    for text in follower.lines():
        if lines is not None:
            lines.line(text)
        if progress is not None and progress.search(text):
            last = text
    if last is not None:
        activity.update(subtitle=_cut(last.strip(), MAX_SUBTITLE))


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "\u2026"


# -- /proc ------------------------------------------------------------------------------------


def _stat_fields(pid: int) -> list[str] | None:
    """``/proc/<pid>/stat`` after the command name (which may hold spaces and parentheses)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            text = stat.read().decode("utf-8", errors="replace")
    except OSError:
        return None
    return text[text.rfind(")") + 2 :].split()


def _start_ticks(pid: int) -> int | None:
    fields = _stat_fields(pid)
    if fields is None or len(fields) < 20:
        return None
    return int(fields[19])  # field 22 of stat(5): starttime, in clock ticks after boot


def _zombie(pid: int) -> bool:
    fields = _stat_fields(pid)
    return fields is not None and fields[0] in ("Z", "X")


def _boot_time() -> float | None:
    try:
        with open("/proc/stat", encoding="ascii") as stat:
            for line in stat:
                if line.startswith("btime "):
                    return float(line.split()[1])
    except OSError:
        pass
    return None


def _ticks_per_second() -> int:
    try:
        return os.sysconf("SC_CLK_TCK")
    except (ValueError, OSError, AttributeError):
        return 100


def _command_name(pid: int) -> str | None:
    """The program's name (``train.py`` for ``python train.py``, else ``python``)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            words = [w.decode("utf-8", "replace") for w in cmdline.read().split(b"\0") if w]
    except OSError:
        return None
    if not words:  # a process in the middle of exec: its short name only
        try:
            with open(f"/proc/{pid}/comm", encoding="utf-8", errors="replace") as comm:
                return comm.read().strip() or None
        except OSError:
            return None
    program = os.path.basename(words[0])
    if program.startswith("python") and len(words) > 1 and not words[1].startswith("-"):
        return os.path.basename(words[1])
    return program
