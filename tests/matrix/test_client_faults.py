"""Server faults met by explicit client calls: every operation of ``Client`` and
``AsyncClient``, each fault answered the same way.

Whatever the server does, the caller gets a result or a ``LivebarError`` of the class that
says what happened (never an ``httpx`` error, an ``OverflowError`` or a ``KeyError``), whose
text never holds the key, whose cause carries no traceback (the frames of httpx hold the
request's headers), and a ``Retry-After`` of any shape becomes a bounded wait.
"""

from __future__ import annotations

import asyncio
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Callable

import httpx
import pytest

from livebar import AsyncClient, Client
from livebar._wire.errors import (
    ActivityLimitError,
    AuthenticationError,
    BadRequestError,
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
    UnsuccessfulError,
)
from livebar._wire.payload import (
    ContentState,
    EndActivity,
    PushNotification,
    StartActivity,
    StreamEnd,
    StreamUpdate,
    UpdateActivity,
)
from livebar._wire.retry import RetryPolicy

KEY = "ask_matrix_secret_0123456789"
BASE = "https://activitysmith.test/api"
STATE = ContentState.progress("Nightly job", percentage=50)

CALLS: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "push": ("push", lambda c: c.push(PushNotification(title="Deploy"))),
    "start": ("start", lambda c: c.start(StartActivity(content_state=STATE))),
    "update": ("update", lambda c: c.update(UpdateActivity(activity_id="a1", content_state=STATE))),
    "end": ("end", lambda c: c.end(EndActivity(activity_id="a1", content_state=STATE))),
    "stream": ("stream", lambda c: c.stream("job-1", StreamUpdate(content_state=STATE))),
    "end_stream": ("end_stream", lambda c: c.end_stream("job-1", StreamEnd())),
}


class Clock:
    """A fake monotonic clock; a dripping answer moves it on as its bytes arrive."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    async def asleep(self, seconds: float) -> None:
        self.sleep(seconds)


class Drip(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A 200 answer arriving one byte per (fake) second."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.body = b'{"success": true, "activity_id": "a1", "operation": "updated"}'

    def __iter__(self) -> Iterator[bytes]:
        for i in range(len(self.body)):
            self.clock.now += 1.0
            yield self.body[i : i + 1]

    async def __aiter__(self) -> Any:
        for chunk in self:
            yield chunk


Reply = Callable[[httpx.Request, Clock], httpx.Response]


def status(code: int, body: Any, headers: dict[str, str] | None = None) -> Reply:
    return lambda request, clock: httpx.Response(code, json=body, headers=headers)


def raw(code: int, content: bytes) -> Reply:
    return lambda request, clock: httpx.Response(code, content=content)


def raises(exc: type[Exception]) -> Reply:
    def reply(request: httpx.Request, clock: Clock) -> httpx.Response:
        raise exc("simulated", request=request)

    return reply


def drip(request: httpx.Request, clock: Clock) -> httpx.Response:
    return httpx.Response(200, stream=Drip(clock))


RATE = {"error": "Rate limit exceeded", "message": "Too many requests, please try again later."}


@dataclass(frozen=True)
class Fault:
    name: str
    reply: Reply
    error: type[LivebarError] | None
    """The exact class the caller gets (None: a result)."""
    retry_after: float | None = None
    """What ``RateLimitError.retry_after`` must say."""
    by_operation: dict[str, type[LivebarError]] | None = None


FAULTS = [
    Fault("connection refused", raises(httpx.ConnectError), ConnectError),
    Fault("connect timeout", raises(httpx.ConnectTimeout), ConnectError),
    Fault("read timeout", raises(httpx.ReadTimeout), RequestTimeout),
    Fault("connection dropped", raises(httpx.RemoteProtocolError), TransportError),
    Fault("slow drip", drip, RequestTimeout),
    Fault("500", status(500, {"error": "Internal Server Error"}), ServerError),
    Fault("502 HTML", raw(502, b"<html>Bad gateway</html>"), ServerError),
    Fault("503 empty", raw(503, b""), ServerError),
    Fault("200 empty body", raw(200, b""), ServerError),
    Fault("200 HTML", raw(200, b"<html>hi</html>"), ServerError),
    Fault("200 malformed JSON", raw(200, b'{"success": tr'), ServerError),
    Fault("200 JSON array", raw(200, b"[1, 2]"), ServerError),
    Fault("200 deeply nested", raw(200, b"[" * 100_000 + b"]" * 100_000), ServerError),
    Fault(
        "200 success: false",
        status(200, {"success": False}),
        None,
        by_operation={"start": UnsuccessfulError},
    ),
    Fault(
        "200 wrong-type fields",
        status(200, {"success": "yes", "activity_id": 7, "operation": 5, "devices_notified": "x"}),
        None,
        by_operation={"start": ServerError},
    ),
    Fault("429 no Retry-After", status(429, RATE), RateLimitError, retry_after=None),
    Fault("429 Retry-After: 2", status(429, RATE, {"Retry-After": "2"}), RateLimitError, 2.0),
    Fault("429 Retry-After: -5", status(429, RATE, {"Retry-After": "-5"}), RateLimitError, 0.0),
    Fault(
        "429 Retry-After: 1e400", status(429, RATE, {"Retry-After": "1e400"}), RateLimitError, 60.0
    ),
    Fault("429 Retry-After: nan", status(429, RATE, {"Retry-After": "nan"}), RateLimitError, None),
    Fault(
        "429 Retry-After: garbage", status(429, RATE, {"Retry-After": "soon"}), RateLimitError, None
    ),
    Fault(
        "429 Retry-After: year 9999",
        status(429, RATE, {"Retry-After": "Fri, 31 Dec 9999 23:59:59 GMT"}),
        RateLimitError,
        60.0,
    ),
    Fault(
        "429 Retry-After: year 0001",
        status(429, RATE, {"Retry-After": "Mon, 01 Jan 0001 00:00:00 GMT"}),
        RateLimitError,
        0.0,
    ),
    Fault(
        "429 activity limit",
        status(429, {"error": "Live Activity limit reached", "limit": 4, "active": 4}),
        ActivityLimitError,
    ),
    Fault("400", status(400, {"error": "Bad Request", "message": "no"}), BadRequestError),
    Fault(
        "401 echoing the key",
        status(401, {"error": "Unauthorized", "message": f"bad key {KEY}", KEY: KEY}),
        AuthenticationError,
    ),
    Fault(
        "402", status(402, {"error": "trial_expired", "message": "Upgrade"}), PaymentRequiredError
    ),
    Fault("403", status(403, {"error": "Forbidden", "message": "scope"}), PermissionDeniedError),
    Fault(
        "404",
        status(404, {"error": "Not Found", "message": "gone"}),
        NotFoundError,
        by_operation={"stream": StreamNotFoundError, "end_stream": StreamNotFoundError},
    ),
    Fault(
        "422 no recipients",
        status(422, {"error": "No recipients found", "effective_channel_slugs": []}),
        NoRecipientsError,
    ),
    Fault("418 unexpected status", status(418, {"error": "I'm a teapot"}), ServerError),
]


def cells() -> Iterator[Any]:
    for fault in FAULTS:
        for operation in CALLS:
            for flavour in ("Client", "AsyncClient"):
                name = f"{fault.name} | {operation} | {flavour}"
                yield pytest.param(fault, operation, flavour, id=name)


@pytest.mark.parametrize(("fault", "operation", "flavour"), list(cells()))
def test_explicit_call_meets_a_fault(fault: Fault, operation: str, flavour: str) -> None:
    """The caller gets a result or the one LivebarError that names the trouble, never more."""
    clock = Clock()
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return fault.reply(request, clock)

    expected = (fault.by_operation or {}).get(operation, fault.error)
    caught: BaseException | None = None
    result: Any = None
    try:
        result = _call(flavour, operation, handler, clock)
    except Exception as exc:  # the test decides below what is allowed
        caught = exc
    assert 1 == len(sent)  # retry=False: one request, whatever happened
    if expected is None:
        assert caught is None
        assert result is not None
        return
    assert caught is not None
    assert expected is type(caught), repr(caught)
    text = "".join(traceback.format_exception(type(caught), caught, caught.__traceback__))
    assert KEY not in text
    assert KEY not in repr(getattr(caught, "body", ""))
    cause = caught.__cause__
    while cause is not None:  # httpx's frames hold the request's headers: no tracebacks
        assert cause.__traceback__ is None
        cause = cause.__cause__
    if isinstance(caught, RateLimitError):
        assert fault.retry_after == caught.retry_after


def _call(flavour: str, operation: str, handler: Any, clock: Clock) -> Any:
    _name, call = CALLS[operation]
    options: dict[str, Any] = {
        "api_key": KEY,
        "base_url": BASE,
        "timeout": 5.0,
        "retry": False,
        "transport": httpx.MockTransport(handler),
        "clock": clock.clock,
    }
    if flavour == "Client":
        with Client(sleep=clock.sleep, **options) as client:
            return call(client)

    async def run() -> Any:
        async with AsyncClient(sleep=clock.asleep, **options) as client:
            return await call(client)

    return asyncio.run(run())


@pytest.mark.parametrize(
    "header",
    ["99999999", "1e400", "Fri, 31 Dec 9999 23:59:59 GMT", "inf"],
    ids=lambda h: f"Retry-After: {h}",
)
@pytest.mark.parametrize("flavour", ["Client", "AsyncClient"])
def test_a_retrying_call_never_sleeps_past_the_cap(header: str, flavour: str) -> None:
    """With retries on, a huge Retry-After is a 60 s wait at most, and the total stays bounded."""
    clock = Clock()
    answers = [httpx.Response(429, json=RATE, headers={"Retry-After": header})] * 3
    answers.append(httpx.Response(200, json={"success": True}))

    def handler(request: httpx.Request) -> httpx.Response:
        return answers.pop(0)

    policy = RetryPolicy(max_attempts=4, max_total=200.0)
    options: dict[str, Any] = {
        "api_key": KEY,
        "base_url": BASE,
        "retry": policy,
        "transport": httpx.MockTransport(handler),
        "clock": clock.clock,
    }
    call = CALLS["push"][1]
    if flavour == "Client":
        with Client(sleep=clock.sleep, **options) as client:
            assert call(client).success
    else:

        async def run() -> Any:
            async with AsyncClient(sleep=clock.asleep, **options) as client:
                return await call(client)

        assert asyncio.run(run()).success
    assert [60.0, 60.0, 60.0] == clock.sleeps
