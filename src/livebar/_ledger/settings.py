"""Where an account's ledger lives (``LIVEBAR_LEDGER``), and opening it: never raises.

``off`` (or ``memory``): this process only; an absolute directory (the default:
``$XDG_RUNTIME_DIR/livebar``, else ``~/.cache/livebar``): a sqlite file per account, shared by
every process on this machine; a ``redis://`` URL: shared by every machine.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from livebar._defaults import ENV_HOST_ID, ENV_LEDGER
from livebar._ledger.backend import Backend, LedgerUnavailable
from livebar._ledger.ledger import AccountLedger
from livebar._ledger.memory import MemoryBackend
from livebar._ledger.owner import Owner
from livebar._log import log
from livebar._wire.account import Account
from livebar._wire.errors import ConfigurationError

__all__ = [
    "LedgerSetting",
    "default_directory",
    "open_ledger",
    "preload_ledger",
    "redact_url",
    "resolve_ledger",
]


@dataclass(frozen=True)
class LedgerSetting:
    """Resolved ``LIVEBAR_LEDGER``: ``kind`` is ``off``, ``sqlite`` (``location`` a
    directory) or ``redis`` (``location`` a URL)."""

    kind: str
    location: str = ""

    def __repr__(self) -> str:
        shown = redact_url(self.location) if self.kind == "redis" else self.location
        return f"LedgerSetting(kind={self.kind!r}, location={shown!r})"


def default_directory(environ: Mapping[str, str] | None = None) -> Path:
    """``$XDG_RUNTIME_DIR/livebar`` when that is set (per user, in memory, cleared at
    logout), else ``$XDG_CACHE_HOME/livebar`` or ``~/.cache/livebar``."""
    env = os.environ if environ is None else environ
    runtime = env.get("XDG_RUNTIME_DIR", "").strip()
    if runtime and os.path.isabs(runtime):
        return Path(runtime) / "livebar"
    cache = env.get("XDG_CACHE_HOME", "").strip()
    if cache and os.path.isabs(cache):
        return Path(cache) / "livebar"
    return Path.home() / ".cache" / "livebar"


def resolve_ledger(
    setting: str | None = None, *, environ: Mapping[str, str] | None = None
) -> LedgerSetting:
    """Resolve the ledger setting: explicit ``setting`` > ``LIVEBAR_LEDGER`` > the default
    directory. Accepts ``off`` (also ``0``, ``false``, ``no``, ``memory``), an absolute
    directory path, or a ``redis://``, ``rediss://`` or ``unix://`` URL. Raises
    ``ConfigurationError`` naming the setting."""
    env = os.environ if environ is None else environ
    option = "ledger"
    if setting is None:
        option = ENV_LEDGER
        setting = env.get(ENV_LEDGER, "")
    text = setting.strip()
    if not text or text.lower() in ("auto", "default", "on"):
        return LedgerSetting("sqlite", str(default_directory(env)))
    if text.lower() in ("off", "0", "false", "no", "memory", "none"):
        return LedgerSetting("off")
    if text.startswith(("redis://", "rediss://", "unix://")):
        return LedgerSetting("redis", text)
    if "://" in text:
        raise ConfigurationError(option, "must be off, a directory, or a redis:// URL")
    path = os.path.expanduser(text)
    if not os.path.isabs(path):
        raise ConfigurationError(option, "must be an absolute directory path")
    return LedgerSetting("sqlite", path)


_warned_open: set[str] = set()


def open_ledger(
    account: Account,
    *,
    window: float = 60.0,
    setting: LedgerSetting | None = None,
    host: str | None = None,
    environ: Mapping[str, str] | None = None,
    **options: Any,
) -> AccountLedger:
    """The ledger of ``account`` as configured (``setting`` or ``LIVEBAR_LEDGER``). Never
    raises: an unusable setting, directory, file or server logs once on the ``livebar``
    logger and gives the in-process ledger. ``options`` go to ``AccountLedger``.

    The engine should keep one per account per process (it is the process's pacing budget).
    """
    env = os.environ if environ is None else environ
    try:
        resolved = setting if setting is not None else resolve_ledger(environ=env)
    except ConfigurationError as exc:
        _warn_once(f"setting:{exc}", "livebar: %s; the ledger is off (this process only)", exc)
        resolved = LedgerSetting("off")
    owner = Owner.current(host=host or env.get(ENV_HOST_ID, "").strip() or None)
    # This process alone: it keeps no fleets (a fleet needs a ledger its members share).
    memory = AccountLedger(
        MemoryBackend(window=window, owner=owner), description="memory", fleets=False
    )
    if resolved.kind == "off":
        return memory
    try:
        backend: Backend
        if resolved.kind == "redis":
            from livebar._ledger.redis import RedisBackend

            backend = RedisBackend(resolved.location, account=account, window=window, owner=owner)
            description = f"redis {redact_url(resolved.location)}"
        else:
            from livebar._ledger.sqlite import SqliteBackend

            path = Path(resolved.location) / f"{account.id}.sqlite3"
            backend = SqliteBackend(path, window=window, owner=owner)
            description = str(path)
    except Exception as exc:
        _warn_once(
            f"{resolved.kind}:{resolved.location}",
            "livebar: cannot use the shared ledger (%s: %s); pacing this process alone",
            redact_url(resolved.location),
            exc,
        )
        if resolved.kind != "redis" or not _unreachable(exc):
            return memory
        return _redis_later(resolved.location, account, window, owner, options)
    return AccountLedger(backend, description=description, **options)


def _redis_later(
    location: str, account: Account, window: float, owner: Owner, options: dict[str, Any]
) -> AccountLedger:
    """A Redis that is not answering yet: pace alone, and join it once it answers."""
    from livebar._ledger.reconnecting import Reconnecting
    from livebar._ledger.redis import RedisBackend

    pending = Reconnecting(
        lambda: RedisBackend(location, account=account, window=window, owner=owner),
        name="redis",
        window=window,
        owner=owner,
    )
    description = f"redis {redact_url(location)}"
    return AccountLedger(pending, description=description, degraded=True, **options)


def _unreachable(exc: Exception) -> bool:
    """Whether opening failed because the server did not answer (rather than, say, a missing
    ``redis`` package or a bad URL, which no retry mends)."""
    if isinstance(exc, LedgerUnavailable):
        return True
    try:
        import redis
    except ImportError:
        return False
    return isinstance(exc, (redis.ConnectionError, redis.TimeoutError))


def preload_ledger(environ: Mapping[str, str] | None = None) -> None:
    """Import what opening the configured ledger needs (the Redis client), from the caller's
    thread. The engine's thread opens the ledger on its first turn, which may come while the
    interpreter shuts down (a job that ended at once): the Redis client then fails to import
    (it registers an exit hook of ``concurrent.futures``, refused after shutdown began), and the
    job's end would be paced alone, outside the shared ledger (a fleet member: never reported).
    """
    try:
        if resolve_ledger(environ=environ).kind == "redis":
            import livebar._ledger.redis  # noqa: F401
    except Exception:  # no redis package, a bad setting: open_ledger says so, once, later
        pass


def _warn_once(token: str, message: str, *args: object) -> None:
    if token in _warned_open:
        return
    _warned_open.add(token)
    log.warning(message, *args)


def redact_url(url: str) -> str:
    """``url`` without a password (``redis://:secret@host`` → ``redis://:***@host``)."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    credentials, _, host = rest.rpartition("@")
    user, has_password, _password = credentials.partition(":")
    return f"{scheme}://{user}{':***' if has_password else ''}@{host}"
