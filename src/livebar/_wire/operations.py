"""The ActivitySmith API's operations, in one table.

Each row (an ``Endpoint``) says how one operation travels: its name (an ``Operation``), HTTP
method, path template, request body class, result class, whether the body may be left out and
whether only newer servers know it; whether it is idempotent and whether it addresses a stream
come from ``errors`` (what a failure means is decided there, below the payloads). The client
builds every request and reads every answer from this table, the simulator routes by it, and the
tests' model of the API is made from it, so a new operation is one new row (plus, for the
simulator, what the server does with it).

Nothing here does I/O.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Callable, Generic, TypeVar

from livebar._wire.errors import NOT_IDEMPOTENT, STREAM_OPERATIONS, Operation
from livebar._wire.model import Model
from livebar._wire.payload import (
    BadgeCount,
    EndActivity,
    MetricValue,
    PushNotification,
    PushReplace,
    StartActivity,
    StreamEnd,
    StreamUpdate,
    UpdateActivity,
    validate_metric_key,
    validate_notification_id,
    validate_stream_key,
)
from livebar._wire.results import (
    BadgeResult,
    EndResult,
    MetricResult,
    PushReplaceResult,
    PushResult,
    Result,
    StartResult,
    StreamEndResult,
    StreamResult,
    UpdateResult,
)

__all__ = [
    "END",
    "END_STREAM",
    "OPERATIONS",
    "PATH_PARAMETERS",
    "PUSH",
    "REPLACE_PUSH",
    "SET_BADGE",
    "SET_METRIC",
    "START",
    "STREAM",
    "UPDATE",
    "Endpoint",
    "Operation",
]

_B = TypeVar("_B", bound=Model)
_R = TypeVar("_R", bound=Result)

PATH_PARAMETERS: Mapping[str, Callable[[object], str]] = {
    "stream_key": validate_stream_key,
    "key": validate_metric_key,
    "notification_id": validate_notification_id,
}
"""The check of each path parameter a template names (each raises ``ValidationError`` naming
the parameter)."""

_PARAMETER = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True)
class Endpoint(Generic[_B, _R]):
    """One operation of the API: how its request travels and what its answer is read as."""

    name: Operation
    method: str
    path: str
    """The path below the API root; ``{name}`` marks a parameter (``PATH_PARAMETERS``)."""
    body: type[_B]
    result: type[_R]
    body_required: bool = True
    newer: bool = False
    """Only newer servers know it (the published spec does not)."""

    @property
    def idempotent(self) -> bool:
        """Whether repeating it after the server got it is harmless."""
        return self.name not in NOT_IDEMPOTENT

    @property
    def stream(self) -> bool:
        """Whether it addresses ``/live-activity/stream/{stream_key}``."""
        return self.name in STREAM_OPERATIONS

    @property
    def parameters(self) -> tuple[str, ...]:
        """The path parameters the template names, in order."""
        return tuple(_PARAMETER.findall(self.path))

    def path_for(self, values: Mapping[str, object]) -> str:
        """The path with ``values`` checked and put in; ``TypeError`` for a missing or unknown
        parameter (a programming error), ``ValidationError`` for a bad value."""
        names = self.parameters
        unknown = sorted(set(values) - set(names))
        if unknown:
            raise TypeError(f"{self.name}() got an unexpected path parameter {unknown[0]!r}")
        missing = [name for name in names if name not in values]
        if missing:
            raise TypeError(f"{self.name}() missing path parameter {missing[0]!r}")
        checked = {name: PATH_PARAMETERS[name](values[name]) for name in names}
        return self.path.format(**checked)

    def match(self, path: str) -> dict[str, str] | None:
        """The raw path parameters if ``path`` has this template's shape (each one non-empty,
        without ``/``), else None; values are not checked."""
        found = self._pattern.fullmatch(path)
        return None if found is None else found.groupdict()

    @functools.cached_property
    def _pattern(self) -> re.Pattern[str]:
        return re.compile(
            "".join(
                f"(?P<{part}>[^/]+)" if i % 2 else re.escape(part)
                for i, part in enumerate(_PARAMETER.split(self.path))
            )
        )


PUSH = Endpoint(Operation.PUSH, "POST", "/push-notification", PushNotification, PushResult)
REPLACE_PUSH = Endpoint(
    Operation.REPLACE_PUSH,
    "PUT",
    "/push-notification/{notification_id}",
    PushReplace,
    PushReplaceResult,
    newer=True,
)
START = Endpoint(Operation.START, "POST", "/live-activity/start", StartActivity, StartResult)
UPDATE = Endpoint(Operation.UPDATE, "POST", "/live-activity/update", UpdateActivity, UpdateResult)
END = Endpoint(Operation.END, "POST", "/live-activity/end", EndActivity, EndResult)
STREAM = Endpoint(
    Operation.STREAM, "PUT", "/live-activity/stream/{stream_key}", StreamUpdate, StreamResult
)
END_STREAM = Endpoint(
    Operation.END_STREAM,
    "DELETE",
    "/live-activity/stream/{stream_key}",
    StreamEnd,
    StreamEndResult,
    body_required=False,
)
SET_BADGE = Endpoint(Operation.SET_BADGE, "POST", "/badge", BadgeCount, BadgeResult)
SET_METRIC = Endpoint(
    Operation.SET_METRIC, "POST", "/metrics/{key}/value", MetricValue, MetricResult
)

OPERATIONS: Mapping[Operation, Endpoint[Any, Any]] = {
    endpoint.name: endpoint
    for endpoint in (
        PUSH,
        REPLACE_PUSH,
        START,
        UPDATE,
        END,
        STREAM,
        END_STREAM,
        SET_BADGE,
        SET_METRIC,
    )
}
"""Every operation's endpoint, by name."""
