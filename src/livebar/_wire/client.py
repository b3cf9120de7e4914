"""The ActivitySmith HTTP client: one method per endpoint, sync and async.

``_ClientCore`` holds every decision and does no I/O: it builds requests from payloads and maps
responses to results or errors. ``Client`` and ``AsyncClient`` are thin shells with identical
method names that send, and retry according to a ``RetryPolicy`` with an injected sleep and
clock. No ``httpx`` exception escapes: connection failures become ``ConnectError``, timeouts
``RequestTimeout`` and anything else in transit ``TransportError`` (always chained).
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Awaitable, Generator, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Callable, TypeVar
from urllib.parse import urlsplit

import anyio
import httpx

from livebar._version import __version__
from livebar._wire.config import Config, is_loopback, resolve_config
from livebar._wire.errors import (
    ConfigurationError,
    ConnectError,
    LivebarError,
    RequestTimeout,
    ServerError,
    TransportError,
    UnsuccessfulError,
    ValidationError,
    detached,
    error_from_response,
    redact,
    scrub,
)
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
from livebar._wire.retry import NO_RETRY, RetryPolicy

logger = logging.getLogger("livebar")

USER_AGENT = f"livebar/{__version__}"

_R = TypeVar("_R")


# Results. Each keeps the whole answer in ``raw``; fields the server adds later are never an error.


@dataclass(frozen=True)
class PushResult:
    """Answer to ``push``. Newer servers send ``notification_id`` (for ``replace_push``) and
    echo ``tags``."""

    success: bool
    devices_notified: int | None = None
    users_notified: int | None = None
    effective_channel_slugs: tuple[str, ...] | None = None
    timestamp: str | None = None
    warning: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    notification_id: str | None = None
    tags: tuple[str, ...] | None = None


@dataclass(frozen=True)
class PushReplaceResult:
    """Answer to ``replace_push``: the replaced push keeps its ``notification_id``."""

    success: bool
    notification_id: str | None = None
    devices_notified: int | None = None
    users_notified: int | None = None
    effective_channel_slugs: tuple[str, ...] | None = None
    tags: tuple[str, ...] | None = None
    timestamp: str | None = None
    warning: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True)
class StartResult:
    """Answer to ``start``: keep ``activity_id`` for ``update`` and ``end``.

    ``ended_activity_id`` is set by servers that end the oldest activity to make room.
    """

    success: bool
    activity_id: str
    devices_notified: int | None = None
    users_notified: int | None = None
    effective_channel_slugs: tuple[str, ...] | None = None
    ended_activity_id: str | None = None
    timestamp: str | None = None
    warning: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    tags: tuple[str, ...] | None = None


@dataclass(frozen=True)
class UpdateResult:
    """Answer to ``update``. A ``warning`` here usually means iOS is about to throttle."""

    success: bool
    activity_id: str | None = None
    devices_notified: int | None = None
    devices_queued: int | None = None
    timestamp: str | None = None
    warning: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    tags: tuple[str, ...] | None = None


@dataclass(frozen=True)
class EndResult:
    """Answer to ``end``; newer servers say ``ignored=True`` when it had already ended."""

    success: bool
    activity_id: str | None = None
    devices_notified: int | None = None
    devices_queued: int | None = None
    timestamp: str | None = None
    warning: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    ignored: bool | None = None


@dataclass(frozen=True)
class StreamResult:
    """Answer to ``stream``: ``operation`` is ``started``, ``updated``, ``rotated``, ``noop`` or
    ``paused`` (``activity_id`` is ``None`` when paused); a value unknown today is kept as is."""

    success: bool
    operation: str | None = None
    stream_key: str | None = None
    activity_id: str | None = None
    previous_activity_id: str | None = None
    devices_notified: int | None = None
    devices_queued: int | None = None
    users_notified: int | None = None
    effective_channel_slugs: tuple[str, ...] | None = None
    timestamp: str | None = None
    warning: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    tags: tuple[str, ...] | None = None
    ignored: bool | None = None


@dataclass(frozen=True)
class StreamEndResult:
    """Answer to ``end_stream``; ``activity_id`` is ``None`` when the stream had already ended."""

    success: bool
    operation: str | None = None
    stream_key: str | None = None
    activity_id: str | None = None
    devices_notified: int | None = None
    devices_queued: int | None = None
    timestamp: str | None = None
    warning: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    ignored: bool | None = None


@dataclass(frozen=True)
class BadgeResult:
    """Answer to ``set_badge``: the count set and who was notified (newer servers also name
    them ``devices_updated`` / ``users_updated``)."""

    success: bool
    badge: int | None = None
    devices_notified: int | None = None
    users_notified: int | None = None
    effective_channel_slugs: tuple[str, ...] | None = None
    timestamp: str | None = None
    warning: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    devices_updated: int | None = None
    users_updated: int | None = None


@dataclass(frozen=True)
class MetricResult:
    """Answer to ``set_metric`` (today the server sends only ``success``)."""

    success: bool
    timestamp: str | None = None
    warning: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True)
class _Request:
    operation: str
    method: str
    path: str
    body: dict[str, Any] | None


def _text(raw: Mapping[str, Any], key: str) -> str | None:
    value = raw.get(key)
    return value if isinstance(value, str) else None


def _count(raw: Mapping[str, Any], key: str) -> int | None:
    value = raw.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _slugs(raw: Mapping[str, Any], key: str = "effective_channel_slugs") -> tuple[str, ...] | None:
    value = raw.get(key)
    if not isinstance(value, list):
        return None
    return tuple(slug for slug in value if isinstance(slug, str))


def _flag(raw: Mapping[str, Any], key: str) -> bool | None:
    value = raw.get(key)
    return value if isinstance(value, bool) else None


def _common(raw: Mapping[str, Any]) -> dict[str, Any]:
    success = raw.get("success")
    return {
        "success": success if isinstance(success, bool) else True,
        "timestamp": _text(raw, "timestamp"),
        "warning": _text(raw, "warning"),
        "raw": dict(raw),
    }


def _payload(value: object, cls: type[_R], operation: str) -> _R:
    if not isinstance(value, cls):
        raise ValidationError("", "type", f"{operation}() takes a {cls.__name__}")
    return value


class _ClientCore:
    """Request building and response mapping shared by ``Client`` and ``AsyncClient``; no I/O."""

    def __init__(self, config: Config, retry: RetryPolicy | bool) -> None:
        self.config = config
        self.retry = self._policy(retry, RetryPolicy())
        # What ``retry=True`` on one call means: the client's policy if it retries at all.
        self._retrying = self.retry if self.retry.max_attempts > 1 else RetryPolicy()
        self._warned: set[str] = set()
        """The operations a server ``warning`` was logged for (once each)."""

    @staticmethod
    def _policy(retry: RetryPolicy | bool, default: RetryPolicy) -> RetryPolicy:
        if isinstance(retry, RetryPolicy):
            return retry
        if isinstance(retry, bool):
            return default if retry else NO_RETRY
        raise ConfigurationError("retry", "must be a RetryPolicy, True or False")

    def policy(self, retry: RetryPolicy | bool | None) -> RetryPolicy:
        """The policy for one call: ``None`` means the client's own."""
        return self.retry if retry is None else self._policy(retry, self._retrying)

    def headers(self) -> dict[str, str]:
        """Request headers (the key is added by ``auth``, never held in a plain dict); raises
        ``ConfigurationError`` (before any I/O) without a key."""
        if self.config.api_key is None:
            raise ConfigurationError(
                "api_key", "no API key: pass api_key= or set ACTIVITYSMITH_API_KEY"
            )
        return {"User-Agent": USER_AGENT, "Accept": "application/json"}

    def http_options(self) -> dict[str, Any]:
        """How the shells build their ``httpx`` client.

        The key travels only through ``_BearerAuth`` (redacted in every ``repr``). Plain
        ``http://`` (allowed only for loopback) and any loopback server are reached directly:
        no proxy from the environment ever sees a request, so the key is never sent in clear
        to one. TLS verification is httpx's default, on.
        """
        return {
            "timeout": httpx.Timeout(self.config.timeout),
            "auth": _BearerAuth(self.config.api_key),
            "trust_env": not _direct(self.config.base_url),
        }

    def url(self, request: _Request) -> str:
        return self.config.base_url + request.path

    # Requests.

    def push(self, notification: PushNotification) -> _Request:
        body = _payload(notification, PushNotification, "push").to_json()
        return _Request("push", "POST", "/push-notification", body)

    def start(self, request: StartActivity) -> _Request:
        body = _payload(request, StartActivity, "start").to_json()
        return _Request("start", "POST", "/live-activity/start", body)

    def update(self, request: UpdateActivity) -> _Request:
        body = _payload(request, UpdateActivity, "update").to_json()
        return _Request("update", "POST", "/live-activity/update", body)

    def end(self, request: EndActivity) -> _Request:
        body = _payload(request, EndActivity, "end").to_json()
        return _Request("end", "POST", "/live-activity/end", body)

    def stream(self, key: str, request: StreamUpdate) -> _Request:
        path = f"/live-activity/stream/{validate_stream_key(key)}"
        body = _payload(request, StreamUpdate, "stream").to_json()
        return _Request("stream", "PUT", path, body)

    def end_stream(self, key: str, request: StreamEnd | None) -> _Request:
        path = f"/live-activity/stream/{validate_stream_key(key)}"
        body = None if request is None else _payload(request, StreamEnd, "end_stream").to_json()
        return _Request("end_stream", "DELETE", path, body)

    def replace_push(self, notification_id: str, replacement: PushReplace) -> _Request:
        path = f"/push-notification/{validate_notification_id(notification_id)}"
        body = _payload(replacement, PushReplace, "replace_push").to_json()
        return _Request("replace_push", "PUT", path, body)

    def set_badge(self, request: BadgeCount) -> _Request:
        body = _payload(request, BadgeCount, "set_badge").to_json()
        return _Request("set_badge", "POST", "/badge", body)

    def set_metric(self, key: str, request: MetricValue) -> _Request:
        path = f"/metrics/{validate_metric_key(key)}/value"
        body = _payload(request, MetricValue, "set_metric").to_json()
        return _Request("set_metric", "POST", path, body)

    # Responses.

    def result(self, request: _Request, status: int, headers: httpx.Headers, content: bytes) -> Any:
        """The result of a response, or raise the ``APIError`` it stands for.

        Only the parsed body, with the key cut out of it, stays in this frame: a server that
        echoes the key must not put it in an error's text or in a traceback's locals.
        """
        try:
            body: object = json.loads(content)
        except (ValueError, RecursionError):  # includes UnicodeDecodeError
            body = None
        del content
        retry_after = {"Retry-After": headers.get("retry-after") or ""}
        del headers
        if self.config.api_key and isinstance(body, (dict, list)):
            body = scrub(body, self.config.api_key)
        if not 200 <= status < 300:
            raise error_from_response(status, body, retry_after, operation=request.operation)
        if not isinstance(body, dict):
            raise ServerError(
                status=status,
                message="the response body is not a JSON object",
                operation=request.operation,
            )
        result = self._build(request.operation, body, status)
        warning: str | None = result.warning
        if warning is not None and request.operation not in self._warned:
            self._warned.add(request.operation)  # once per kind of request: never a flood
            logger.warning("ActivitySmith warning on %s: %s", request.operation, warning)
        return result

    def _build(self, operation: str, raw: dict[str, Any], status: int) -> Any:
        common = _common(raw)
        if operation == "push":
            return PushResult(
                devices_notified=_count(raw, "devices_notified"),
                users_notified=_count(raw, "users_notified"),
                effective_channel_slugs=_slugs(raw),
                notification_id=_text(raw, "notification_id"),
                tags=_slugs(raw, "tags"),
                **common,
            )
        if operation == "replace_push":
            return PushReplaceResult(
                notification_id=_text(raw, "notification_id"),
                devices_notified=_count(raw, "devices_notified"),
                users_notified=_count(raw, "users_notified"),
                effective_channel_slugs=_slugs(raw),
                tags=_slugs(raw, "tags"),
                **common,
            )
        if operation == "start":
            activity_id = _text(raw, "activity_id")
            if activity_id is None and raw.get("success") is False:
                raise UnsuccessfulError(status=status, body=raw, operation=operation)
            if activity_id is None:
                raise ServerError(
                    status=status,
                    message="the response has no activity_id",
                    body=raw,
                    operation=operation,
                )
            return StartResult(
                activity_id=activity_id,
                devices_notified=_count(raw, "devices_notified"),
                users_notified=_count(raw, "users_notified"),
                effective_channel_slugs=_slugs(raw),
                ended_activity_id=_text(raw, "ended_activity_id"),
                tags=_slugs(raw, "tags"),
                **common,
            )
        if operation in ("update", "end"):
            result_class = UpdateResult if operation == "update" else EndResult
            newer = (
                {"tags": _slugs(raw, "tags")}
                if operation == "update"
                else {"ignored": _flag(raw, "ignored")}
            )
            return result_class(
                activity_id=_text(raw, "activity_id"),
                devices_notified=_count(raw, "devices_notified"),
                devices_queued=_count(raw, "devices_queued"),
                **newer,
                **common,
            )
        if operation == "stream":
            return StreamResult(
                operation=_text(raw, "operation"),
                stream_key=_text(raw, "stream_key"),
                activity_id=_text(raw, "activity_id"),
                previous_activity_id=_text(raw, "previous_activity_id"),
                devices_notified=_count(raw, "devices_notified"),
                devices_queued=_count(raw, "devices_queued"),
                users_notified=_count(raw, "users_notified"),
                effective_channel_slugs=_slugs(raw),
                tags=_slugs(raw, "tags"),
                ignored=_flag(raw, "ignored"),
                **common,
            )
        if operation == "set_badge":
            return BadgeResult(
                badge=_count(raw, "badge"),
                devices_notified=_count(raw, "devices_notified"),
                users_notified=_count(raw, "users_notified"),
                effective_channel_slugs=_slugs(raw),
                devices_updated=_count(raw, "devices_updated"),
                users_updated=_count(raw, "users_updated"),
                **common,
            )
        if operation == "set_metric":
            return MetricResult(**common)
        return StreamEndResult(
            operation=_text(raw, "operation"),
            stream_key=_text(raw, "stream_key"),
            activity_id=_text(raw, "activity_id"),
            devices_notified=_count(raw, "devices_notified"),
            devices_queued=_count(raw, "devices_queued"),
            ignored=_flag(raw, "ignored"),
            **common,
        )

    def too_slow(self, request: _Request) -> RequestTimeout:
        """A response still arriving when the request's whole time is up (a slow drip)."""
        return RequestTimeout(
            f"{request.operation}: the answer took longer than {self.config.timeout:g}s",
            operation=request.operation,
        )

    def transport_error(self, exc: Exception, request: _Request) -> TransportError:
        """The livebar error for an ``httpx`` failure in transit (the caller chains it)."""
        operation = request.operation
        # Timed out before a connection existed, so the request certainly never left.
        if isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)):
            return ConnectError(f"{operation}: could not connect: {exc}", operation=operation)
        if isinstance(exc, httpx.TimeoutException):
            return RequestTimeout(
                f"{operation}: no answer within {self.config.timeout:g}s", operation=operation
            )
        return TransportError(f"{operation}: {type(exc).__name__}: {exc}", operation=operation)

    def next_delay(
        self,
        policy: RetryPolicy,
        request: _Request,
        error: LivebarError,
        *,
        attempt: int,
        elapsed: float,
        rng: random.Random | None,
    ) -> float | None:
        delay = policy.next_delay(
            attempt=attempt, error=error, elapsed=elapsed, operation=request.operation, rng=rng
        )
        if delay is not None:
            logger.info("retrying %s in %.2fs after: %s", request.operation, delay, error)
        return delay


class _BearerAuth(httpx.Auth):
    """Adds ``Authorization: Bearer <key>``; the key never shows in a ``repr`` or a local."""

    def __init__(self, key: str | None) -> None:
        self._key = key

    def __repr__(self) -> str:
        return "<BearerAuth ***>"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if self._key is not None:
            request.headers["Authorization"] = "Bearer " + self._key
        yield request


def _direct(base_url: str) -> bool:
    """Whether requests to ``base_url`` must bypass any proxy (plain HTTP, or loopback)."""
    parts = urlsplit(base_url)
    return parts.scheme == "http" or is_loopback(parts.hostname or "")


class _HideKeys(logging.Filter):
    """Cuts the keys of livebar's clients out of httpx's and httpcore's log records (their
    DEBUG lines show an answer's headers, and a server may echo a key in them)."""

    def __init__(self) -> None:
        super().__init__("livebar")
        self.keys: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        hidden = message
        for key in self.keys:
            hidden = redact(hidden, key)
        if hidden != message:
            record.msg, record.args = hidden, None
        return True


_hide_keys = _HideKeys()
_LIBRARY_LOGGERS = (
    "httpx",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
    "httpcore.socks",
)
"""Where httpx and httpcore log (a filter applies only to the logger a record is made on)."""


def _hide_in_library_logs(key: str | None) -> None:
    """Keep ``key`` out of what httpx and httpcore log (installed with the first client)."""
    if not key or key in _hide_keys.keys:
        return
    _hide_keys.keys.add(key)
    for name in _LIBRARY_LOGGERS:
        library = logging.getLogger(name)
        if _hide_keys not in library.filters:
            library.addFilter(_hide_keys)


# httpx raises these for trouble in transit; InvalidURL and StreamError sit outside HTTPError.
_HTTPX_ERRORS = (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError)


class Client:
    """Synchronous ActivitySmith client; one reused connection pool. Use as a context manager.

    ``api_key``, ``base_url`` and ``timeout`` resolve as argument > environment > default (see
    ``resolve_config``). ``retry`` is a ``RetryPolicy``, ``True`` (the default policy) or
    ``False`` (one attempt); every method also takes ``retry=`` for that call. ``transport``,
    ``sleep``, ``clock`` and ``rng`` are for tests.
    """

    def __init__(
        self,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float | None = None,
        retry: RetryPolicy | bool = True,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        try:
            config = resolve_config(api_key=api_key, base_url=base_url, timeout=timeout)
        except LivebarError as exc:
            api_key = None  # the key given must not stay in this frame's locals
            raise detached(exc) from None
        _hide_in_library_logs(config.api_key)
        self._core = _ClientCore(config, retry)
        self._http = httpx.Client(transport=transport, **self._core.http_options())
        self._sleep = sleep
        self._clock = clock
        self._rng = rng

    def __repr__(self) -> str:
        core = getattr(self, "_core", None)  # half-made while __init__ raises: still a repr
        return f"Client(config={core.config if core is not None else None!r})"

    @property
    def config(self) -> Config:
        return self._core.config

    def push(
        self, notification: PushNotification, *, retry: RetryPolicy | bool | None = None
    ) -> PushResult:
        """Send a push notification."""
        result: PushResult = self._send(self._core.push(notification), retry)
        return result

    def start(
        self, request: StartActivity, *, retry: RetryPolicy | bool | None = None
    ) -> StartResult:
        """Start a Live Activity (manual lifecycle).

        Not idempotent: it is retried only after a ``ConnectError``, when the request certainly
        never reached the server; a start whose answer was lost is not repeated.
        """
        result: StartResult = self._send(self._core.start(request), retry)
        return result

    def update(
        self, request: UpdateActivity, *, retry: RetryPolicy | bool | None = None
    ) -> UpdateResult:
        """Update a Live Activity started with ``start``."""
        result: UpdateResult = self._send(self._core.update(request), retry)
        return result

    def end(self, request: EndActivity, *, retry: RetryPolicy | bool | None = None) -> EndResult:
        """End a Live Activity started with ``start``."""
        result: EndResult = self._send(self._core.end(request), retry)
        return result

    def stream(
        self, key: str, request: StreamUpdate, *, retry: RetryPolicy | bool | None = None
    ) -> StreamResult:
        """Start or update the Live Activity of stream ``key`` (idempotent)."""
        result: StreamResult = self._send(self._core.stream(key, request), retry)
        return result

    def end_stream(
        self,
        key: str,
        request: StreamEnd | None = None,
        *,
        retry: RetryPolicy | bool | None = None,
    ) -> StreamEndResult:
        """End the Live Activity of stream ``key``; ``StreamNotFoundError`` if already gone."""
        result: StreamEndResult = self._send(self._core.end_stream(key, request), retry)
        return result

    def replace_push(
        self,
        notification_id: str,
        replacement: PushReplace,
        *,
        retry: RetryPolicy | bool | None = None,
    ) -> PushReplaceResult:
        """Silently replace a sent push (its ``PushResult.notification_id``); newer servers only.

        ``NotFoundError`` if the server knows no such push.
        """
        request = self._core.replace_push(notification_id, replacement)
        result: PushReplaceResult = self._send(request, retry)
        return result

    def set_badge(
        self, request: BadgeCount, *, retry: RetryPolicy | bool | None = None
    ) -> BadgeResult:
        """Set the number on the ActivitySmith app icon (0 clears it)."""
        result: BadgeResult = self._send(self._core.set_badge(request), retry)
        return result

    def set_metric(
        self, key: str, request: MetricValue, *, retry: RetryPolicy | bool | None = None
    ) -> MetricResult:
        """Set the latest value of widget metric ``key``; ``NotFoundError`` if no such metric."""
        result: MetricResult = self._send(self._core.set_metric(key, request), retry)
        return result

    def _send(self, request: _Request, retry: RetryPolicy | bool | None) -> Any:
        core = self._core
        policy = core.policy(retry)
        headers = core.headers()
        started = self._clock()
        attempt = 0
        while True:
            attempt += 1
            try:
                return core.result(request, *self._exchange(request, headers))
            except LivebarError as error:
                elapsed = self._clock() - started
                delay = core.next_delay(
                    policy, request, error, attempt=attempt, elapsed=elapsed, rng=self._rng
                )
                if delay is None:
                    raise
            self._sleep(delay)

    def _exchange(
        self, request: _Request, headers: dict[str, str]
    ) -> tuple[int, httpx.Headers, bytes]:
        """Send ``request``; its status, headers and whole body, within the timeout in total.

        The answer's bytes live only in this frame, and are gone from it before it raises.
        """
        core = self._core
        deadline = self._clock() + core.config.timeout
        content = bytearray()
        try:
            with self._http.stream(
                request.method, core.url(request), json=request.body, headers=headers
            ) as response:
                for chunk in response.iter_bytes():
                    content += chunk
                    if self._clock() > deadline:
                        content.clear()
                        chunk = b""
                        raise core.too_slow(request)
        except _HTTPX_ERRORS as exc:
            content.clear()
            raise core.transport_error(exc, request) from detached(exc)
        return response.status_code, response.headers, bytes(content)

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class AsyncClient:
    """Asynchronous twin of ``Client`` (same methods, awaited); sleeps with ``anyio.sleep``.

    Works on asyncio and trio. Use ``async with`` or call ``aclose()``.
    """

    def __init__(
        self,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float | None = None,
        retry: RetryPolicy | bool = True,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        try:
            config = resolve_config(api_key=api_key, base_url=base_url, timeout=timeout)
        except LivebarError as exc:
            api_key = None  # the key given must not stay in this frame's locals
            raise detached(exc) from None
        _hide_in_library_logs(config.api_key)
        self._core = _ClientCore(config, retry)
        self._http = httpx.AsyncClient(transport=transport, **self._core.http_options())
        self._sleep = sleep
        self._clock = clock
        self._rng = rng

    def __repr__(self) -> str:
        core = getattr(self, "_core", None)  # half-made while __init__ raises: still a repr
        return f"AsyncClient(config={core.config if core is not None else None!r})"

    @property
    def config(self) -> Config:
        return self._core.config

    async def push(
        self, notification: PushNotification, *, retry: RetryPolicy | bool | None = None
    ) -> PushResult:
        """Send a push notification."""
        result: PushResult = await self._send(self._core.push(notification), retry)
        return result

    async def start(
        self, request: StartActivity, *, retry: RetryPolicy | bool | None = None
    ) -> StartResult:
        """Start a Live Activity (manual lifecycle); retried only after a ``ConnectError``."""
        result: StartResult = await self._send(self._core.start(request), retry)
        return result

    async def update(
        self, request: UpdateActivity, *, retry: RetryPolicy | bool | None = None
    ) -> UpdateResult:
        """Update a Live Activity started with ``start``."""
        result: UpdateResult = await self._send(self._core.update(request), retry)
        return result

    async def end(
        self, request: EndActivity, *, retry: RetryPolicy | bool | None = None
    ) -> EndResult:
        """End a Live Activity started with ``start``."""
        result: EndResult = await self._send(self._core.end(request), retry)
        return result

    async def stream(
        self, key: str, request: StreamUpdate, *, retry: RetryPolicy | bool | None = None
    ) -> StreamResult:
        """Start or update the Live Activity of stream ``key`` (idempotent)."""
        result: StreamResult = await self._send(self._core.stream(key, request), retry)
        return result

    async def end_stream(
        self,
        key: str,
        request: StreamEnd | None = None,
        *,
        retry: RetryPolicy | bool | None = None,
    ) -> StreamEndResult:
        """End the Live Activity of stream ``key``; ``StreamNotFoundError`` if already gone."""
        result: StreamEndResult = await self._send(self._core.end_stream(key, request), retry)
        return result

    async def replace_push(
        self,
        notification_id: str,
        replacement: PushReplace,
        *,
        retry: RetryPolicy | bool | None = None,
    ) -> PushReplaceResult:
        """Silently replace a sent push (its ``PushResult.notification_id``); newer servers only."""
        request = self._core.replace_push(notification_id, replacement)
        result: PushReplaceResult = await self._send(request, retry)
        return result

    async def set_badge(
        self, request: BadgeCount, *, retry: RetryPolicy | bool | None = None
    ) -> BadgeResult:
        """Set the number on the ActivitySmith app icon (0 clears it)."""
        result: BadgeResult = await self._send(self._core.set_badge(request), retry)
        return result

    async def set_metric(
        self, key: str, request: MetricValue, *, retry: RetryPolicy | bool | None = None
    ) -> MetricResult:
        """Set the latest value of widget metric ``key``; ``NotFoundError`` if no such metric."""
        result: MetricResult = await self._send(self._core.set_metric(key, request), retry)
        return result

    async def _send(self, request: _Request, retry: RetryPolicy | bool | None) -> Any:
        core = self._core
        policy = core.policy(retry)
        headers = core.headers()
        started = self._clock()
        attempt = 0
        while True:
            attempt += 1
            try:
                return core.result(request, *await self._exchange(request, headers))
            except LivebarError as error:
                elapsed = self._clock() - started
                delay = core.next_delay(
                    policy, request, error, attempt=attempt, elapsed=elapsed, rng=self._rng
                )
                if delay is None:
                    raise
            await self._sleep(delay)

    async def _exchange(
        self, request: _Request, headers: dict[str, str]
    ) -> tuple[int, httpx.Headers, bytes]:
        """``Client._exchange``, awaited."""
        core = self._core
        deadline = self._clock() + core.config.timeout
        content = bytearray()
        try:
            async with self._http.stream(
                request.method, core.url(request), json=request.body, headers=headers
            ) as response:
                async for chunk in response.aiter_bytes():
                    content += chunk
                    if self._clock() > deadline:
                        content.clear()
                        chunk = b""
                        raise core.too_slow(request)
        except _HTTPX_ERRORS as exc:
            content.clear()
            raise core.transport_error(exc, request) from detached(exc)
        return response.status_code, response.headers, bytes(content)

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
