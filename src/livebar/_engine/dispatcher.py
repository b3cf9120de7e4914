"""The engine: one dispatcher per process that samples activities, paces and sends.

``Dispatcher.turn(now)`` is one pass: take in what user threads handed over, sample every open
activity, ask the pure pacing policy what to send, send it through livebar's own client (retries
off: pacing decides when to try again), and record how it went. It can be called by hand: the
background thread (``_Sender``) is a short shell around it, and ``livebar.testing.virtual_time``
drives the same turn on a virtual clock. It is the only part of livebar that does I/O, and
nothing here raises into user code: trouble is logged once on ``logging.getLogger("livebar")``
and counted in the activity's ``stats``.

State flows one way. An activity hands the dispatcher a frozen ``ActivitySpec`` and its
``sample`` function; the dispatcher keeps everything it learns in its own ``ActivityJob`` of the
activity (stats, delivery, the event ``wait()`` waits on), which only the dispatcher writes.
"""

from __future__ import annotations

import collections
import itertools
import logging
import math
import os
import random
import threading
import time
from typing import TYPE_CHECKING, Any, Callable, Protocol, Union

from livebar import _defaults
from livebar._engine.jobs import (
    ActivityJob,
    ActivityStats,
    Job,
    OrphanJob,
    PushJob,
    Sampler,
    new_stream_key,
)
from livebar._engine.pacing import Budgets, Kind, PacingPolicy, Phase, Send, Snapshot
from livebar._engine.ranks import mirrors_here
from livebar._engine.reap import lost_end, lost_message
from livebar._engine.requests import build, outcome_push, perform
from livebar._ledger import ledger as _ledger
from livebar._ledger.ledger import AccountLedger, MemoryBackend
from livebar._wire.account import Account, account_for
from livebar._wire.config import (
    Config,
    disabled_setting,
    flush_timeout_setting,
    redact,
    requests_per_minute_setting,
    resolve_config,
)
from livebar._wire.errors import (
    ConfigurationError,
    LivebarError,
    PermissionDeniedError,
    Trouble,
    UnsuccessfulError,
    classify,
    detached,
)

if TYPE_CHECKING:
    from livebar._job.options import ActivitySpec, Sample
    from livebar._wire.client import Client
    from livebar._wire.payload import ContentState, PushNotification

__all__ = [
    "ActivityStats",
    "Dispatcher",
    "ActivityJob",
    "clock",
    "configure",
    "flush",
    "flush_timeout",
    "open_activity",
    "push",
    "wait_for",
    "wake",
]

log = logging.getLogger("livebar")

Connect = Callable[[Config], "Client"]


class _Account:
    """One API key at one server: its budgets (one policy, one ledger), its client, what is in
    flight."""

    def __init__(self, client: Client, policy: PacingPolicy, config: Config) -> None:
        self.client = client
        self.policy = policy
        self.config = config
        self.mirrors: dict[int, ActivityJob] = {}
        self.pushes: dict[int, PushJob | OrphanJob] = {}
        self.refused = False
        self.blocked = False
        self.said_pushed = False
        self.next_claim = -math.inf
        self.next_heartbeat = -math.inf


class _Close:
    """The message that asks the engine's thread to close its ledgers (a clean exit)."""


_CLOSE = _Close()
_Message = Union[ActivityJob, PushJob, Budgets, _Close]


class Dispatcher:
    """Samples, paces and sends for every activity of this process. Drive it with ``turn``."""

    def __init__(
        self,
        *,
        budgets: Budgets | None = None,
        clock: Callable[[], float] = time.monotonic,
        connect: Connect | None = None,
        sample_interval: float = _defaults.DEFAULT_SAMPLE_INTERVAL,
        stop_grace: float = _defaults.DEFAULT_STOP_GRACE,
        rng: random.Random | None = None,
        ledgers: Callable[[Account, float], AccountLedger] | None = None,
    ) -> None:
        self.budgets = budgets or Budgets()
        self._rng = rng
        self.clock = clock
        self.sample_interval = sample_interval
        self.stop_grace = stop_grace
        self._connect = connect or _connect
        self._accounts: dict[str, _Account] = {}
        self._ledger_for = ledgers or _shared_ledger
        self._inbox: collections.deque[_Message] = collections.deque()
        self._keys = itertools.count(1)
        self.flushing = 0
        """While above zero, endings seal at once: nobody waits for a late excepthook."""
        self.idle = threading.Condition()
        self.turns_started = 0
        self.turns_completed = 0
        self.pending_now = False
        self.waker: Callable[[], None] = _nothing
        self.handed_over = 0
        """How many activities, pushes and endings user code has handed over so far."""
        self.use_given_clients = True
        """Send with a ``client=`` the user passed (off under virtual time: no real I/O)."""

    # -- called from user threads (never blocks on I/O) --------------------------------------

    def open(self, spec: ActivitySpec, sample: Sampler, config: Config) -> ActivityJob:
        """Take a starting activity; returns the record ``wait()`` and ``stats`` read."""
        mirror = ActivityJob(next(self._keys), spec, sample, config)
        if self.use_given_clients:
            mirror.client = spec.client
        self.handed_over += 1
        self._inbox.append(mirror)
        self.waker()
        return mirror

    def push(
        self, notification: PushNotification, config: Config, client: Client | None = None
    ) -> None:
        """Queue a push notification, paced with the activities."""
        given = client if self.use_given_clients else None
        self.handed_over += 1
        self._inbox.append(PushJob(next(self._keys), notification, config, client=given))
        self.waker()

    def set_budgets(self, budgets: Budgets) -> None:
        """Use ``budgets`` from the next turn on, for every account (what was sent still counts)."""
        self._inbox.append(budgets)
        self.waker()

    def pending(self) -> bool:
        """Anything handed over or ending that is not settled yet, as of the last turn."""
        return bool(self._inbox) or self.pending_now

    # -- one turn -----------------------------------------------------------------------------

    def turn(self, now: float) -> float | None:
        """Take in, sample, decide, send. Returns the seconds until the next turn is due
        (``None``: nothing to do until something new arrives)."""
        self.turns_started += 1
        started = self.turns_started
        if self._inbox:  # what this turn takes in is pending until it has looked at it
            self.pending_now = True
        try:
            return self._turn(now)
        except Exception:  # a bug here must never take the user's job down
            log.exception("livebar: internal error in the dispatcher; carrying on")
            return self.sample_interval
        finally:
            self.pending_now = self._settling()
            with self.idle:
                self.turns_completed = started
                self.idle.notify_all()

    def _turn(self, now: float) -> float | None:
        self._intake(now)
        any_open = False
        wake = math.inf
        for account in list(self._accounts.values()):
            self._tend_ledger(account, now)
            any_open |= self._sample(account, now)
            self._send(account)
            claim = account.next_claim if not account.refused else math.inf  # none to reap
            wake = min(wake, account.policy.next_wake(self.clock()), claim)
        current = self.clock()
        if any_open:
            return max(0.0, min(self.sample_interval, wake - current))
        if wake != math.inf:
            return max(0.0, min(wake - current, 1.0))
        return None

    def _settling(self) -> bool:
        for account in self._accounts.values():
            if account.pushes:
                return True
            if any(m.ending is not None for m in account.mirrors.values()):
                return True
        return False

    def _intake(self, now: float) -> None:
        while self._inbox:
            item = self._inbox.popleft()
            if isinstance(item, _Close):
                self._close_ledgers(now)
                continue
            if isinstance(item, Budgets):
                self.budgets = item
                for each in self._accounts.values():
                    each.policy.budgets = item
                continue
            account = self._account(item.config)
            if account is None:
                if isinstance(item, ActivityJob):
                    self._give_up(item, item.stats.last_error or "no client")
                continue
            if item.client is None:  # else the user's own Client object sends
                item.client = account.client
            if isinstance(item, PushJob):
                if account.refused:
                    continue  # the key was refused: said once already, nothing more to send
                account.pushes[item.key] = item
                account.policy.push(item.key)
                continue
            if account.refused:
                self._give_up(item, "the account refused our key earlier")
                continue
            if self._take_sample(item, now) is None:
                self._give_up(item, item.stats.last_error or "no state")
                continue
            assert item.snapshot is not None
            account.mirrors[item.key] = item
            account.policy.open(
                item.key,
                now,
                item.snapshot,
                rotates=item.stream_key is None,
                title=item.title,
                stream_key=item.stream_key,
            )
            if item.ending is not None:  # over before the engine first saw it
                account.policy.close(item.key, item.snapshot)

    def _account(self, config: Config) -> _Account | None:
        try:
            account = account_for(api_key=config.api_key or "", base_url=config.base_url)
        except ConfigurationError as exc:
            log.error("livebar: cannot send to ActivitySmith (%s); Live Activities are off", exc)
            return None
        record = self._accounts.get(account.id)
        if record is None:
            try:
                client = self._connect(config)
            except Exception as exc:  # e.g. an unusable environment: never the job's problem
                log.error(
                    "livebar: cannot send to ActivitySmith (%s); Live Activities are off", exc
                )
                return None
            ledger = self._ledger_for(account, self.budgets.window)
            policy = PacingPolicy(self.budgets, self._rng or random.Random(), ledger=ledger)
            record = _Account(client, policy, config)
            self._accounts[account.id] = record
        return record

    def _tend_ledger(self, account: _Account, now: float) -> None:
        """Heartbeat, and end the activities of processes on the account that are gone."""
        ledger = account.policy.ledger
        if now >= account.next_heartbeat:
            account.next_heartbeat = now + _ledger.DEFAULT_HEARTBEAT_INTERVAL
            for key in ledger.heartbeat(now):  # reaped by another host while we were paused
                mirror = account.mirrors.get(int(key)) if key.isdigit() else None
                if mirror is not None:
                    mirror.stats.last_error = "ended by another livebar process (lost contact)"
                    account.policy.abandon(mirror.key, now)
                    self._settle(account, mirror)
        if now >= account.next_claim and not account.refused:
            account.next_claim = now + _defaults.DEFAULT_REAP_INTERVAL
            for orphan in ledger.claim_orphans(now):
                record = OrphanJob(next(self._keys), lost_end(orphan), account.config)
                record.client = account.client
                account.pushes[record.key] = record
                account.policy.push(record.key)

    def _sample(self, account: _Account, now: float) -> bool:
        """Feed the policy the latest state of each activity; True if any is still open."""
        any_open = False
        policy = account.policy
        for mirror in list(account.mirrors.values()):
            if mirror.ending is not None:
                continue
            sample = self._take_sample(mirror, now)
            if sample is None:
                policy.abandon(mirror.key, now)
                self._settle(account, mirror)
                continue
            assert mirror.snapshot is not None
            if mirror.ending is not None:
                policy.close(mirror.key, mirror.snapshot)
                continue
            any_open = True
            if not sample.pending:
                policy.observe(mirror.key, mirror.snapshot)
        return any_open

    def _take_sample(self, mirror: ActivityJob, now: float) -> Sample | None:
        """One look at an activity; an ending found is kept on the mirror. None: unusable."""
        seal_before = now if self.flushing else now - self.stop_grace
        try:
            sample = mirror.sample(seal_before)
        except Exception as exc:  # the state could not be built: say so once, never spin
            mirror.stats.last_error = f"could not build the state: {exc}"
            mirror.stats.dropped += 1
            log.warning("livebar: %r cannot be shown: %s", mirror.title, exc)
            return None
        if sample.state is not mirror.state:
            mirror.state = sample.state
            mirror.snapshot = snapshot_of(sample.state)
        if sample.ignored != mirror.stats.ignored:
            if not mirror.stats.ignored:
                log.warning(
                    "livebar: %r was given a progress value it cannot show (NaN, infinite or out "
                    "of range); it was clamped or dropped (counted in stats.ignored)",
                    mirror.title,
                )
            mirror.stats.ignored = sample.ignored
        if sample.ending is not None:
            mirror.ending = sample.ending
        return sample

    # -- sending ------------------------------------------------------------------------------

    def _send(self, account: _Account) -> None:
        policy = account.policy
        while True:
            sends = policy.next_sends(self.clock())
            if not sends:
                return
            for send in sends:
                self._perform(account, send)

    def _perform(self, account: _Account, send: Send) -> None:
        record: Job | None = account.mirrors.get(send.key) or account.pushes.get(send.key)
        if record is None:  # forgotten while queued (the key was refused)
            account.policy.result(send, self.clock(), Trouble.REJECTED, arrived=False)
            return
        owner = record if isinstance(record, ActivityJob) else record.owner
        try:
            assert record.client is not None
            result = perform(record.client, build(record, send.kind))
            if getattr(result, "success", True) is False:
                raise UnsuccessfulError(status=200, operation=send.kind.value)
        except LivebarError as exc:
            self._failed(account, send, record, owner, exc)
        except Exception as exc:  # not ours to crash on; count it and move on
            log.exception("livebar: unexpected error while sending")
            if owner is not None:
                owner.stats.last_error = _describe(exc, record)
                owner.stats.dropped += 1
            account.policy.result(send, self.clock(), Trouble.REJECTED, arrived=False)
        else:
            if owner is not None:
                owner.stats.requests += 1
            self._succeeded(account, send, record, result)
            account.policy.result(send, self.clock(), None)
        if isinstance(record, ActivityJob):
            self._settle(account, record)
        elif send.key not in account.pushes and owner is not None:
            self._settle(account, owner)

    def _succeeded(self, account: _Account, send: Send, record: Job, result: Any) -> None:
        if isinstance(record, OrphanJob):
            account.pushes.pop(record.key, None)
            account.policy.ledger.settle_orphan(record.end.orphan.id, self.clock(), ended=True)
            log.warning("livebar: ended %s: %s", record.title, lost_message(record.end.orphan))
            return
        if isinstance(record, PushJob):
            account.pushes.pop(record.key, None)
            return
        stats = record.stats
        if getattr(result, "warning", None):
            stats.warnings += 1
        operation = getattr(result, "operation", None)
        if operation == "rotated":  # the server replaced the activity: iOS's budget is fresh
            stats.rotations += 1
            account.policy.renewed(record.key, self.clock())
        elif operation == "started" and send.kind is Kind.UPDATE:
            # A new card: the start whose answer was lost never arrived (this is it), or the
            # card we had was ended by someone else (said once).
            account.policy.renewed(record.key, self.clock())
            if stats.activity_id is not None:
                self._say_once(
                    record,
                    send,
                    _Restarted(),
                    "livebar: %r had been ended elsewhere; its next update started a new card",
                    record.title,
                    level=logging.WARNING,
                )
        elif operation == "paused":
            self._say_once(
                record,
                send,
                _Paused(),
                "livebar: ActivitySmith paused %r (nothing on the phone for now); the job goes "
                "on and livebar keeps sending its progress",
                record.title,
                level=logging.WARNING,
            )
        if send.kind in (Kind.START, Kind.UPDATE):
            stats.activity_id = getattr(result, "activity_id", None) or stats.activity_id
            if record.state is not None:  # what a reaper would end it with if we die
                account.policy.ledger.record_state(
                    str(record.key),
                    self.clock(),
                    activity_id=stats.activity_id,
                    state=record.state.to_json(),
                )
        if send.kind is Kind.START:
            return
        if send.kind is Kind.ROTATE:
            stats.rotations += 1
        elif send.kind is Kind.UPDATE:
            if operation != "started":
                stats.updates += 1
        elif send.kind is Kind.PUSH:
            stats.delivered_by_push = True
            stats.end_delivered = True
            if not account.said_pushed:  # once: a churn of short jobs must not flood the log
                account.said_pushed = True
                log.warning(
                    "livebar: %r was over before a Live Activity could start for it (the "
                    "account's concurrent limit or its request budget); its outcome went out as "
                    "a push notification instead (stats.delivered_by_push; said once)",
                    record.title,
                )
        else:
            stats.end_delivered = True
            stats.end_unconfirmed = False
            ending = record.ending
            if ending is not None and ending.outcome in record.spec.notify_on:
                self._notify(account, record)

    def _failed(
        self,
        account: _Account,
        send: Send,
        record: Job,
        owner: ActivityJob | None,
        exc: LivebarError,
    ) -> None:
        diagnosis = classify(exc)
        trouble = diagnosis.trouble
        mirror = record if isinstance(record, ActivityJob) else None
        stream = mirror is not None and mirror.stream_key is not None
        if trouble is Trouble.GARBLED and stream and send.kind is not Kind.PUSH:
            trouble = Trouble.TRANSIENT  # a stream PUT/DELETE is safe to repeat
        plainly = (
            trouble is Trouble.REJECTED
            and mirror is not None
            and send.kind is Kind.END
            and not mirror.plain
            and not isinstance(exc, PermissionDeniedError)
        )
        if plainly:  # an end the server refused as it was: once more, plainly
            assert mirror is not None
            mirror.plain = True
            trouble = Trouble.TRANSIENT
        if owner is not None:
            owner.stats.requests += diagnosis.arrived is not False
            owner.stats.last_error = _describe(exc, record)
            if send.kind is Kind.END and diagnosis.arrived is None:
                owner.stats.end_unconfirmed = True  # it may be on the phone; nobody said so
        account.policy.result(
            send,
            self.clock(),
            trouble,
            retry_after=diagnosis.retry_after,
            arrived=diagnosis.arrived,
        )
        if plainly:
            self._say_once(
                record,
                send,
                exc,
                "livebar: the end of %r was refused (%s); sent again plainly (no buttons, icon, "
                "badge or colours)",
                mirror.title if mirror is not None else "?",
                _describe(exc, record),
                level=logging.WARNING,
            )
        if trouble in (Trouble.TRANSIENT, Trouble.RATE_LIMITED, Trouble.ACTIVITY_LIMIT):
            if owner is not None:
                owner.stats.retried += 1
            if send.kind is Kind.START and diagnosis.arrived is None and not stream:
                assert mirror is not None
                # A manual start cannot be repeated safely: this one may be on the phone
                # already. The activity goes on as a stream, whose PUT is safe to repeat, so
                # at most this one card is left behind however often the answers are lost.
                mirror.stream_key = new_stream_key()
                account.policy.as_stream(mirror.key)
                self._say_once(
                    record,
                    send,
                    exc,
                    "livebar: starting %r got no answer (%s), so it may now be on the phone "
                    "twice; livebar carries it on as a stream, which is safe to repeat",
                    mirror.title,
                    _describe(exc, record),
                    level=logging.WARNING,
                )
            return
        if isinstance(record, OrphanJob) and trouble not in (Trouble.FORBIDDEN, Trouble.BLOCKED):
            # Ended already (404), or never to be ended (refused): either way, not again.
            account.pushes.pop(record.key, None)
            account.policy.ledger.settle_orphan(record.end.orphan.id, self.clock(), ended=True)
            return
        if trouble is Trouble.FORBIDDEN:
            self._refused(account, exc, record)
            return
        if trouble is Trouble.BLOCKED:
            self._blocked(account, exc, record)
            return
        if trouble is Trouble.GONE:
            if owner is not None:
                self._say_once(
                    record,
                    send,
                    exc,
                    "livebar: %r was already gone when its end arrived (ended elsewhere?): %s",
                    owner.title,
                    _describe(exc, record),
                    level=logging.WARNING,
                )
            return
        if trouble is Trouble.GARBLED:
            if not isinstance(record, ActivityJob) or send.kind is not Kind.START:
                # It arrived and probably worked; only its answer is lost.
                self._succeeded(account, send, record, None)
                return
            if isinstance(record, ActivityJob) and send.kind is Kind.START:
                account.policy.abandon(record.key, self.clock())
                record.stats.dropped += 1
                self._say_once(
                    record,
                    send,
                    exc,
                    "livebar: ActivitySmith started %r but its answer could not be read, so it "
                    "can be neither updated nor ended (stream_key= avoids this): %s",
                    record.title,
                    _describe(exc, record),
                    level=logging.ERROR,
                )
            return
        # REJECTED: this request will never succeed.
        if owner is not None:
            owner.stats.dropped += 1
        if isinstance(record, PushJob):
            account.pushes.pop(record.key, None)
        elif isinstance(exc, PermissionDeniedError) and send.kind is not Kind.PUSH:
            account.policy.abandon(record.key, self.clock())  # not ours to update any more (403)
        self._say_once(
            record,
            send,
            exc,
            "livebar: %s request dropped: %s",
            send.kind.value,
            _describe(exc, record),
            level=logging.WARNING,
        )

    def _refused(self, account: _Account, exc: LivebarError, record: Job) -> None:
        if not account.refused:
            account.refused = True
            log.error(
                "livebar: ActivitySmith refused the API key (%s); Live Activities are off "
                "for this key until the process restarts",
                _describe(exc, record),
            )
        for mirror in list(account.mirrors.values()):
            mirror.stats.dropped += 1
            mirror.stats.last_error = _describe(exc, record)
            account.policy.abandon(mirror.key, self.clock())
            self._settle(account, mirror)
        for key, queued in list(account.pushes.items()):
            if isinstance(queued, OrphanJob):  # give the claim back: another key may end it
                account.policy.ledger.settle_orphan(queued.end.orphan.id, self.clock(), ended=False)
            account.policy.forget(key, self.clock())
        account.pushes.clear()

    def _blocked(self, account: _Account, exc: LivebarError, record: Job) -> None:
        """402: the account's billing refuses anything new; what runs is still ended."""
        if not account.blocked:
            account.blocked = account.refused = True
            log.error(
                "livebar: ActivitySmith's billing blocks new sends for this key (%s); livebar "
                "still ends what is running and starts nothing new until the process restarts",
                _describe(exc, record),
            )
        policy = account.policy
        for mirror in list(account.mirrors.values()):
            if policy.phase(mirror.key) is not Phase.ACTIVE:  # never to start now
                mirror.stats.dropped += 1
                mirror.stats.last_error = _describe(exc, record)
                policy.abandon(mirror.key, self.clock())
                self._settle(account, mirror)
        for key, queued in list(account.pushes.items()):
            if isinstance(queued, PushJob):
                if queued.owner is not None:
                    queued.owner.stats.dropped += 1
                del account.pushes[key]
                policy.forget(key, self.clock())

    def _say_once(
        self,
        record: Job,
        send: Send,
        exc: BaseException,
        message: str,
        *args: object,
        level: int,
    ) -> None:
        """Log ``message`` once per activity and kind of trouble: never a flood."""
        owner = record if isinstance(record, ActivityJob) else record.owner
        said = (send.kind, type(exc))
        if owner is not None:
            if said in owner.logged:
                return
            owner.logged.add(said)
        log.log(level, message, *args)

    def _notify(self, account: _Account, mirror: ActivityJob) -> None:
        notification = outcome_push(mirror)
        record = PushJob(next(self._keys), notification, mirror.config, mirror, mirror.client)
        account.pushes[record.key] = record
        account.policy.push(record.key)

    def _settle(self, account: _Account, mirror: ActivityJob) -> None:
        """Forget an activity whose story is over, and wake whoever waits for it."""
        phase = account.policy.phase(mirror.key)
        if phase is not None and not phase.settled:
            return
        if any(p.owner is mirror for p in account.pushes.values()):
            return  # its outcome push is still on its way
        mirror.stats.coalesced = account.policy.coalesced(mirror.key)
        account.policy.forget(mirror.key, self.clock())
        account.mirrors.pop(mirror.key, None)
        mirror.done.set()

    def _give_up(self, mirror: ActivityJob, why: str) -> None:
        mirror.stats.dropped += 1
        mirror.stats.last_error = why
        mirror.done.set()

    def undelivered(self) -> tuple[list[str], list[str]]:
        """What is still undelivered, and which ends were sent but never confirmed (they may
        have arrived): read after a flush gave up; names only."""
        names: list[str] = []
        unconfirmed: list[str] = []
        for item in list(self._inbox):  # handed over, not yet looked at by the engine
            if isinstance(item, ActivityJob):
                item.stats.dropped += 1
                names.append(item.title)
            elif isinstance(item, PushJob):
                names.append(f"push {item.notification.title!r}")
        for account in list(self._accounts.values()):
            for mirror in list(account.mirrors.values()):
                if mirror.stats.end_delivered:  # ended (or not yet seen to end): undelivered
                    continue
                if mirror.stats.end_unconfirmed:
                    unconfirmed.append(mirror.title)
                else:
                    mirror.stats.dropped += 1
                    names.append(mirror.title)
            for record in list(account.pushes.values()):
                if isinstance(record, PushJob):
                    names.append(f"push {record.notification.title!r}")
                else:
                    names.append(record.title)
        return names, unconfirmed

    def close(self) -> None:
        """A clean exit: every ledger drops this process's records (none is left to reap).

        Done by the next turn, on the engine's own thread: only that thread touches a ledger
        (a sqlite connection closed under a turn that is using it can crash the process).
        """
        self._inbox.append(_CLOSE)
        self.waker()

    def _close_ledgers(self, now: float) -> None:
        for account in list(self._accounts.values()):
            if account.mirrors or account.pushes:
                continue  # still ours to end: another process may have to, if we never do
            account.policy.ledger.close(now)
            # From now on this process paces alone: the shared ledger is closed.
            account.policy.ledger = AccountLedger(MemoryBackend(window=self.budgets.window))
            account.next_claim = account.next_heartbeat = math.inf


class _Paused(Exception):
    """Not raised: the kind of news a paused stream is, for logging it once."""


class _Restarted(Exception):
    """Not raised: the kind of news a stream started afresh by an update is (logged once)."""


def _shared_ledger(account: Account, window: float) -> AccountLedger:
    """The account's ledger as ``LIVEBAR_LEDGER`` says: shared on this machine by default.

    Opened for the engine alone (its thread is the only one that touches it), not taken from
    ``ledger_for``'s cache, which other code in the process may close."""
    return _ledger.open_ledger(account, window=window)


_importing = threading.Lock()
"""Held while the engine's thread imports the client (httpx): a fork waits for it, so a child
never inherits a half-imported module."""


def _connect(config: Config) -> Client:
    with _importing:
        from livebar._wire.client import Client

    return Client(
        api_key=config.api_key, base_url=config.base_url, timeout=config.timeout, retry=False
    )


def _describe(exc: BaseException, record: Job) -> str:
    return redact(f"{type(exc).__name__}: {exc}", record.config.api_key)


def snapshot_of(state: ContentState) -> Snapshot:
    """What pacing weighs of a content state."""
    count = 0.0
    if state.metrics:
        first = state.metrics[0].value
        count = float(first) if isinstance(first, (int, float)) else 0.0
    return Snapshot(
        fraction=state.fraction(),
        count=count,
        structure=(state.type, state.title, state.color, state.number_of_steps),
        detail=(state.subtitle, state.step_color, state.step_colors),
    )


def _nothing() -> None:
    pass


# -- drivers: who runs the turns ----------------------------------------------------------------


class Driver(Protocol):
    """Runs a dispatcher's turns: the background thread, or a virtual clock in tests."""

    dispatcher: Dispatcher

    def flush(self, timeout: float) -> bool: ...

    def wait_for(self, mirror: ActivityJob, timeout: float) -> bool: ...

    def resolve(self, spec: ActivitySpec) -> Config | None: ...


class _Sender:
    """The background thread: a short shell that calls ``turn`` when due or woken."""

    def __init__(self, dispatcher: Dispatcher) -> None:
        self.dispatcher = dispatcher
        self._event = threading.Event()
        dispatcher.waker = self._event.set
        self._thread = threading.Thread(target=self._run, name="livebar-dispatcher", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:  # a daemon thread: it ends with the interpreter
            self._event.clear()  # before the turn, so a wake-up during it is not lost
            timeout = self.dispatcher.turn(self.dispatcher.clock())
            self._event.wait(timeout)

    def flush(self, timeout: float) -> bool:
        """Wait (no polling) until a turn that began after this call leaves nothing pending."""
        dispatcher = self.dispatcher
        deadline = time.monotonic() + timeout
        dispatcher.flushing += 1
        try:
            with dispatcher.idle:
                mark = dispatcher.turns_started
                self._event.set()
                while dispatcher.turns_completed <= mark or dispatcher.pending():
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return False
                    dispatcher.idle.wait(left)
            return True
        finally:
            dispatcher.flushing -= 1

    def wait_for(self, mirror: ActivityJob, timeout: float) -> bool:
        mirror.done.wait(timeout)
        return mirror.stats.end_delivered

    def resolve(self, spec: ActivitySpec) -> Config | None:
        return _resolve_from_environment(spec)


# -- the process-wide engine --------------------------------------------------------------------

_lock = threading.Lock()
_driver: Driver | None = None
_budgets: Budgets | None = None
_flush_timeout: float | None = None
_warned: set[str] = set()
_gave_up: int | None = None
"""``Dispatcher.handed_over`` when a flush last gave up (see ``flush(again=False)``)."""


def install(driver: Driver | None) -> Driver | None:
    """Make ``driver`` this process's engine (``None``: the background thread, on first use);
    returns the one it replaces. ``livebar.testing.virtual_time`` uses it."""
    global _driver
    with _lock:
        previous, _driver = _driver, driver
    return previous


def _engine() -> Driver:
    global _driver
    with _lock:
        if _driver is None:
            _driver = _Sender(Dispatcher(budgets=_default_budgets()))
        return _driver


def running() -> bool:
    """True once this process has an engine (an activity or a push was mirrored)."""
    return _driver is not None


def clock() -> Callable[[], float]:
    """The engine's clock (``time.monotonic`` unless a virtual clock is installed)."""
    driver = _driver
    return time.monotonic if driver is None else driver.dispatcher.clock


def wake() -> None:
    """Something changed that the engine should see now (an ending)."""
    driver = _driver
    if driver is not None:
        driver.dispatcher.handed_over += 1
        driver.dispatcher.waker()


def open_activity(spec: ActivitySpec, sample: Sampler) -> ActivityJob | None:
    """Hand a starting activity to the engine; None when it is not mirrored."""
    resolved = _resolve(spec)
    if resolved is None:
        return None
    driver, config = resolved
    return driver.dispatcher.open(spec, sample, config)


def _resolve(spec: ActivitySpec) -> tuple[Driver, Config] | None:
    """The engine and the account for ``spec``; the engine is created only when needed."""
    if not mirrors_here(spec.ranks):  # only a distributed job's main process mirrors
        return None
    driver = _driver
    config = _resolve_from_environment(spec) if driver is None else driver.resolve(spec)
    if config is None:
        return None
    return (driver or _engine()), config


def wait_for(mirror: ActivityJob, timeout: float | None) -> bool:
    """Wait until ``mirror``'s end is delivered or given up on; True if delivered."""
    driver = _driver
    if driver is None:
        return mirror.stats.end_delivered
    return driver.wait_for(mirror, flush_timeout() if timeout is None else timeout)


def _resolve_from_environment(spec: ActivitySpec) -> Config | None:
    """The account of an activity, from its options and the environment; None when off.

    Mirroring is off when disabled (argument or ``LIVEBAR_DISABLE``, silently), when there is
    no API key (one warning per process), or when the environment holds an unusable setting
    (one error line): a phone that is not paired must never fail the job.
    """
    try:
        if spec.client is not None:  # the client holds the account: only the switch matters
            return None if disabled_setting(spec.disable) else spec.client.config
        config = resolve_config(api_key=spec.api_key, base_url=spec.base_url, disable=spec.disable)
    except ConfigurationError as exc:
        _say_once("config", "livebar: %s; running with Live Activities off", exc)
        return None
    if config.disabled:
        return None
    if not config.api_key:
        _say_once(
            "no key",
            "livebar: no API key (set %s or pass api_key=); running with Live Activities off. "
            "Set %s=1 to silence this.",
            _defaults.ENV_API_KEY,
            _defaults.ENV_DISABLE,
            level=logging.WARNING,
        )
        return None
    return config


def _say_once(topic: str, message: str, *args: object, level: int = logging.ERROR) -> None:
    if topic not in _warned:
        _warned.add(topic)
        log.log(level, message, *args)


def push(
    title: str,
    *,
    message: str | None = None,
    channels: list[str] | None = None,
    client: Client | None = None,
    api_key: str | None = None,
    base_url: str | None = None,
    disable: bool | None = None,
    **fields: Any,
) -> bool:
    """Queue a push notification, paced with the activities; False if mirroring is off."""
    from livebar._job.options import resolve_spec
    from livebar._wire.payload import PushNotification

    where = {"client": client, "api_key": api_key, "base_url": base_url, "disable": disable}
    try:
        notification = PushNotification(title=title, message=message, channels=channels, **fields)
        spec: ActivitySpec = resolve_spec(title, {k: v for k, v in where.items() if v is not None})
    except LivebarError as exc:
        api_key = None  # a refusal at the call: the key must not stay in this frame's locals
        where.clear()
        raise detached(exc) from None
    resolved = _resolve(spec)
    if resolved is None:
        return False
    driver, config = resolved
    driver.dispatcher.push(notification, config, client)
    return True


def flush(timeout: float | None = None, *, again: bool = True) -> bool:
    """Wait (at most ``timeout``, default the flush deadline) until every end and push is out.

    ``again=False`` (the exit) does not wait a second time for what an earlier flush already
    gave up on: a job that waited its deadline at its end is not held for another at exit.
    """
    global _gave_up
    driver = _driver
    if driver is None:
        return True
    dispatcher = driver.dispatcher
    if not again and _gave_up == dispatcher.handed_over and dispatcher.pending():
        return False
    delivered = driver.flush(flush_timeout() if timeout is None else timeout)
    _gave_up = None if delivered else dispatcher.handed_over
    return delivered


def close(timeout: float = 1.0) -> None:
    """A clean exit: the ledgers forget this process's settled activities (the engine's thread
    does it; this waits at most ``timeout`` for it)."""
    driver = _driver
    if driver is not None:
        driver.dispatcher.close()
        driver.flush(timeout)


def report_undelivered(timeout: float) -> None:
    """After a flush gave up: count what never arrived and name it in one log line (an end
    that was sent but never answered is named apart: it may well be on the phone)."""
    driver = _driver
    if driver is None:
        return
    undelivered, unconfirmed = driver.dispatcher.undelivered()
    parts = []
    if undelivered:
        parts.append("not delivered: " + ", ".join(undelivered))
    if unconfirmed:
        parts.append(
            "sent but unconfirmed (no answer in time; it may have arrived): "
            + ", ".join(unconfirmed)
        )
    if parts:
        log.warning("livebar: gave up after %.1fs; %s", timeout, "; ".join(parts))


def configure(
    *,
    budgets: Budgets | None = None,
    requests_per_minute: int | None = None,
    flush_timeout: float | None = None,
) -> None:
    """Set process-wide pacing budgets and the flush deadline.

    ``requests_per_minute`` is livebar's share of the account's 60 (default 40, or
    ``LIVEBAR_REQUESTS_PER_MINUTE``); ``budgets`` sets every limit at once (tests shrink them).
    Only what is given is resolved; bad values raise ``ConfigurationError``. The running
    engine takes new budgets at once (what it already sent still counts).
    """
    global _budgets, _flush_timeout
    if budgets is not None and not isinstance(budgets, Budgets):
        raise ConfigurationError("budgets", "must be a livebar.Budgets")
    if budgets is None and requests_per_minute is not None:
        budgets = budgets_for(requests_per_minute_setting(requests_per_minute, environ={}))
    seconds = None if flush_timeout is None else flush_timeout_setting(flush_timeout, environ={})
    with _lock:
        if budgets is not None:
            _budgets = budgets
            if _driver is not None:
                _driver.dispatcher.set_budgets(budgets)  # open activities keep their sender
        if seconds is not None:
            _flush_timeout = seconds


def flush_timeout() -> float:
    """The flush deadline in force: ``configure()``, else ``LIVEBAR_FLUSH_TIMEOUT``, else 5 s."""
    if _flush_timeout is not None:
        return _flush_timeout
    try:
        return flush_timeout_setting()
    except ConfigurationError as exc:
        _say_once("flush", "livebar: %s; using the default", exc)
        return _defaults.DEFAULT_FLUSH_TIMEOUT


def budgets_for(requests_per_minute: int) -> Budgets:
    """The default budgets for a share of ``requests_per_minute`` of the account."""
    reserve = min(_defaults.DEFAULT_RESERVED_REQUESTS, requests_per_minute - 1)
    end_reserve = min(_defaults.DEFAULT_END_RESERVE, reserve)
    return Budgets(
        requests_per_window=requests_per_minute, reserve=reserve, end_reserve=end_reserve
    )


def _default_budgets() -> Budgets:
    if _budgets is not None:
        return _budgets
    try:
        share = requests_per_minute_setting()
    except ConfigurationError as exc:
        _say_once("share", "livebar: %s; using the default", exc)
        share = _defaults.DEFAULT_REQUESTS_PER_MINUTE
    return budgets_for(share)


def _after_fork_in_child() -> None:
    global _driver, _lock, _importing
    _driver = None  # the parent's thread does not exist here; start afresh on first use
    _lock = threading.Lock()
    _importing = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(
        before=lambda: _importing.acquire(),
        after_in_parent=lambda: _importing.release(),
        after_in_child=_after_fork_in_child,
    )
