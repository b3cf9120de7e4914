"""A fleet member in the engine: report to the ledger, and lead the card while holding the lease.

Every turn, for each ``FleetJob`` of an account (``tend``):

1. *join* a run of the fleet (once; ``AccountLedger.fleet_join``);
2. *report* the member's absolute state every ``fleet_report_every`` (its heartbeat, with
   its progress), and at once (at most every ``fleet_min_write``) when it ended or changed
   stage; the same call renews the sender's lease if this member holds it, or takes it if it
   is free (``SET NX PX``);
3. *lead*, while it holds the lease: read the fleet's record (every ``fleet_read_every``),
   render the card (``fleet_view.render_fleet``) and hand it to pacing like any activity's
   state, through the same budgets, request builder and verdicts; when ``fleet.is_over`` says
   so, the card's end. A member that takes over a card already on the phone adopts it (its age
   and updates are in the record): the same stream key, no hand-off.

A member whose own job ended writes its final state; it is done unless it leads a card that is
not over: then it hands the lease back (the next member's report takes it) — or, when nobody
else runs any more, it ends the card itself, after giving members that have not started yet a
short grace (``fleet_late_grace``) to join and take the lease. A hand-over reads the record
again once the lease is free, so that a member which ended in between (and found the lease
still held) is not left trusting a sender that has gone. A member that cannot renew its lease
(the ledger does not answer) stops sending before the lease can pass to another. Members that
are not the sender send nothing to ActivitySmith. Nothing here raises: the ledger's calls never
do.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from livebar import _defaults
from livebar._engine.freshness import snapshot_of
from livebar._engine.messages import Kind
from livebar._job.fleet import (
    Fleet,
    Member,
    MemberState,
    expected_of,
    is_over,
    others_report,
    tally,
)
from livebar._job.fleet_view import fleet_ending, render_fleet
from livebar._ledger.backend import FleetJoin, FleetReport
from livebar._log import log

if TYPE_CHECKING:
    from livebar._engine.budgets import Budgets
    from livebar._engine.jobs import FleetJob
    from livebar._engine.outbox import Outbox
    from livebar._ledger.backend import FleetRecord

__all__ = ["delivered", "tend"]

QUIET_REPORTS = 2.5
"""A member that has missed this many reports (of ``fleet_report_every``) has gone quiet."""
LEASE_MARGIN = 0.75
"""A sender stops this far into its lease (as a share of it) when it could not renew it, so
that it has stopped before another member can take the lease."""


def tend(outbox: Outbox, job: FleetJob, now: float, budgets: Budgets) -> None:
    """One turn of one member (its own progress was just sampled into ``job.mine``)."""
    if job.run is None and not _join(outbox, job, now, budgets):
        return
    _report(outbox, job, now, budgets)
    if job.leading and job.ending is None:
        _lead(outbox, job, now, budgets)
    if job.wrote_final and not job.leading:
        job.stats.end_delivered = True  # the member's end is in the fleet's record
        outbox.settle(job, now)


def delivered(outbox: Outbox, job: FleetJob, kind: Kind, now: float) -> None:
    """A card request went through: what other senders must know of the card (its age, its
    updates, that it is over) goes into the fleet's record."""
    if job.run is None:
        return
    if kind is Kind.START:
        job.card_started = now
    elif kind is Kind.UPDATE:
        job.card_updates += 1
    card = None
    if job.card_started is not None:
        card = {"started": job.card_started + job.offset, "updates": job.card_updates}
    over = kind is Kind.END
    outbox.ledger.fleet_card(job.run, now, holder=job.holder, card=card, over=over)
    if over:  # the card is over: the lease is no use to anyone
        _write(outbox, job, now, lead=False, release=True)


def _join(outbox: Outbox, job: FleetJob, now: float, budgets: Budgets) -> bool:
    if now < job.next_join:
        return False
    spec = job.fleet
    joining = FleetJoin(
        run=spec.run,
        meta=spec.meta(job.spec.title),
        deadline=spec.deadline,
        join_window=_defaults.DEFAULT_FLEET_JOIN_WINDOW,
        lost_after=budgets.fleet_lost_after,
    )
    run = outbox.ledger.fleet_join(spec.name, spec.member, now, joining)
    if run is None:
        job.next_join = now + budgets.fleet_report_every
        _unavailable(job)
        return False
    job.join(run)
    return True


def _report(outbox: Outbox, job: FleetJob, now: float, budgets: Budgets) -> None:
    final = job.own_ending is not None
    news = _news(job.mine, job.reported)
    due = now >= job.next_report or (news and now >= job.reported_at + budgets.fleet_min_write)
    if job.wrote_final or not (due or (final and news)):
        return
    leads = _write(outbox, job, now, lead=True, release=False)
    if leads is None:
        job.next_report = now + budgets.fleet_report_every
        _unavailable(job)
        if job.leading and now >= job.lease_until:
            _step_down(outbox, job, now, "it could not renew the fleet's lease in time")
        return
    if job.unavailable:
        job.unavailable = False
        log.info("livebar: fleet %r reports again", job.fleet.name)
    job.reported, job.reported_at = job.mine, now
    job.next_report = now + budgets.fleet_report_every
    job.wrote_final = final
    if final:
        job.left_at = now
        job.next_read = -float("inf")  # whether the card ends with it is decided at once
    if leads:
        job.lease_until = now + budgets.fleet_lease * LEASE_MARGIN
        if not job.leading:
            job.leading = True
            job.next_read = -float("inf")
            job.shown = None
    elif job.leading:
        _step_down(outbox, job, now, "another member holds the fleet's lease")


def _news(mine: MemberState, reported: MemberState | None) -> bool:
    """Whether the member's state changed in a way the card shows at once (it ended, or moved
    to another stage); mere progress waits for the next report, so a member that counts every
    second writes every ``fleet_report_every``, not every second."""
    return reported is None or (mine.outcome, mine.stage) != (reported.outcome, reported.stage)


def _write(outbox: Outbox, job: FleetJob, now: float, *, lead: bool, release: bool) -> bool | None:
    assert job.run is not None
    lease = outbox.policy.budgets.fleet_lease
    report = FleetReport(job.mine.to_json(), job.holder, lease, lead=lead, release=release)
    return outbox.ledger.fleet_report(job.run, job.fleet.member, now, report)


def _lead(outbox: Outbox, job: FleetJob, now: float, budgets: Budgets) -> None:
    """Read the record when due, and show what it says (``_show``)."""
    if now < job.next_read:
        return
    assert job.run is not None
    record = outbox.ledger.fleet_read(job.run, now, lost_after=budgets.fleet_lost_after)
    job.next_read = now + budgets.fleet_read_every
    if record is not None:
        _show(outbox, job, now, budgets, record)


def _show(
    outbox: Outbox,
    job: FleetJob,
    now: float,
    budgets: Budgets,
    record: FleetRecord,
    *,
    may_hand_over: bool = True,
) -> None:
    """Render the card from ``record`` and hand it (or its end) to pacing; a sender whose own
    job ended hands the lease to a member still running instead."""
    if record.over:  # another sender delivered its end
        _step_down(outbox, job, now, None)
        return
    job.offset = record.now - now
    fleet = fleet_of(record, job, quiet_after=QUIET_REPORTS * budgets.fleet_report_every)
    counted = tally(fleet)
    leaving = job.wrote_final
    ending = None
    waited = now - job.left_at
    if is_over(fleet, counted, leaving=leaving, waited=waited, late_grace=budgets.fleet_late_grace):
        ending = fleet_ending(job.spec, counted, at=now)
    elif leaving and may_hand_over and others_report(fleet, job.fleet.member):
        kept = _hand_over(outbox, job, now, budgets)
        if kept is not None:  # the others ended meanwhile: this sender ends the card
            _show(outbox, job, now, budgets, kept, may_hand_over=False)
        return
    elif leaving:  # the others went quiet, could not take it, or have not started yet: stay
        _write(outbox, job, now, lead=True, release=False)
    state = render_fleet(job.spec, job.fleet.bar, fleet, counted, ending)
    job.state, job.snapshot = state, snapshot_of(state)
    policy = outbox.policy
    if policy.phase(job.key) is None:
        outbox.open(job, now)
        card = record.card
        if card is not None and isinstance(card.get("started"), (int, float)):
            updates = card.get("updates")
            job.card_started = float(card["started"]) - job.offset
            job.card_updates = updates if isinstance(updates, int) else 0
            policy.adopt(job.key, now, age=now - job.card_started, updates=job.card_updates)
    if ending is not None:
        job.ending = ending
        policy.close(job.key, job.snapshot)
    else:
        policy.observe(job.key, job.snapshot)


def _hand_over(outbox: Outbox, job: FleetJob, now: float, budgets: Budgets) -> FleetRecord | None:
    """Give the lease to the members still running (the first of them to report takes it);
    the record read after the release when this sender kept the lease after all, else None.

    A member that wrote its final state between this sender's read and the release found the
    lease held and has left, trusting this sender: so read again once the lease is free. When
    nobody reports any more, take the lease back (nobody else can have) and end the card here;
    any member that ends after the release finds the lease free and takes it itself.
    """
    assert job.run is not None
    _write(outbox, job, now, lead=False, release=True)
    record = outbox.ledger.fleet_read(job.run, now, lost_after=budgets.fleet_lost_after)
    if record is not None and not record.over:
        fleet = fleet_of(record, job, quiet_after=QUIET_REPORTS * budgets.fleet_report_every)
        if not others_report(fleet, job.fleet.member) and _write(
            outbox, job, now, lead=True, release=False
        ):
            return record
    _step_down(outbox, job, now, None)
    return None


def fleet_of(record: FleetRecord, job: FleetJob, *, quiet_after: float) -> Fleet:
    """The pure view of a record, as ``fleet.tally`` and the renderer read it."""
    meta = record.meta
    title = meta.get("title")
    return Fleet(
        title=title if isinstance(title, str) and title else job.spec.title,
        expected=expected_of(meta, job.fleet.expected),
        members=tuple(
            Member(
                name,
                MemberState.from_json(entry.state),
                alive=name in record.alive,
                quiet=record.now - entry.beat > quiet_after,
            )
            for name, entry in record.members.items()
        ),
        deadline_in=None if record.deadline is None else record.deadline - record.now,
        elapsed=record.now - record.created,
    )


def _step_down(outbox: Outbox, job: FleetJob, now: float, why: str | None) -> None:
    """Stop sending for the fleet (the card stays on the phone for the next sender)."""
    job.leading = False
    job.lease_until = -float("inf")
    if outbox.policy.phase(job.key) is not None:
        outbox.apply(outbox.policy.forget(job.key), now)
    job.state = job.snapshot = None
    if why is not None:
        job.say_once(("fleet", why), logging.INFO, "livebar: fleet %r: %s", job.fleet.name, why)


def _unavailable(job: FleetJob) -> None:
    if not job.unavailable:
        job.unavailable = True
        job.say_once(
            ("fleet", "unavailable"),
            logging.WARNING,
            "livebar: fleet %r: the shared ledger does not answer (or this process has none: "
            "LIVEBAR_LEDGER), so this member shows nothing on the phone; its job goes on and it "
            "reports once the ledger answers (said once)",
            job.fleet.name,
        )
