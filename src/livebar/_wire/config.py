"""Configuration: explicit argument > environment variable > default, resolved in one function.

The API key never appears in a ``repr``, a log line or an exception message.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from livebar import _defaults
from livebar._defaults import (
    ACCOUNT_REQUESTS_PER_MINUTE,
    DEFAULT_BASE_URL,
    DEFAULT_FLUSH_TIMEOUT,
    DEFAULT_REQUESTS_PER_MINUTE,
    DEFAULT_TIMEOUT,
    ENV_API_KEY,
    ENV_BASE_URL,
    ENV_DISABLE,
    ENV_FLUSH_TIMEOUT,
    ENV_REQUESTS_PER_MINUTE,
    ENV_TIMEOUT,
)
from livebar._wire import checks as checks
from livebar._wire.errors import REDACTED, ConfigurationError, redact

__all__ = [
    "REDACTED",
    "Config",
    "disabled_setting",
    "flush_timeout_setting",
    "redact",
    "requests_per_minute_setting",
    "resolve_config",
]

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"", "0", "false", "no", "off"})


@dataclass(frozen=True, repr=False)
class Config:
    """Resolved settings of a client. Build it with ``resolve_config``."""

    api_key: str | None
    base_url: str
    timeout: float
    disabled: bool = False

    def __repr__(self) -> str:
        key = None if self.api_key is None else REDACTED
        return (
            f"Config(api_key={key!r}, base_url={self.base_url!r}, timeout={self.timeout!r}, "
            f"disabled={self.disabled!r})"
        )


def resolve_config(
    *,
    api_key: str | None = None,
    base_url: str | None = None,
    timeout: float | None = None,
    disable: bool | None = None,
    environ: Mapping[str, str] | None = None,
) -> Config:
    """Resolve each setting as explicit argument > environment variable > default.

    Environment: ``ACTIVITYSMITH_API_KEY``, ``ACTIVITYSMITH_BASE_URL``, ``LIVEBAR_TIMEOUT``
    (seconds), ``LIVEBAR_DISABLE`` (1/true/yes/on). A missing key is allowed here (it is an error
    only when a request is made); a base URL that is not HTTPS is refused unless its host is
    loopback (127.0.0.0/8, ::1, localhost). Raises ``ConfigurationError`` naming the setting.
    """
    env = os.environ if environ is None else environ
    key = _api_key(api_key if api_key is not None else env.get(ENV_API_KEY))
    url = _base_url(base_url if base_url is not None else env.get(ENV_BASE_URL) or DEFAULT_BASE_URL)
    if timeout is not None:
        seconds = _timeout(timeout, "timeout")
    elif env.get(ENV_TIMEOUT, "").strip():
        seconds = _timeout(_float(env[ENV_TIMEOUT], ENV_TIMEOUT), ENV_TIMEOUT)
    else:
        seconds = DEFAULT_TIMEOUT
    disabled = disabled_setting(disable, environ=env)
    return Config(api_key=key, base_url=url, timeout=seconds, disabled=disabled)


def disabled_setting(
    value: bool | None = None, *, environ: Mapping[str, str] | None = None
) -> bool:
    """Whether mirroring is off: ``value`` > ``LIVEBAR_DISABLE`` > False (only that variable)."""
    if value is not None:
        return bool(value)
    env = os.environ if environ is None else environ
    return _flag(env.get(ENV_DISABLE, ""), ENV_DISABLE)


def flush_timeout_setting(
    value: float | None = None, *, environ: Mapping[str, str] | None = None
) -> float:
    """The flush deadline: ``value`` > ``LIVEBAR_FLUSH_TIMEOUT`` > 5 s (only that variable read)."""
    option = "flush_timeout"
    if value is None:
        env = os.environ if environ is None else environ
        text = env.get(ENV_FLUSH_TIMEOUT, "").strip()
        if not text:
            return DEFAULT_FLUSH_TIMEOUT
        option = ENV_FLUSH_TIMEOUT
        value = _float(text, option)
    return float(checks.setting(checks.number, value, option, minimum=0))


def hang_after_setting(*, environ: Mapping[str, str] | None = None) -> float:
    """How long a live process may be silent before its card shows "Not responding":
    ``LIVEBAR_HANG_AFTER`` (seconds, above 0) > 300 s (only that variable read)."""
    env = os.environ if environ is None else environ
    text = env.get(_defaults.ENV_HANG_AFTER, "").strip()
    if not text:
        return _defaults.DEFAULT_HANG_AFTER
    value = _float(text, _defaults.ENV_HANG_AFTER)
    if not value > 0:
        raise ConfigurationError(_defaults.ENV_HANG_AFTER, "must be above 0")
    return value


def requests_per_minute_setting(
    value: int | None = None, *, environ: Mapping[str, str] | None = None
) -> int:
    """livebar's share of the account's requests per minute: ``value`` >
    ``LIVEBAR_REQUESTS_PER_MINUTE`` > 40 (only that variable read)."""
    option = "requests_per_minute"
    if value is None:
        env = os.environ if environ is None else environ
        text = env.get(ENV_REQUESTS_PER_MINUTE, "").strip()
        if not text:
            return DEFAULT_REQUESTS_PER_MINUTE
        option = ENV_REQUESTS_PER_MINUTE
        try:
            value = int(text)
        except ValueError as exc:
            raise ConfigurationError(option, "must be a whole number") from exc
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigurationError(option, "must be a whole number")
    if not 1 <= value <= ACCOUNT_REQUESTS_PER_MINUTE:
        raise ConfigurationError(option, f"must be between 1 and {ACCOUNT_REQUESTS_PER_MINUTE}")
    return value


def _api_key(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ConfigurationError("api_key", "must be a string")
    key = value.strip()
    if not key:
        return None
    if not key.isascii() or not key.isprintable() or any(c.isspace() for c in key):
        # Said without echoing the key: it would end up in tracebacks and logs.
        raise ConfigurationError("api_key", "must be printable ASCII without spaces")
    return key


def _base_url(value: object) -> str:
    if not isinstance(value, str):
        raise ConfigurationError("base_url", "must be a string")
    url = value.strip().rstrip("/")
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError as exc:
        raise ConfigurationError("base_url", "is not a valid URL") from exc
    if parts.scheme not in ("https", "http") or not host:
        raise ConfigurationError("base_url", "must be an absolute https:// URL")
    if parts.query or parts.fragment:
        raise ConfigurationError("base_url", "must not have a query or fragment")
    if parts.username is not None or parts.password is not None:
        # Refused rather than redacted and used: the key is the only credential the API takes,
        # and a password in a URL ends up in reprs, logs and proxies' access lines.
        raise ConfigurationError(
            "base_url", "must not carry credentials (user:password@); the API key is the only one"
        )
    if parts.scheme == "http" and not is_loopback(host):
        raise ConfigurationError(
            "base_url", "must use https:// (plain http:// is allowed only for loopback hosts)"
        )
    return url


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine (127.0.0.0/8, ::1, localhost)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _float(text: str, option: str) -> float:
    try:
        return float(text)
    except ValueError as exc:
        raise ConfigurationError(option, "must be a number of seconds") from exc


def _timeout(value: object, option: str) -> float:
    return float(checks.setting(checks.number, value, option, exclusive_minimum=0))


def _flag(text: str, option: str) -> bool:
    word = text.strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise ConfigurationError(option, "must be one of 1/0, true/false, yes/no, on/off")
