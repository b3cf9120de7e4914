"""The request a job sends for one of pacing's sends: built here, pure, sent by the shell.

``build(job, kind)`` returns a ``Call``: the client operation, its body and, for a stream, its
key. The dispatcher sends it; ``livebar reap`` builds an orphan's end with the same function.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple, Union

from livebar._engine.jobs import ActivityJob, MarkJob, OrphanJob, PushJob
from livebar._engine.messages import Kind
from livebar._job.endings import Outcome
from livebar._wire.errors import Operation
from livebar._wire.payload import (
    EndActivity,
    PushNotification,
    StartActivity,
    StreamEnd,
    StreamUpdate,
    UpdateActivity,
)

if TYPE_CHECKING:
    from livebar._engine.hung import Mark
    from livebar._engine.jobs import Job
    from livebar._engine.lost import LostEnd
    from livebar._job.watchdog import Watch

__all__ = [
    "CONTINUES",
    "Body",
    "Call",
    "build",
    "mark_call",
    "orphan_call",
    "outcome_push",
    "watch_push",
]

CONTINUES = "Continues on a new card\u2026"
"""The last words of an activity livebar renews before iOS's 8 hours end it."""

Body = Union[PushNotification, StartActivity, UpdateActivity, EndActivity, StreamUpdate, StreamEnd]


class Call(NamedTuple):
    """One request: the API's ``operation`` with ``body`` (and the stream ``key``)."""

    operation: Operation
    body: Body
    key: str | None = None


def build(job: Job, kind: Kind) -> Call:
    """The request ``job`` sends for ``kind`` (its current state, as the engine sampled it)."""
    if isinstance(job, PushJob):
        return Call(Operation.PUSH, job.notification)
    if isinstance(job, OrphanJob):
        return orphan_call(job.end.bare() if job.plain else job.end)
    if isinstance(job, MarkJob):
        return mark_call(job.mark)
    if kind is Kind.PUSH:
        return Call(Operation.PUSH, outcome_push(job))
    return _activity_call(job, kind)


def _activity_call(job: ActivityJob, kind: Kind) -> Call:
    spec, state = job.spec, job.state
    assert state is not None
    action, secondary = spec.action, spec.secondary_action
    dismiss = job.ending.dismiss_minutes if job.ending is not None else None
    if kind is Kind.END and job.plain:  # refused as it was: only what must be said
        state = state.replace(icon=None, badge=None, color=None, step_color=None)
        state = state.replace(step_colors=None)
        action = secondary = None
    if kind is Kind.ROTATE:  # the old card goes at once; the new one follows
        state = state.replace(subtitle=CONTINUES)
        dismiss = 0
    if job.stream_key is not None:
        if kind is Kind.END:
            end = StreamEnd(
                content_state=state,
                auto_dismiss_minutes=dismiss,
                action=action,
                secondary_action=secondary,
            )
            return Call(Operation.END_STREAM, end, job.stream_key)
        put = StreamUpdate(
            content_state=state, channels=spec.channels, action=action, secondary_action=secondary
        )
        return Call(Operation.STREAM, put, job.stream_key)
    if kind is Kind.START:
        start = StartActivity(
            content_state=state, channels=spec.channels, action=action, secondary_action=secondary
        )
        return Call(Operation.START, start)
    activity_id = job.stats.activity_id
    assert activity_id is not None  # set by the start that made pacing send this
    if kind is Kind.UPDATE:
        update = UpdateActivity(
            activity_id=activity_id,
            content_state=state,
            action=action,
            secondary_action=secondary,
        )
        return Call(Operation.UPDATE, update)
    ending = EndActivity(
        activity_id=activity_id,
        content_state=state,
        auto_dismiss_minutes=dismiss,
        action=action,
        secondary_action=secondary,
    )
    return Call(Operation.END, ending)


def orphan_call(end: LostEnd) -> Call:
    """The end of a dead process's activity: a stream's DELETE, or ``/live-activity/end``."""
    orphan = end.orphan
    dismiss = end.auto_dismiss_minutes
    if orphan.stream_key is not None:
        body = StreamEnd(content_state=end.content_state, auto_dismiss_minutes=dismiss)
        return Call(Operation.END_STREAM, body, orphan.stream_key)
    assert orphan.activity_id is not None
    return Call(
        Operation.END,
        EndActivity(
            activity_id=orphan.activity_id,
            content_state=end.content_state,
            auto_dismiss_minutes=dismiss,
        ),
    )


def mark_call(mark: Mark) -> Call:
    """The update that shows another process's card as not responding: a stream's PUT (the
    server follows the stream's renewals), else ``/live-activity/update`` with the card's id."""
    watched, state = mark.watched, mark.content_state
    if watched.stream_key is not None:
        return Call(Operation.STREAM, StreamUpdate(content_state=state), watched.stream_key)
    assert watched.activity_id is not None
    update = UpdateActivity(activity_id=watched.activity_id, content_state=state)
    return Call(Operation.UPDATE, update)


def outcome_push(job: ActivityJob) -> PushNotification:
    """ "Deploy failed" with the ending's text: for ``notify_on`` and when no activity started."""
    ending = job.ending
    outcome = ending.outcome if ending is not None else Outcome.DONE
    return PushNotification(
        title=f"{job.title} {outcome.verb}",
        message=ending.subtitle if ending is not None else None,
        channels=job.spec.channels,
    )


def watch_push(job: ActivityJob, event: Watch) -> PushNotification:
    """ "Upload stalled" with the card's words (``notify_on=["stalled"]``, ``["overrun"]``)."""
    return PushNotification(
        title=f"{job.title} {event.verb}",
        message=job.watch.text,
        channels=job.spec.channels,
    )
