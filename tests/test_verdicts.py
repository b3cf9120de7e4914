"""What one answer means, as a table: every kind of job x trouble x lifecycle x arrival."""

from __future__ import annotations

from typing import Any

import pytest

from livebar._engine.jobs import JobKind
from livebar._engine.messages import Heard, Kind
from livebar._engine.verdicts import Answered, JobFacts, Note, Standing, interpret
from livebar._wire.errors import Diagnosis, Trouble

ACTIVITY_STREAM = JobFacts(JobKind.ACTIVITY, stream=True)
ACTIVITY_MANUAL = JobFacts(JobKind.ACTIVITY, stream=False)
PUSH = JobFacts(JobKind.PUSH)
ORPHAN = JobFacts(JobKind.ORPHAN)

T = Trouble
# (job, request, trouble, arrived, own 403) -> what must hold of the verdict
TABLE: list[tuple[str, JobFacts, Kind, Trouble, bool | None, bool, dict[str, Any]]] = [
    # retrying troubles mean the same for every job: try again
    ("5xx update", ACTIVITY_STREAM, Kind.UPDATE, T.TRANSIENT, True, False, {"heard": Heard.RETRY}),
    ("timeout end", ACTIVITY_MANUAL, Kind.END, T.TRANSIENT, None, False, {"heard": Heard.RETRY}),
    (
        "429 window",
        ACTIVITY_STREAM,
        Kind.START,
        T.RATE_LIMITED,
        True,
        False,
        {"heard": Heard.RATE_LIMITED},
    ),
    (
        "429 slots",
        ACTIVITY_MANUAL,
        Kind.START,
        T.ACTIVITY_LIMIT,
        True,
        False,
        {"heard": Heard.SLOT_TAKEN},
    ),
    (
        "5xx push",
        PUSH,
        Kind.PUSH,
        T.TRANSIENT,
        True,
        False,
        {"heard": Heard.RETRY, "forget": False},
    ),
    (
        "down orphan",
        ORPHAN,
        Kind.END,
        T.TRANSIENT,
        False,
        False,
        {"heard": Heard.RETRY, "settle_orphan": False},
    ),
    # a 404 to what creates (a start, a stream PUT, a push): the base URL misses the API
    (
        "404 start",
        ACTIVITY_STREAM,
        Kind.START,
        T.NO_ENDPOINT,
        True,
        False,
        {"heard": Heard.NEVER, "abandon": True, "note": Note.NO_ENDPOINT},
    ),
    (
        "404 stream update",
        ACTIVITY_STREAM,
        Kind.UPDATE,
        T.NO_ENDPOINT,
        True,
        False,
        {"heard": Heard.NEVER, "abandon": False, "note": Note.DROPPED},
    ),
    (
        "404 push",
        PUSH,
        Kind.PUSH,
        T.NO_ENDPOINT,
        True,
        False,
        {"heard": Heard.NEVER, "forget": True, "note": Note.NO_ENDPOINT},
    ),
    # a start whose answer was lost: a stream simply repeats, a manual one carries on as a stream
    (
        "lost stream start",
        ACTIVITY_STREAM,
        Kind.START,
        T.TRANSIENT,
        None,
        False,
        {"as_stream": False, "note": None},
    ),
    (
        "lost manual start",
        ACTIVITY_MANUAL,
        Kind.START,
        T.TRANSIENT,
        None,
        False,
        {"as_stream": True, "note": Note.AS_STREAM},
    ),
    (
        "refused manual start",
        ACTIVITY_MANUAL,
        Kind.START,
        T.TRANSIENT,
        False,
        False,
        {"as_stream": False},
    ),
    # garbled 2xx: it arrived and probably worked
    (
        "garbled stream put",
        ACTIVITY_STREAM,
        Kind.UPDATE,
        T.GARBLED,
        True,
        False,
        {"heard": Heard.RETRY},
    ),
    (
        "garbled manual update",
        ACTIVITY_MANUAL,
        Kind.UPDATE,
        T.GARBLED,
        True,
        False,
        {"heard": Heard.OK, "delivered": True},
    ),
    (
        "garbled manual start",
        ACTIVITY_MANUAL,
        Kind.START,
        T.GARBLED,
        True,
        False,
        {"heard": Heard.OK, "abandon": True, "dropped": True, "note": Note.GARBLED_START},
    ),
    (
        "garbled outcome push",
        ACTIVITY_MANUAL,
        Kind.PUSH,
        T.GARBLED,
        True,
        False,
        {"heard": Heard.OK, "delivered": True},
    ),
    (
        "garbled push",
        PUSH,
        Kind.PUSH,
        T.GARBLED,
        True,
        False,
        {"heard": Heard.OK, "delivered": True},
    ),
    (
        "garbled orphan end",
        ORPHAN,
        Kind.END,
        T.GARBLED,
        True,
        False,
        {"heard": Heard.OK, "settle_orphan": True},
    ),
    # rejected: never, except an end, which goes once more plainly
    (
        "400 update",
        ACTIVITY_STREAM,
        Kind.UPDATE,
        T.REJECTED,
        True,
        False,
        {"heard": Heard.NEVER, "dropped": True, "note": Note.DROPPED},
    ),
    (
        "400 end",
        ACTIVITY_STREAM,
        Kind.END,
        T.REJECTED,
        True,
        False,
        {"heard": Heard.RETRY, "plain": True, "note": Note.PLAIN},
    ),
    (
        "400 plain end",
        JobFacts(JobKind.ACTIVITY, plain=True),
        Kind.END,
        T.REJECTED,
        True,
        False,
        {"heard": Heard.NEVER, "plain": False, "dropped": True},
    ),
    (
        "403 end",
        ACTIVITY_MANUAL,
        Kind.END,
        T.REJECTED,
        True,
        True,
        {"heard": Heard.NEVER, "plain": False, "abandon": True},
    ),
    (
        "403 update",
        ACTIVITY_MANUAL,
        Kind.UPDATE,
        T.REJECTED,
        True,
        True,
        {"abandon": True, "dropped": True},
    ),
    (
        "403 outcome push",
        ACTIVITY_MANUAL,
        Kind.PUSH,
        T.REJECTED,
        True,
        True,
        {"abandon": False, "dropped": True},
    ),
    (
        "422 push",
        PUSH,
        Kind.PUSH,
        T.REJECTED,
        True,
        False,
        {"heard": Heard.NEVER, "forget": True, "dropped": True},
    ),
    (
        "400 orphan end",
        ORPHAN,
        Kind.END,
        T.REJECTED,
        True,
        False,
        {"heard": Heard.RETRY, "plain": True},
    ),
    (
        "400 bare orphan end",
        JobFacts(JobKind.ORPHAN, plain=True),
        Kind.END,
        T.REJECTED,
        True,
        False,
        {"heard": Heard.NEVER, "settle_orphan": True},
    ),
    (
        "403 orphan end",
        ORPHAN,
        Kind.END,
        T.REJECTED,
        True,
        True,
        {"plain": False, "settle_orphan": True},
    ),
    # gone: what an end wanted
    (
        "404 end of a card we knew",
        JobFacts(JobKind.ACTIVITY, stream=True, had_id=True),
        Kind.END,
        T.GONE,
        True,
        False,
        {"heard": Heard.OK, "note": Note.GONE, "delivered": False},
    ),
    (
        "404 end of a manual card",
        ACTIVITY_MANUAL,
        Kind.END,
        T.GONE,
        True,
        False,
        {"heard": Heard.OK, "note": Note.GONE},
    ),
    (
        "404 end of a stream never confirmed started",
        ACTIVITY_STREAM,
        Kind.END,
        T.GONE,
        True,
        False,
        {"heard": Heard.NEVER_STARTED, "note": Note.NEVER_STARTED},
    ),
    (
        "404 orphan end",
        ORPHAN,
        Kind.END,
        T.GONE,
        True,
        False,
        {"heard": Heard.OK, "settle_orphan": True},
    ),
    # the account
    (
        "401",
        ACTIVITY_STREAM,
        Kind.UPDATE,
        T.FORBIDDEN,
        True,
        False,
        {"heard": Heard.FORBIDDEN, "standing": Standing.REFUSED},
    ),
    ("401 push", PUSH, Kind.PUSH, T.FORBIDDEN, True, False, {"standing": Standing.REFUSED}),
    (
        "401 orphan",
        ORPHAN,
        Kind.END,
        T.FORBIDDEN,
        True,
        False,
        {"standing": Standing.REFUSED, "settle_orphan": False},
    ),
    (
        "402",
        ACTIVITY_MANUAL,
        Kind.START,
        T.BLOCKED,
        True,
        False,
        {"heard": Heard.BLOCKED, "standing": Standing.BLOCKED},
    ),
]


@pytest.mark.parametrize(
    ("job", "kind", "trouble", "arrived", "own", "expected"),
    [pytest.param(*row[1:], id=row[0]) for row in TABLE],
)
def test_what_an_error_means(
    job: JobFacts,
    kind: Kind,
    trouble: Trouble,
    arrived: bool | None,
    own: bool,
    expected: dict[str, Any],
) -> None:
    """Each row: the verdict's fields that matter for it, and the arrival carried through."""
    verdict = interpret(job, kind, Diagnosis(trouble, arrived, 3.0), own_request=own)
    assert expected == {name: getattr(verdict, name) for name in expected}
    assert (arrived, 3.0) == (verdict.arrived, verdict.retry_after)
    assert verdict.retried == (verdict.heard is not Heard.OK and verdict.heard in _RETRY)


_RETRY = (Heard.RETRY, Heard.RATE_LIMITED, Heard.SLOT_TAKEN)


@pytest.mark.parametrize(
    ("job", "kind", "result", "expected"),
    [
        (ACTIVITY_STREAM, Kind.UPDATE, Answered("updated"), {"delivered": True, "renewed": False}),
        (ACTIVITY_STREAM, Kind.UPDATE, Answered("rotated"), {"renewed": True, "rotated": True}),
        (ACTIVITY_STREAM, Kind.UPDATE, Answered("started"), {"renewed": True, "note": None}),
        (
            JobFacts(JobKind.ACTIVITY, stream=True, had_id=True),
            Kind.UPDATE,
            Answered("started"),
            {"renewed": True, "note": Note.RESTARTED},
        ),
        (ACTIVITY_STREAM, Kind.START, Answered("started"), {"renewed": False}),
        (ACTIVITY_STREAM, Kind.UPDATE, Answered("paused"), {"note": Note.PAUSED}),
        (ACTIVITY_MANUAL, Kind.UPDATE, Answered("updated", warning=True), {"warning": True}),
        (PUSH, Kind.PUSH, Answered(), {"delivered": True, "settle_orphan": False}),
        (ORPHAN, Kind.END, Answered("ended"), {"settle_orphan": True, "note": Note.ORPHAN_ENDED}),
    ],
)
def test_what_a_result_means(
    job: JobFacts, kind: Kind, result: Answered, expected: dict[str, Any]
) -> None:
    """A result the client could read: delivered, and what its operation says beyond that."""
    verdict = interpret(job, kind, result)
    assert Heard.OK == verdict.heard
    assert expected == {name: getattr(verdict, name) for name in expected}


def test_every_trouble_has_a_row_for_every_kind_of_job() -> None:
    """No (job, trouble) pair falls through: a new Trouble needs its row."""
    for kind in JobKind:
        for trouble in Trouble:
            job = JobFacts(kind)
            request = Kind.PUSH if kind is JobKind.PUSH else Kind.UPDATE
            assert interpret(job, request, Diagnosis(trouble, True)).heard in Heard
