"""A local, ActivitySmith-compatible server with a simulated iPhone lock screen.

Needs the ``simulator`` extra (``pip install "livebar[simulator]"``)::

    from livebar.simulator import serve

    with serve() as sim:            # 127.0.0.1 on a free port, in a daemon thread
        ...                         # point livebar at sim.url with sim.api_key
        sim.activities()            # what was sent, what the phone showed when

Open ``sim.page_url`` in a browser to watch the lock screen and the budget panel.
``sim.env()`` gives the variables that point livebar at it; the official ActivitySmith SDKs do not
read ``ACTIVITYSMITH_BASE_URL``, so give them ``sim.url`` in code.
"""

from __future__ import annotations

try:
    import starlette  # noqa: F401
    import uvicorn  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError(
        'livebar.simulator needs the "simulator" extra: pip install "livebar[simulator]"'
    ) from exc

from livebar.simulator._app import create_app
from livebar.simulator._server import SimulatorHandle, SimulatorServer, serve
from livebar.simulator._state import DEFAULT_API_KEY, Reply, SimulatorConfig, SimulatorState

__all__ = [
    "DEFAULT_API_KEY",
    "Reply",
    "SimulatorConfig",
    "SimulatorHandle",
    "SimulatorServer",
    "SimulatorState",
    "create_app",
    "serve",
]
