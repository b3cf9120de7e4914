"""A scheduled job that did not start: when it is overdue, and what the phone is told. Pure.

A job with a stable name and ``expect_every`` records its schedule in the ledger at each start
(``livebar._ledger.schedules``). Its next start is due ``expect_every`` after the last one; once
``grace`` has passed after that with no start, period 1 is missed; ``expect_every`` later,
period 2, and so on. Each missed period is pushed once ("Nightly backup has not started (last
ran 26h ago)"): the watcher that claims it in the ledger sends it. A start resets the count.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import TYPE_CHECKING, NamedTuple

from livebar._engine.hung import hung_message, progress_text, shown_state
from livebar._wire.payload import PushNotification

if TYPE_CHECKING:
    from livebar._ledger.backend import Watched
    from livebar._ledger.schedules import Schedule

__all__ = ["JobRow", "ago", "job_rows", "missed_period", "missed_push", "to_push"]


def missed_period(schedule: Schedule, wall: float) -> int:
    """Which period of ``schedule`` is missed at ``wall`` (0: none, the job is not overdue)."""
    late = wall - schedule.last_start - schedule.grace
    if not late > schedule.expect_every:
        return 0
    return math.ceil(late / schedule.expect_every) - 1  # period k once late is past k periods


def to_push(schedule: Schedule, wall: float) -> int:
    """The missed period to push now (0: nothing: not overdue, or already pushed)."""
    period = missed_period(schedule, wall)
    return period if period > schedule.missed else 0


def ago(seconds: float) -> str:
    """``45s``, ``14m``, ``26h``, ``3d``: how long ago, at the grain a person reads it."""
    seconds = max(seconds, 0.0)
    if seconds < 120:
        return f"{int(seconds)}s"
    if seconds < 120 * 60:
        return f"{int(seconds // 60)}m"
    if seconds < 72 * 3600:
        return f"{int(seconds // 3600)}h"
    return f"{int(seconds // 86400)}d"


def missed_push(schedule: Schedule, wall: float) -> PushNotification:
    """``Nightly backup has not started (last ran 26h ago)``, and what was expected."""
    since = ago(wall - schedule.last_start)
    still = " and has not finished" if schedule.running else ""
    last = f"; it last ended {schedule.outcome}" if schedule.outcome and not still else ""
    return PushNotification(
        title=f"{schedule.title} has not started (last ran {since} ago)",
        message=(
            f"Expected every {ago(schedule.expect_every)} (grace {ago(schedule.grace)}); "
            f"the last run started {since} ago{still}{last}."
        ),
    )


class JobRow(NamedTuple):
    """One line of ``livebar status``."""

    title: str
    state: str
    """``running``, ``not responding``, ``overdue``, ``waiting`` (for its next start)."""
    detail: str
    last_outcome: str | None
    name: str | None = None


def job_rows(schedules: Iterable[Schedule], cards: Iterable[Watched], wall: float) -> list[JobRow]:
    """The account's jobs: the cards on the phone (running, or not responding), then the
    scheduled jobs (overdue, or waiting for their next start; one whose card is listed
    above is not listed again)."""
    rows: list[JobRow] = []
    titles = set()
    for card in cards:
        titles.add(card.title)
        if card.marked or not card.alive:
            state, detail = "not responding", hung_message(card)
        else:
            at = progress_text(shown_state(card.state))
            state, detail = "running", f"process {card.owner.pid}" + (f", {at}" if at else "")
        rows.append(JobRow(card.title, state, detail, None))
    for schedule in schedules:
        overdue = missed_period(schedule, wall) > 0
        if schedule.title in titles and not overdue:
            continue
        last = f"last started {ago(wall - schedule.last_start)} ago"
        if overdue:
            state = "overdue"
        elif schedule.running:
            state = "running"
        else:
            state = "waiting"
            last += f", next due in {ago(schedule.last_start + schedule.expect_every - wall)}"
        rows.append(JobRow(schedule.title, state, last, schedule.outcome, schedule.name))
    return rows
