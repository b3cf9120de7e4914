"""The ActivitySmith HTTP client: one method per operation, sync and async.

``_ClientCore`` holds every decision and does no I/O: it builds the request of any operation
from the one table of ``operations`` (method, path, body class) and maps the answer to the
operation's result (``Result.from_raw``) or to an error. ``Client`` and ``AsyncClient`` are thin
shells with identical method names that send, and retry according to a ``RetryPolicy`` with an
injected sleep and clock; ``call(operation, body, **path)`` sends any operation by name. No
``httpx`` exception escapes: connection failures become ``ConnectError``, timeouts
``RequestTimeout`` and anything else in transit ``TransportError`` (always chained).

The key never shows: it travels only in ``auth.BearerAuth``; an answer's bytes and headers live
only in the shells' ``_exchange`` frame, gone before an error is raised; ``result`` keeps only
the parsed body with the key cut out; and ``auth`` cuts it out of httpx's log records.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Callable, Generic, TypeVar

import anyio
import httpx

from livebar._log import log
from livebar._version import __version__
from livebar._wire.auth import (
    MAX_REDIRECTS,
    BearerAuth,
    direct,
    hide_in_library_logs,
    same_origin_redirects,
    same_origin_redirects_async,
)
from livebar._wire.config import Config, resolve_config
from livebar._wire.errors import (
    ConfigurationError,
    ConnectError,
    LivebarError,
    Operation,
    RequestTimeout,
    ServerError,
    TransportError,
    UnsuccessfulError,
    ValidationError,
    detached,
    error_from_response,
    scrub,
)
from livebar._wire.model import Model
from livebar._wire.operations import (
    END,
    END_STREAM,
    OPERATIONS,
    PUSH,
    REPLACE_PUSH,
    SET_BADGE,
    SET_METRIC,
    START,
    STREAM,
    UPDATE,
    Endpoint,
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
)
from livebar._wire.results import (
    BadgeResult,
    EndResult,
    MetricResult,
    MissingField,
    PushReplaceResult,
    PushResult,
    Result,
    StartResult,
    StreamEndResult,
    StreamResult,
    UpdateResult,
)
from livebar._wire.retry import NO_RETRY, RetryPolicy

__all__ = ["USER_AGENT", "AsyncClient", "Client"]


USER_AGENT = f"livebar/{__version__}"

_B = TypeVar("_B", bound=Model)
_R = TypeVar("_R", bound=Result)


@dataclass(frozen=True)
class _Request(Generic[_R]):
    """One request, ready to send: its operation's endpoint, path and JSON body."""

    endpoint: Endpoint[Any, _R]
    path: str
    body: dict[str, Any] | None

    @property
    def operation(self) -> Operation:
        return self.endpoint.name

    @property
    def method(self) -> str:
        return self.endpoint.method


def _payload(value: object, cls: type[_B], operation: Operation) -> _B:
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
        self._warned: set[Operation] = set()
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

        The key travels only through ``BearerAuth`` (redacted in every ``repr``). Plain
        ``http://`` (allowed only for loopback) and any loopback server are reached directly:
        no proxy from the environment ever sees a request, so the key is never sent in clear
        to one. TLS verification is httpx's default, on.
        """
        return {
            "timeout": httpx.Timeout(self.config.timeout),
            "auth": BearerAuth(self.config.api_key),
            "trust_env": not direct(self.config.base_url),
            "follow_redirects": True,  # within the base URL's origin only (the response hook)
            "max_redirects": MAX_REDIRECTS,
        }

    def url(self, request: _Request[Any]) -> str:
        return self.config.base_url + request.path

    # Requests.

    def request(self, endpoint: Endpoint[_B, _R], body: _B | None, **path: object) -> _Request[_R]:
        """The request of ``endpoint`` for ``body`` (``None``: none, where the operation allows
        it); the path parameters are checked first, then the body's class."""
        where = endpoint.path_for(path)
        if body is None and not endpoint.body_required:
            return _Request(endpoint, where, None)
        return _Request(endpoint, where, _payload(body, endpoint.body, endpoint.name).to_json())

    # Responses.

    def result(
        self, request: _Request[_R], status: int, headers: httpx.Headers, content: bytes
    ) -> _R:
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
        result = self._read(request, body, status)
        warning = result.warning
        if warning is not None and request.operation not in self._warned:
            self._warned.add(request.operation)  # once per kind of request: never a flood
            log.warning("ActivitySmith warning on %s: %s", request.operation, warning)
        return result

    @staticmethod
    def _read(request: _Request[_R], raw: dict[str, Any], status: int) -> _R:
        """``raw`` read as the operation's result, or the error an answer without a field the
        result needs stands for (``success: false`` said why; else it is garbled)."""
        try:
            return request.endpoint.result.from_raw(raw)
        except MissingField as exc:
            missing = exc.name  # raised below, outside the handler: nothing chained
        if raw.get("success") is False:
            raise UnsuccessfulError(status=status, body=raw, operation=request.operation)
        raise ServerError(
            status=status,
            message=f"the response has no {missing}",
            body=raw,
            operation=request.operation,
        )

    def too_slow(self, request: _Request[Any]) -> RequestTimeout:
        """A response still arriving when the request's whole time is up (a slow drip)."""
        return RequestTimeout(
            f"{request.operation}: the answer took longer than {self.config.timeout:g}s",
            operation=request.operation,
        )

    def transport_error(self, exc: Exception, request: _Request[Any]) -> TransportError:
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
        request: _Request[Any],
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
            log.info("retrying %s in %.2fs after: %s", request.operation, delay, error)
        return delay


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
        hide_in_library_logs(config.api_key)
        self._core = _ClientCore(config, retry)
        self._http = httpx.Client(
            transport=transport,
            event_hooks={"response": [same_origin_redirects]},
            **self._core.http_options(),
        )
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
        return self._send(self._core.request(PUSH, notification), retry)

    def start(
        self, request: StartActivity, *, retry: RetryPolicy | bool | None = None
    ) -> StartResult:
        """Start a Live Activity (manual lifecycle).

        Not idempotent: it is retried only after a ``ConnectError``, when the request certainly
        never reached the server; a start whose answer was lost is not repeated.
        """
        return self._send(self._core.request(START, request), retry)

    def update(
        self, request: UpdateActivity, *, retry: RetryPolicy | bool | None = None
    ) -> UpdateResult:
        """Update a Live Activity started with ``start``."""
        return self._send(self._core.request(UPDATE, request), retry)

    def end(self, request: EndActivity, *, retry: RetryPolicy | bool | None = None) -> EndResult:
        """End a Live Activity started with ``start``."""
        return self._send(self._core.request(END, request), retry)

    def stream(
        self, key: str, request: StreamUpdate, *, retry: RetryPolicy | bool | None = None
    ) -> StreamResult:
        """Start or update the Live Activity of stream ``key`` (idempotent)."""
        return self._send(self._core.request(STREAM, request, stream_key=key), retry)

    def end_stream(
        self,
        key: str,
        request: StreamEnd | None = None,
        *,
        retry: RetryPolicy | bool | None = None,
    ) -> StreamEndResult:
        """End the Live Activity of stream ``key``; ``StreamNotFoundError`` if already gone."""
        return self._send(self._core.request(END_STREAM, request, stream_key=key), retry)

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
        request = self._core.request(REPLACE_PUSH, replacement, notification_id=notification_id)
        return self._send(request, retry)

    def set_badge(
        self, request: BadgeCount, *, retry: RetryPolicy | bool | None = None
    ) -> BadgeResult:
        """Set the number on the ActivitySmith app icon (0 clears it)."""
        return self._send(self._core.request(SET_BADGE, request), retry)

    def set_metric(
        self, key: str, request: MetricValue, *, retry: RetryPolicy | bool | None = None
    ) -> MetricResult:
        """Set the latest value of widget metric ``key``; ``NotFoundError`` if no such metric."""
        return self._send(self._core.request(SET_METRIC, request, key=key), retry)

    def call(
        self,
        operation: Operation | str,
        body: Model | None = None,
        *,
        retry: RetryPolicy | bool | None = None,
        **path: str,
    ) -> Result:
        """Send any operation by its name (a method's name above: ``"stream"``): ``body`` is its
        request, ``path`` its path parameters (``stream_key=``, ``key=``, ``notification_id=``).
        The methods above are this, typed; ``ValueError`` for a name the API does not have."""
        endpoint = OPERATIONS[Operation(operation)]
        result: Result = self._send(self._core.request(endpoint, body, **path), retry)
        return result

    def _send(self, request: _Request[_R], retry: RetryPolicy | bool | None) -> _R:
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
        self, request: _Request[Any], headers: dict[str, str]
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
        hide_in_library_logs(config.api_key)
        self._core = _ClientCore(config, retry)
        self._http = httpx.AsyncClient(
            transport=transport,
            event_hooks={"response": [same_origin_redirects_async]},
            **self._core.http_options(),
        )
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
        return await self._send(self._core.request(PUSH, notification), retry)

    async def start(
        self, request: StartActivity, *, retry: RetryPolicy | bool | None = None
    ) -> StartResult:
        """Start a Live Activity (manual lifecycle); retried only after a ``ConnectError``."""
        return await self._send(self._core.request(START, request), retry)

    async def update(
        self, request: UpdateActivity, *, retry: RetryPolicy | bool | None = None
    ) -> UpdateResult:
        """Update a Live Activity started with ``start``."""
        return await self._send(self._core.request(UPDATE, request), retry)

    async def end(
        self, request: EndActivity, *, retry: RetryPolicy | bool | None = None
    ) -> EndResult:
        """End a Live Activity started with ``start``."""
        return await self._send(self._core.request(END, request), retry)

    async def stream(
        self, key: str, request: StreamUpdate, *, retry: RetryPolicy | bool | None = None
    ) -> StreamResult:
        """Start or update the Live Activity of stream ``key`` (idempotent)."""
        return await self._send(self._core.request(STREAM, request, stream_key=key), retry)

    async def end_stream(
        self,
        key: str,
        request: StreamEnd | None = None,
        *,
        retry: RetryPolicy | bool | None = None,
    ) -> StreamEndResult:
        """End the Live Activity of stream ``key``; ``StreamNotFoundError`` if already gone."""
        return await self._send(self._core.request(END_STREAM, request, stream_key=key), retry)

    async def replace_push(
        self,
        notification_id: str,
        replacement: PushReplace,
        *,
        retry: RetryPolicy | bool | None = None,
    ) -> PushReplaceResult:
        """Silently replace a sent push (its ``PushResult.notification_id``); newer servers only."""
        request = self._core.request(REPLACE_PUSH, replacement, notification_id=notification_id)
        return await self._send(request, retry)

    async def set_badge(
        self, request: BadgeCount, *, retry: RetryPolicy | bool | None = None
    ) -> BadgeResult:
        """Set the number on the ActivitySmith app icon (0 clears it)."""
        return await self._send(self._core.request(SET_BADGE, request), retry)

    async def set_metric(
        self, key: str, request: MetricValue, *, retry: RetryPolicy | bool | None = None
    ) -> MetricResult:
        """Set the latest value of widget metric ``key``; ``NotFoundError`` if no such metric."""
        return await self._send(self._core.request(SET_METRIC, request, key=key), retry)

    async def call(
        self,
        operation: Operation | str,
        body: Model | None = None,
        *,
        retry: RetryPolicy | bool | None = None,
        **path: str,
    ) -> Result:
        """``Client.call``, awaited."""
        request = self._core.request(OPERATIONS[Operation(operation)], body, **path)
        result: Result = await self._send(request, retry)
        return result

    async def _send(self, request: _Request[_R], retry: RetryPolicy | bool | None) -> _R:
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
        self, request: _Request[Any], headers: dict[str, str]
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
