"""A local, ActivitySmith-compatible server with a simulated iPhone lock screen.

Serving it needs the ``simulator`` extra (``pip install "livebar[simulator]"``)::

    from livebar.simulator import serve

    with serve() as sim:            # 127.0.0.1 on a free port, in a daemon thread
        ...                         # point livebar at sim.url with sim.api_key
        sim.activities()            # what was sent, what the phone showed when

Open ``sim.page_url`` in a browser to watch the lock screen and the budget panel.
``sim.env()`` gives the variables that point livebar at it; the official ActivitySmith SDKs do not
read ``ACTIVITYSMITH_BASE_URL``, so give them ``sim.url`` in code.

The pure parts (``SimulatorState``, ``SimulatorConfig`` and the limits model in
``livebar.simulator._model``) import without the extra; ``serve``, ``SimulatorServer``,
``SimulatorHandle`` and ``create_app`` load starlette and uvicorn on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from livebar.simulator._answers import Reply
from livebar.simulator._config import DEFAULT_API_KEY, SimulatorConfig
from livebar.simulator._state import SimulatorState

if TYPE_CHECKING:
    from livebar.simulator._app import create_app
    from livebar.simulator._server import SimulatorHandle, SimulatorServer, serve

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

_SERVED = {
    "create_app": "livebar.simulator._app",
    "SimulatorHandle": "livebar.simulator._server",
    "SimulatorServer": "livebar.simulator._server",
    "serve": "livebar.simulator._server",
}


def __getattr__(name: str) -> Any:
    module = _SERVED.get(name)
    if module is None:
        raise AttributeError(f"module 'livebar.simulator' has no attribute {name!r}")
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        raise ImportError(
            'livebar.simulator needs the "simulator" extra: pip install "livebar[simulator]"'
        ) from exc
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
