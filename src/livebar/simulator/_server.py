"""Serving the simulator with uvicorn, in a daemon thread (tests) or in the foreground (CLI)."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import anyio
import uvicorn

from livebar.simulator._answers import JSON
from livebar.simulator._app import Scope, create_app
from livebar.simulator._config import SimulatorConfig
from livebar.simulator._state import SimulatorState

STARTUP_TIMEOUT = 10.0
SHUTDOWN_TIMEOUT = 10.0
GRACEFUL_SHUTDOWN = 2
"""Seconds uvicorn waits for open requests when the simulator stops."""


class SimulatorHandle:
    """A running simulator: where it listens, what it saw, and how to make it misbehave.

    ``url`` is the API base URL (pass it as ``base_url``), ``api_key`` a key it accepts,
    ``page_url`` the lock-screen page. Inspection returns plain JSON-like data; fault methods
    apply to the next API requests (``/_sim/…`` and the page are never affected).
    """

    def __init__(self, state: SimulatorState, root_url: str) -> None:
        self.state = state
        self.config: SimulatorConfig = state.config
        self.root_url = root_url
        self.url = f"{root_url}/api"
        self.page_url = f"{root_url}/"
        self.api_key = state.config.api_key

    def __repr__(self) -> str:
        return f"<SimulatorHandle url={self.url!r}>"

    def env(self) -> dict[str, str]:
        """Environment variables that point livebar (the library and the CLI) at this simulator.

        Only livebar reads ``ACTIVITYSMITH_BASE_URL``: the official ActivitySmith SDKs do not read
        it and would send this key to the real service. Give them ``url`` in code instead (the
        README shows the Python SDK).
        """
        return {"ACTIVITYSMITH_BASE_URL": self.url, "ACTIVITYSMITH_API_KEY": self.api_key}

    # inspection
    def requests(self) -> list[JSON]:
        """The request log, oldest first: time, method, path, status, body, response, fault."""
        return self.state.requests()

    def activities(self) -> list[JSON]:
        """Every activity: current state, update counts, history, what the phone showed when."""
        return self.state.activities()

    def activity(self, activity_id: str) -> JSON:
        """One activity (KeyError if the simulator never started it)."""
        for activity in self.state.activities():
            if activity["activity_id"] == activity_id:
                return activity
        raise KeyError(activity_id)

    def pushes(self) -> list[JSON]:
        """Push notifications received, oldest first."""
        return self.state.pushes()

    def badges(self) -> dict[str, int]:
        """Each device's app-icon badge count (devices never sent one are absent)."""
        return self.state.badges()

    def metrics(self) -> dict[str, JSON]:
        """The latest value of each widget metric set so far, by key."""
        return self.state.metrics()

    def phone(self) -> JSON:
        """What the lock screen shows now."""
        return self.state.phone()

    def snapshot(self) -> JSON:
        """Everything the lock-screen page draws (phone, budget panel, request log)."""
        return self.state.snapshot()

    # faults
    def fail_next(self, n: int = 1, *, status: int = 503, retry_after: float | None = None) -> None:
        """Answer the next ``n`` API requests with ``status`` (and ``Retry-After`` if given)."""
        self.state.set_faults(fail_next=n, status=status, retry_after=retry_after)

    def delay(self, seconds: float) -> None:
        """Hold every API request ``seconds`` before answering (0 to stop)."""
        self.state.set_faults(delay=seconds)

    def drop_next(self, n: int = 1) -> None:
        """Close the connection of the next ``n`` API requests without answering."""
        self.state.set_faults(drop_next=n)

    def down(self) -> None:
        """Drop every API request until ``up()``."""
        self.state.set_faults(down=True)

    def up(self) -> None:
        """Undo ``down()``."""
        self.state.set_faults(down=False)

    def clear_faults(self) -> None:
        """Remove every injected fault."""
        self.state.clear_faults()

    def reset(self) -> None:
        """Forget every activity, push, badge, metric value, logged request and fault."""
        self.state.reset()


class SimulatorServer:
    """uvicorn serving one ``SimulatorState`` on a socket bound at construction."""

    def __init__(self, config: SimulatorConfig, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.state = SimulatorState(config)
        # proto=IPPROTO_TCP: asyncio only sets TCP_NODELAY on accepted sockets that say they are
        # TCP; without it every keep-alive response waits ~40 ms for a delayed ACK.
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self._socket.bind((host, port))
            # Listening from here on: a client that connects as soon as the URL is printed
            # waits in the backlog until uvicorn accepts, instead of being refused.
            self._socket.listen(128)
        except OSError:
            self._socket.close()
            raise
        bound_host, bound_port = self._socket.getsockname()[:2]
        url_host = "127.0.0.1" if bound_host in ("0.0.0.0", "") else bound_host
        self.handle = SimulatorHandle(self.state, f"http://{url_host}:{bound_port}")
        app = create_app(self.state, drop_connection=self._drop_connection)
        self._server = uvicorn.Server(
            uvicorn.Config(
                app,
                log_config=None,
                log_level="warning",
                access_log=False,
                lifespan="off",
                ws="none",
                http="h11",
                loop="asyncio",
                timeout_graceful_shutdown=GRACEFUL_SHUTDOWN,
            )
        )
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Serve in a daemon thread; return once the server accepts connections."""
        thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [self._socket]},
            name="livebar-simulator",
            daemon=True,
        )
        self._thread = thread
        thread.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not self._server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the livebar simulator failed to start")
            time.sleep(0.005)

    def stop(self) -> None:
        """Stop serving and wait for the thread to finish."""
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(SHUTDOWN_TIMEOUT)
            self._thread = None
        self._socket.close()

    def run_forever(self) -> None:
        """Serve in the calling thread until interrupted (Ctrl-C)."""
        try:
            self._server.run(sockets=[self._socket])
        except KeyboardInterrupt:  # newer uvicorn re-raises the signal it handled
            pass
        finally:
            self._socket.close()

    async def _drop_connection(self, scope: Scope) -> bool:
        client = tuple(scope.get("client") or ())
        for connection in list(self._server.server_state.connections):
            if tuple(getattr(connection, "client", None) or ()) != client:
                continue
            transport = getattr(connection, "transport", None)
            if transport is None:
                return False
            transport.close()
            # Let uvicorn see the connection go first, so it does not answer on it.
            await anyio.sleep(0)
            return True
        return False


@contextlib.contextmanager
def serve(
    *,
    config: SimulatorConfig | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    **overrides: Any,
) -> Iterator[SimulatorHandle]:
    """Run a simulator on ``host:port`` (a free loopback port by default) for a ``with`` block.

    ``overrides`` are ``SimulatorConfig`` fields applied on top of ``config``::

        with livebar.simulator.serve(rate_limit=5, rate_window=1.0) as sim:
            client = livebar.Client(api_key=sim.api_key, base_url=sim.url)
    """
    resolved = config if config is not None else SimulatorConfig()
    if overrides:
        resolved = resolved.replace(**overrides)
    server = SimulatorServer(resolved, host=host, port=port)
    server.start()
    try:
        yield server.handle
    finally:
        server.stop()
