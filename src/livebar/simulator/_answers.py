"""What the simulated API answers: ``Reply`` (a status, a JSON body, headers) and the wording
every part of the simulated account shares (the rate limit, refusals, timestamps)."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

JSON = dict[str, Any]

RATE_LIMITED = {
    "error": "Rate limit exceeded",
    "message": "Too many requests, please try again later.",
}
SCOPE_MESSAGE = (
    "This API key can only target assigned channels. "
    "Requested channels include channels outside this key scope."
)


@dataclass(frozen=True)
class Reply:
    """What the API answers: status, JSON body and extra headers."""

    status: int
    body: JSON
    headers: Mapping[str, str] = field(default_factory=dict)


def rate_limited(*, strict: bool, headers: Mapping[str, str] | None = None) -> Reply:
    """The account's 429 (newer servers add ``code: "rate_limited"``)."""
    body = dict(RATE_LIMITED) if strict else dict(RATE_LIMITED, code="rate_limited")
    return Reply(429, body, dict(headers or {}))


def forbidden(verb: str) -> Reply:
    """403 for an activity this key may not ``verb`` (update or end)."""
    return Reply(
        403, {"error": "Forbidden", "message": f"This API key cannot {verb} this Live Activity"}
    )


def outside_scope() -> Reply:
    """403 for channels outside the key's scope."""
    return Reply(403, {"error": "Invalid channel targeting", "message": SCOPE_MESSAGE})


def iso(t: float) -> str:
    """Wall-clock seconds as the API writes a time (UTC, milliseconds, ``Z``)."""
    moment = datetime.datetime.fromtimestamp(t, tz=datetime.timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
