"""The simulated account: its keys and their scopes, its rate-limit window, its billing block,
its devices (who a request reaches) and the ids it hands out."""

from __future__ import annotations

import base64
import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from livebar._wire.errors import Operation
from livebar._wire.model import Model
from livebar.simulator._answers import JSON, Reply, iso, outside_scope, rate_limited
from livebar.simulator._config import SimulatorConfig
from livebar.simulator._model import AccountWindow

_P = TypeVar("_P", bound=Model)

BILLING_MESSAGES = {
    "trial_expired": "Your free trial has ended. Upgrade to keep sending.",
    "trial_exhausted": "Your free trial's sends are used up. Upgrade to keep sending.",
    "billing_overage_cap_reached": "This account reached its overage cap for the billing period.",
}
UPGRADE_URL = "https://activitysmith.com/app/billing"
TRIAL_DAYS = 14
BILLED = frozenset(
    {
        Operation.PUSH,
        Operation.REPLACE_PUSH,
        Operation.START,
        Operation.STREAM,
        Operation.SET_BADGE,
    }
)
"""What a billing block refuses: everything that sends something new."""


@dataclass(frozen=True)
class KeyScope:
    """The channels a key may target (``None``: the whole account)."""

    channels: tuple[str, ...] | None

    def covers(self, channels: Sequence[str] | None) -> bool:
        """Whether this key could have chosen recipients ``channels`` (None: the whole account)."""
        if self.channels is None:
            return True
        return channels is not None and set(channels) <= set(self.channels)


class Account:
    """One simulated account, as the API sees it before any activity or push."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.billing = config.billing_blocked
        """The billing block in force (a reason of ``BILLING_REASONS``), or None."""
        self._next_id = 0
        self.window = AccountWindow(config.rate_limit, config.rate_window)

    def reset(self) -> None:
        """Empty the rate window (ids keep counting; a billing block stays)."""
        self.window = AccountWindow(self.config.rate_limit, self.config.rate_window)

    def authenticate(self, authorization: str | None) -> Reply | KeyScope:
        """The scope of the bearer key, or 401."""
        scheme, _, token = (authorization or "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or token not in self.config.keys:
            return Reply(
                401,
                {"error": "Unauthorized", "message": "Missing or invalid API key"},
            )
        channels = self.config.keys[token]
        return KeyScope(None if channels is None else tuple(channels))

    def admit(self, now: float) -> Reply | None:
        """Count a request in the rate window, or the 429 (not counted) when it is full."""
        if self.window.admit(now):
            return None
        headers: dict[str, str] = {}
        if self.config.retry_after_header:
            headers["Retry-After"] = str(max(1, math.ceil(self.window.wait(now))))
        return rate_limited(strict=self.config.strict, headers=headers)

    def blocks(self, operation: Operation, now: float) -> Reply | None:
        """The 402 of a billing block for ``operation``, if it is one the block refuses."""
        reason = self.billing
        if reason is None or operation not in BILLED:
            return None
        body: JSON = {
            "error": reason,
            "message": BILLING_MESSAGES[reason],
            "upgrade_url": UPGRADE_URL,
        }
        if reason.startswith("trial_"):
            began = now - TRIAL_DAYS * 86400.0
            body["trial_period"] = {"started_at": iso(began), "ends_at": iso(now)}
        return Reply(402, body)

    def recipients(
        self, scope: KeyScope, channels: Sequence[str] | None, *, what: str
    ) -> Reply | tuple[list[str] | None, list[str]]:
        """The effective channels and the devices a request targeting ``channels`` reaches, or
        403 (outside the key's scope) or "no recipients" (422, strict 404)."""
        allowed = scope.channels
        if channels is None:
            effective = None if allowed is None else list(allowed)
        else:
            if not scope.covers(channels):
                return outside_scope()
            effective = list(channels)
        devices = [
            name
            for name, device_channels in self.config.devices.items()
            if effective is None or set(device_channels) & set(effective)
        ]
        if not devices:
            return Reply(
                404 if self.config.strict else 422,
                {
                    "error": "No recipients found",
                    "message": f"No {what} matched the effective channel target",
                    "effective_channel_slugs": effective,
                },
            )
        return effective, devices

    def new_id(self) -> str:
        """An id like the service's (32 URL-safe characters), deterministic per simulator."""
        self._next_id += 1
        digest = hashlib.sha256(f"livebar-simulator:{self._next_id}".encode()).digest()
        return base64.urlsafe_b64encode(digest[:24]).decode()

    def parse(self, cls: type[_P], data: object) -> _P:
        """A request body parsed as the account reads it (the newer surface unless strict)."""
        return cls.from_json(data, newer=not self.config.strict)

    def newer(self, body: JSON, **fields: Any) -> JSON:
        """``body`` with the newer fields added (those not None), unless strict."""
        if not self.config.strict:
            body.update((key, value) for key, value in fields.items() if value is not None)
        return body
