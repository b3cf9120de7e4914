"""One account as the engine sends for it: its jobs, its budgets, its standing.

An ``Outbox`` holds what one API key at one server has to send (its activities, and the pushes
and orphans queued beside them), the pacing policy that decides when, the account's ledger that
the policy's questions are put to, and the client that sends. It is the shell around the pure
policy: ``admit`` runs the policy's plan against the ledger, ``apply`` writes the effects the
policy returns. Only the engine's thread touches it.
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Callable

from livebar import _defaults
from livebar._engine.hung import with_budget
from livebar._engine.jobs import ActivityJob, FleetJob, MarkJob, OrphanJob, PushJob
from livebar._engine.lost import ended_record, lost_end
from livebar._engine.messages import (
    AskSlot,
    Effect,
    Heard,
    Kind,
    Landed,
    Question,
    Refund,
    Room,
    Send,
    YieldSlot,
)
from livebar._engine.pacing import PacingPolicy, Phase, Wait
from livebar._engine.phases import card_of
from livebar._engine.requests import outcome_push
from livebar._job.endings import format_duration
from livebar._job.watchdog import reserve
from livebar._ledger import watching
from livebar._ledger.ledger import AccountLedger
from livebar._ledger.memory import MemoryBackend
from livebar._log import log

if TYPE_CHECKING:
    from collections.abc import Iterator

    from livebar._engine.jobs import Job
    from livebar._engine.requests import Call
    from livebar._engine.verdicts import Answered, Verdict
    from livebar._ledger.backend import Orphan
    from livebar._wire.client import Client
    from livebar._wire.config import Config
    from livebar._wire.results import Result

__all__ = ["Outbox", "admit", "apply", "ask", "perform"]

HELD_QUIETLY = 2.0
"""Seconds: a start held back for room no longer than this is not worth a line."""


class Outbox:
    """One account's jobs, budgets (pacing policy and ledger), client and standing."""

    def __init__(
        self,
        client: Client,
        policy: PacingPolicy,
        ledger: AccountLedger,
        config: Config,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.wall = wall
        """The wall clock (scheduled jobs' times outlive reboots; a virtual one in tests)."""
        self.policy = policy
        self.ledger = ledger
        self.config = config
        self.activities: dict[int, ActivityJob] = {}
        self.queued: dict[int, PushJob | OrphanJob | MarkJob] = {}
        self.refused = False
        """The key was refused (or its billing blocked): nothing new is taken in."""
        self.reachable = False
        """The server has answered (or may have) at least one request of this account."""
        self.lost: list[str] = []
        """What will never be delivered: activities settled without their end, pushes dropped."""
        self.blocked = False
        self.said_pushed = False
        self.said_held: set[Wait] = set()
        """Why starts wait, as said since every start last went."""
        self.unreachable_since: float | None = None
        """When the server stopped being reachable (a connection refused, a name that does not
        resolve), while it still is; said once, and again when it answers."""
        self.next_claim = -math.inf
        self.next_heartbeat = -math.inf
        self.next_schedule_check = -math.inf

    def job(self, key: int) -> Job | None:
        return self.activities.get(key) or self.queued.get(key)

    def jobs(self) -> Iterator[Job]:
        yield from list(self.activities.values())
        yield from list(self.queued.values())

    @property
    def settling(self) -> bool:
        """Anything queued, or an activity over whose end is not settled yet."""
        return bool(self.queued) or any(j.over for j in self.activities.values())

    # -- the policy's questions and effects, answered by the ledger ----------------------------

    def ask(self, question: Question, now: float) -> bool | Room:
        """Put one of the policy's questions to the account's ledger."""
        return ask(self.ledger, question, now)

    def admit(self, now: float) -> list[Send]:
        """What to send now: the policy's plan, its questions answered by the ledger."""
        sends = admit(self.policy, lambda question: self.ask(question, now), now)
        self._say_held(now)
        return sends

    def _say_held(self, now: float) -> None:
        """Say, once per reason while starts wait, why a card is not on the phone yet and what
        will happen (a wait for room shorter than ``HELD_QUIETLY`` goes unsaid)."""
        held = self.policy.held_back()
        if not held:
            self.said_held.clear()  # every start went: a later wait is news again
            return
        for key, (why, until) in held:
            job = self.activities.get(key)
            if why in self.said_held or job is None or until - now < HELD_QUIETLY:
                continue
            self.said_held.add(why)
            if why is Wait.SLOTS:
                log.warning(
                    "livebar: %r waits to start: the account's %d Live Activities are all "
                    "running (ActivitySmith's limit, for every process on the key); it starts "
                    "when one ends, or, if its job ends first, its outcome goes out as a push "
                    "notification (said once)",
                    job.title,
                    self.policy.budgets.max_activities,
                )
            else:
                log.warning(
                    "livebar: %r waits about %s to start: livebar's processes on this key have "
                    "used the account's requests this minute as far as a start may (livebar's "
                    "share, %d a minute, %s, and half of what it leaves to other tools); it "
                    "starts as the window frees (said once)",
                    job.title,
                    format_duration(until - now),
                    self.policy.budgets.requests_per_window,
                    _defaults.ENV_REQUESTS_PER_MINUTE,
                )

    def apply(self, effects: list[Effect], now: float) -> None:
        """Write what the policy says the ledger must be told."""
        apply(self.ledger, effects, now)

    # -- jobs coming and going ----------------------------------------------------------------

    def open(self, job: ActivityJob, now: float) -> None:
        """A new activity (sampled once): it joins the account's queue of starts at once."""
        assert job.snapshot is not None
        self.activities[job.key] = job
        # A fleet's card is the fleet's, not this process's: the ledger keeps no stream key
        # for it, so that no reaper ends it when this sender dies (the next one goes on).
        fleet = isinstance(job, FleetJob)
        question = self.policy.open(
            job.key,
            now,
            job.snapshot,
            rotates=job.stream_key is None,
            title=job.title,
            stream_key=None if fleet else job.stream_key,
            reserve=reserve(job.spec.stall_after, job.spec.expected) if not fleet else 0,
        )
        self.policy.granted(job.key, bool(self.ask(question, now)))
        if job.ending is not None:  # over before the engine first saw it
            self.policy.close(job.key, job.snapshot)
            self.record(job, now)

    def record(self, job: ActivityJob, now: float, landed: Kind | None = None) -> None:
        """Tell the ledger what a reaper would end ``job`` with if this process went now: its
        own end once it has one (a finished job is never shown "Lost"), else the state the
        phone was last sent. Never a fleet's card: it is the fleet's, and the next sender goes
        on with it when this one dies (the ledger keeps no id or state that a reaper would end)."""
        if job.state is None or isinstance(job, FleetJob):
            return
        state = job.state.to_json()
        card = card_of(self.policy.slot(job.key), now, landed)
        if job.ending is not None:
            state = ended_record({**state, "auto_dismiss_minutes": job.ending.dismiss_minutes})
        elif card is not None:  # what a watcher needs to keep iOS's budget if it marks the card
            state = with_budget(state, age=card[0], updates=card[1])
        self.ledger.record_state(str(job.key), now, activity_id=job.stats.activity_id, state=state)

    def queue(self, job: PushJob | OrphanJob | MarkJob) -> None:
        self.queued[job.key] = job
        self.policy.push(job.key)

    def abandon(self, job: ActivityJob, now: float) -> None:
        self.apply(self.policy.abandon(job.key), now)

    def settle(self, job: ActivityJob, now: float) -> None:
        """Forget an activity whose story is over, and wake whoever waits for it."""
        phase = self.policy.phase(job.key)
        if (phase is not None and not phase.settled) or not job.may_settle():
            return
        if any(queued.owner is job for queued in self.queued.values()):
            return  # its outcome push is still on its way
        job.stats.coalesced = self.policy.coalesced(job.key)
        self.apply(self.policy.forget(job.key), now)
        if self.activities.pop(job.key, None) is not None and not job.stats.end_delivered:
            self.lost.append(job.title)
        job.done.set()

    def settle_orphan(self, job: OrphanJob, now: float, *, ended: bool) -> None:
        self.queued.pop(job.key, None)
        self.ledger.settle_orphan(job.end.orphan.id, now, ended=ended)

    def delivered(
        self,
        send: Send,
        job: Job,
        result: Answered,
        verdict: Verdict,
        now: float,
        *,
        new_key: Callable[[], int],
    ) -> None:
        """A request that went through (or as good as): what it changes for its job."""
        if not isinstance(job, ActivityJob):
            self.queued.pop(job.key, None)
            return
        stats = job.stats
        stats.warnings += verdict.warning
        stats.rotations += verdict.rotated
        if verdict.renewed:  # the server replaced the card: iOS's budget is fresh
            self.policy.renewed(job.key, now)
        if send.kind in (Kind.START, Kind.UPDATE):
            stats.activity_id = result.activity_id or stats.activity_id
            self.record(job, now, send.kind)
        if send.kind is Kind.ROTATE:
            stats.rotations += 1
        elif send.kind is Kind.UPDATE:
            stats.updates += result.operation != "started"
        elif send.kind is Kind.PUSH:
            stats.delivered_by_push = stats.end_delivered = True
            if not self.said_pushed:  # once: a churn of short jobs must not flood the log
                self.said_pushed = True
                log.warning(
                    "livebar: %r was over before a Live Activity could start for it (the "
                    "account's concurrent limit or its request budget); its outcome went out as "
                    "a push notification instead (stats.delivered_by_push; said once)",
                    job.title,
                )
        elif send.kind is Kind.END:
            stats.end_delivered, stats.end_unconfirmed = True, False
            ending = job.ending
            if ending is not None and ending.outcome in job.spec.notify_on:
                notification = outcome_push(job)
                self.queue(PushJob(new_key(), notification, job.config, job, job.client))

    def reached(self, job: Job, kind: Kind, verdict: Verdict, why: str, now: float) -> None:
        """Say, when it happens, that the server cannot be reached (what the phone misses
        meanwhile) and, once it answers again, that it does: once per outage."""
        if verdict.heard is Heard.RETRY and verdict.arrived is False:
            if self.unreachable_since is None and not isinstance(job, OrphanJob):
                self.unreachable_since = now
                log.warning(
                    "livebar: cannot reach ActivitySmith at %s (%s): %s; livebar keeps trying "
                    "(backing off) and says when it answers",
                    self.config.base_url,
                    why,
                    _missing(job, kind),
                )
        elif verdict.arrived and self.unreachable_since is not None:
            log.warning(
                "livebar: ActivitySmith at %s answers again (unreachable for %s)",
                self.config.base_url,
                format_duration(now - self.unreachable_since),
            )
            self.unreachable_since = None

    # -- the account's standing -----------------------------------------------------------------

    def refuse(self, why: str, now: float) -> None:
        """401: nothing more is sent for this key; every job is given up (orphans handed back:
        another key may end them)."""
        if not self.refused:
            self.refused = True
            log.error(
                "livebar: ActivitySmith refused the API key (%s); Live Activities are off "
                "for this key until the process restarts",
                why,
            )
        for job in list(self.activities.values()):
            self._give_up(job, why, now)
        for key, queued in list(self.queued.items()):
            if isinstance(queued, OrphanJob):
                self.ledger.settle_orphan(queued.end.orphan.id, now, ended=False)
            elif isinstance(queued, MarkJob):
                watching.mark(self.ledger, queued.mark.watched.id, now, marked=False)
            else:
                self.lost.append(queued.title)
            self.apply(self.policy.forget(key), now)
        self.queued.clear()

    def _give_up(self, job: ActivityJob, why: str, now: float) -> None:
        job.stats.dropped += 1
        job.stats.last_error = why
        self.abandon(job, now)
        self.settle(job, now)

    def block(self, why: str, now: float) -> None:
        """402: the account's billing refuses anything new; what runs is still ended."""
        if not self.blocked:
            self.blocked = self.refused = True
            log.error(
                "livebar: ActivitySmith's billing blocks new sends for this key (%s); livebar "
                "still ends what is running and starts nothing new until the process restarts",
                why,
            )
        for job in list(self.activities.values()):
            if self.policy.phase(job.key) is not Phase.ACTIVE:  # never to start now
                self._give_up(job, why, now)
        for key, queued in list(self.queued.items()):
            if isinstance(queued, PushJob):
                if queued.owner is not None:
                    queued.owner.stats.dropped += 1
                del self.queued[key]
                self.lost.append(queued.title)
                self.apply(self.policy.forget(key), now)

    # -- the account's other processes ----------------------------------------------------------

    def tend(self, now: float, new_key: Callable[[], int]) -> tuple[bool, bool]:
        """Heartbeat (and show our own state on cards another process marked not responding
        while we were silent); take the activities of processes on the account that are gone,
        and mark the cards of those that are alive but silent (``_engine/hung.py``).
        Answers whether it beat and whether it looked (the caller's ``_engine/marks.py`` takes
        our marks back after a beat, and marks others' cards after a look)."""
        budgets = self.policy.budgets
        beat = looked = False
        if now >= self.next_heartbeat:
            beat = True
            self.next_heartbeat = now + budgets.heartbeat_every
            for key in self.ledger.heartbeat(now):  # reaped by another host while we were paused
                job = self.activities.get(int(key)) if key.isdigit() else None
                if job is not None:
                    job.stats.last_error = "ended by another livebar process (lost contact)"
                    self.abandon(job, now)
                    self.settle(job, now)
        if now >= self.next_claim and not self.refused:
            looked = True
            self.next_claim = now + budgets.watch_every
            for orphan in self.ledger.claim_orphans(now):
                if self._carried_on(orphan):
                    self.ledger.settle_orphan(orphan.id, now, ended=True)
                else:
                    self.queue(OrphanJob(new_key(), lost_end(orphan), self.config, self.client))
        return beat, looked

    def _carried_on(self, orphan: Orphan) -> bool:
        """A job of this process has the orphan's stream key: it carries the card on and ends
        it with what it knows (Celery's worker ending the card of a task whose pool process it
        terminated: "Revoked (terminated)", not "Lost: process … was killed")."""
        key = orphan.stream_key
        return key is not None and any(job.stream_key == key for job in self.activities.values())

    def next_chore(self) -> float:
        """When ``tend`` is next due while this account has work (``inf`` without: an idle
        engine neither beats nor reaps, it sleeps)."""
        if not (self.activities or self.queued):
            return math.inf
        claim = self.next_claim if not self.refused else math.inf  # none to reap
        return min(self.next_heartbeat, claim)

    def close_ledger(self, now: float, window: float) -> None:
        """A clean exit: the ledger drops this process's records (none is left to reap)."""
        if self.activities or self.queued:
            return  # still ours to end: another process may have to, if we never do
        self.ledger.close(now)
        # From now on this process paces alone: the shared ledger is closed.
        self.ledger = AccountLedger(MemoryBackend(window=window))
        self.next_claim = self.next_heartbeat = math.inf


def ask(ledger: AccountLedger, question: Question, now: float) -> bool | Room:
    """The ledger's answer to one of the policy's questions."""
    if isinstance(question, AskSlot):
        grant = ledger.request_slot(
            str(question.key),
            now,
            max_active=question.max_active,
            title=question.title,
            stream_key=question.stream_key,
        )
        return grant.granted
    admission = ledger.acquire(now, limit=question.limit, floor=question.floor)
    return Room(admission.admitted, admission.used, admission.retry_at, admission.ticket)


def apply(ledger: AccountLedger, effects: list[Effect], now: float) -> None:
    """Write the policy's effects to the ledger."""
    for effect in effects:
        if isinstance(effect, Refund):
            ledger.refund(effect.ticket, now)
        elif isinstance(effect, Landed):
            ledger.landed(effect.ticket, now)
        elif isinstance(effect, YieldSlot):
            ledger.yield_slot(str(effect.key), now)
        else:
            ledger.close_activity(str(effect.key), now)


def admit(
    policy: PacingPolicy, answer: Callable[[Question], bool | Room], now: float
) -> list[Send]:
    """Run ``policy``'s plan at ``now``, each of its questions answered by ``answer``."""
    plan = policy.plan(now)
    try:
        question = next(plan)
        while True:
            question = plan.send(answer(question))
    except StopIteration as done:
        sends: list[Send] = done.value
        return sends


def perform(client: Client, call: Call) -> Result:
    """Send ``call`` with ``client``, once: pacing (or the reaper) decides about retries."""
    path = {} if call.key is None else {"stream_key": call.key}
    return client.call(call.operation, call.body, retry=False, **path)


def _missing(job: Job, kind: Kind) -> str:
    """What the phone misses while a request of ``kind`` for ``job`` cannot go."""
    if kind is Kind.START:
        return f"{job.title!r} is not on the phone yet"
    if kind is Kind.PUSH:
        return f"the push {job.title!r} waits"
    if kind is Kind.END:
        return f"the phone still shows {job.title!r} running"
    return f"the phone shows {job.title!r} as it was"
