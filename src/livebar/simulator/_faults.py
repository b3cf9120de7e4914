"""Injected faults, and the one plan of what a faulted exchange does, in order.

``Faults`` holds what the next API requests suffer (set through ``SimulatorState.set_faults``,
``answer_next`` and ``amend_next``); ``take`` consumes what applies to one request and returns a
``FaultDecision``. ``exchange(decision, ...)`` turns that decision into an ``Exchange``: the steps
the HTTP shell performs, in order (wait, refuse the connection, let the simulated account handle
the request or log it as the fault's, drop the connection, time out, answer, drip). Both shells
perform the same plan: the served app (``_app.py``) and virtual time (``livebar.testing``). They
differ only in what they can do: the served app cannot refuse a connection it has accepted (a
server that is down drops it instead) and does not know the client's timeout; the in-process
shell can refuse, and it knows the timeout, so a delay longer than it is a request the server
handles on arrival and answers after the client gave up.

Pure: no I/O, no clock.
"""

from __future__ import annotations

import enum
import http
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TypedDict

from livebar._wire.errors import ValidationError
from livebar.simulator._answers import JSON, Reply, rate_limited


@dataclass(frozen=True)
class RawAnswer:
    """An answer sent byte for byte, whatever it is (an empty body, HTML, broken JSON)."""

    status: int
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of(
        cls, body: bytes | str | JSON, status: int, headers: Mapping[str, str] | None
    ) -> RawAnswer:
        """``body`` as sent: bytes or text as they are, a dict as JSON (JSON bodies say so)."""
        if isinstance(body, dict):
            raw = json.dumps(body).encode()
            kind = {"Content-Type": "application/json"}
        else:
            raw = body.encode() if isinstance(body, str) else bytes(body)
            kind = {"Content-Type": "application/json"} if raw[:1] in (b"{", b"[") else {}
        return cls(status, raw, {**kind, **dict(headers or {})})


@dataclass(frozen=True)
class FaultDecision:
    """What the HTTP shell must do with one API request before (or instead of) handling it.

    ``delay`` holds the request before anything is answered; ``drip`` sends the answer's bytes
    one at a time over that many seconds (each read is quick, the whole answer is slow).
    ``raw`` replaces the answer with these bytes; ``handled`` says whether the simulated account
    handles the request first (an answer garbled on its way back) or not at all. ``amend`` adds
    fields to the real answer (fields and values a newer server might send). ``down``: the
    server is down (``drop`` too): a shell that can refuses the connection.
    """

    delay: float = 0.0
    drop: bool = False
    reply: Reply | None = None
    drip: float = 0.0
    raw: RawAnswer | None = None
    handled: bool = False
    amend: JSON | None = None
    down: bool = False

    @property
    def answered(self) -> bool:
        """Whether the fault answers (or drops) the request instead of the simulated account."""
        return self.drop or self.reply is not None or (self.raw is not None and not self.handled)


class FaultSettings(TypedDict, total=False):
    """What ``SimulatorState.set_faults`` changes; a setting left out is kept."""

    fail_next: int
    """Answer the next this many requests with ``status``."""
    status: int
    retry_after: float | str | None
    """Goes with ``fail_next``: seconds, or the header's exact text (an HTTP-date, garbage)."""
    delay: float
    """Hold every request this long before answering."""
    drop_next: int
    """Close the connection of the next this many requests without an answer."""
    down: bool
    """Drop every request (refuse its connection where the shell can) until False."""
    drip: float
    """Send every answer one byte at a time over this many seconds (the requests are handled)."""
    slow_next: int
    """Limit ``delay`` and ``drip`` to the next this many requests (0: every one until changed)."""


@dataclass
class Faults:
    """Injected failures; counters count down as requests consume them."""

    fail_next: int = 0
    status: int = 503
    retry_after: float | str | None = None
    """Seconds, or the header's text as it is sent (an HTTP-date, garbage)."""
    delay: float = 0.0
    drop_next: int = 0
    down: bool = False
    drip: float = 0.0
    slow_next: int = 0
    """``delay`` and ``drip`` apply to the next ``slow_next`` requests only (0: to every one)."""
    answer_next: int = 0
    answer: RawAnswer | None = None
    answer_handled: bool = False
    amend_next: int = 0
    amend: JSON | None = None

    def to_json(self) -> JSON:
        return {
            "fail_next": self.fail_next,
            "status": self.status,
            "retry_after": self.retry_after,
            "delay": self.delay,
            "drop_next": self.drop_next,
            "down": self.down,
            "drip": self.drip,
            "slow_next": self.slow_next,
            "answer_next": self.answer_next,
            "amend_next": self.amend_next,
        }

    def change(self, settings: FaultSettings) -> None:
        """Apply ``settings`` (``SimulatorState.set_faults``); a setting left out or ``None`` is
        kept, a bad value raises ``ValidationError`` naming it."""
        fail_next = settings.get("fail_next")
        if fail_next is not None:
            self.fail_next = _non_negative_int("fail_next", fail_next)
            self.retry_after = settings.get("retry_after")
        status = settings.get("status")
        if status is not None:
            if not 400 <= status <= 599:
                raise ValidationError("status", "range", "must be an HTTP error status")
            self.status = status
        delay = settings.get("delay")
        if delay is not None:
            self.delay = _non_negative_seconds("delay", delay)
        drop_next = settings.get("drop_next")
        if drop_next is not None:
            self.drop_next = _non_negative_int("drop_next", drop_next)
        down = settings.get("down")
        if down is not None:
            self.down = down
        drip = settings.get("drip")
        if drip is not None:
            self.drip = _non_negative_seconds("drip", drip)
        slow_next = settings.get("slow_next")
        if slow_next is not None:
            self.slow_next = _non_negative_int("slow_next", slow_next)

    def answer_with(self, n: int, answer: RawAnswer, *, handled: bool) -> None:
        """Answer the next ``n`` requests with ``answer`` (see ``SimulatorState.answer_next``)."""
        self.answer_next = _non_negative_int("answer_next", n)
        self.answer = answer
        self.answer_handled = handled

    def amend_with(self, n: int, fields: JSON) -> None:
        """Add ``fields`` to the next ``n`` answers (see ``SimulatorState.amend_next``)."""
        self.amend_next = _non_negative_int("amend_next", n)
        self.amend = dict(fields)

    def take(self, *, strict: bool) -> FaultDecision:
        """Consume the fault (if any) that applies to the next API request."""
        delay, drip = self.delay, self.drip
        if self.slow_next > 0 and (delay or drip):
            self.slow_next -= 1
            if not self.slow_next:
                self.delay = self.drip = 0.0
        if self.down:
            return FaultDecision(delay=delay, drop=True, down=True)
        if self.drop_next > 0:
            self.drop_next -= 1
            return FaultDecision(delay=delay, drop=True)
        if self.fail_next > 0:
            self.fail_next -= 1
            return FaultDecision(delay=delay, drip=drip, reply=self._failure(strict=strict))
        if self.answer_next > 0 and self.answer is not None:
            self.answer_next -= 1
            return FaultDecision(
                delay=delay, drip=drip, raw=self.answer, handled=self.answer_handled
            )
        if self.amend_next > 0:
            self.amend_next -= 1
            return FaultDecision(delay=delay, drip=drip, amend=self.amend)
        return FaultDecision(delay=delay, drip=drip)

    def _failure(self, *, strict: bool) -> Reply:
        headers: dict[str, str] = {}
        if isinstance(self.retry_after, str):
            headers["Retry-After"] = self.retry_after
        elif self.retry_after is not None:
            headers["Retry-After"] = f"{self.retry_after:g}"
        if self.status == 429:
            return rate_limited(strict=strict, headers=headers)
        return Reply(
            self.status,
            {
                "error": _status_phrase(self.status),
                "message": "Simulated failure (fault injection)",
            },
            headers,
        )


def _status_phrase(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _non_negative_int(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValidationError(name, "minimum", "must be a non-negative integer")
    return value


def _non_negative_seconds(name: str, value: float) -> float:
    if not value >= 0:  # NaN too
        raise ValidationError(name, "minimum", "must not be negative")
    return float(value)


class Step(enum.Enum):
    """One thing that happens to a faulted request; an ``Exchange`` lists them in order."""

    WAIT = "wait"
    """Hold the request ``Exchange.wait`` seconds."""
    REFUSE = "refuse"
    """Refuse the connection (the server is down): nothing arrives."""
    RECORD = "record"
    """Log the request as the fault's: it never reaches the simulated account."""
    HANDLE = "handle"
    """The simulated account handles the request (its log says what the fault did)."""
    DROP = "drop"
    """Close the connection without a byte of answer."""
    TIME_OUT = "time out"
    """The client gives up: its timeout passed before any answer."""
    ANSWER = "answer"
    """Answer: ``Exchange.answer`` if set, else the account's reply; over ``drip`` seconds."""


@dataclass(frozen=True)
class Exchange:
    """What happens to one API request, in order, and with what."""

    steps: tuple[Step, ...]
    wait: float = 0.0
    answer: Reply | RawAnswer | None = None
    """The fault's answer (a reply, or raw bytes that replace the account's); None: the
    account's reply."""
    drip: float = 0.0


def exchange(
    decision: FaultDecision, *, timeout: float | None = None, can_refuse: bool = False
) -> Exchange:
    """The plan for a request under ``decision``: ``timeout`` is the client's (None: unknown,
    never reached), ``can_refuse`` whether the shell can refuse a connection."""
    if decision.down and can_refuse:
        return Exchange((Step.RECORD, Step.REFUSE))
    serve = Step.RECORD if decision.answered else Step.HANDLE
    if timeout is not None and decision.delay >= timeout:
        # The server handles it as it arrives; its answer comes after the client gave up.
        return Exchange((serve, Step.WAIT, Step.TIME_OUT), wait=timeout)
    waiting = (Step.WAIT,) if decision.delay > 0 else ()
    if decision.drop:
        return Exchange((*waiting, serve, Step.DROP), wait=decision.delay)
    answer = decision.raw if decision.raw is not None else decision.reply
    return Exchange(
        (*waiting, serve, Step.ANSWER), wait=decision.delay, answer=answer, drip=decision.drip
    )
