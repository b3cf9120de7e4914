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
from typing import Any, Callable, Optional

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
    error: Optional[BaseException]
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
    error: Optional[BaseException] = None
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

    error: Optional[BaseException] = None
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
