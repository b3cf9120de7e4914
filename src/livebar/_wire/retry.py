"""When to retry an explicit client call, and how long to wait first: pure code.

``RetryPolicy.next_delay`` answers "sleep this long, then try again" or ``None`` ("give up");
the sync and async clients are small loops around it, with the clock, the sleep and the random
source injected.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from livebar._defaults import (
    DEFAULT_RETRY_AFTER_CAP,
    DEFAULT_RETRY_INITIAL,
    DEFAULT_RETRY_JITTER,
    DEFAULT_RETRY_MAX_ATTEMPTS,
    DEFAULT_RETRY_MAX_DELAY,
    DEFAULT_RETRY_MAX_TOTAL,
    DEFAULT_RETRY_MULTIPLIER,
)
from livebar._wire import checks as checks
from livebar._wire.errors import NOT_IDEMPOTENT, ConfigurationError, LivebarError, classify

__all__ = ["NOT_IDEMPOTENT", "NO_RETRY", "RetryPolicy", "backoff"]

_SYSTEM_RANDOM = random.Random()


def backoff(
    failures: int,
    *,
    initial: float,
    cap: float,
    multiplier: float = 2.0,
    jitter: float = DEFAULT_RETRY_JITTER,
    rng: random.Random | None = None,
) -> float:
    """The wait after the ``failures``-th failure in a row: the one backoff of livebar.

    ``min(cap, initial * multiplier ** (failures - 1))``, shortened by a random fraction of up
    to ``jitter`` (0 = exact, 1 = anywhere down to zero).
    """
    exponent = max(failures - 1, 0)
    try:
        base = min(cap, initial * multiplier**exponent)
    except OverflowError:
        base = cap
    source = _SYSTEM_RANDOM if rng is None else rng
    return base * (1.0 - jitter * source.random())


@dataclass(frozen=True)
class RetryPolicy:
    """Capped exponential backoff with jitter, bounded in attempts and in total time.

    The n-th retry waits ``min(max_delay, initial * multiplier ** (n - 1))``, shortened by a
    random fraction of up to ``jitter`` (0 = exact, 1 = anywhere down to zero). A server's
    ``Retry-After`` replaces the backoff (capped at ``retry_after_cap``). No retry is scheduled
    past ``max_attempts`` attempts or when it would end later than ``max_total`` seconds after
    the first attempt began.

    What is retried: ``ConnectError`` always (the request never arrived); timeouts, other
    transport errors, 5xx and the plain 429 rate limit, except for a manual ``start``, which is
    not idempotent: a start whose response was lost may already have created an activity, so it
    is retried only when it certainly never reached the server. Never retried: 400, 401, 402,
    403, 404, 422 and ``ActivityLimitError`` (retrying cannot change their answer).
    """

    max_attempts: int = DEFAULT_RETRY_MAX_ATTEMPTS
    initial: float = DEFAULT_RETRY_INITIAL
    multiplier: float = DEFAULT_RETRY_MULTIPLIER
    max_delay: float = DEFAULT_RETRY_MAX_DELAY
    max_total: float = DEFAULT_RETRY_MAX_TOTAL
    jitter: float = DEFAULT_RETRY_JITTER
    retry_after_cap: float = DEFAULT_RETRY_AFTER_CAP

    def __post_init__(self) -> None:
        checks.setting(checks.integer, self.max_attempts, "max_attempts", minimum=1)
        if not isinstance(self.max_attempts, int):
            raise ConfigurationError("max_attempts", "must be an integer")
        for name in ("initial", "multiplier", "max_delay", "max_total", "retry_after_cap"):
            checks.setting(checks.number, getattr(self, name), name, minimum=0)
        checks.setting(checks.number, self.jitter, "jitter", minimum=0, maximum=1)

    def should_retry(self, error: LivebarError, *, operation: str) -> bool:
        """Whether ``error`` is worth another attempt of ``operation`` (ignoring the budget)."""
        return classify(error).retryable(operation)

    def backoff(self, attempt: int, *, rng: random.Random | None = None) -> float:
        """The jittered wait after the ``attempt``-th failed attempt (1-based)."""
        return backoff(
            attempt,
            initial=self.initial,
            cap=self.max_delay,
            multiplier=self.multiplier,
            jitter=self.jitter,
            rng=rng,
        )

    def next_delay(
        self,
        *,
        attempt: int,
        error: LivebarError,
        elapsed: float,
        operation: str,
        rng: random.Random | None = None,
    ) -> float | None:
        """Seconds to wait before the next attempt, or ``None`` to give up and raise ``error``.

        ``attempt`` counts the attempts made so far (1 after the first failure); ``elapsed`` is
        the time since the first attempt began.
        """
        if attempt >= self.max_attempts:
            return None
        diagnosis = classify(error)
        if not diagnosis.retryable(operation):
            return None
        retry_after = diagnosis.retry_after
        if retry_after is not None:
            delay = min(max(retry_after, 0.0), self.retry_after_cap)
        else:
            delay = self.backoff(attempt, rng=rng)
        if elapsed + delay > self.max_total:
            return None
        return delay


NO_RETRY = RetryPolicy(max_attempts=1)
"""Try once; the engine's pacing decides what happens after a failure."""
