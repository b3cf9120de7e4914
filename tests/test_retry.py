"""The pure retry policy: what is retried, for how long, with which delays."""

from __future__ import annotations

import random

import pytest

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
)
from livebar._wire.retry import NO_RETRY, RetryPolicy

OPERATIONS = ("push", "start", "update", "end", "stream", "end_stream")
NO_JITTER = RetryPolicy(jitter=0.0)


def _api(cls: type[APIError], status: int, **kwargs: object) -> APIError:
    return cls(status=status, operation="stream", **kwargs)  # type: ignore[arg-type]


RETRYABLE: list[LivebarError] = [
    RequestTimeout("slow"),
    TransportError("reset"),
    _api(ServerError, 500),
    _api(ServerError, 503),
    _api(RateLimitError, 429),
]
NEVER: list[LivebarError] = [
    _api(BadRequestError, 400),
    _api(BadRequestError, 422),
    _api(AuthenticationError, 401),
    _api(PaymentRequiredError, 402),
    _api(PermissionDeniedError, 403),
    _api(NotFoundError, 404),
    _api(StreamNotFoundError, 404),
    _api(NoRecipientsError, 404),
    _api(NoRecipientsError, 422),
    _api(ActivityLimitError, 429, limit=4, active=4),
    _api(ServerError, 200),
]


@pytest.mark.parametrize("operation", OPERATIONS)
def test_connect_error_always_retried(operation: str) -> None:
    """A request that never arrived is retried, even a start."""
    assert NO_JITTER.should_retry(ConnectError("refused"), operation=operation)


@pytest.mark.parametrize("error", RETRYABLE, ids=repr)
@pytest.mark.parametrize("operation", ["push", "update", "end", "stream", "end_stream"])
def test_transient_errors_retried(error: LivebarError, operation: str) -> None:
    """Timeouts, transport errors, 5xx and the plain 429 are retried for idempotent calls."""
    assert NO_JITTER.should_retry(error, operation=operation)


@pytest.mark.parametrize("error", RETRYABLE, ids=repr)
def test_start_not_retried_when_it_may_have_arrived(error: LivebarError) -> None:
    """A manual start that may have reached the server is never repeated."""
    assert not NO_JITTER.should_retry(error, operation="start")


@pytest.mark.parametrize("error", NEVER, ids=repr)
@pytest.mark.parametrize("operation", OPERATIONS)
def test_final_errors_never_retried(error: LivebarError, operation: str) -> None:
    """4xx answers, the activity limit and unreadable 2xx bodies are final."""
    assert not NO_JITTER.should_retry(error, operation=operation)
    delay = NO_JITTER.next_delay(attempt=1, error=error, elapsed=0.0, operation=operation)
    assert delay is None


def test_exponential_backoff_capped() -> None:
    """Without jitter the delays double from initial up to max_delay."""
    policy = RetryPolicy(max_attempts=10, initial=0.5, max_delay=3.0, max_total=1000, jitter=0)
    delays = [
        policy.next_delay(attempt=n, error=ConnectError("x"), elapsed=0.0, operation="push")
        for n in range(1, 7)
    ]
    assert [0.5, 1.0, 2.0, 3.0, 3.0, 3.0] == delays


def test_jitter_shortens_within_bounds_and_is_seeded() -> None:
    """Jitter stays within [base*(1-jitter), base] and repeats with the same seed."""
    policy = RetryPolicy(initial=2.0, jitter=0.5, max_delay=100)
    first = [policy.backoff(1, rng=random.Random(7)) for _ in range(3)]
    again = [policy.backoff(1, rng=random.Random(7)) for _ in range(3)]
    assert first == again
    samples = [policy.backoff(1, rng=random.Random(seed)) for seed in range(200)]
    assert all(1.0 <= s <= 2.0 for s in samples)
    assert len(set(samples)) > 100


def test_gives_up_after_max_attempts() -> None:
    """No delay is offered once max_attempts attempts were made."""
    policy = RetryPolicy(max_attempts=3, jitter=0)
    error = ConnectError("x")
    assert policy.next_delay(attempt=2, error=error, elapsed=0, operation="push") is not None
    assert policy.next_delay(attempt=3, error=error, elapsed=0, operation="push") is None


def test_gives_up_past_max_total() -> None:
    """A retry that would end after max_total seconds is not scheduled."""
    policy = RetryPolicy(initial=1.0, max_total=10.0, jitter=0)
    error = TransportError("x")
    assert 1.0 == policy.next_delay(attempt=1, error=error, elapsed=9.0, operation="push")
    assert policy.next_delay(attempt=1, error=error, elapsed=9.5, operation="push") is None


def test_retry_after_replaces_backoff() -> None:
    """A server's Retry-After is honoured instead of the backoff."""
    error = _api(RateLimitError, 429, retry_after=4.0)
    assert 4.0 == NO_JITTER.next_delay(attempt=1, error=error, elapsed=0, operation="stream")


def test_retry_after_is_capped() -> None:
    """Retry-After is capped by retry_after_cap."""
    policy = RetryPolicy(retry_after_cap=2.0, jitter=0)
    error = _api(RateLimitError, 429, retry_after=30.0)
    assert 2.0 == policy.next_delay(attempt=1, error=error, elapsed=0, operation="stream")


def test_retry_after_beyond_total_budget_gives_up() -> None:
    """A Retry-After longer than the remaining budget means giving up now."""
    error = _api(RateLimitError, 429, retry_after=15.0)
    assert NO_JITTER.next_delay(attempt=1, error=error, elapsed=10.0, operation="push") is None


def test_no_retry_policy() -> None:
    """NO_RETRY never offers a delay."""
    delay = NO_RETRY.next_delay(attempt=1, error=ConnectError("x"), elapsed=0, operation="push")
    assert delay is None


@pytest.mark.parametrize(
    ("options", "option"),
    [
        ({"max_attempts": 0}, "max_attempts"),
        ({"max_attempts": 2.5}, "max_attempts"),
        ({"initial": -1}, "initial"),
        ({"max_total": float("inf")}, "max_total"),
        ({"multiplier": True}, "multiplier"),
        ({"jitter": 1.5}, "jitter"),
    ],
)
def test_bad_options_refused(options: dict[str, object], option: str) -> None:
    """Invalid policy options raise ConfigurationError naming the option."""
    with pytest.raises(ConfigurationError) as info:
        RetryPolicy(**options)  # type: ignore[arg-type]
    assert option == info.value.option


def test_huge_attempt_numbers_do_not_overflow() -> None:
    """Backoff stays at max_delay even for absurd attempt numbers."""
    policy = RetryPolicy(max_attempts=100000, max_delay=8.0, jitter=0, max_total=1e9)
    assert 8.0 == policy.backoff(5000)
