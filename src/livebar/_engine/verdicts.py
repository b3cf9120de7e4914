"""What one answer from the server means for the job that sent it: one pure table.

``interpret(job, kind, answer)`` takes what kind of job sent the request (an activity on a stream
or on the manual lifecycle, a push, a dead process's activity), which request it was (pacing's
``Kind``) and the answer — a result read by the client, or ``classify``'s ``Diagnosis`` of an
error — and returns a ``Verdict``: what pacing is told (``Heard``), what the job's stats count,
and what the shell must do (resend plainly, carry on as a stream, give up, settle an orphan,
stop the account, log once). The dispatcher applies verdicts and ``livebar reap`` reads the
same ones, so a new server answer is one row here (and one ``Trouble`` in ``classify``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from typing import NamedTuple, Union

from livebar._engine.jobs import JobKind
from livebar._engine.messages import Heard, Kind
from livebar._wire.errors import Diagnosis, Trouble

__all__ = ["Heard", "Note", "Standing", "Answered", "Verdict", "interpret"]


class Standing(enum.Enum):
    """What an answer changes for the whole account."""

    REFUSED = "refused"
    BLOCKED = "blocked"


class Note(enum.Enum):
    """What the engine says once (per activity, request kind and error) about an answer."""

    PLAIN = "plain"
    AS_STREAM = "as stream"
    GONE = "gone"
    GARBLED_START = "garbled start"
    DROPPED = "dropped"
    RESTARTED = "restarted"
    PAUSED = "paused"
    ORPHAN_ENDED = "orphan ended"
    NEVER_STARTED = "never started"
    NO_ENDPOINT = "no endpoint"


class Answered(NamedTuple):
    """What the engine reads of a result the client could read."""

    operation: str | None = None
    warning: bool = False
    activity_id: str | None = None

    @classmethod
    def of(cls, result: object) -> Answered:
        """Read a client result (``PushResult``, ``StreamResult``, …)."""
        return cls(
            getattr(result, "operation", None),
            bool(getattr(result, "warning", None)),
            getattr(result, "activity_id", None),
        )


@dataclass(frozen=True)
class Verdict:
    """What an answer means: for pacing (``heard``), for the job's stats, for the shell."""

    heard: Heard
    arrived: bool | None = True
    retry_after: float | None = None
    delivered: bool = False
    """Apply it as a success (ids, counts, the end delivered)."""
    retried: bool = False
    dropped: bool = False
    plain: bool = False
    """Send the end once more, plainly (an orphan's: without its last state)."""
    as_stream: bool = False
    """A manual start whose answer was lost: the activity carries on as a stream."""
    abandon: bool = False
    """Nothing more is sent for this activity."""
    settle_orphan: bool = False
    """An orphan is done with (ended, or never to be ended): not again."""
    forget: bool = False
    """A push that will never go: off the queue."""
    standing: Standing | None = None
    note: Note | None = None
    renewed: bool = False
    """The server replaced the activity (a rotation, or a new card): iOS's budget is fresh."""
    rotated: bool = False
    warning: bool = False

    @property
    def counted(self) -> bool:
        """Whether the request counts in ``stats.requests`` (it reached the server, or may have)."""
        return self.arrived is not False

    @property
    def unconfirmed(self) -> bool:
        """An end whose answer was lost: it may well be on the phone."""
        return self.arrived is None


Answer = Union[Answered, Diagnosis]

_CARDS = (JobKind.ACTIVITY, JobKind.FLEET)
"""The jobs that have a card of their own on the phone (an activity's, a fleet's)."""

_RETRYING = {
    Trouble.TRANSIENT: Heard.RETRY,
    Trouble.RATE_LIMITED: Heard.RATE_LIMITED,
    Trouble.ACTIVITY_LIMIT: Heard.SLOT_TAKEN,
}

_TABLE: dict[tuple[JobKind, Trouble], Verdict] = {
    # -- an activity's start, update, end, renewal or outcome push --------------------------
    (JobKind.ACTIVITY, Trouble.FORBIDDEN): Verdict(Heard.FORBIDDEN, standing=Standing.REFUSED),
    (JobKind.ACTIVITY, Trouble.BLOCKED): Verdict(Heard.BLOCKED, standing=Standing.BLOCKED),
    (JobKind.ACTIVITY, Trouble.GONE): Verdict(Heard.OK, note=Note.GONE),
    (JobKind.ACTIVITY, Trouble.GARBLED): Verdict(Heard.OK, delivered=True),
    (JobKind.ACTIVITY, Trouble.REJECTED): Verdict(Heard.NEVER, dropped=True, note=Note.DROPPED),
    (JobKind.ACTIVITY, Trouble.NO_ENDPOINT): Verdict(
        Heard.NEVER, abandon=True, dropped=True, note=Note.NO_ENDPOINT
    ),
    # -- a push of the user's (or an activity's outcome, queued by notify_on) ----------------
    (JobKind.PUSH, Trouble.FORBIDDEN): Verdict(Heard.FORBIDDEN, standing=Standing.REFUSED),
    (JobKind.PUSH, Trouble.BLOCKED): Verdict(Heard.BLOCKED, standing=Standing.BLOCKED),
    (JobKind.PUSH, Trouble.GONE): Verdict(Heard.OK, note=Note.GONE),
    (JobKind.PUSH, Trouble.GARBLED): Verdict(Heard.OK, delivered=True),
    (JobKind.PUSH, Trouble.REJECTED): Verdict(
        Heard.NEVER, dropped=True, forget=True, note=Note.DROPPED
    ),
    (JobKind.PUSH, Trouble.NO_ENDPOINT): Verdict(
        Heard.NEVER, dropped=True, forget=True, note=Note.NO_ENDPOINT
    ),
    # -- a dead process's activity, ended "Lost: …" -------------------------------------------
    (JobKind.ORPHAN, Trouble.FORBIDDEN): Verdict(Heard.FORBIDDEN, standing=Standing.REFUSED),
    (JobKind.ORPHAN, Trouble.BLOCKED): Verdict(Heard.BLOCKED, standing=Standing.BLOCKED),
    (JobKind.ORPHAN, Trouble.GONE): Verdict(Heard.OK, settle_orphan=True),
    (JobKind.ORPHAN, Trouble.GARBLED): Verdict(Heard.OK, settle_orphan=True),
    (JobKind.ORPHAN, Trouble.REJECTED): Verdict(Heard.NEVER, settle_orphan=True),
    (JobKind.ORPHAN, Trouble.NO_ENDPOINT): Verdict(Heard.NEVER),  # kept for a right base URL
    # -- another live process's card, shown as not responding: one update, never retried
    # plainly; a card that is gone needs no mark ------------------------------------------------
    (JobKind.MARK, Trouble.FORBIDDEN): Verdict(Heard.FORBIDDEN, standing=Standing.REFUSED),
    (JobKind.MARK, Trouble.BLOCKED): Verdict(Heard.BLOCKED, standing=Standing.BLOCKED),
    (JobKind.MARK, Trouble.GONE): Verdict(Heard.OK, delivered=True),
    (JobKind.MARK, Trouble.GARBLED): Verdict(Heard.OK, delivered=True),
    (JobKind.MARK, Trouble.REJECTED): Verdict(Heard.NEVER, dropped=True, forget=True),
    (JobKind.MARK, Trouble.NO_ENDPOINT): Verdict(Heard.NEVER, dropped=True, forget=True),
    # -- a fleet's card, sent by the member that leads: an activity's rows, but a card that
    # was already gone when its end arrived was ended by another member (a sender before this
    # one): nothing to say ---------------------------------------------------------------------
    (JobKind.FLEET, Trouble.FORBIDDEN): Verdict(Heard.FORBIDDEN, standing=Standing.REFUSED),
    (JobKind.FLEET, Trouble.BLOCKED): Verdict(Heard.BLOCKED, standing=Standing.BLOCKED),
    (JobKind.FLEET, Trouble.GONE): Verdict(Heard.OK, delivered=True),
    (JobKind.FLEET, Trouble.GARBLED): Verdict(Heard.OK, delivered=True),
    (JobKind.FLEET, Trouble.REJECTED): Verdict(Heard.NEVER, dropped=True, note=Note.DROPPED),
    (JobKind.FLEET, Trouble.NO_ENDPOINT): Verdict(
        Heard.NEVER, abandon=True, dropped=True, note=Note.NO_ENDPOINT
    ),
}
"""What a trouble means for each kind of job, before the request and the lifecycle refine it.
The three retrying troubles (``_RETRYING``) mean the same for every job: try again."""


class JobFacts(NamedTuple):
    """What the table needs to know of the job that sent the request."""

    kind: JobKind
    stream: bool = False
    """An activity on the stream lifecycle (its PUT and DELETE are safe to repeat)."""
    plain: bool = False
    """Its end was already sent plainly once."""
    had_id: bool = False
    """The activity had an id before this answer (a card we knew)."""


def interpret(job: JobFacts, kind: Kind, answer: Answer, *, own_request: bool = False) -> Verdict:
    """What ``answer`` to ``job``'s request ``kind`` means.

    ``own_request``: the error was a 403 about this one request (an activity another tool
    ended, a channel outside the key's scope): not ours to update any more.
    """
    if isinstance(answer, Answered):
        return _delivered(job, kind, answer)
    trouble, arrived, retry_after = answer
    activity = job.kind in _CARDS and kind is not Kind.PUSH
    if trouble is Trouble.NO_ENDPOINT and activity and kind is not Kind.START:
        trouble = Trouble.REJECTED  # the start found the API: this one request is refused
    if trouble is Trouble.GARBLED and activity and job.stream:
        trouble = Trouble.TRANSIENT  # a stream PUT/DELETE is safe to repeat
    if trouble in _RETRYING:
        verdict = Verdict(_RETRYING[trouble], retried=True)
        if job.kind in _CARDS and kind is Kind.START and arrived is None:
            # A manual start cannot be repeated safely: this one may be on the phone already.
            verdict = replace(verdict, as_stream=not job.stream, note=_as_stream(job))
    elif trouble is Trouble.REJECTED and _plainly(job, kind, own_request):
        verdict = Verdict(Heard.RETRY, plain=True, retried=True, note=Note.PLAIN)
    elif trouble is Trouble.GARBLED and activity and kind is Kind.START:
        # A manual start whose answer cannot be read: no id, so never updated nor ended.
        verdict = Verdict(Heard.OK, abandon=True, dropped=True, note=Note.GARBLED_START)
    elif trouble is Trouble.GONE and activity and job.stream and not job.had_id:
        # No start of this stream was ever confirmed (its answers were lost in an outage, and
        # it was taken as started): the card never existed. Its outcome goes out as a push.
        verdict = Verdict(Heard.NEVER_STARTED, note=Note.NEVER_STARTED)
    else:
        verdict = _TABLE[(job.kind, trouble)]
        if trouble is Trouble.REJECTED and own_request and kind is not Kind.PUSH:
            verdict = replace(verdict, abandon=job.kind in _CARDS)
    return replace(verdict, arrived=arrived, retry_after=retry_after)


def _plainly(job: JobFacts, kind: Kind, own_request: bool) -> bool:
    """An end the server refused as it was goes once more, plainly (an orphan's without the
    state it had), so that the card does not stay open."""
    if job.plain or own_request:
        return False
    return (job.kind in _CARDS and kind is Kind.END) or job.kind is JobKind.ORPHAN


def _as_stream(job: JobFacts) -> Note | None:
    return None if job.stream else Note.AS_STREAM


def _delivered(job: JobFacts, kind: Kind, result: Answered) -> Verdict:
    """A result the client could read: what it says beyond "done"."""
    if job.kind is JobKind.ORPHAN:
        return Verdict(Heard.OK, delivered=True, settle_orphan=True, note=Note.ORPHAN_ENDED)
    if job.kind in (JobKind.PUSH, JobKind.MARK):
        return Verdict(Heard.OK, delivered=True)
    verdict = Verdict(Heard.OK, delivered=True, warning=result.warning)
    if result.operation == "rotated":
        return replace(verdict, renewed=True, rotated=True)
    if result.operation == "started" and kind is Kind.UPDATE:
        # A new card: the start whose answer was lost never arrived (this is it), or the card
        # we had was ended by someone else (said once).
        return replace(verdict, renewed=True, note=Note.RESTARTED if job.had_id else None)
    if result.operation == "paused":
        return replace(verdict, note=Note.PAUSED)
    return verdict
