"""``livebar reap``: end the activities of killed processes truthfully, from the command line.

A job killed outright (SIGKILL, the OOM killer, a lost node) never sends its end: its activity
stays on the phone as if the job were still running. Every livebar process on the account looks
for such orphans in the ledger and ends them as one of its jobs; ``reap`` does the same once, in
the foreground (run it from cron or a systemd timer where no livebar process may come by). Each
answer means what ``verdicts.interpret`` says it means for an orphan, as in the engine.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from livebar import _defaults
from livebar._engine.budgets import Budgets
from livebar._engine.hung import Action, decide, facts_of, ios_room, mark_of
from livebar._engine.jobs import JobKind
from livebar._engine.lost import LostEnd, lost_end
from livebar._engine.messages import Heard, Kind
from livebar._engine.outbox import perform
from livebar._engine.overdue import missed_push, to_push
from livebar._engine.requests import Call, mark_call, orphan_call
from livebar._engine.verdicts import Answered, JobFacts, Verdict, interpret
from livebar._ledger import watching
from livebar._wire.errors import (
    Diagnosis,
    LivebarError,
    Operation,
    PermissionDeniedError,
    Trouble,
    classify,
)

if TYPE_CHECKING:
    from livebar._ledger.backend import Orphan, Watched
    from livebar._ledger.ledger import AccountLedger
    from livebar._ledger.schedules import Schedule

__all__ = ["ReapReport", "reap"]

_AGAIN = (Heard.RETRY, Heard.RATE_LIMITED)
"""The answers after which the same end is sent again (after a wait), within the deadline."""


@dataclass
class ReapReport:
    """What ``reap`` did: orphans ``ended`` (the phone now shows the truth), ``already_ended``
    (the server had ended them), and ``failed`` (the end did not go through now; the claim was
    given back, so a later pass tries again, unless the server will never take it), each with
    the reason."""

    ended: list[Orphan] = field(default_factory=list)
    already_ended: list[Orphan] = field(default_factory=list)
    failed: list[tuple[Orphan, str]] = field(default_factory=list)
    marked: list[Watched] = field(default_factory=list)
    """Cards of live processes silent for ``hang_after``, shown as not responding now."""
    not_responding: list[Watched] = field(default_factory=list)
    """Cards already marked whose processes are still silent (and those waiting for iOS's
    budget to mark them)."""
    restoring: list[Watched] = field(default_factory=list)
    """Marked cards whose processes answer again: each owner shows its own state again."""
    mark_failed: list[tuple[Watched, str]] = field(default_factory=list)
    missed: list[tuple[Schedule, str]] = field(default_factory=list)
    """Scheduled jobs that did not start, pushed now (with the push's title)."""
    missed_failed: list[tuple[Schedule, str]] = field(default_factory=list)

    @property
    def found(self) -> int:
        return len(self.ended) + len(self.already_ended) + len(self.failed)


def reap(
    ledger: AccountLedger,
    client: Any,
    *,
    limit: int = _defaults.DEFAULT_REQUESTS_PER_MINUTE,
    deadline: float = 30.0,
    auto_dismiss_minutes: int = _defaults.DEFAULT_FAILURE_AUTO_DISMISS_MINUTES,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    hang_after: float = _defaults.DEFAULT_HANG_AFTER,
    wall: Callable[[], float] = time.time,
) -> ReapReport:
    """Claim every orphan of ``ledger``'s account and end it truthfully with ``client``.

    Each end is first admitted by the ledger (as an end: it may use the whole of ``limit``),
    waiting for room at most until ``deadline`` seconds have passed. Never raises for the
    server's answers: they are in the report.
    """
    report = ReapReport()
    started = clock()
    orphans = ledger.claim_orphans(started)
    for index, orphan in enumerate(orphans):
        admission = ledger.acquire(clock(), limit=limit)
        while not admission.admitted and admission.retry_at - started <= deadline:
            sleep(max(admission.retry_at - clock(), 0.0))
            admission = ledger.acquire(clock(), limit=limit)
        if not admission.admitted:
            for rest in orphans[index:]:
                ledger.settle_orphan(rest.id, clock(), ended=False)
                report.failed.append((rest, "no room in the account's rate limit in time"))
            break
        end = lost_end(orphan, auto_dismiss_minutes=auto_dismiss_minutes)
        verdict, answer, why = _end_by(started + deadline, client, end, clock, sleep)
        if verdict.standing is not None:  # the key (or its billing) refuses everything
            for rest in orphans[index:]:
                ledger.settle_orphan(rest.id, clock(), ended=False)
                report.failed.append((rest, why))
            break
        settled = verdict.settle_orphan
        if isinstance(answer, Diagnosis) and answer.trouble is Trouble.GONE:
            report.already_ended.append(orphan)
        elif verdict.heard is not Heard.OK:
            report.failed.append((orphan, why))
        elif (
            orphan.stream_key is not None
            and isinstance(answer, Answered)
            and not answer.activity_id
        ):
            report.already_ended.append(orphan)  # a DELETE of a stream that had ended
        else:
            report.ended.append(orphan)
        ledger.settle_orphan(orphan.id, clock(), ended=settled)
    watch(ledger, client, report, Budgets(hang_after=hang_after), limit=limit, clock=clock)
    push_missed(ledger, client, report, limit=limit, clock=clock, wall=wall)
    return report


def push_missed(
    ledger: AccountLedger,
    client: Any,
    report: ReapReport,
    *,
    limit: int,
    clock: Callable[[], float],
    wall: Callable[[], float],
) -> None:
    """Push, once per missed period, every scheduled job of the account that has not started
    (``overdue.to_push``), claimed in the ledger first (a push that does not go through is
    reported, not tried again: the next missed period's push says it again)."""
    for schedule in watching.schedules(ledger, clock()):
        period = to_push(schedule, wall())
        if not period or not watching.claim_missed(ledger, schedule, period, clock()):
            continue
        notification = missed_push(schedule, wall())
        admission = ledger.acquire(clock(), limit=limit, floor=Budgets().end_reserve)
        if admission.admitted:
            verdict, why = _send(
                client, Call(Operation.PUSH, notification), JobKind.PUSH, Kind.PUSH
            )
        else:
            verdict, why = Verdict(Heard.RETRY), "no room in the account's rate limit now"
        if verdict.heard is Heard.OK:
            report.missed.append((schedule, notification.title))
        else:  # claimed: the next period's push says it again
            report.missed_failed.append((schedule, why))


def watch(
    ledger: AccountLedger,
    client: Any,
    report: ReapReport,
    budgets: Budgets,
    *,
    limit: int,
    clock: Callable[[], float],
) -> None:
    """Mark, once, every card of a live process silent for ``budgets.hang_after``
    (``hung.decide``), when iOS's budget for the card has room; a mark that certainly did not
    reach the phone is given back to the ledger for a later pass."""
    for watched in watching.watch(ledger, clock()):
        action = decide(facts_of(watched), hang_after=budgets.hang_after)
        if action is Action.RESTORE:
            report.restoring.append(watched)
        elif action is Action.NOTHING and watched.marked:
            report.not_responding.append(watched)
        if action is not Action.MARK:
            continue
        if not ios_room(watched, budgets) or not watching.mark(ledger, watched.id, clock()):
            report.not_responding.append(watched)
            continue
        admission = ledger.acquire(clock(), limit=limit, floor=budgets.end_reserve)
        if not admission.admitted:
            watching.mark(ledger, watched.id, clock(), marked=False)
            report.mark_failed.append((watched, "no room in the account's rate limit now"))
            continue
        verdict, why = _send(client, mark_call(mark_of(watched)), JobKind.MARK, Kind.UPDATE)
        if verdict.heard is Heard.OK:
            report.marked.append(watched)
        else:
            # It did not reach the phone (or the server said not now): a later pass tries again.
            # One whose answer was lost may be on the phone: it stays marked, once is enough.
            again = verdict.heard in _AGAIN or verdict.standing is not None
            if again and verdict.arrived is not None:
                watching.mark(ledger, watched.id, clock(), marked=False)
            report.mark_failed.append((watched, why))


def _send(client: Any, call: Call, job: JobKind, kind: Kind) -> tuple[Verdict, str]:
    """Send ``call`` once; what its answer means for a job of ``job``'s kind."""
    try:
        result = perform(client, call)
    except LivebarError as exc:
        mine = isinstance(exc, PermissionDeniedError)
        verdict = interpret(JobFacts(job), kind, classify(exc), own_request=mine)
        return verdict, f"{type(exc).__name__}: {exc}"
    return interpret(JobFacts(job), kind, Answered.of(result)), ""


def _end_by(
    until: float,
    client: Any,
    end: LostEnd,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
) -> tuple[Verdict, Answered | Diagnosis, str]:
    """Send ``end``; again after the wait the server asks for while it is busy or the account's
    window is full (other tools share the key), as long as the answer can come by ``until``."""
    verdict, answer, why = _end(client, end)
    backoff = _defaults.DEFAULT_BACKOFF_INITIAL
    while verdict.heard in _AGAIN and clock() + backoff <= until:
        wait = verdict.retry_after if verdict.retry_after is not None else backoff
        sleep(min(max(wait, backoff), max(until - clock(), 0.0)))
        backoff = min(backoff * 2, _defaults.DEFAULT_BACKOFF_MAX)
        verdict, answer, why = _end(client, end)
    return verdict, answer, why


def _end(client: Any, end: LostEnd) -> tuple[Verdict, Answered | Diagnosis, str]:
    """Send ``end`` (once more without its last state if the server refuses that state)."""
    plain = False
    while True:
        call = orphan_call(end.bare() if plain else end)
        try:
            result = perform(client, call)
        except LivebarError as exc:
            answer: Answered | Diagnosis = classify(exc)
            why = f"{type(exc).__name__}: {exc}"
            mine = isinstance(exc, PermissionDeniedError)
        else:
            answer, why, mine = Answered.of(result), "", False
        facts = JobFacts(JobKind.ORPHAN, plain=plain)
        verdict = interpret(facts, Kind.END, answer, own_request=mine)
        if not verdict.plain:
            return verdict, answer, why
        plain = True
