"""Error tree and the pure response-to-error mapping."""

from __future__ import annotations

import pytest

from livebar._defaults import DEFAULT_RETRY_AFTER_CAP
from livebar._wire.errors import (
    ActivityLimitError,
    APIError,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
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
    ValidationError,
    classify,
    error_from_response,
    parse_retry_after,
)

RATE_LIMITED = {
    "error": "Rate limit exceeded",
    "message": "Too many requests, please try again later.",
}
ACTIVITY_LIMIT = {
    "error": "Live Activity limit reached",
    "message": "Only 4 concurrent Live Activities are allowed per account",
    "limit": 4,
    "active": 4,
}
NO_RECIPIENTS = {
    "error": "No recipients found",
    "message": "No devices matched the effective channel target",
    "effective_channel_slugs": ["marketing"],
}
STREAM_MISSING = {
    "error": "Live Activity stream not found",
    "message": "No Live Activity stream found for stream_key: prod-web-1",
}
GENERIC = {"error": "Bad", "message": "nope"}


def test_tree_matches_design() -> None:
    """Every class sits where docs/design.md draws it, builtins included."""
    assert issubclass(ConfigurationError, ValueError)
    assert issubclass(ValidationError, ValueError)
    assert issubclass(RequestTimeout, TimeoutError)
    assert issubclass(ConnectError, TransportError)
    assert issubclass(RequestTimeout, TransportError)
    assert issubclass(StreamNotFoundError, NotFoundError)
    for cls in (ConfigurationError, ValidationError, TransportError, APIError):
        assert issubclass(cls, LivebarError)
    for cls in (
        BadRequestError,
        AuthenticationError,
        PaymentRequiredError,
        PermissionDeniedError,
        NotFoundError,
        NoRecipientsError,
        RateLimitError,
        ActivityLimitError,
        ServerError,
    ):
        assert issubclass(cls, APIError)


@pytest.mark.parametrize(
    ("status", "body", "operation", "expected"),
    [
        (400, GENERIC, "push", BadRequestError),
        (401, {"error": "Unauthorized"}, "stream", AuthenticationError),
        (402, GENERIC, "start", PaymentRequiredError),
        (403, GENERIC, "update", PermissionDeniedError),
        (404, NO_RECIPIENTS, "push", NoRecipientsError),
        (404, NO_RECIPIENTS, "stream", NoRecipientsError),
        (422, NO_RECIPIENTS, "start", NoRecipientsError),
        (422, {"error": "No recipients found", "message": "x"}, "push", NoRecipientsError),
        (404, {"error": "x", "effective_channel_slugs": []}, "stream", NoRecipientsError),
        (404, STREAM_MISSING, "end_stream", StreamNotFoundError),
        (404, STREAM_MISSING, "stream", StreamNotFoundError),
        (404, GENERIC, "update", NotFoundError),
        (422, GENERIC, "push", BadRequestError),
        (429, RATE_LIMITED, "push", RateLimitError),
        (429, {**RATE_LIMITED, "code": "rate_limited"}, "stream", RateLimitError),
        (429, ACTIVITY_LIMIT, "start", ActivityLimitError),
        (429, ACTIVITY_LIMIT, "stream", ActivityLimitError),
        (429, None, "stream", RateLimitError),
        (500, GENERIC, "push", ServerError),
        (502, None, "end", ServerError),
        (503, ["not", "an", "object"], "stream", ServerError),
        (418, GENERIC, "push", ServerError),
        (301, None, "push", ServerError),
    ],
)
def test_error_class_by_status_and_body(
    status: int, body: object, operation: str, expected: type[APIError]
) -> None:
    """Each documented status and body shape maps to its error class."""
    error = error_from_response(status, body, {}, operation=operation)
    assert expected is type(error)
    assert status == error.status
    assert operation == error.operation


def test_error_keeps_server_fields() -> None:
    """The server's error, message and parsed body are on the exception."""
    error = error_from_response(400, {**GENERIC, "extra": 1}, {}, operation="push")
    assert ("Bad", "nope") == (error.error, error.message)
    assert {**GENERIC, "extra": 1} == error.body
    assert "push failed with HTTP 400: Bad: nope" == str(error)


def test_unparseable_body_gives_empty_fields() -> None:
    """A body that is not a JSON object leaves error/message unset and body empty."""
    error = error_from_response(500, None, {}, operation="push")
    assert (None, None, {}) == (error.error, error.message, error.body)


def test_no_recipients_exposes_slugs() -> None:
    """NoRecipientsError carries the effective channel slugs."""
    error = error_from_response(404, NO_RECIPIENTS, {}, operation="push")
    assert isinstance(error, NoRecipientsError)
    assert ("marketing",) == error.effective_channel_slugs


def test_activity_limit_exposes_limit_and_active() -> None:
    """ActivityLimitError carries limit and active."""
    error = error_from_response(429, ACTIVITY_LIMIT, {}, operation="start")
    assert isinstance(error, ActivityLimitError)
    assert (4, 4) == (error.limit, error.active)


def test_rate_limit_reads_retry_after_header() -> None:
    """A Retry-After header (any case) becomes retry_after seconds."""
    error = error_from_response(429, RATE_LIMITED, {"retry-after": "7"}, operation="push")
    assert isinstance(error, RateLimitError)
    assert 7.0 == error.retry_after


def test_rate_limit_without_header() -> None:
    """No Retry-After header leaves retry_after None."""
    error = error_from_response(429, RATE_LIMITED, {}, operation="push")
    assert isinstance(error, RateLimitError)
    assert error.retry_after is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        ("3", 3.0),
        (" 1.5 ", 1.5),
        ("-4", 0.0),
        ("100000", DEFAULT_RETRY_AFTER_CAP),
        ("nan", None),
        ("soon", None),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 10.0),
        ("Wed, 21 Oct 2015 07:27:00 GMT", 0.0),
        ("Wed, 21 Oct 2015 08:28:00 GMT", DEFAULT_RETRY_AFTER_CAP),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    """Retry-After parses as seconds or HTTP-date, clamped to [0, cap]."""
    assert expected == parse_retry_after(value, now=1445412470.0)


def test_parse_retry_after_custom_cap() -> None:
    """The cap is configurable."""
    assert 5.0 == parse_retry_after("30", cap=5.0)


def test_validation_error_names_field_and_rule() -> None:
    """ValidationError's message names the field and the rule; within() prefixes the path."""
    error = ValidationError("url", "pattern", "must start with https://")
    nested = error.within("actions[2]").within("")
    assert ("actions[2].url", "pattern") == (nested.field, nested.rule)
    assert "actions[2].url: must start with https:// (rule: pattern)" == str(nested)
    assert "metrics[0]" == ValidationError("[0]", "type", "x").within("metrics").field
    assert "content_state" == ValidationError("", "type", "x").within("content_state").field


def test_configuration_error_names_option() -> None:
    """ConfigurationError carries the option it is about."""
    error = ConfigurationError("base_url", "must use https://")
    assert "base_url" == error.option
    assert "base_url: must use https://" == str(error)


@pytest.mark.parametrize(
    ("operation", "body", "trouble"),
    [
        ("start", {"error": "Not Found"}, "no_endpoint"),  # a 404 page: the base URL misses /api
        ("stream", {}, "no_endpoint"),
        ("push", {"error": "Not Found"}, "no_endpoint"),
        ("end_stream", {"error": "Live Activity stream not found"}, "gone"),
        ("end", {"error": "Not Found"}, "gone"),
        ("update", {"error": "Not Found"}, "rejected"),  # a card another tool ended
        ("start", {"error": "No recipients found", "effective_channel_slugs": []}, "rejected"),
    ],
)
def test_what_a_404_means_depends_on_the_operation(
    operation: str, body: dict[str, object], trouble: str
) -> None:
    """ActivitySmith never answers "not found" to what creates (save "no recipients")."""
    exc = error_from_response(404, body, {}, operation=operation)
    assert trouble == classify(exc).trouble.value
