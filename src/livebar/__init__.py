"""livebar: put any long-running Python job on your iPhone lock screen.

Loops, stages and functions become ActivitySmith Live Activities with one line::

    from livebar import live_activity, tqdm

    with live_activity("Nightly backup", steps=["dump", "compress", "upload"]) as act:
        with act.stage("dump"):
            ...
    for batch in tqdm(loader, title="Training"):
        ...

Names are loaded on first use, so ``import livebar`` stays as cheap as ``import tqdm``: the HTTP
client, the background sender and tqdm itself are imported only when a job needs them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from livebar._process import signals as _signals
from livebar._process.exit import place as _exit_place
from livebar._version import __version__

_signals.prepare()  # SIGTERM, while this is (most likely) the main thread: see _signals
_exit_place.take()  # livebar's place in the exit, before the program registers its own

if TYPE_CHECKING:
    from livebar._activity import (
        LiveActivity,
        atrack,
        current_activity,
        live_activity,
        track,
    )
    from livebar._engine.budgets import Budgets
    from livebar._engine.jobs import ActivityStats
    from livebar._engine.runtime import configure, flush, push
    from livebar._fleet import FleetMember, fleet
    from livebar._integrations.logs import LogHandler
    from livebar._integrations.pandas import pandas
    from livebar._integrations.tqdm import tqdm, trange
    from livebar._job.endings import Outcome
    from livebar._wire.client import AsyncClient, Client
    from livebar._wire.config import Config, resolve_config
    from livebar._wire.errors import (
        ActivityLimitError,
        APIError,
        AuthenticationError,
        BadRequestError,
        ConfigurationError,
        ConnectError,
        LivebarError,
        MisuseError,
        NoRecipientsError,
        NotFoundError,
        PaymentRequiredError,
        PermissionDeniedError,
        RateLimitError,
        RequestTimeout,
        ServerError,
        StreamNotFoundError,
        TransportError,
        ValidationError,
    )
    from livebar._wire.payload import (
        Action,
        Alert,
        Badge,
        BadgeCount,
        ContentState,
        EndActivity,
        Icon,
        Metric,
        MetricValue,
        PushNotification,
        PushReplace,
        StartActivity,
        StreamEnd,
        StreamUpdate,
        UpdateActivity,
    )
    from livebar._wire.results import (
        BadgeResult,
        EndResult,
        MetricResult,
        PushReplaceResult,
        PushResult,
        StartResult,
        StreamEndResult,
        StreamResult,
        UpdateResult,
    )
    from livebar._wire.retry import RetryPolicy

_EXPORTS = {
    "live_activity": "livebar._activity",
    "LiveActivity": "livebar._activity",
    "fleet": "livebar._fleet",
    "FleetMember": "livebar._fleet",
    "ActivityStats": "livebar._engine.jobs",
    "Outcome": "livebar._job.endings",
    "track": "livebar._activity",
    "atrack": "livebar._activity",
    "current_activity": "livebar._activity",
    "configure": "livebar._engine.runtime",
    "flush": "livebar._engine.runtime",
    "push": "livebar._engine.runtime",
    "Budgets": "livebar._engine.budgets",
    "LogHandler": "livebar._integrations.logs",
    "pandas": "livebar._integrations.pandas",
    "tqdm": "livebar._integrations.tqdm",
    "trange": "livebar._integrations.tqdm",
    "Client": "livebar._wire.client",
    "AsyncClient": "livebar._wire.client",
    "PushResult": "livebar._wire.results",
    "PushReplaceResult": "livebar._wire.results",
    "StartResult": "livebar._wire.results",
    "UpdateResult": "livebar._wire.results",
    "EndResult": "livebar._wire.results",
    "StreamResult": "livebar._wire.results",
    "StreamEndResult": "livebar._wire.results",
    "BadgeResult": "livebar._wire.results",
    "MetricResult": "livebar._wire.results",
    "Config": "livebar._wire.config",
    "resolve_config": "livebar._wire.config",
    "RetryPolicy": "livebar._wire.retry",
    "Action": "livebar._wire.payload",
    "Alert": "livebar._wire.payload",
    "Badge": "livebar._wire.payload",
    "ContentState": "livebar._wire.payload",
    "EndActivity": "livebar._wire.payload",
    "Icon": "livebar._wire.payload",
    "Metric": "livebar._wire.payload",
    "PushNotification": "livebar._wire.payload",
    "PushReplace": "livebar._wire.payload",
    "StartActivity": "livebar._wire.payload",
    "StreamEnd": "livebar._wire.payload",
    "StreamUpdate": "livebar._wire.payload",
    "UpdateActivity": "livebar._wire.payload",
    "BadgeCount": "livebar._wire.payload",
    "MetricValue": "livebar._wire.payload",
    "LivebarError": "livebar._wire.errors",
    "ConfigurationError": "livebar._wire.errors",
    "MisuseError": "livebar._wire.errors",
    "ValidationError": "livebar._wire.errors",
    "TransportError": "livebar._wire.errors",
    "ConnectError": "livebar._wire.errors",
    "RequestTimeout": "livebar._wire.errors",
    "APIError": "livebar._wire.errors",
    "BadRequestError": "livebar._wire.errors",
    "AuthenticationError": "livebar._wire.errors",
    "PaymentRequiredError": "livebar._wire.errors",
    "PermissionDeniedError": "livebar._wire.errors",
    "NotFoundError": "livebar._wire.errors",
    "StreamNotFoundError": "livebar._wire.errors",
    "NoRecipientsError": "livebar._wire.errors",
    "RateLimitError": "livebar._wire.errors",
    "ActivityLimitError": "livebar._wire.errors",
    "ServerError": "livebar._wire.errors",
}

__all__ = [
    "APIError",
    "Action",
    "ActivityLimitError",
    "ActivityStats",
    "Alert",
    "AsyncClient",
    "AuthenticationError",
    "BadRequestError",
    "Badge",
    "BadgeCount",
    "BadgeResult",
    "Budgets",
    "Client",
    "Config",
    "ConfigurationError",
    "ConnectError",
    "ContentState",
    "EndActivity",
    "EndResult",
    "FleetMember",
    "Icon",
    "LiveActivity",
    "LivebarError",
    "LogHandler",
    "Metric",
    "MetricResult",
    "MetricValue",
    "MisuseError",
    "NoRecipientsError",
    "NotFoundError",
    "Outcome",
    "PaymentRequiredError",
    "PermissionDeniedError",
    "PushNotification",
    "PushReplace",
    "PushReplaceResult",
    "PushResult",
    "RateLimitError",
    "RequestTimeout",
    "RetryPolicy",
    "ServerError",
    "StartActivity",
    "StartResult",
    "StreamEnd",
    "StreamEndResult",
    "StreamNotFoundError",
    "StreamResult",
    "StreamUpdate",
    "TransportError",
    "UpdateActivity",
    "UpdateResult",
    "ValidationError",
    "__version__",
    "atrack",
    "configure",
    "current_activity",
    "fleet",
    "flush",
    "live_activity",
    "pandas",
    "push",
    "resolve_config",
    "tqdm",
    "track",
    "trange",
]


_SUBMODULES = frozenset({"auto", "contrib", "simulator", "testing"})
"""Submodules reachable as attributes after a plain ``import livebar`` (``livebar.auto``),
loaded when first used (the framework integrations are imported by name: they import their
framework)."""


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"livebar.{name}")
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'livebar' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
