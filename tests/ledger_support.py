"""Shared by the ledger tests: a real ``redis-server`` on loopback, and the bodies of the
processes the multi-process tests spawn (importable by name, as ``spawn`` requires).

``redis-server`` comes from Debian's ``redis-server`` package. When it is missing the Redis
tests skip, unless ``LIVEBAR_REQUIRE_REDIS=1`` (CI sets it), which makes them fail instead.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from livebar._ledger.backend import Backend, LedgerUnavailable
from livebar._ledger.owner import Owner
from livebar._wire.account import Account

REQUIRE_REDIS = "LIVEBAR_REQUIRE_REDIS"
ACCOUNT = Account(server="https://activitysmith.com/api", id="0123456789abcdef0123456789abcdef")


@dataclass(frozen=True)
class Where:
    """Which ledger a process opens: ``kind`` ``sqlite`` (``location`` a file) or ``redis``."""

    kind: str
    location: str


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class RedisServer:
    """One ``redis-server`` on 127.0.0.1 with a free port and a temporary directory."""

    def __init__(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            message = "redis-server is not installed (Debian package redis-server)"
            if os.environ.get(REQUIRE_REDIS, "").strip() in ("1", "true", "yes"):
                pytest.fail(f"{message}, and {REQUIRE_REDIS} is set", pytrace=False)
            pytest.skip(message)
        self.binary = binary
        self.dir = tempfile.mkdtemp(prefix="livebar-redis-")
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                self.dir,
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10.0
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            time.sleep(0.02)
        self.stop()
        pytest.fail("redis-server did not answer within 10 s", pytrace=False)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(5.0)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5.0)
            self.process = None

    def flush(self) -> None:
        import redis

        client = redis.Redis.from_url(self.url)
        try:
            client.flushall()
        finally:
            client.close()

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def redis_server_fixture() -> Iterator[RedisServer]:
    server = RedisServer()
    try:
        yield server
    finally:
        server.close()


def dead_owner(host: str | None = None) -> Owner:
    """An owner on this host whose process has exited (a real pid, now gone)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return Owner(Owner.current(host=host).host, child.pid, 12345, "gone-host")


OPENED: list[Backend] = []
"""Every backend the helpers opened in this process; ``close_opened`` closes them."""


def close_opened() -> None:
    while OPENED:
        OPENED.pop().close()


def open_backend(
    where: Where,
    *,
    window: float,
    host: str | None = None,
    clock: Any = None,
    owner: Owner | None = None,
    **options: Any,
) -> Backend:
    """The backend ``where`` names, owned by this process (on ``host`` when given) or by
    ``owner``."""
    owner = owner if owner is not None else Owner.current(host=host)
    if where.kind == "sqlite":
        from livebar._ledger.sqlite import SqliteBackend

        if clock is not None:
            options["clock"] = clock
        backend: Backend = SqliteBackend(where.location, window=window, owner=owner, **options)
    else:
        from livebar._ledger.redis import RedisBackend

        if clock is not None:
            options["server_time"] = False
        backend = RedisBackend(
            where.location, account=ACCOUNT, window=window, owner=owner, **options
        )
    OPENED.append(backend)
    return backend


# -- bodies of spawned processes ----------------------------------------------------------------
# Each takes picklable arguments and reports through a multiprocessing queue.


def hammer(
    where: Where,
    window: float,
    limit: int,
    seconds: float,
    barrier: Any,
    out: Any,
    until_refused: bool = False,
) -> None:
    """Try to record requests as fast as possible for ``seconds`` (or, ``until_refused``, until
    the first refusal); report the admitted times. A process the others (or a loaded
    machine's scheduler) kept from every admission goes on alone until it has one (10 s at
    most), so that the contest is always between several admitted processes."""
    backend = open_backend(where, window=window)
    admitted: list[float] = []
    refused = busy = 0
    barrier.wait(60)
    end = time.monotonic() + seconds
    while not (until_refused and refused):
        now = time.monotonic()
        if now >= end + 10.0 or (now >= end and (admitted or until_refused)):
            break
        try:
            grant = backend.acquire(0.0, limit=limit, floor=0)
        except LedgerUnavailable:
            busy += 1
            continue
        if grant.admitted:
            assert grant.at is not None
            admitted.append(grant.at)
        else:
            refused += 1
            time.sleep(min(grant.wait, 0.002))
    backend.close()
    out.put((os.getpid(), admitted, refused, busy))


def queue_then_take(
    where: Where, index: int, poll: float, hold: float, queued: Any, go: Any, out: Any
) -> None:
    """Join the start queue, say so, then poll for a slot every ``poll`` s; hold it ``hold`` s."""
    backend = open_backend(where, window=60.0)
    key = f"start-{index}"
    backend.request_slot(key, 0.0, max_active=1, title=f"job {index}", stream_key=None)
    queued.put(index)
    go.wait(30)
    deadline = time.monotonic() + 20.0
    while time.monotonic() < deadline:
        try:
            grant = backend.request_slot(key, 0.0, max_active=1, title="", stream_key=None)
        except LedgerUnavailable:
            continue
        if grant.granted:
            out.put((index, time.time()))
            time.sleep(hold)
            backend.close_activity(key)
            break
        time.sleep(poll)
    backend.close()


def own_activities(
    where: Where, count: int, host: str | None, ready: Any, heartbeat_every: float = 0.0
) -> None:
    """Open ``count`` activities with states, say so, then wait to be stopped or killed."""
    backend = open_backend(where, window=60.0, host=host)
    for i in range(count):
        key = f"job-{i}"
        stream = f"stream-{i}" if i % 2 else None
        backend.request_slot(key, 0.0, max_active=4, title=f"Job {i}", stream_key=stream)
        state = {"title": f"Job {i}", "type": "progress", "percentage": 61}
        backend.record_state(key, 0.0, activity_id=f"act-{os.getpid()}-{i}", state=state)
    ready.put(os.getpid())
    deadline = time.monotonic() + 60.0
    while time.monotonic() < deadline:
        if heartbeat_every:
            backend.heartbeat(0.0)
            time.sleep(heartbeat_every)
        else:
            time.sleep(0.05)


def claim(
    where: Where,
    host: str | None,
    stale_after: float,
    barrier: Any,
    out: Any,
    settle: bool = True,
) -> None:
    """At the barrier, claim orphans for a short while; report the ids claimed."""
    backend = open_backend(where, window=60.0, host=host)
    barrier.wait(30)
    claimed: list[str] = []
    end = time.monotonic() + 0.3
    while time.monotonic() < end:
        try:
            orphans = backend.claim_orphans(0.0, stale_after=stale_after)
        except LedgerUnavailable:
            continue
        claimed += [o.id for o in orphans]
    out.put((os.getpid(), claimed))
    if settle:
        for ident in claimed:
            backend.settle_orphan(ident, ended=True)
        backend.close()
    else:
        out.close()
        out.join_thread()  # the report is out; now die holding the claims, as a killed reaper
        os._exit(0)


def run_python(code: str, *, user: str | None = None, env: dict[str, str] | None = None) -> str:
    """Run ``code`` in a fresh interpreter (as ``user`` when given); answer its stderr."""
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=30,
        user=user,
        env={**os.environ, **(env or {})},
        cwd=str(Path(__file__).resolve().parent),
        check=False,
    )
    assert 0 == result.returncode, result.stderr
    return result.stdout


def own_on_simulator(ledger_dir: str, api_key: str, base_url: str, ready: Any) -> None:
    """Start a manual activity and a stream on the simulator, record them in the ledger the
    way the engine will, say so, then wait to be killed."""
    from livebar._ledger.settings import LedgerSetting, open_ledger
    from livebar._wire.account import account_for
    from livebar._wire.client import Client
    from livebar._wire.payload import ContentState, StartActivity, StreamUpdate

    account = account_for(api_key=api_key, base_url=base_url)
    ledger = open_ledger(account, setting=LedgerSetting("sqlite", ledger_dir))
    assert ledger.shared
    client = Client(api_key=api_key, base_url=base_url, retry=False)
    now = time.monotonic()
    backup = ContentState.progress("Nightly backup", percentage=61)
    assert ledger.request_slot("backup", now, max_active=4, title="Nightly backup").granted
    started = client.start(StartActivity(content_state=backup))
    ledger.record_state("backup", now, activity_id=started.activity_id, state=backup.to_json())
    deploy = ContentState.segmented_progress("Deploy", number_of_steps=3, current_step=1)
    granted = ledger.request_slot("deploy", now, max_active=4, title="Deploy", stream_key="dep-1")
    assert granted.granted
    client.stream("dep-1", StreamUpdate(content_state=deploy))
    ledger.record_state("deploy", now, state=deploy.to_json())
    ready.put(os.getpid())
    time.sleep(60)
