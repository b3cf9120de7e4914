"""livebar's exceptions: one tree under ``LivebarError``.

::

    LivebarError
    ├── ConfigurationError(LivebarError, ValueError)      bad base URL, missing key, bad option
    ├── ValidationError(LivebarError, ValueError)         .field (dotted path), .rule; before I/O
    ├── TransportError                                    the request may or may not have arrived
    │   ├── ConnectError                                  it certainly did not arrive
    │   └── RequestTimeout(TransportError, TimeoutError)
    └── APIError                                          .status, .error, .message, .body
        ├── BadRequestError          400
        ├── AuthenticationError      401
        ├── PaymentRequiredError     402
        ├── PermissionDeniedError    403
        ├── NotFoundError            404
        │   └── StreamNotFoundError  404 on a stream PUT/DELETE
        ├── NoRecipientsError        404 or 422 "No recipients found"; .effective_channel_slugs
        ├── RateLimitError           429 "Rate limit exceeded"; .retry_after
        ├── ActivityLimitError       429 with limit/active; .limit, .active
        └── ServerError              5xx, unexpected statuses, unparseable bodies

No exception message ever contains the API key: errors are built from the server's answer (with
the key cut out of it, in case a server echoes it) and the operation name.

``classify(exc)`` is the one answer to "what does this error mean for the request, and how long
should we wait": the retry policy of explicit client calls and the engine's pacing both use it.
"""

from __future__ import annotations

import datetime
import enum
import math
import time
from collections.abc import Mapping
from typing import Any, NamedTuple, TypeVar

from livebar._defaults import DEFAULT_RETRY_AFTER_CAP


class Operation(str, enum.Enum):
    """The API's operations, each named after the client method that sends it.

    ``APIError.operation`` and ``TransportError.operation`` hold one. It is a ``str``
    (``Operation.START == "start"``, and ``"start"`` in messages and logs), so a name given as
    text finds its operation too. How each operation travels (method, path, body, result) is the
    table in ``livebar._wire.operations``; what it means when one fails is stated here, below the
    payloads, so that the errors need not import that table.
    """

    PUSH = "push"
    REPLACE_PUSH = "replace_push"
    START = "start"
    UPDATE = "update"
    END = "end"
    STREAM = "stream"
    END_STREAM = "end_stream"
    SET_BADGE = "set_badge"
    SET_METRIC = "set_metric"

    __str__ = str.__str__  # the name itself in str() and f-strings, on every Python


STREAM_OPERATIONS = frozenset({Operation.STREAM, Operation.END_STREAM})
"""Operations addressed to ``/live-activity/stream/{stream_key}`` (a 404 is the stream's)."""

NOT_IDEMPOTENT = frozenset({Operation.START})
"""Operations that may act twice if repeated after the server got the first request."""

ENDING_OPERATIONS = frozenset({Operation.END, Operation.END_STREAM})
"""Operations that end an activity: a 404 to one means it is already gone."""

OPENING_OPERATIONS = frozenset({Operation.START, Operation.STREAM, Operation.PUSH})
"""Operations that create what they address: ActivitySmith never answers one "not found", so a
404 to one means the base URL does not lead to its API."""

NO_RECIPIENTS = "No recipients found"

E = TypeVar("E", bound=BaseException)


class LivebarError(Exception):
    """Base class of every error livebar raises."""


class ConfigurationError(LivebarError, ValueError):
    """An option (base URL, API key, timeout, ...) is missing or unusable."""

    def __init__(self, option: str, message: str) -> None:
        super().__init__(f"{option}: {message}")
        self.option = option


class MisuseError(LivebarError, RuntimeError):
    """An object of livebar's used in a way that cannot work (an activity entered again after
    it ended, copied with ``copy.copy``); the message says what to do instead."""


class ValidationError(LivebarError, ValueError):
    """A payload breaks a rule of the API; raised before any request is sent.

    ``field`` is the dotted path of the offending value relative to the object being built or
    parsed (``"content_state.current_step"``, ``"actions[2].url"``; ``""`` for the whole object)
    and ``rule`` the JSON Schema keyword it breaks (``"required"``, ``"maximum"``, ``"pattern"``,
    ``"additionalProperties"``, ...).
    """

    def __init__(self, field: str, rule: str, detail: str) -> None:
        super().__init__(f"{field or '<body>'}: {detail} (rule: {rule})")
        self.field = field
        self.rule = rule
        self.detail = detail

    def within(self, prefix: str) -> ValidationError:
        """The same error with its field path placed under ``prefix``."""
        if not prefix:
            return self
        if not self.field:
            field = prefix
        elif self.field.startswith("["):
            field = prefix + self.field
        else:
            field = f"{prefix}.{self.field}"
        return ValidationError(field, self.rule, self.detail)


class TransportError(LivebarError):
    """The request failed in transit: it may or may not have reached the server."""

    def __init__(self, message: str, *, operation: str | None = None) -> None:
        super().__init__(message)
        self.operation = operation


class ConnectError(TransportError):
    """No connection could be made: the request certainly never reached the server."""


class RequestTimeout(TransportError, TimeoutError):
    """The server did not answer in time."""


class APIError(LivebarError):
    """The server answered with an error status.

    ``status`` is the HTTP status, ``error`` and ``message`` the server's fields of that name (or
    ``None``), ``body`` the parsed JSON object (``{}`` when the body was not a JSON object) and
    ``operation`` the client method that failed.
    """

    def __init__(
        self,
        *,
        status: int,
        error: str | None = None,
        message: str | None = None,
        body: Mapping[str, Any] | None = None,
        operation: str | None = None,
    ) -> None:
        self.status = status
        self.error = error
        self.message = message
        self.body: dict[str, Any] = dict(body) if body is not None else {}
        self.operation = operation
        super().__init__(self._describe())

    def _describe(self) -> str:
        what = f"{self.operation} failed" if self.operation else "request failed"
        detail = ": ".join(part for part in (self.error, self.message) if part)
        return f"{what} with HTTP {self.status}" + (f": {detail}" if detail else "")


class BadRequestError(APIError):
    """400 (or a 422 other than "No recipients found"): the payload or the target was refused."""


class AuthenticationError(APIError):
    """401: the API key is missing or wrong."""


class PaymentRequiredError(APIError):
    """402: the account's billing blocks the request."""


class PermissionDeniedError(APIError):
    """403: the key's scope forbids the channels, or the activity belongs to another account."""


class NotFoundError(APIError):
    """404: the addressed thing does not exist."""


class StreamNotFoundError(NotFoundError):
    """404 on a stream PUT/DELETE: the stream is unknown (for a DELETE: already ended)."""


class NoRecipientsError(APIError):
    """404 or 422 "No recipients found": no device matched the effective channel target."""

    def __init__(
        self, *, effective_channel_slugs: tuple[str, ...] | None = None, **kwargs: Any
    ) -> None:
        self.effective_channel_slugs = effective_channel_slugs
        super().__init__(**kwargs)


class RateLimitError(APIError):
    """429 "Rate limit exceeded"; ``retry_after`` is the server's hint in seconds, if any."""

    def __init__(self, *, retry_after: float | None = None, **kwargs: Any) -> None:
        self.retry_after = retry_after
        super().__init__(**kwargs)


class ActivityLimitError(APIError):
    """429 with ``limit``/``active``: the account already runs its maximum of Live Activities.

    Retrying does not help; only an ending activity frees a slot.
    """

    def __init__(
        self, *, limit: int | None = None, active: int | None = None, **kwargs: Any
    ) -> None:
        self.limit = limit
        self.active = active
        super().__init__(**kwargs)


class ServerError(APIError):
    """5xx, an unexpected status, or a response body livebar could not understand."""


class UnsuccessfulError(APIError):
    """A 200 whose body says ``success: false``: the server did not do it (the engine retries)."""

    def _describe(self) -> str:
        return f"{self.operation or 'request'}: the server answered success: false"


_BY_STATUS: dict[int, type[APIError]] = {
    400: BadRequestError,
    422: BadRequestError,
    401: AuthenticationError,
    402: PaymentRequiredError,
    403: PermissionDeniedError,
}


def error_from_response(
    status: int,
    body: object,
    headers: Mapping[str, str],
    *,
    operation: str,
    now: float | None = None,
    secret: str | None = None,
) -> APIError:
    """Map an error response to the matching ``APIError``; pure.

    ``body`` is the parsed JSON (anything, or ``None`` when it did not parse); ``headers`` are
    looked up case-insensitively for ``Retry-After``; ``now`` (wall-clock seconds) resolves an
    HTTP-date ``Retry-After``. Every occurrence of ``secret`` (the API key) in the body is
    replaced by ``***`` before it reaches the error's text or fields.
    """
    fields: dict[str, Any] = dict(body) if isinstance(body, Mapping) else {}
    if secret:
        fields = scrub(fields, secret)
    common: dict[str, Any] = {
        "status": status,
        "error": _text(fields.get("error")),
        "message": _text(fields.get("message")),
        "body": fields,
        "operation": operation,
    }
    if status in (404, 422) and _is_no_recipients(fields):
        return NoRecipientsError(effective_channel_slugs=_slugs(fields), **common)
    if status == 404:
        if operation in STREAM_OPERATIONS:
            return StreamNotFoundError(**common)
        return NotFoundError(**common)
    if status == 429:
        if "limit" in fields or "active" in fields:
            return ActivityLimitError(
                limit=_integer(fields.get("limit")), active=_integer(fields.get("active")), **common
            )
        retry_after = parse_retry_after(_header(headers, "retry-after"), now=now)
        return RateLimitError(retry_after=retry_after, **common)
    error_class = _BY_STATUS.get(status, ServerError)
    return error_class(**common)


def parse_retry_after(
    value: str | None, *, now: float | None = None, cap: float = DEFAULT_RETRY_AFTER_CAP
) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delta-seconds or HTTP-date), at most ``cap``.

    Returns ``None`` when there is no usable value (garbage, NaN). ``now`` is wall-clock time
    (``time.time()``) used for HTTP-dates; a date in the past or a negative number means "now"
    (0.0); a date too far in the future for the calendar means ``cap``. Never raises.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    seconds: float | None
    try:
        seconds = float(text)
    except ValueError:
        seconds = _seconds_until_http_date(text, now=now)
    if seconds is None or math.isnan(seconds):
        return None
    return min(max(seconds, 0.0), cap)


def _seconds_until_http_date(text: str, *, now: float | None) -> float | None:
    try:
        import email.utils  # only for an HTTP-date Retry-After; keeps `import livebar` light

        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT; "-0000" parses as naive
        when = when.replace(tzinfo=datetime.timezone.utc)
    current = time.time() if now is None else now
    try:
        return when.timestamp() - current
    except (OverflowError, OSError, ValueError):  # beyond what the platform's clock can hold
        return math.inf


class Trouble(enum.Enum):
    """What a failed request means for livebar, whatever the error class."""

    RATE_LIMITED = "rate_limited"
    """The account's request limit (429): every request of the account waits."""
    ACTIVITY_LIMIT = "activity_limit"
    """The account's concurrent-activity limit (429): this start waits for a slot to free."""
    TRANSIENT = "transient"
    """Network trouble or a 5xx: the same request may succeed after a backoff."""
    REJECTED = "rejected"
    """400/404/422, or a 403 about this one request: it will never succeed; drop it."""
    FORBIDDEN = "forbidden"
    """401: the key is refused; nothing more will succeed."""
    BLOCKED = "blocked"
    """402: the account's billing blocks anything new (starts, pushes, stream PUTs); the ends
    of what already runs still go through."""
    GONE = "gone"
    """404 to an end: the activity is already gone, which is what the end wanted."""
    GARBLED = "garbled"
    """A 2xx the client could not read: it arrived and probably worked; its answer is lost."""
    NO_ENDPOINT = "no_endpoint"
    """404 to a start, a stream PUT or a push: the base URL does not lead to the API (``/api``
    missing, a typo); nothing sent there will ever succeed."""


class Diagnosis(NamedTuple):
    """``classify``'s answer: what the error means, whether the request reached the server
    (``None``: it may have), and the server's ``Retry-After`` (seconds, capped by
    ``parse_retry_after``)."""

    trouble: Trouble
    arrived: bool | None
    retry_after: float | None = None

    def retryable(self, operation: str) -> bool:
        """Whether repeating ``operation`` can help and cannot act twice."""
        if self.trouble not in (Trouble.TRANSIENT, Trouble.RATE_LIMITED):
            return False
        return self.arrived is False or operation not in NOT_IDEMPOTENT


def classify(exc: LivebarError) -> Diagnosis:
    """The one answer to "what does this error mean, and how long do I wait"."""
    if isinstance(exc, ConnectError):
        return Diagnosis(Trouble.TRANSIENT, arrived=False)
    if isinstance(exc, TransportError):
        return Diagnosis(Trouble.TRANSIENT, arrived=None)
    if isinstance(exc, ActivityLimitError):
        return Diagnosis(Trouble.ACTIVITY_LIMIT, arrived=True)
    if isinstance(exc, RateLimitError):
        return Diagnosis(Trouble.RATE_LIMITED, arrived=True, retry_after=exc.retry_after)
    if isinstance(exc, AuthenticationError):
        return Diagnosis(Trouble.FORBIDDEN, arrived=True)
    if isinstance(exc, PaymentRequiredError):
        return Diagnosis(Trouble.BLOCKED, arrived=True)
    if isinstance(exc, UnsuccessfulError):
        return Diagnosis(Trouble.TRANSIENT, arrived=True)
    if isinstance(exc, NotFoundError) and exc.operation in ENDING_OPERATIONS:
        return Diagnosis(Trouble.GONE, arrived=True)
    if isinstance(exc, NotFoundError) and exc.operation in OPENING_OPERATIONS:
        return Diagnosis(Trouble.NO_ENDPOINT, arrived=True)
    if isinstance(exc, ServerError):
        if exc.status >= 500:
            return Diagnosis(Trouble.TRANSIENT, arrived=True)
        if 200 <= exc.status < 300:
            return Diagnosis(Trouble.GARBLED, arrived=True)
        return Diagnosis(Trouble.REJECTED, arrived=True)
    if isinstance(exc, APIError):
        return Diagnosis(Trouble.REJECTED, arrived=True)
    return Diagnosis(Trouble.REJECTED, arrived=False)  # a validation or configuration error


def detached(exc: E) -> E:
    """``exc`` (and what it chains) without tracebacks.

    Raised at a call that was given the API key, or out of httpx and httpcore (whose frames
    hold the request's headers), the frames' locals may hold the key, and a traceback printed
    with its locals (Sentry, rich, ``pytest --showlocals``) would show it. The exception keeps
    its text and its chain; re-raised, it starts again from the public call that was made.
    """
    seen: set[int] = set()
    node: BaseException | None = exc
    while node is not None and id(node) not in seen:
        seen.add(id(node))
        node.__traceback__ = None
        node = node.__cause__ or node.__context__
    return exc


def redact(text: str, secret: str | None) -> str:
    """``text`` with every occurrence of ``secret`` replaced by ``***``."""
    if not secret:
        return text
    return text.replace(secret, REDACTED)


REDACTED = "***"


def scrub(value: Any, secret: str) -> Any:
    """A copy of parsed JSON with ``secret`` cut out of every string (keys included)."""
    if isinstance(value, str):
        return redact(value, secret)
    if isinstance(value, Mapping):
        return {scrub(k, secret): scrub(v, secret) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub(item, secret) for item in value]
    return value


def _is_no_recipients(fields: Mapping[str, Any]) -> bool:
    return fields.get("error") == NO_RECIPIENTS or "effective_channel_slugs" in fields


def _slugs(fields: Mapping[str, Any]) -> tuple[str, ...] | None:
    slugs = fields.get("effective_channel_slugs")
    if not isinstance(slugs, list):
        return None
    return tuple(slug for slug in slugs if isinstance(slug, str))


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _integer(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
