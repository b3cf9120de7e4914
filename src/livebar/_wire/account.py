"""The account: an API key plus the server it is used on, whichever way they were supplied.

ActivitySmith's budgets (60 requests a minute, 4 concurrent Live Activities) belong to the
account, not to a ``Client`` object, a process or a machine. Two clients built from the same key
and ``https://ActivitySmith.com:443/api/`` and ``https://activitysmith.com/api`` are one account,
so they must share one pacing budget in a process and one ledger between processes.

``Account.id`` is what the ledger is keyed by: a hash of the canonical server and the key. The
key itself is never stored, logged or shown; ``repr`` shows only the server and the id.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from livebar._wire.config import is_loopback
from livebar._wire.errors import ConfigurationError

__all__ = ["Account", "account_for", "account_of", "canonical_server"]

_DEFAULT_PORTS = {"https": 443, "http": 80}
_DOMAIN = b"livebar account v1"
"""Mixed into the hash, so an account id never equals a plain hash of the key."""


@dataclass(frozen=True)
class Account:
    """One ActivitySmith account as livebar sees it; equal accounts share every budget."""

    server: str
    id: str

    def __str__(self) -> str:
        return f"{self.server} (account {self.id[:8]})"


def canonical_server(base_url: str) -> str:
    """``base_url`` in one spelling per server: lower-case scheme and host, every loopback
    address as ``localhost``, no default port, no user info, no trailing slash. Raises
    ``ConfigurationError`` naming ``base_url``."""
    if not isinstance(base_url, str):
        raise ConfigurationError("base_url", "must be a string")
    try:
        parts = urlsplit(base_url.strip())
        host = parts.hostname
        port = parts.port
    except ValueError as exc:
        raise ConfigurationError("base_url", "is not a valid URL") from exc
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not host:
        raise ConfigurationError("base_url", "must be an absolute http(s):// URL")
    if is_loopback(host):
        host = "localhost"  # 127.0.0.1, ::1 and localhost are one server (at one port)
    elif ":" in host:
        host = f"[{host}]"  # an IPv6 literal keeps its brackets
    netloc = host if port is None or port == _DEFAULT_PORTS[scheme] else f"{host}:{port}"
    path = parts.path.rstrip("/")
    while "//" in path:
        path = path.replace("//", "/")
    return f"{scheme}://{netloc}{path}"


def account_for(*, api_key: str, base_url: str) -> Account:
    """The account of ``api_key`` on ``base_url``."""
    if not isinstance(api_key, str) or not api_key.strip():
        raise ConfigurationError("api_key", "is required to name an account")
    server = canonical_server(base_url)
    digest = hashlib.sha256(
        b"\0".join((_DOMAIN, server.encode(), api_key.strip().encode()))
    ).hexdigest()
    return Account(server=server, id=digest[:32])


def account_of(client: Any) -> Account:
    """The account a ``Client`` or ``AsyncClient`` sends to (from its resolved ``config``)."""
    config = getattr(client, "config", None)
    api_key = getattr(config, "api_key", None)
    base_url = getattr(config, "base_url", None)
    if not isinstance(api_key, str) or not isinstance(base_url, str):
        raise ConfigurationError("client", "has no resolved api_key and base_url")
    return account_for(api_key=api_key, base_url=base_url)
