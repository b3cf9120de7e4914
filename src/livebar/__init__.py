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

from livebar import _signals
from livebar._version import __version__

_signals.prepare()  # SIGTERM, while this is (most likely) the main thread: see _signals

if TYPE_CHECKING:
    from livebar._activity import (
        LiveActivity,
        atrack,
        current_activity,
        live_activity,
        track,
    )
    from livebar._client import (
        AsyncClient,
        BadgeResult,
        Client,
        EndResult,
        MetricResult,
        PushReplaceResult,
        PushResult,
        StartResult,
        StreamEndResult,
        StreamResult,
        UpdateResult,
    )
    from livebar._config import Config, resolve_config
    from livebar._dispatch import ActivityStats, configure, flush, push
    from livebar._endings import Outcome
    from livebar._errors import (
        ActivityLimitError,
        APIError,
        AuthenticationError,
        BadRequestError,
        ConfigurationError,
        ConnectError,
        LivebarError,
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
    from livebar._pacing import Budgets
    from livebar._pandas import pandas
    from livebar._payload import (
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
    from livebar._retry import RetryPolicy
    from livebar._tqdm import tqdm, trange

_EXPORTS = {
    "live_activity": "livebar._activity",
    "LiveActivity": "livebar._activity",
    "ActivityStats": "livebar._dispatch",
    "Outcome": "livebar._endings",
    "track": "livebar._activity",
    "atrack": "livebar._activity",
    "current_activity": "livebar._activity",
    "configure": "livebar._dispatch",
    "flush": "livebar._dispatch",
    "push": "livebar._dispatch",
    "Budgets": "livebar._pacing",
    "pandas": "livebar._pandas",
    "tqdm": "livebar._tqdm",
    "trange": "livebar._tqdm",
    "Client": "livebar._client",
    "AsyncClient": "livebar._client",
    "PushResult": "livebar._client",
    "PushReplaceResult": "livebar._client",
    "StartResult": "livebar._client",
    "UpdateResult": "livebar._client",
    "EndResult": "livebar._client",
    "StreamResult": "livebar._client",
    "StreamEndResult": "livebar._client",
    "BadgeResult": "livebar._client",
    "MetricResult": "livebar._client",
    "Config": "livebar._config",
    "resolve_config": "livebar._config",
    "RetryPolicy": "livebar._retry",
    "Action": "livebar._payload",
    "Alert": "livebar._payload",
    "Badge": "livebar._payload",
    "ContentState": "livebar._payload",
    "EndActivity": "livebar._payload",
    "Icon": "livebar._payload",
    "Metric": "livebar._payload",
    "PushNotification": "livebar._payload",
    "PushReplace": "livebar._payload",
    "StartActivity": "livebar._payload",
    "StreamEnd": "livebar._payload",
    "StreamUpdate": "livebar._payload",
    "UpdateActivity": "livebar._payload",
    "BadgeCount": "livebar._payload",
    "MetricValue": "livebar._payload",
    "LivebarError": "livebar._errors",
    "ConfigurationError": "livebar._errors",
    "ValidationError": "livebar._errors",
    "TransportError": "livebar._errors",
    "ConnectError": "livebar._errors",
    "RequestTimeout": "livebar._errors",
    "APIError": "livebar._errors",
    "BadRequestError": "livebar._errors",
    "AuthenticationError": "livebar._errors",
    "PaymentRequiredError": "livebar._errors",
    "PermissionDeniedError": "livebar._errors",
    "NotFoundError": "livebar._errors",
    "StreamNotFoundError": "livebar._errors",
    "NoRecipientsError": "livebar._errors",
    "RateLimitError": "livebar._errors",
    "ActivityLimitError": "livebar._errors",
    "ServerError": "livebar._errors",
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
    "Icon",
    "LiveActivity",
    "LivebarError",
    "Metric",
    "MetricResult",
    "MetricValue",
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
    "flush",
    "live_activity",
    "pandas",
    "push",
    "resolve_config",
    "tqdm",
    "track",
    "trange",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'livebar' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
