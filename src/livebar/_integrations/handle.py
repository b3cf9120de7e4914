"""Progress from other processes: ``act.handle()`` and the small picklable handle it returns.

The parent process owns the activity and the only connection to ActivitySmith. ``handle()``
starts a listener for that activity: a Unix socket in a private temporary directory (TCP on
127.0.0.1 where there are none), and a daemon thread that applies what workers send with
``activity.advance(k)``. The handle pickles to the listener's address and a random token, so it
works as an argument of ``multiprocessing`` and ``ProcessPoolExecutor`` tasks under fork, spawn
and forkserver alike.

In a worker, ``handle.advance()`` only bumps a per-process counter (no lock, no clock, no
I/O); a small flusher thread sends what was counted every ``interval`` seconds (0.5). What is
still pending also goes out when a task's copy of the handle is collected, when ``track()``
ends, on ``flush()``, and when the worker process exits (``atexit``, and ``multiprocessing``'s
exit finalizers). Workers never talk to ActivitySmith.

Nothing here raises into the job: a parent that is gone (the activity ended, the process
exited) makes the worker's counts drop silently; a worker killed mid-run is one closed
connection for the parent, which keeps what that worker sent before.

Wire protocol, one ASCII line per message: worker -> parent ``h <token>`` (first), then
``a <count>``. The parent never writes.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import os
import secrets
import select
import selectors
import shutil
import socket
import tempfile
import threading
import time
import weakref
from collections.abc import Iterable, Iterator
from types import TracebackType
from typing import Protocol, TypeVar

from livebar._log import log
from livebar._process.fork import at_fork

__all__ = ["DEFAULT_HANDLE_INTERVAL", "ProgressHandle", "handle_for"]


class LiveActivity(Protocol):
    """What a listener needs of an activity (``livebar._activity.LiveActivity``)."""

    @property
    def closed(self) -> bool: ...

    def advance(self, k: float = 1) -> None: ...


T = TypeVar("T")


DEFAULT_HANDLE_INTERVAL = 0.5
"""Longest a worker keeps counts to itself before sending them to the parent."""
DEFAULT_DRAIN_TIMEOUT = 2.0
"""Longest ``flush()`` in the parent waits for the workers' last counts."""
_DRAIN_MARGIN = 0.1
"""The parent's ``flush()`` returns once no worker has sent anything for ``interval`` plus
this: a worker that is still connected holds back counts for at most ``interval``."""
_POLL = 0.25
"""This process's id, kept up to date at fork (``os.getpid()`` is a system call)."""
_CONNECT_TIMEOUT = 2.0
_MAX_LINE = 256


class ProgressHandle:
    """Advances a parent process's activity from any process; pickles to a few strings.

    Use it in worker processes (pass it as a task argument), or in the parent itself: there it
    advances the activity directly. ``with act.handle() as progress:`` in the parent waits (at
    most two seconds) for the workers' last counts when the block ends.
    """

    __slots__ = ("_address", "_family", "_interval", "_owner", "_token")

    def __init__(self, address: str, family: str, token: str, owner: int, interval: float) -> None:
        self._address = address
        self._family = family
        self._token = token
        self._owner = owner
        self._interval = interval

    def __reduce__(self) -> tuple[type[ProgressHandle], tuple[str, str, str, int, float]]:
        return (
            ProgressHandle,
            (self._address, self._family, self._token, self._owner, self._interval),
        )

    def __repr__(self) -> str:
        return f"<ProgressHandle {self._family}:{self._address}>"

    # -- counting -----------------------------------------------------------------------------

    def advance(self, k: float = 1) -> None:
        """``k`` more items done. Never raises, never blocks."""
        try:
            if _here.pid == self._owner:
                listener = _listeners.get(self._token)
                if listener is not None and not listener.activity.closed:
                    listener.activity.advance(k)  # after the end, a count changes nothing
                return
            _link(self).add(k)
        except Exception:  # progress must never break the job
            log.debug("livebar: handle.advance failed", exc_info=True)

    def track(self, iterable: Iterable[T]) -> Iterator[T]:
        """Yield the items of ``iterable``, advancing by one after each; flush at the end."""
        try:
            for item in iterable:
                yield item
                self.advance()
        finally:
            if _here.pid != self._owner:
                self.flush()

    def flush(self, timeout: float = DEFAULT_DRAIN_TIMEOUT) -> None:
        """Worker: send what is pending now. Parent: wait until the workers' counts are in."""
        try:
            if _here.pid == self._owner:
                listener = _listeners.get(self._token)
                if listener is not None:
                    listener.drain(timeout)
                return
            link = _here.links.get(self._token)
            if link is not None:
                link.flush()
        except Exception:
            log.debug("livebar: handle.flush failed", exc_info=True)

    def __enter__(self) -> ProgressHandle:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.flush()

    def __del__(self) -> None:
        # A task's copy is collected when the task is over: send its counts with it.
        try:
            if _here.pid != self._owner:
                link = _here.links.get(self._token)
                if link is not None:
                    link.flush()
        except Exception:
            pass


# -- the parent: one listener per activity ------------------------------------------------------


class _Here:
    """What this process's handles share: afresh in a forked child, whose parent's connections
    are not its own to write to."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.pid = os.getpid()
        self.links: dict[str, _Link] = {}
        self.links_lock = threading.Lock()
        self.listeners_lock = threading.Lock()
        self.exit_flush_registered = False


_here = _Here()
at_fork(after_in_child=_here.reset)

_listeners: dict[str, _Listener] = {}
_by_activity: weakref.WeakKeyDictionary[LiveActivity, _Listener] = weakref.WeakKeyDictionary()


def handle_for(
    activity: LiveActivity, *, interval: float = DEFAULT_HANDLE_INTERVAL
) -> ProgressHandle:
    """The handle of ``activity`` (one listener per activity, started on first use)."""
    with _here.listeners_lock:
        listener = _by_activity.get(activity)
        if listener is None or listener.stopped:
            listener = _Listener(activity, interval)
            _by_activity[activity] = listener
            _listeners[listener.token] = listener
    return listener.handle


class _Listener:
    """Accepts workers' connections and applies their counts to the activity."""

    def __init__(self, activity: LiveActivity, interval: float) -> None:
        self.activity = activity
        self.token = secrets.token_hex(16)
        self.stopped = False
        self._directory: str | None = None
        self._server, family, address = self._bind()
        self.handle = ProgressHandle(address, family, self.token, os.getpid(), interval)
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._server, selectors.EVENT_READ, None)
        self._buffers: dict[socket.socket, bytearray] = {}
        self._trusted: set[socket.socket] = set()
        self._changed = threading.Condition()
        self._last_received = time.monotonic()
        self._quiet = interval + _DRAIN_MARGIN
        self.connections = 0
        self.received = 0.0
        self._thread = threading.Thread(target=self._run, name="livebar-handle", daemon=True)
        self._thread.start()

    def _bind(self) -> tuple[socket.socket, str, str]:
        if hasattr(socket, "AF_UNIX"):
            self._directory = tempfile.mkdtemp(prefix="livebar-")  # mode 0700: ours alone
            path = os.path.join(self._directory, "progress.sock")
            server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            server.bind(path)
            server.listen(64)
            server.setblocking(False)
            return server, "unix", path
        server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        server.bind(("127.0.0.1", 0))
        server.listen(64)
        server.setblocking(False)
        host, port = server.getsockname()
        return server, "tcp", f"{host}:{port}"

    def drain(self, timeout: float) -> None:
        """Wait until what workers counted before now is in: until none is connected, or the
        connected ones have each had an interval (their flushers') since the drain began with
        nothing more arriving; and in both cases nothing they sent is left unread."""
        began = time.monotonic()
        deadline = began + timeout
        with self._changed:
            while not self.stopped:
                unread = self._unread()
                if not self.connections and not unread:
                    return
                now = time.monotonic()
                quiet = now - max(self._last_received, began) >= self._quiet
                if now >= deadline or (quiet and not unread):
                    return
                self._changed.wait(min(deadline - now, _DRAIN_MARGIN))

    def _unread(self) -> bool:
        """Something workers sent that this listener has not taken in: a connection not accepted
        yet (its counts in the backlog), or counts or an end of connection not read yet (a
        worker that sent its last counts and exited just now). A parent that stopped waiting
        then would lose them."""
        sockets = [self._server, *list(self._buffers)]  # the listener's thread changes the dict
        try:
            readable, _, _ = select.select(sockets, [], [], 0)
        except (OSError, ValueError):  # one was closed meanwhile: look again
            return True
        return bool(readable)

    def _run(self) -> None:
        try:
            while not self.activity.closed:
                for key, _ in self._selector.select(timeout=_POLL):
                    sock = key.fileobj
                    assert isinstance(sock, socket.socket)
                    if sock is self._server:
                        self._accept()
                    else:
                        self._read(sock)
        except Exception:
            log.exception("livebar: the progress listener stopped")
        finally:
            self._stop()

    def _accept(self) -> None:
        try:
            conn, _ = self._server.accept()
        except OSError:
            return
        conn.setblocking(False)
        self._buffers[conn] = bytearray()
        self._selector.register(conn, selectors.EVENT_READ, None)
        with self._changed:
            self.connections += 1
            self._changed.notify_all()

    def _read(self, conn: socket.socket) -> None:
        try:
            data = conn.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:  # the worker is done, or was killed: keep what it sent
            self._drop(conn)
            return
        buffer = self._buffers[conn]
        buffer += data
        *lines, rest = bytes(buffer).split(b"\n")
        if len(rest) > _MAX_LINE:
            self._drop(conn)
            return
        self._buffers[conn] = bytearray(rest)
        for line in lines:
            if not self._apply(conn, line):
                self._drop(conn)
                return
        with self._changed:
            self._last_received = time.monotonic()
            self._changed.notify_all()

    def _apply(self, conn: socket.socket, line: bytes) -> bool:
        kind, _, value = line.decode("ascii", "replace").partition(" ")
        if conn not in self._trusted:
            if kind == "h" and secrets.compare_digest(value, self.token):
                self._trusted.add(conn)
                return True
            return False
        if kind == "a":
            try:
                k = float(value)
            except ValueError:
                return False
            if k == k and abs(k) != float("inf"):  # NaN and infinities are nobody's progress
                self.received += k
                if not self.activity.closed:  # after the end, a count changes nothing
                    self.activity.advance(k)
            return True
        return False

    def _drop(self, conn: socket.socket) -> None:
        with contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(conn)
        conn.close()
        self._buffers.pop(conn, None)
        self._trusted.discard(conn)
        with self._changed:
            self.connections -= 1
            self._changed.notify_all()

    def _stop(self) -> None:
        for conn in list(self._buffers):
            self._drop(conn)
        try:
            self._selector.close()
        finally:
            self._server.close()
            if self._directory is not None:
                shutil.rmtree(self._directory, ignore_errors=True)
            with _here.listeners_lock:
                _listeners.pop(self.token, None)
            with self._changed:
                self.stopped = True
                self._changed.notify_all()


# -- a worker: one link per parent listener, per process -----------------------------------------


def _link(handle: ProgressHandle) -> _Link:
    link = _here.links.get(handle._token)
    if link is None:
        with _here.links_lock:
            link = _here.links.get(handle._token)
            if link is None:
                link = _Link(handle)
                _here.links[handle._token] = link
    return link


class _Link:
    """This worker's connection to one parent listener, and the counts not yet sent.

    ``add(1)`` is ``next()`` on an ``itertools.count`` (atomic in CPython: no lock, no clock);
    other amounts are added under a lock. A flusher thread, started on the first count, sends
    the difference every ``interval``; ``flush()`` sends it at once.
    """

    def __init__(self, handle: ProgressHandle) -> None:
        self._family = handle._family
        self._address = handle._address
        self._token = handle._token
        self._interval = handle._interval
        self._ticks = itertools.count()
        self._extra = 0.0
        self._sent = 0.0
        # Reentrant: a handle collected by the garbage collector mid-send flushes here.
        self._lock = threading.RLock()
        self._sock: socket.socket | None = None
        self._dead = False
        self._flusher: threading.Thread | None = None
        self._stop = threading.Event()
        _register_exit_flush()

    def add(self, k: float) -> None:
        if self._flusher is None:
            self._start_flusher()
        if k == 1:
            next(self._ticks)
        else:
            with self._lock:
                self._extra += k

    def flush(self) -> None:
        """Send what was counted and not sent yet (from any thread; never raises OSError)."""
        if self._dead:
            return
        with self._lock:
            total = _ticks_of(self._ticks) + self._extra
            delta = total - self._sent
            if not delta:
                return
            try:
                sock = self._sock or self._connect()
                sock.sendall(f"a {delta!r}\n".encode("ascii"))
            except OSError:  # the parent is gone: its activity ended, or it exited
                self._die()
                return
            self._sent = total

    def _connect(self) -> socket.socket:
        if self._family == "unix":
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            address: str | tuple[str, int] = self._address
        else:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            host, _, port = self._address.rpartition(":")
            address = (host, int(port))
        try:
            sock.settimeout(_CONNECT_TIMEOUT)
            sock.connect(address)
            sock.sendall(f"h {self._token}\n".encode("ascii"))
        except BaseException:
            sock.close()
            raise
        self._sock = sock
        return sock

    def _die(self) -> None:
        self._dead = True
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        self._stop.set()

    def _start_flusher(self) -> None:
        with self._lock:
            if self._flusher is None:
                self._flusher = threading.Thread(
                    target=self._flush_every_interval, name="livebar-handle-flush", daemon=True
                )
                self._flusher.start()

    def _flush_every_interval(self) -> None:
        while not self._stop.wait(self._interval):
            self.flush()


def _ticks_of(counter: itertools.count[int]) -> int:
    """The next value of an ``itertools.count()``, read without advancing it."""
    text = repr(counter)  # "count(17)"
    return int(text[text.index("(") + 1 : -1])


def _flush_all() -> None:
    for link in list(_here.links.values()):
        with contextlib.suppress(Exception):
            link.flush()


def _register_exit_flush() -> None:
    """Flush at exit: ``atexit`` for any process, ``multiprocessing``'s finalizers for its
    children (which leave through ``os._exit`` and never run ``atexit``)."""
    if _here.exit_flush_registered:
        return
    _here.exit_flush_registered = True
    atexit.register(_flush_all)
    try:
        from multiprocessing import util

        util.Finalize(None, _flush_all, exitpriority=100)
    except Exception:
        pass
