"""The engine's side of scheduled jobs (``_engine/overdue.py`` decides): it records each start
and end of a job with ``expect_every`` in the ledger, and, at a low cadence, pushes each missed
period of any scheduled job on its account, once (claimed in the ledger first). The push is an
ordinary ``PushJob``: the same pacing, request builder and verdicts as the user's pushes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from livebar import _defaults
from livebar._engine.jobs import PushJob
from livebar._engine.overdue import missed_push, to_push
from livebar._ledger import watching
from livebar._log import log

if TYPE_CHECKING:
    from livebar._engine.jobs import ActivityJob
    from livebar._engine.outbox import Outbox

__all__ = ["check", "ended", "started"]


def _name(job: ActivityJob) -> str | None:
    spec = job.spec
    if spec.expect_every is None:
        return None
    return spec.name or spec.stream_key


def started(outbox: Outbox, job: ActivityJob, now: float) -> None:
    """A scheduled job's run began: its schedule, and nothing missed since."""
    name, spec = _name(job), job.spec
    if name is None or spec.expect_every is None:
        return
    grace = spec.grace if spec.grace is not None else 0.0
    watching.schedule_started(
        outbox.ledger,
        name,
        now,
        outbox.wall(),
        title=job.title,
        expect_every=spec.expect_every,
        grace=grace,
    )


def ended(outbox: Outbox, job: ActivityJob, now: float) -> None:
    """A scheduled job's run ended: how."""
    name = _name(job)
    if name is not None and job.ending is not None:
        outcome = job.ending.outcome.value
        watching.schedule_ended(outbox.ledger, name, now, outbox.wall(), outcome)


def check(outbox: Outbox, now: float, new_key: Callable[[], int]) -> None:
    """Push, once per missed period, every scheduled job of the account that has not started."""
    if now < outbox.next_schedule_check:
        return
    outbox.next_schedule_check = now + _defaults.DEFAULT_SCHEDULE_CHECK
    wall = outbox.wall()
    for schedule in watching.schedules(outbox.ledger, now):
        period = to_push(schedule, wall)
        if period and watching.claim_missed(outbox.ledger, schedule, period, now):
            notification = missed_push(schedule, wall)
            outbox.queue(PushJob(new_key(), notification, outbox.config, client=outbox.client))
            log.warning("livebar: %s", notification.title)
