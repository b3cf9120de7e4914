"""The engine's shell: one dispatcher per process that samples activities, paces and sends.

``Dispatcher.turn(now)`` is one pass: take in what user threads handed over, sample every open
activity, ask each account's pacing policy what to send (its questions answered by the
account's ledger), send it through livebar's own client (retries off: pacing decides when to try
again), and apply what the answer means (``verdicts.interpret``). It can be called by hand: the
background thread is a short shell around it (``runtime``), and ``livebar.testing.virtual_time``
drives the same turn on a virtual clock. It is the only part of livebar that does I/O, and
nothing here raises into user code: trouble is logged once on ``logging.getLogger("livebar")``
and counted in the activity's ``stats``.

State flows one way. An activity hands the dispatcher a frozen ``ActivitySpec`` and its
``sample`` function; the dispatcher keeps everything it learns in its own ``ActivityJob`` of the
activity (stats, delivery, the event ``wait()`` waits on), which only the dispatcher writes.
"""

from __future__ import annotations

import logging
import math
import random
import time
from typing import TYPE_CHECKING, Callable, NamedTuple

from livebar import _defaults
from livebar._engine import fleets, marks, schedules
from livebar._engine.budgets import Budgets
from livebar._engine.intake import CLOSE, Intake, Opening
from livebar._engine.jobs import ActivityJob, FleetJob, Job, OrphanJob, PushJob, new_stream_key
from livebar._engine.lost import lost_message
from livebar._engine.messages import Heard, Kind, Send
from livebar._engine.outbox import Outbox, perform
from livebar._engine.pacing import PacingPolicy
from livebar._engine.requests import build, watch_push
from livebar._engine.verdicts import Answered, JobFacts, Note, Standing, Verdict, interpret
from livebar._job.watchdog import Reading, Watch
from livebar._log import log
from livebar._wire.account import account_for
from livebar._wire.config import redact
from livebar._wire.errors import (
    ConfigurationError,
    ConnectError,
    Diagnosis,
    LivebarError,
    PermissionDeniedError,
    UnsuccessfulError,
    classify,
)

if TYPE_CHECKING:
    from livebar._engine.jobs import Sampler
    from livebar._job.fleet import FleetSpec
    from livebar._job.options import ActivitySpec
    from livebar._ledger.ledger import AccountLedger
    from livebar._wire.account import Account
    from livebar._wire.client import Client
    from livebar._wire.config import Config

__all__ = ["Connect", "Dispatcher", "Ledgers", "Resolve", "Undelivered"]

Connect = Callable[["Config"], "Client"]
Ledgers = Callable[["Account", float], "AccountLedger"]
Resolve = Callable[["ActivitySpec"], "Config | None"]


_NOTES = {
    Note.PLAIN: (
        logging.WARNING,
        "livebar: the end of %r was refused (%s); sent again plainly (no buttons, icon, badge "
        "or colours)",
    ),
    Note.AS_STREAM: (
        logging.WARNING,
        "livebar: starting %r got no answer (%s), so it may now be on the phone twice; livebar "
        "carries it on as a stream, which is safe to repeat",
    ),
    Note.GONE: (
        logging.WARNING,
        "livebar: %r was already gone when its end arrived (ended elsewhere?): %s",
    ),
    Note.GARBLED_START: (
        logging.ERROR,
        "livebar: ActivitySmith started %r but its answer could not be read, so it can be "
        "neither updated nor ended (stream_key= avoids this): %s",
    ),
    Note.DROPPED: (logging.WARNING, "livebar: %s request dropped: %s"),
    Note.NO_ENDPOINT: (
        logging.ERROR,
        "livebar: %r cannot be sent: %s, so the base URL does not lead to ActivitySmith's API "
        "(is /api missing? ActivitySmith's is https://activitysmith.com/api); nothing more is "
        "sent for it",
    ),
    Note.NEVER_STARTED: (
        logging.WARNING,
        "livebar: %r never reached the phone (its start was never confirmed, and its end found "
        "no card: %s); its outcome goes out as a push notification",
    ),
    Note.RESTARTED: (
        logging.WARNING,
        "livebar: %r had been ended elsewhere; its next update started a new card",
    ),
    Note.PAUSED: (
        logging.WARNING,
        "livebar: ActivitySmith paused %r (nothing on the phone for now); the job goes on and "
        "livebar keeps sending its progress",
    ),
}
"""What the engine says, once per activity, request kind and error, about an answer."""


class Dispatcher:
    """Samples, paces and sends for every activity of this process. Drive it with ``turn``."""

    def __init__(
        self,
        *,
        connect: Connect,
        ledgers: Ledgers,
        resolve: Resolve | None = None,
        budgets: Budgets | None = None,
        clock: Callable[[], float] = time.monotonic,
        sample_interval: float = _defaults.DEFAULT_SAMPLE_INTERVAL,
        stop_grace: float = _defaults.DEFAULT_STOP_GRACE,
        rng: random.Random | None = None,
        intake: Intake | None = None,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.budgets = budgets or Budgets()
        self.wall = wall
        self._rng = rng
        self.clock = clock
        self.sample_interval = sample_interval
        self.stop_grace = stop_grace
        self._connect = connect
        self._ledger_for = ledgers
        self._resolve = resolve
        self._outboxes: dict[str, Outbox] = {}
        self.intake = intake or Intake(clock=clock, sample_interval=sample_interval)
        """What user threads hand over, and the counters flushes read (``intake.Intake``)."""
        self._new_key = self.intake.new_key
        self._given_up: list[str] = []
        self.lost_reported = 0
        """``lost()`` as the last flush reported it: a flush after an end or a push was given up
        says False, once, whatever else it delivered (kept here, so an engine put back after
        another was installed, as ``virtual_time`` does, reports only its own losses)."""
        self.sending: tuple[Job, Kind] | None = None
        """The request on its way now (its answer not back yet): an end in flight when a flush
        gives up was sent, and is "sent but unconfirmed", not "not delivered"."""

    def set_budgets(self, budgets: Budgets) -> None:
        """Use ``budgets`` from the next turn on, for every account (what was sent still counts)."""
        self.intake.hand(budgets, counted=False)

    def lost(self) -> int:
        """How many ends and pushes handed over will never be delivered, so far."""
        return len(self._given_up) + sum(len(outbox.lost) for outbox in self._outboxes.values())

    def make_job(
        self,
        spec: ActivitySpec,
        sample: Sampler,
        config: Config,
        fleet: FleetSpec | None = None,
    ) -> ActivityJob:
        """The engine's record of a starting activity (what ``wait()`` and ``stats`` read): a
        fleet member's when ``fleet`` is given."""
        job = (
            ActivityJob(self._new_key(), spec, sample, config)
            if fleet is None
            else FleetJob(self._new_key(), spec, fleet, sample, config)
        )
        if self.intake.use_given_clients:
            job.client = spec.client
        return job

    # -- one turn -----------------------------------------------------------------------------

    def turn(self, now: float) -> float | None:
        """Take in, sample, decide, send. Returns the seconds until the next turn is due
        (``None``: nothing to do until something new arrives)."""
        intake = self.intake
        intake.turns_started += 1
        intake.last_turn_at = now
        started = intake.turns_started
        seen = intake.handed_over
        if intake.inbox:  # what this turn takes in is pending until it has looked at it
            intake.pending_now = True
        try:
            return self._turn(now)
        except Exception:  # a bug here must never take the user's job down
            log.exception("livebar: internal error in the dispatcher; carrying on")
            return self.sample_interval
        finally:
            intake.pending_now = any(outbox.settling for outbox in self._outboxes.values())
            with intake.idle:
                intake.turns_completed = started
                intake.seen_handed_over = seen
                intake.idle.notify_all()

    def _turn(self, now: float) -> float | None:
        flushing = self.intake.flushing
        seal_before = now if flushing else now - self.stop_grace
        self._intake(now, seal_before)
        wake = math.inf
        for outbox in list(self._outboxes.values()):
            outbox.policy.deadline = min(flushing, default=None)
            beat, looked = outbox.tend(now, self._new_key)
            if beat:  # we are back, if we were away: our cards show our own state again
                marks.take_back(outbox, now)
            if looked:
                marks.watch(outbox, now, self._new_key)
            if not outbox.refused:
                schedules.check(outbox, now, self._new_key)
            wake = min(wake, self._sample(outbox, now, seal_before))
            while sends := outbox.admit(self.clock()):
                for send in sends:
                    self._perform(outbox, send)
            policy = outbox.policy
            chores = outbox.next_chore()
            wake = min(wake, policy.next_wake(self.clock(), shortest=self.sample_interval), chores)
        if wake == math.inf:
            return None  # nothing can change until something new arrives: sleep until then
        return max(0.0, wake - self.clock())

    def _intake(self, now: float, seal_before: float) -> None:
        inbox = self.intake.inbox
        while inbox:
            item = inbox.popleft()
            if isinstance(item, Opening):
                item = self._take(item)
                if item is None:
                    continue
            if item is CLOSE:
                for each in list(self._outboxes.values()):
                    each.close_ledger(now, self.budgets.window)
                continue
            if isinstance(item, Budgets):
                self.budgets = item
                for each in self._outboxes.values():
                    each.policy.budgets = item
                continue
            outbox = self._outbox(item.config)
            if outbox is not None and item.client is None:  # else the user's own Client sends
                item.client = outbox.client
            why = None
            if outbox is None:
                why = (
                    item.stats.last_error or "no client" if isinstance(item, ActivityJob) else None
                )
            elif isinstance(item, PushJob):
                if outbox.refused:  # said once already: nothing more is sent for the key
                    outbox.lost.append(item.title)
                else:
                    outbox.queue(item)
            elif outbox.refused:
                why = "the account refused our key earlier"
            elif item.look(seal_before, now) is None:
                why = item.stats.last_error or "no state"
            elif isinstance(item, FleetJob):
                outbox.activities[item.key] = item  # on the phone only while it leads
            else:
                outbox.open(item, now)
                schedules.started(outbox, item, now)
                if item.ending is not None:
                    schedules.ended(outbox, item, now)
            if why is not None and isinstance(item, ActivityJob):
                item.give_up(why)
                self._given_up.append(item.title)

    def _take(self, opening: Opening) -> ActivityJob | None:
        """An activity handed over by the caller's thread: its account, and the engine's record
        of it (None when it is not mirrored)."""
        config = self._resolve(opening.spec) if self._resolve is not None else None
        job = (
            None
            if config is None
            else self.make_job(opening.spec, opening.sample, config, opening.fleet)
        )
        opening.take(job)
        return job

    def _outbox(self, config: Config) -> Outbox | None:
        try:
            account = account_for(api_key=config.api_key or "", base_url=config.base_url)
        except ConfigurationError as exc:
            log.error("livebar: cannot send to ActivitySmith (%s); Live Activities are off", exc)
            return None
        known = self._outboxes.get(account.id)
        if known is not None:
            return known
        try:
            client = self._connect(config)
        except Exception as exc:  # e.g. an unusable environment: never the job's problem
            log.error("livebar: cannot send to ActivitySmith (%s); Live Activities are off", exc)
            return None
        ledger = self._ledger_for(account, self.budgets.window)
        policy = PacingPolicy(self.budgets, self._rng or random.Random())
        outbox = self._outboxes[account.id] = Outbox(client, policy, ledger, config, self.wall)
        return outbox

    def _sample(self, outbox: Outbox, now: float, seal_before: float) -> float:
        """Feed the policy the latest state of each activity; returns when an ending that is
        not final yet (a loop left early, waiting ``stop_grace`` for its exception) seals."""
        seals = math.inf
        policy = outbox.policy
        for job in list(outbox.activities.values()):
            if job.ending is not None:
                continue
            if isinstance(job, FleetJob):
                # A member reports and leases on the fleet's own clock: looked at every sample
                # interval, as before the engine slept (its deadlines are the fleet's to name).
                if self._tend_fleet(outbox, job, now, seal_before):
                    seals = min(seals, now + self.sample_interval)
                continue
            before = job.watch
            sample = job.look(seal_before, now)
            if sample is None:
                outbox.abandon(job, now)
                outbox.settle(job, now)
                continue
            assert job.snapshot is not None
            if job.ending is not None:
                policy.close(job.key, job.snapshot)
                outbox.record(job, now)  # the end, for whoever delivers it if we cannot
                schedules.ended(outbox, job, now)
                continue
            if sample.pending:
                ended = sample.ended_at if sample.ended_at is not None else now
                seals = min(seals, max(ended + self.stop_grace, now + self.sample_interval))
            else:
                policy.observe(job.key, job.snapshot)
                _watched(outbox, job, before, self._new_key)
                seals = min(seals, job.watch.look_at)
        return seals

    def _tend_fleet(self, outbox: Outbox, job: FleetJob, now: float, seal_before: float) -> bool:
        """Sample a fleet member, report it, and lead its card while it holds the lease."""
        if job.look(seal_before, now) is None:
            outbox.abandon(job, now)
            job.wrote_final = True
            outbox.settle(job, now)
            return False
        fleets.tend(outbox, job, now, outbox.policy.budgets)
        return job.key in outbox.activities

    # -- sending, and what the answer means ---------------------------------------------------

    def _perform(self, outbox: Outbox, send: Send) -> None:
        job = outbox.job(send.key)
        if job is None:  # forgotten while queued (the key was refused)
            now = self.clock()
            outbox.apply(outbox.policy.result(send, now, Heard.NEVER, arrived=False), now)
            return
        exc: LivebarError | None = None
        answer: Answered | Diagnosis | None = None
        self.sending = (job, send.kind)
        try:
            answer = _exchange(job, send)
        except LivebarError as error:
            exc, answer = error, classify(error)
        except Exception as error:  # not ours to crash on; count it and move on
            log.exception("livebar: unexpected error while sending")
            if job.owner is not None:
                job.owner.stats.last_error = _describe(error, job)
                job.owner.stats.dropped += 1
            now = self.clock()
            outbox.apply(outbox.policy.result(send, now, Heard.NEVER, arrived=False), now)
        self.sending = None
        if isinstance(exc, ConnectError):
            self.intake.refused_in_a_row += 1
        elif answer is not None:
            self.intake.reached, self.intake.refused_in_a_row = True, 0
        if answer is not None:
            mine = isinstance(exc, PermissionDeniedError)
            verdict = interpret(_facts(job), send.kind, answer, own_request=mine)
            self._apply(outbox, send, job, verdict, answer, exc)
        if isinstance(job, ActivityJob):
            outbox.settle(job, self.clock())
        elif send.key not in outbox.queued and job.owner is not None:
            outbox.settle(job.owner, self.clock())

    def _apply(
        self,
        outbox: Outbox,
        send: Send,
        job: Job,
        verdict: Verdict,
        answer: Answered | Diagnosis,
        exc: LivebarError | None,
    ) -> None:
        """Do what ``verdict`` says about ``job``'s request ``send``."""
        now = self.clock()
        owner = job.owner
        outbox.reachable |= verdict.counted
        outbox.reached(job, send.kind, verdict, _describe(exc, job) if exc else "", now)
        if owner is not None:
            owner.stats.requests += verdict.counted
            if exc is not None:
                owner.stats.last_error = _describe(exc, job)
                owner.stats.end_unconfirmed |= send.kind is Kind.END and verdict.unconfirmed
        if verdict.plain and not isinstance(job, PushJob):
            job.plain = True
        result = answer if isinstance(answer, Answered) else Answered()
        if verdict.delivered and exc is None:  # what the answer says, before pacing hears it
            self._delivered(outbox, send, job, result, verdict, now)
        heard = outbox.policy.result(
            send, now, verdict.heard, retry_after=verdict.retry_after, arrived=verdict.arrived
        )
        outbox.apply(heard, now)
        if verdict.delivered and exc is not None:  # it arrived; only its answer is lost
            self._delivered(outbox, send, job, result, verdict, now)
        if owner is not None:
            owner.stats.retried += verdict.retried
            owner.stats.dropped += verdict.dropped
        if verdict.as_stream and isinstance(job, ActivityJob):
            # A manual start cannot be repeated safely: this one may be on the phone already.
            # The activity goes on as a stream, whose PUT is safe to repeat, so at most this
            # one card is left behind however often the answers are lost.
            job.stream_key = new_stream_key()
            outbox.policy.as_stream(job.key)
        if verdict.settle_orphan and isinstance(job, OrphanJob):
            outbox.settle_orphan(job, now, ended=True)
        if verdict.forget and outbox.queued.pop(job.key, None) is not None:
            outbox.lost.append(job.title)
        if verdict.abandon and isinstance(job, ActivityJob):
            outbox.abandon(job, now)
        if verdict.standing is Standing.REFUSED:
            outbox.refuse(_describe(exc, job), now)
        elif verdict.standing is Standing.BLOCKED:
            outbox.block(_describe(exc, job), now)
        if verdict.note is not None:
            _say(send, job, verdict.note, exc)

    def _delivered(
        self, outbox: Outbox, send: Send, job: Job, result: Answered, verdict: Verdict, now: float
    ) -> None:
        outbox.delivered(send, job, result, verdict, now, new_key=self._new_key)
        if isinstance(job, FleetJob):  # what other senders must know of the card
            fleets.delivered(outbox, job, send.kind, now)

    # -- after a flush gave up ----------------------------------------------------------------

    def undelivered(self) -> Undelivered:
        """What is still undelivered, which ends were sent but never confirmed (they may have
        arrived), and the accounts whose undelivered ends a courier can deliver (they are in a
        shared ledger, and the server has answered): read after a flush gave up."""
        report = Undelivered([], [], [])
        for item in list(self.intake.inbox):  # handed over, not yet looked at by the engine
            if isinstance(item, Opening):
                report.names.append(item.spec.title)
            elif isinstance(item, ActivityJob):
                item.stats.dropped += 1
                report.names.append(item.title)
            elif isinstance(item, PushJob):
                report.names.append(item.title)
        for outbox in list(self._outboxes.values()):
            ends = False
            for job in outbox.jobs():
                if not isinstance(job, ActivityJob):
                    report.names.append(job.title)
                elif job.stats.end_delivered:  # ended (or not yet seen to end): undelivered
                    continue
                elif job.stats.end_unconfirmed or self.sending == (job, Kind.END):
                    report.unconfirmed.append(job.title)
                    ends = True
                else:
                    job.stats.dropped += 1
                    report.names.append(job.title)
                    ends = True
            if ends and outbox.reachable and outbox.ledger.shared:
                report.accounts.append(outbox.config)
        return report


class Undelivered(NamedTuple):
    """What a flush that gave up left behind."""

    names: list[str]
    unconfirmed: list[str]
    accounts: list[Config]


def _watched(outbox: Outbox, job: ActivityJob, before: Reading, new_key: Callable[[], int]) -> None:
    """What the watchdog's reading changed: the stats, and the push ``notify_on`` asks for on
    entering a stall (each episode) or the overrun (once)."""
    watch, stats = job.watch, job.stats
    stats.watch = watch.state.value
    entered = []
    if watch.stalled and not before.stalled:
        stats.stalls += 1
        entered.append(Watch.STALLED)
    if watch.overrun and not before.overrun:
        stats.overran = True
        entered.append(Watch.OVERRUN)
    for event in entered:
        if event in job.spec.notify_on:
            notification = watch_push(job, event)
            outbox.queue(PushJob(new_key(), notification, job.config, job, job.client))


def _say(send: Send, job: Job, note: Note, exc: LivebarError | None) -> None:
    """Log what an answer means, once per activity, request kind and error."""
    if note is Note.ORPHAN_ENDED:
        assert isinstance(job, OrphanJob)
        log.warning("livebar: ended %s: %s", job.title, lost_message(job.end.orphan))
        return
    owner = job.owner
    if owner is None and note is Note.GONE:
        return
    why = _describe(exc, job) if exc is not None else ""
    if note is Note.NO_ENDPOINT:
        why = f"{job.config.base_url} answered 404 ({why})"
    subject = send.kind.value if note is Note.DROPPED else (owner or job).title
    level, message = _NOTES[note]
    args = (subject, why) if exc is not None else (subject,)
    if owner is None:
        log.log(level, message, *args)
    else:
        owner.say_once((send.kind, type(exc) if exc is not None else note), level, message, *args)


def _exchange(job: Job, send: Send) -> Answered:
    """Send ``job``'s request for ``send``; what the engine reads of the answer."""
    assert job.client is not None
    result = perform(job.client, build(job, send.kind))
    if getattr(result, "success", True) is False:
        raise UnsuccessfulError(status=200, operation=send.kind.value)
    return Answered.of(result)


def _facts(job: Job) -> JobFacts:
    owner = job.owner
    return JobFacts(
        job.kind,
        stream=isinstance(job, ActivityJob) and job.stream_key is not None,
        plain=not isinstance(job, PushJob) and job.plain,
        had_id=owner is not None and owner.stats.activity_id is not None,
    )


def _describe(exc: BaseException | None, job: Job) -> str:
    return redact(f"{type(exc).__name__}: {exc}", job.config.api_key)
