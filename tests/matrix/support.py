"""What every cell of the fault matrix shares: the job, the server's view, the log lines.

A cell runs a small real job through the real engine (on ``livebar.testing``'s virtual clock
where time matters, against the served simulator where sockets and threads are the point) and
then compares three accounts of what happened: the job's own (its result or exception), the
server's (the simulator's request log and activities) and livebar's (``act.stats`` and the
``livebar`` log).
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Callable

from livebar.simulator import SimulatorHandle
from livebar.testing import VIRTUAL_EPOCH, VirtualTime

LIFECYCLES = ("stream", "manual")
"""The API's two lifecycles: streams are livebar's default, ``lifecycle="manual"`` the other."""
PHASES = ("start", "mid-run", "end")
"""Where in the job the fault meets it: its first request, an update, its end."""

TITLE = "Nightly job"
DONE = "Done in 15s"
FAILED = "Failed: ValueError: disk full"
FLUSH_DEADLINE = 5.0
"""livebar's default flush deadline (``DEFAULT_FLUSH_TIMEOUT``): what the exit may wait."""
CLOSE_AT = 15.0
"""When the standard job ends, on the virtual clock."""

BASE = {"stream": ["put", "put", "delete"], "manual": ["start", "update", "end"]}
"""The standard job's requests with no fault: start, one update, end."""


def label(request: dict[str, Any]) -> str:
    """What a logged request was: ``put``/``delete`` for a stream, else the endpoint's name."""
    path = request["path"]
    if path.startswith("/live-activity/stream/"):
        return "put" if request["method"] == "PUT" else "delete"
    if path == "/push-notification":
        return "push"
    return str(path.rsplit("/", 1)[-1])


def labels(sim: SimulatorHandle) -> list[str]:
    """The server's log of the job's requests, in order, by ``label``."""
    return [label(request) for request in sim.requests()]


def at(request: dict[str, Any]) -> float:
    """A logged request's time on the virtual clock."""
    return round(float(request["t"]) - VIRTUAL_EPOCH, 6)


def open_cards(sim: SimulatorHandle) -> list[dict[str, Any]]:
    """Activities the server still has running (an orphan is one of these after the job)."""
    return [a for a in sim.activities() if a["state"] == "active"]


def kinds_of(base: list[str], phase: str, times: int) -> list[str]:
    """``base`` with the request of ``phase`` sent ``times`` times."""
    i = PHASES.index(phase)
    return base[:i] + [base[i]] * times + base[i + 1 :]


@dataclass
class Outcome:
    """What one run of the standard job left behind."""

    result: Any
    error: BaseException | None
    act: Any
    closed_at: float


def standard_job(
    vt: VirtualTime,
    *,
    lifecycle: str,
    fail: bool,
    inject: Callable[[str], None],
    **options: Any,
) -> Outcome:
    """Run the standard job: start at 0 s, half done at 5 s, done at 15 s.

    ``inject(phase)`` is called at each phase, just before the request of that phase is due.
    With ``fail`` the job raises ``ValueError("disk full")`` at 15 s instead of returning.
    """
    import livebar

    sentinel = object()
    error: BaseException | None = None
    result: Any = None
    boom = ValueError("disk full")
    inject("start")
    act = livebar.live_activity(TITLE, total=10, lifecycle=lifecycle, **options)
    try:
        with act:
            vt.advance(5.0)
            inject("mid-run")
            act.update(5)
            vt.advance(10.0)
            inject("end")
            act.update(10)
            if fail:
                raise boom
            result = sentinel
    except ValueError as exc:
        error = exc
    closed_at = vt.now
    if fail:
        assert error is boom  # the job's own exception, unchanged
        assert error.__traceback__ is not None
    else:
        assert result is sentinel  # the job's own result
        assert error is None
    return Outcome(result, error, act, closed_at)


async def standard_job_async(
    vt: VirtualTime,
    *,
    lifecycle: str,
    fail: bool,
    inject: Callable[[str], None],
    **options: Any,
) -> Outcome:
    """``standard_job`` written with ``async with`` (the engine is the same thread)."""
    import livebar

    error: BaseException | None = None
    boom = ValueError("disk full")
    inject("start")
    act = livebar.live_activity(TITLE, total=10, lifecycle=lifecycle, **options)
    try:
        async with act:
            vt.advance(5.0)
            inject("mid-run")
            act.update(5)
            vt.advance(10.0)
            inject("end")
            act.update(10)
            if fail:
                raise boom
    except ValueError as exc:
        error = exc
    closed_at = vt.now
    assert (error is boom) if fail else (error is None)
    return Outcome(None, error, act, closed_at)


# -- the livebar log ----------------------------------------------------------------------------


class LogLines(logging.Handler):
    """Every record of the named loggers, at every level, while installed."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self._lock2 = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        with self._lock2:
            self.records.append(record)

    def livebar(self, level: int = logging.WARNING) -> list[str]:
        """livebar's own lines at ``level`` or above."""
        return [
            r.getMessage()
            for r in self.records
            if r.name.startswith("livebar") and r.levelno >= level
        ]

    def text(self) -> str:
        """Everything logged, formatted with tracebacks, as one string."""
        formatter = logging.Formatter("%(levelname)s %(name)s %(message)s")
        return "\n".join(formatter.format(r) for r in self.records)


@contextlib.contextmanager
def capture_logs(*names: str, level: int = logging.DEBUG) -> Iterator[LogLines]:
    """Capture the named loggers (``livebar`` by default) at ``level`` while in the block."""
    handler = LogLines()
    loggers = [logging.getLogger(name) for name in (names or ("livebar",))]
    saved = [(logger, logger.level, logger.propagate) for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(level)
    try:
        yield handler
    finally:
        for logger, old_level, _propagate in saved:
            logger.removeHandler(handler)
            logger.setLevel(old_level)


# -- sockets ------------------------------------------------------------------------------------


def free_port() -> int:
    """A loopback port nothing listens on (bound, then closed)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Listener:
    """A loopback socket that accepts connections and records the bytes they send (a stand-in
    proxy that must never be used)."""

    def __init__(self) -> None:
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen(8)
        self.socket.settimeout(0.05)
        self.port: int = self.socket.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.received = bytearray()
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.socket.accept()
            except (socket.timeout, OSError):
                continue
            self.connections += 1
            with conn:
                conn.settimeout(0.2)
                with contextlib.suppress(OSError):
                    data = conn.recv(65536)
                    self.received += data

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5.0)
        self.socket.close()


class RawServer:
    """A loopback HTTP server that misbehaves below the level of any framework.

    ``hang``: reads the request and never answers. ``drip``: answers 200 with chunked headers
    at once, then one byte of body every ``pause`` seconds, forever (each read is quick; the
    whole answer never ends).
    """

    def __init__(self, behaviour: str, *, pause: float = 0.1) -> None:
        self.behaviour = behaviour
        self.pause = pause
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen(16)
        self.socket.settimeout(0.05)
        self.url = f"http://127.0.0.1:{self.socket.getsockname()[1]}/api"
        self.requests = 0
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._accept = threading.Thread(target=self._serve, daemon=True)
        self._accept.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.socket.accept()
            except (socket.timeout, OSError):
                continue
            thread = threading.Thread(target=self._answer, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(0.2)
            with contextlib.suppress(OSError):
                conn.recv(65536)
                self.requests += 1
                if self.behaviour == "drip":
                    conn.sendall(
                        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                        b"Transfer-Encoding: chunked\r\n\r\n"
                    )
                while not self._stop.wait(self.pause):
                    if self.behaviour == "drip":
                        conn.sendall(b"1\r\n \r\n")

    def close(self) -> None:
        self._stop.set()
        self._accept.join(5.0)
        for thread in self._threads:
            thread.join(5.0)
        self.socket.close()


# -- child processes ----------------------------------------------------------------------------

PREAMBLE = """
import json, os, signal, sys, threading, time

def say(**what):
    print(json.dumps(what), flush=True)

def wait_for_parent():
    say(ready=True)
    sys.stdin.readline()

def report(act, **extra):
    s = act.stats
    say(end_delivered=s.end_delivered, end_unconfirmed=s.end_unconfirmed, requests=s.requests,
        dropped=s.dropped, ignored=s.ignored, outcome=str(act.outcome), **extra)
"""


@dataclass
class ChildRun:
    """What a child process did: exit code, what it said (JSON lines), stderr, wall time."""

    returncode: int
    said: list[dict[str, Any]]
    stderr: str
    seconds: float
    after_last: float = 0.0
    """Seconds from the child's last message to its exit (what its exit waited)."""

    def last(self, key: str) -> Any:
        """The last value the child said for ``key``."""
        for message in reversed(self.said):
            if key in message:
                return message[key]
        raise KeyError(key)


def run_child(
    code: str,
    *,
    env: dict[str, str],
    at_ready: Callable[[Any], None] | None = None,
    timeout: float = 30.0,
) -> ChildRun:
    """Run ``PREAMBLE + code`` in a fresh interpreter with ``env``; when it says ready (calls
    ``wait_for_parent()``), call ``at_ready(process)`` and let it go on.

    The child runs in a session of its own with the fault handler on: one still running after
    ``timeout`` (it, or a process it started that holds its output open) is sent SIGABRT, so
    the failure shows where every process of the session was, then killed."""
    import json
    import os
    import shutil
    import signal
    import subprocess
    import sys
    import tempfile
    import textwrap
    import time

    full_env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LIVEBAR_COURIER": "0",
        "PYTHONFAULTHANDLER": "1",
        **env,
    }
    own_ledger = None
    if "LIVEBAR_LEDGER" not in full_env:
        # An account ledger of the child's own: children run one after another on one key, and
        # would otherwise share one minute's budget (and each other's leftovers).
        own_ledger = full_env["LIVEBAR_LEDGER"] = tempfile.mkdtemp(prefix="livebar-matrix-")
    if "HOME" in os.environ:
        full_env.setdefault("HOME", os.environ["HOME"])
    started = last_said = time.monotonic()
    said: list[dict[str, Any]] = []
    errors: list[str] = []
    timed_out = threading.Event()
    with subprocess.Popen(
        [sys.executable, "-c", PREAMBLE + textwrap.dedent(code)],
        env=full_env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    ) as proc:
        assert proc.stdout is not None
        assert proc.stdin is not None
        stderr_pipe = proc.stderr
        reader = threading.Thread(target=lambda: errors.append(stderr_pipe.read()), daemon=True)
        reader.start()

        def abort() -> None:
            timed_out.set()
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGABRT)  # the fault handler prints every stack
                time.sleep(2.0)
                os.killpg(proc.pid, signal.SIGKILL)

        watchdog = threading.Timer(timeout, abort)
        watchdog.daemon = True
        watchdog.start()
        try:
            for line in proc.stdout:
                message = json.loads(line)
                said.append(message)
                last_said = time.monotonic()
                if message.get("ready"):
                    if at_ready is not None:
                        at_ready(proc)
                    with contextlib.suppress(BrokenPipeError):
                        proc.stdin.write("go\n")
                        proc.stdin.flush()
            returncode = proc.wait(timeout)
            reader.join(timeout)
        finally:
            watchdog.cancel()
            if proc.poll() is None:
                proc.kill()
            if own_ledger is not None:
                shutil.rmtree(own_ledger, ignore_errors=True)
    stderr = "".join(errors)
    if timed_out.is_set():
        raise AssertionError(f"the child still ran after {timeout}s; it said {said}:\n{stderr}")
    ended = time.monotonic()
    return ChildRun(returncode, said, stderr, ended - started, ended - last_said)
