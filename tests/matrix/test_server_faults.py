"""Server faults by phase (start, mid-run, end), lifecycle (stream, manual) and job (returns,
raises), on the virtual clock.

Each cell runs the standard job (start at 0 s, half done at 5 s, done or ``ValueError`` at 15 s)
with one fault meeting the request of its phase, then leaves as a process does (``atexit``'s
flush, at most the 5 s deadline). Every cell checks the same promises:

- the job's own result or exception comes back unchanged, and nothing of livebar's is raised;
- the exit waits at most the flush deadline;
- whenever the server is reachable before the deadline, the phone ends showing the truth and
  no card is left open; otherwise ``act.stats`` and one log line say what was not delivered;
- ``act.stats`` agrees with the server's own log (requests that reached it, updates it took,
  whether the end arrived, the activity's id).

The request kinds each cell must produce are exact (``put``/``delete`` for the default stream
lifecycle, ``start``/``update``/``end`` for the manual one); where a seeded backoff decides how
many attempts fit in an outage, the cell reads the count from the server's log and checks each
attempt's place in it.
"""

from __future__ import annotations

import asyncio
import email.utils
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Callable

import pytest

from livebar._process import hooks as _hooks
from livebar.simulator import SimulatorConfig
from livebar.testing import VirtualTime, virtual_time

from .support import (
    BASE,
    DONE,
    FAILED,
    FLUSH_DEADLINE,
    LIFECYCLES,
    PHASES,
    TITLE,
    Outcome,
    at,
    capture_logs,
    kinds_of,
    label,
    open_cards,
    standard_job,
    standard_job_async,
)

SCOPED_KEY = "ask_scoped_ops"
"""A key of the simulated account that may target only the ``ops`` channel."""


@dataclass
class Expect:
    """What a cell must end with."""

    labels: list[str]
    delivered: bool = True
    """The end arrived and livebar knows it (``stats.end_delivered``)."""
    cards: int = 1
    """Activities the server started for the job."""
    orphans: int = 0
    """Of those, still running after the exit (never ended)."""
    truth: bool = True
    """The newest card shows how the job really ended (and is over)."""
    logged: str | None = None
    """A line livebar logs at WARNING or above, exactly once (None: no such line at all)."""
    refused: int = 0
    """Requests refused before reaching the server (connection refused)."""
    unconfirmed: bool = False
    """The end reached the server but its answer did not come back in time."""
    dropped: int | None = None
    """``stats.dropped`` when it is known exactly."""
    other: list[str] = field(default_factory=list)
    """Log lines (substrings) that must also appear, once each."""
    others: int = 0
    """Requests another tool on the account sent (in the server's log, not in our stats)."""
    gap: tuple[float, float] | None = None
    """Seconds from the first faulted answer to the next attempt: at least, at most."""
    retried: int | None = None
    """``stats.retried`` when it is known exactly."""


@dataclass(frozen=True)
class Fault:
    """One row of the table: how the fault is injected and what each phase must end with."""

    name: str
    inject: Callable[[VirtualTime, str], None]
    expect: Callable[[str, str, list[dict[str, Any]]], Expect]
    options: Callable[[str], dict[str, Any]] = lambda phase: {}
    config: SimulatorConfig | None = None


# -- how faults are injected --------------------------------------------------------------------


def fail(n: int, status: int, retry_after: Any = None) -> Callable[[VirtualTime, str], None]:
    def inject(vt: VirtualTime, lifecycle: str) -> None:
        vt.simulator.fail_next(n, status=status, retry_after=retry_after)

    return inject


def answer(
    body: Any, *, status: int = 200, handled: bool = False
) -> Callable[[VirtualTime, str], None]:
    def inject(vt: VirtualTime, lifecycle: str) -> None:
        vt.state.answer_next(1, body=body, status=status, handled=handled)

    return inject


def amend(**fields: Any) -> Callable[[VirtualTime, str], None]:
    def inject(vt: VirtualTime, lifecycle: str) -> None:
        vt.state.amend_next(1, **fields)

    return inject


def down_for(seconds: float | None) -> Callable[[VirtualTime, str], None]:
    def inject(vt: VirtualTime, lifecycle: str) -> None:
        vt.simulator.down()
        if seconds is not None:
            vt.call_later(seconds, vt.simulator.up)

    return inject


def slow(seconds: float, *, drip: bool, once: bool) -> Callable[[VirtualTime, str], None]:
    """Answers slower than the timeout (held, or dripped byte by byte); ``once``: only the
    request of this phase, cleared a moment after it was sent."""

    def inject(vt: VirtualTime, lifecycle: str) -> None:
        held = {"drip": seconds} if drip else {"delay": seconds}
        vt.state.set_faults(slow_next=1 if once else 0, **held)

    return inject


def http_date(seconds_from_now: float) -> str:
    return email.utils.formatdate(time.time() + seconds_from_now, usegmt=True)


def billing(vt: VirtualTime, lifecycle: str) -> None:
    vt.state.set_billing("trial_expired")


def ended_elsewhere(vt: VirtualTime, lifecycle: str, phase: str) -> None:
    """Another tool on the same account ends the job's card (403 scope at the start)."""
    if phase == "start":
        return  # the start is refused by the key's scope (see the options)
    [card] = vt.simulator.activities()
    from livebar import Client
    from livebar._wire.payload import ContentState, EndActivity, StreamEnd

    other = Client(api_key=vt.simulator.api_key, base_url="http://127.0.0.1:9/api")
    other.close()
    state = ContentState.progress("Ended elsewhere", percentage=50)
    if lifecycle == "stream":
        key = card["stream_key"]
        path = f"/live-activity/stream/{key}"
        body = StreamEnd(content_state=state).to_json()
        vt.state.handle("DELETE", path, authorization=_bearer(vt), body=_json(body))
    else:
        body = EndActivity(activity_id=card["activity_id"], content_state=state).to_json()
        vt.state.handle("POST", "/live-activity/end", authorization=_bearer(vt), body=_json(body))


def _bearer(vt: VirtualTime) -> str:
    return f"Bearer {vt.simulator.api_key}"


def _json(body: dict[str, Any]) -> bytes:
    import json

    return json.dumps(body).encode()


# -- what each phase must end with ----------------------------------------------------------------


def recovers(times: int, **extra: Any) -> Callable[[str, str, list[dict[str, Any]]], Expect]:
    """The faulted request is repeated until it goes through: ``times`` faulted answers."""

    def expect(phase: str, lifecycle: str, log: list[dict[str, Any]]) -> Expect:
        return Expect(kinds_of(BASE[lifecycle], phase, times + 1), retried=times, **extra)

    return expect


def recovers_after_outage(phase: str, lifecycle: str, log: list[dict[str, Any]]) -> Expect:
    """Refused while down (each attempt refused at the door), the first one after that works."""
    refused = sum(1 for r in log if r["fault"] == "dropped")
    return Expect(
        kinds_of(BASE[lifecycle], phase, refused + 1),
        refused=refused,
        retried=refused,
        logged="cannot reach ActivitySmith",  # said when it happens, and when it is over
        other=["answers again"],
    )


def outage_for_good(phase: str, lifecycle: str, log: list[dict[str, Any]]) -> Expect:
    """Down from the phase on: nothing more arrives; the exit says what was not delivered."""
    refused = sum(1 for r in log if r["fault"] == "dropped")
    i = PHASES.index(phase)
    done = BASE[lifecycle][:i]
    return Expect(
        done + [label(r) for r in log[i:]],
        delivered=False,
        cards=0 if phase == "start" else 1,
        orphans=0 if phase == "start" else 1,
        truth=False,
        logged=f"not delivered: {TITLE}",
        refused=refused,
        other=["cannot reach ActivitySmith"],
    )


LOST = ("delayed", "dripped", "dropped", "garbled")
"""Faults after which the server may have done more than livebar could learn."""
UNCONFIRMED = f"unconfirmed (no answer in time; it may have arrived): {TITLE}"
TWICE = "may now be on the phone twice"


def slow_once(phase: str, lifecycle: str, log: list[dict[str, Any]]) -> Expect:
    """The request of the phase reached the server but its answer came too late, once.

    The lost answer took the client's whole timeout (5 s): at the start, that is until the
    job is half done, so the repeated start carries the newer state.
    """
    if phase == "end":
        # The end arrived; the timeout took the whole deadline, so it is unconfirmed.
        return Expect(BASE[lifecycle], delivered=False, unconfirmed=True, logged=UNCONFIRMED)
    if phase == "start" and lifecycle == "manual":
        # A manual start cannot be repeated safely: the activity goes on as a stream.
        return Expect(["start", "put", "delete"], cards=2, orphans=1, logged=TWICE)
    if phase == "start":
        return Expect(["put", "put", "delete"])
    return Expect(kinds_of(BASE[lifecycle], phase, 2))


def dropped_once(phase: str, lifecycle: str, log: list[dict[str, Any]]) -> Expect:
    """The connection closed without an answer: repeated (it never reached the server)."""
    if phase == "start" and lifecycle == "manual":
        # Whether it arrived is unknown: the activity goes on as a stream, safe to repeat.
        return Expect(["start", "put", "put", "delete"], logged=TWICE)
    return Expect(kinds_of(BASE[lifecycle], phase, 2))


def slow_for_good(phase: str, lifecycle: str, log: list[dict[str, Any]]) -> Expect:
    """Every answer from the phase on comes too late: everything arrives, nothing confirms."""
    found = [label(r) for r in log]
    i = PHASES.index(phase)
    if phase == "start" and lifecycle == "manual":
        head, cards, orphans, logged = ["start"], 2, 1, TWICE
        body, tail = "put", "delete"
    else:
        head, cards, orphans, logged = BASE[lifecycle][:i], 1, 0, UNCONFIRMED
        body, tail = BASE[lifecycle][min(i, 1)], BASE[lifecycle][-1]
    middle = found[len(head) : -1]
    assert middle == [body] * len(middle)
    expected = [*head, *middle, tail]
    other = [UNCONFIRMED] if logged != UNCONFIRMED else []
    return Expect(
        expected,
        delivered=False,
        cards=cards,
        orphans=orphans,
        unconfirmed=True,
        logged=logged,
        other=other,
    )


def garbled(phase: str, lifecycle: str, log: list[dict[str, Any]]) -> Expect:
    """A 200 the client cannot read: the request arrived and probably worked."""
    if lifecycle == "stream":  # safe to repeat: repeated
        return Expect(kinds_of(BASE[lifecycle], phase, 2))
    if phase == "start":  # a manual start cannot be repeated: given up on, once, loudly
        return Expect(
            ["start"],
            delivered=False,
            orphans=1,
            truth=False,
            logged="could not be read",
            dropped=1,
        )
    return Expect(BASE[lifecycle])  # an update or end that arrived: taken as done


def wrong_types(phase: str, lifecycle: str, log: list[dict[str, Any]]) -> Expect:
    """Fields of the wrong type: only a manual start's ``activity_id`` matters."""
    if lifecycle == "manual" and phase == "start":
        return garbled(phase, lifecycle, log)
    return Expect(BASE[lifecycle])


def never_started(lifecycle: str, *, logged: str, dropped: int | None = None) -> Expect:
    """The start is refused for good: that one request, no card, one line."""
    return Expect(
        BASE[lifecycle][:1], delivered=False, cards=0, truth=False, logged=logged, dropped=dropped
    )


def rejected(phase: str, lifecycle: str, log: list[dict[str, Any]]) -> Expect:
    """The server refuses this one request for good (400/404/422)."""
    if phase == "start":
        return never_started(lifecycle, logged="request dropped", dropped=1)
    if phase == "mid-run":  # that state is dropped; the end shows the truth
        return Expect(BASE[lifecycle], logged="request dropped", dropped=1)
    # The end is sent again once, plainly (no buttons, no decorations), and that one arrives.
    return Expect(kinds_of(BASE[lifecycle], phase, 2), logged="sent again plainly", dropped=0)


def gone(phase: str, lifecycle: str, log: list[dict[str, Any]]) -> Expect:
    """404: to a start, the base URL does not lead to the API (ActivitySmith never answers a
    start "not found", save "no recipients"); mid-run like any refusal; to an end, the activity
    is gone."""
    if phase == "start":
        return never_started(lifecycle, logged="does not lead to ActivitySmith's API", dropped=1)
    if phase != "end":
        return rejected(phase, lifecycle, log)
    return Expect(
        BASE[lifecycle],
        delivered=False,
        orphans=1,  # the fault answered 404 without ending it: the server's word against it
        truth=False,
        logged="already gone",
    )


def not_ours(phase: str, lifecycle: str, log: list[dict[str, Any]]) -> Expect:
    """403: the key's scope refuses the start; mid-run and at the end another tool ended the
    card, so it is not ours to update any more."""
    if phase == "start":
        return rejected(phase, lifecycle, log)
    if lifecycle == "manual" and phase == "mid-run":
        # Our update is refused (403); nothing more is sent; the other tool's end stands.
        return Expect(
            ["start", "end", "update"],
            delivered=False,
            truth=False,
            logged="request dropped",
            dropped=1,
            others=1,
        )
    if lifecycle == "manual":  # our end of an ended activity: 200, already ended
        return Expect(["start", "update", "end", "end"], truth=False, others=1)
    if phase == "mid-run":  # the stream starts afresh with our next state; our end ends it
        return Expect(
            ["put", "delete", "put", "delete"], cards=2, others=1, logged="started a new card"
        )
    return Expect(["put", "put", "delete", "delete"], truth=False, others=1)


def key_refused(phase: str, lifecycle: str, log: list[dict[str, Any]]) -> Expect:
    """401: the key is refused; nothing more is sent for it, and what is open stays open."""
    i = PHASES.index(phase)
    return Expect(
        BASE[lifecycle][: i + 1],
        delivered=False,
        cards=0 if phase == "start" else 1,
        orphans=0 if phase == "start" else 1,
        truth=False,
        logged="refused the API key",
    )


def billing_blocked(phase: str, lifecycle: str, log: list[dict[str, Any]]) -> Expect:
    """402: nothing new may be sent, but updates and ends of what runs still work."""
    if phase == "start":
        return never_started(lifecycle, logged="billing blocks new sends")
    if lifecycle == "stream" and phase == "mid-run":
        # The stream's PUT counts as something new (402); its DELETE still ends it truthfully.
        return Expect(["put", "put", "delete"], logged="billing blocks new sends")
    return Expect(BASE[lifecycle])


def paused(retry_after: float) -> Callable[[str, str, list[dict[str, Any]]], Expect]:
    """A 429 whose Retry-After (capped at 60 s) outlasts the job and the flush deadline."""

    def expect(phase: str, lifecycle: str, log: list[dict[str, Any]]) -> Expect:
        i = PHASES.index(phase)
        return Expect(
            BASE[lifecycle][: i + 1],
            delivered=False,
            cards=0 if phase == "start" else 1,
            orphans=0 if phase == "start" else 1,
            truth=False,
            logged=f"not delivered: {TITLE}",
        )

    return expect


BACKOFF = (0.5, 1.0)
"""The first backoff after a refusal with no usable hint: 1 s, shortened by up to half."""

LIMIT_BODY = {
    "error": "Live Activity limit reached",
    "message": "Only 4 concurrent Live Activities are allowed per account",
    "limit": 4,
    "active": 4,
}

FAULTS = [
    Fault("refused, back after 2 s", down_for(2.0), recovers_after_outage),
    Fault("refused for good", down_for(None), outage_for_good),
    Fault("connection dropped", lambda vt, lc: vt.simulator.drop_next(1), dropped_once),
    Fault("slower than the timeout, once", slow(6.0, drip=False, once=True), slow_once),
    Fault("slower than the timeout, for good", slow(6.0, drip=False, once=False), slow_for_good),
    Fault("slow drip, once", slow(8.0, drip=True, once=True), slow_once),
    Fault("slow drip, for good", slow(8.0, drip=True, once=False), slow_for_good),
    Fault("500 twice", fail(2, 500), recovers(2)),
    Fault("502 twice", fail(2, 502), recovers(2)),
    Fault("503 twice", fail(2, 503), recovers(2)),
    Fault("200 success: false", answer({"success": False}), recovers(1)),
    Fault("200 empty body", answer(b"", handled=True), garbled),
    Fault("200 HTML", answer(b"<html><body>Bad gateway</body></html>", handled=True), garbled),
    Fault("200 malformed JSON", answer(b'{"success": tr', handled=True), garbled),
    Fault("200 JSON array", answer(b"[1, 2]", handled=True), garbled),
    Fault(
        "200 wrong-type fields",
        answer({"success": "yes", "activity_id": 12345, "operation": 7}, handled=True),
        wrong_types,
    ),
    Fault("429 rate limit, no Retry-After", fail(2, 429), recovers(2)),
    Fault("429 Retry-After: 2", fail(1, 429, retry_after=2.0), recovers(1, gap=(2.0, 2.0))),
    Fault(
        "429 Retry-After: HTTP-date in 3 s",
        fail(1, 429, retry_after="date+3"),
        recovers(1, gap=(2.0, 3.0)),
    ),
    Fault(
        "429 Retry-After: HTTP-date past",
        fail(1, 429, retry_after="date-600"),
        recovers(1, gap=BACKOFF),
    ),
    Fault("429 Retry-After: -5", fail(1, 429, retry_after="-5"), recovers(1, gap=BACKOFF)),
    Fault("429 Retry-After: garbage", fail(1, 429, retry_after="soon"), recovers(1, gap=BACKOFF)),
    Fault("429 Retry-After: huge", fail(1, 429, retry_after="99999999"), paused(60.0)),
    Fault(
        "429 Retry-After: year 9999",
        fail(1, 429, retry_after="Fri, 31 Dec 9999 23:59:59 GMT"),
        paused(60.0),
    ),
    Fault("429 activity limit", answer(LIMIT_BODY, status=429), recovers(1)),
    Fault("400", fail(1, 400), rejected),
    Fault("404", fail(1, 404), gone),
    Fault(
        "422 no recipients",
        answer(
            {"error": "No recipients found", "message": "none", "effective_channel_slugs": []},
            status=422,
        ),
        rejected,
    ),
    Fault(
        "403 scope or foreign activity",
        lambda vt, lc: None,  # see ended_elsewhere (needs the phase)
        not_ours,
        options=lambda phase: (
            {"api_key": SCOPED_KEY, "channels": ["devs"]} if phase == "start" else {}
        ),
        config=SimulatorConfig(keys={"ask_sim_default": None, SCOPED_KEY: ("ops",)}),
    ),
    Fault(
        "401",
        answer({"error": "Unauthorized", "message": "Missing or invalid API key"}, status=401),
        key_refused,
    ),
    Fault("402 billing block", billing, billing_blocked),
    Fault("unknown fields", amend(end_reason="completed", future={"x": [1]}), recovers(0)),
    Fault("unknown operation", amend(operation="teleported"), recovers(0)),
]

JOBS = ("with, returns", "async with, raises")


def cells() -> Iterator[Any]:
    for fault in FAULTS:
        for phase in PHASES:
            for lifecycle in LIFECYCLES:
                for job in JOBS:
                    yield pytest.param(
                        fault,
                        phase,
                        lifecycle,
                        job,
                        id=f"{fault.name} | {phase} | {lifecycle} | {job}",
                    )


@pytest.mark.parametrize(("fault", "phase", "lifecycle", "job"), list(cells()))
def test_server_fault(fault: Fault, phase: str, lifecycle: str, job: str) -> None:
    """The job is untouched, the exit is bounded, the phone ends truthfully, stats agree."""
    with capture_logs() as logs, virtual_time(config=fault.config) as vt:
        outcome = _run(vt, fault, phase, lifecycle, job)
        exit_started = vt.now
        _hooks.at_exit()  # what the interpreter's exit runs: flush, then say what is missing
        exited = vt.now
        log = vt.simulator.requests()
        expect = fault.expect(phase, lifecycle, log)
        _check(vt, outcome, expect, log, logs.livebar(), job)
        # The exit waits at most the flush deadline, and nothing arrives after it.
        assert exited - exit_started <= FLUSH_DEADLINE + 1e-9
        assert all(at(r) <= outcome.closed_at + FLUSH_DEADLINE + 1e-9 for r in log)


def _run(vt: VirtualTime, fault: Fault, phase: str, lifecycle: str, job: str) -> Outcome:
    def inject(now: str) -> None:
        if now != phase:
            return
        if fault.name.startswith("403"):
            ended_elsewhere(vt, lifecycle, phase)
            return
        fault.inject(vt, lifecycle)
        faults = vt.state.faults
        if isinstance(faults.retry_after, str) and faults.retry_after.startswith("date"):
            faults.retry_after = http_date(float(faults.retry_after[4:]))

    fail = job.endswith("raises")
    options = fault.options(phase)
    if job.startswith("async"):
        return asyncio.run(
            standard_job_async(vt, lifecycle=lifecycle, fail=fail, inject=inject, **options)
        )
    return standard_job(vt, lifecycle=lifecycle, fail=fail, inject=inject, **options)


def _check(
    vt: VirtualTime,
    outcome: Outcome,
    expect: Expect,
    log: list[dict[str, Any]],
    lines: list[str],
    job: str,
) -> None:
    sim = vt.simulator
    stats = outcome.act.stats
    # What the server saw.
    assert expect.labels == [label(r) for r in log]
    cards = sim.activities()
    assert expect.cards == len(cards)
    assert expect.orphans == len(open_cards(sim))
    if expect.truth:
        newest = cards[-1]
        shown = newest["displayed"]
        assert "ended" == newest["state"]
        assert (FAILED if job.endswith("raises") else DONE) == shown["subtitle"]
        assert 100 == shown["percentage"]
    # What livebar says, and that it agrees with the server.
    assert expect.delivered == stats.end_delivered
    assert expect.unconfirmed == stats.end_unconfirmed
    assert len(log) - expect.refused - expect.others == stats.requests
    if expect.gap is not None:
        first = next(i for i, r in enumerate(log) if r["fault"] is not None)
        waited = at(log[first + 1]) - at(log[first])
        assert expect.gap[0] - 1e-6 <= waited <= expect.gap[1] + 1e-6
    if expect.delivered:
        assert cards[-1]["activity_id"] == stats.activity_id
    if expect.dropped is not None:
        assert expect.dropped == stats.dropped
    if expect.retried is not None:
        assert expect.retried == stats.retried
    if not any(r["fault"] in LOST for r in log):  # every answer was read: the counts agree
        took = sum(e["kind"] == "update" for card in cards for e in card["history"])
        assert took == stats.updates
    if expect.logged is None:
        assert [] == lines
    else:
        assert 1 == sum(expect.logged in line for line in lines), lines
    for other in expect.other:
        assert 1 == sum(other in line for line in lines), lines
