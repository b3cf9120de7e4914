"""What the engine sends for: an activity, a push, or a dead process's activity (an orphan).

Each is a *job* of the engine's: its key (pacing's name for it), the account's ``Config``, the
client that sends it and, for an activity, everything the engine learns about it (``stats``,
the last state it sampled, the ending it sealed, the ``done`` event ``act.wait()`` waits on).
Only the engine writes these records; the activity reads ``stats`` and ``done`` through them.
"""

from __future__ import annotations

import enum
import hashlib
import logging
import os
import socket
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Union

from livebar._engine.freshness import snapshot_of
from livebar._job.fleet import MemberState, member_state
from livebar._job.view import render, render_plainly
from livebar._job.watchdog import NOT_WATCHED, Reading, WatchFacts, decide
from livebar._log import log
from livebar._wire.errors import LivebarError

if TYPE_CHECKING:
    from livebar._engine.freshness import Snapshot
    from livebar._engine.hung import Mark
    from livebar._engine.lost import LostEnd
    from livebar._job.endings import Ending
    from livebar._job.fleet import FleetSpec
    from livebar._job.options import ActivitySpec
    from livebar._job.view import Sample
    from livebar._wire.client import Client
    from livebar._wire.config import Config
    from livebar._wire.payload import ContentState, PushNotification

__all__ = [
    "ActivityJob",
    "ActivityStats",
    "FleetJob",
    "Job",
    "JobKind",
    "MarkJob",
    "OrphanJob",
    "PushJob",
    "new_stream_key",
]


Sampler = Callable[[float], "Sample"]


class JobKind(enum.Enum):
    """What a job is; the verdict table is keyed by it."""

    ACTIVITY = "activity"
    PUSH = "push"
    ORPHAN = "orphan"
    FLEET = "fleet"
    """A fleet's one card, sent by the member that holds the fleet's lease."""
    MARK = "mark"
    """Another live process's card, shown as not responding (``_engine/hung.py``)."""


@dataclass
class ActivityStats:
    """What happened to an activity's requests; written by the engine, read by anyone."""

    requests: int = 0
    """Requests sent for this activity (start, updates, end, its pushes), retries included."""
    updates: int = 0
    """Updates the server accepted."""
    coalesced: int = 0
    """Sampled states replaced by a newer one before they were sent."""
    retried: int = 0
    """Requests that failed and were tried again."""
    dropped: int = 0
    """States that will never be delivered (counted, and logged once)."""
    warnings: int = 0
    """Server warnings about the iOS update budget."""
    rotations: int = 0
    """Times the activity was renewed to outlive iOS's 8 hours (by the server or by livebar)."""
    ignored: int = 0
    """Progress values the job set that could not be shown (NaN, infinite, out of range): clamped
    or dropped, never raised into the job."""
    end_delivered: bool = False
    """True once the server confirmed the end (or the push standing in for it)."""
    end_unconfirmed: bool = False
    """True while the end was sent but its answer was lost (a timeout, a slow drip, a dropped
    connection): it may well be on the phone, livebar cannot tell."""
    delivered_by_push: bool = False
    """True when the outcome went out as a push because no Live Activity could start."""
    last_error: str | None = None
    activity_id: str | None = None
    watch: str = "normal"
    """What the watchdog last found (``"normal"``, ``"stalled"``, ``"overrun"``)."""
    stalls: int = 0
    """Times the job was found stalled (``stall_after``), each stall counted once."""
    overran: bool = False
    """True once the job ran past its ``expected`` time."""


class ActivityJob:
    """The engine's record of one activity; written only by the engine."""

    kind = JobKind.ACTIVITY

    __slots__ = (
        "client",
        "config",
        "done",
        "ending",
        "key",
        "logged",
        "moved_at",
        "plain",
        "position",
        "sample",
        "shown",
        "snapshot",
        "spec",
        "state",
        "stats",
        "stream_key",
        "watch",
    )

    def __init__(self, key: int, spec: ActivitySpec, sample: Sampler, config: Config) -> None:
        self.key = key
        self.spec = spec
        self.sample = sample
        self.config = config
        self.client: Client | None = None
        self.stats = ActivityStats()
        self.done = threading.Event()
        self.state: ContentState | None = None
        self.snapshot: Snapshot | None = None
        self.ending: Ending | None = None
        """The ending the engine sealed: once set, what the phone is sent, whatever comes."""
        self.shown: tuple[object, ...] | None = None
        """What ``state`` was rendered from (the view and the ending)."""
        self.logged: set[tuple[object, ...]] = set()
        self.plain = False
        """Send the end plainly (no buttons or decorations): the server refused it as it was."""
        self.watch: Reading = NOT_WATCHED
        """The watchdog's reading at the last look (``_job/watchdog``)."""
        self.position: tuple[object, ...] | None = None
        self.moved_at: float | None = None
        """When the engine first saw the job's current ``position``."""
        self.stream_key = spec.stream_key
        if self.stream_key is None and spec.lifecycle == "stream":
            # One key per activity: its PUTs are idempotent, so a lost answer is simply repeated.
            self.stream_key = new_stream_key()

    @property
    def title(self) -> str:
        return self.spec.title

    @property
    def owner(self) -> ActivityJob:
        return self

    def say_once(self, topic: tuple[object, ...], level: int, message: str, *args: object) -> None:
        """Log ``message`` once per activity and topic: never a flood."""
        if topic not in self.logged:
            self.logged.add(topic)
            log.log(level, message, *args)

    def look(self, seal_before: float, now: float) -> Sample | None:
        """One look at the activity (``sample``), rendered (``view.render``) when it changed;
        what it shows and an ending found are kept here: once kept, the ending is sealed.
        ``None``: its state could not be built (said once; nothing more is sent)."""
        try:
            sample = self.sample(seal_before)
            watch = self._watch(sample, now)
            shown = (sample.view, sample.ending, watch.state, watch.text)
            if shown != self.shown:
                self.state = self._render(sample, now, watch)
                self.snapshot = snapshot_of(self.state, watch.state.severity, watch.step)
                self.shown = shown
        except Exception as exc:  # nothing could be built: say so once, never spin
            self.stats.last_error = f"could not build the state: {exc}"
            self.stats.dropped += 1
            log.warning("livebar: %r cannot be shown: %s", self.title, exc)
            return None
        ignored = sample.view.ignored
        if ignored != self.stats.ignored:
            if not self.stats.ignored:
                log.warning(
                    "livebar: %r was given a progress value it cannot show (NaN, infinite or out "
                    "of range); it was clamped or dropped (counted in stats.ignored)",
                    self.title,
                )
            self.stats.ignored = ignored
        if sample.ending is not None:
            self.ending = sample.ending
        return sample

    def _watch(self, sample: Sample, now: float) -> Reading:
        """The watchdog's reading of ``sample`` (``NOT_WATCHED`` once it is over)."""
        spec, view = self.spec, sample.view
        if spec.stall_after is None and spec.expected is None:
            return NOT_WATCHED
        if sample.ending is not None or sample.pending or sample.started_at is None:
            self.watch = NOT_WATCHED
            return NOT_WATCHED
        position = (view.items, view.current_step, view.percentage, view.value)
        if position != self.position or self.moved_at is None:
            first = self.position is None
            self.position = position
            self.moved_at = sample.started_at if first else now
        facts = WatchFacts(
            now=now,
            started_at=sample.started_at,
            moved_at=self.moved_at,
            stall_after=spec.stall_after,
            expected=spec.expected,
            fraction=view.fraction,
            where=view.subtitle,
        )
        self.watch = decide(facts)
        return self.watch

    def _render(self, sample: Sample, now: float, watch: Reading | None = None) -> ContentState:
        """What the phone is sent for ``sample``; when the payload's rules refuse it (a value
        at the edge of what a card can show), the least a card can show, said once."""
        at = sample.ended_at if sample.ended_at is not None else now
        try:
            return render(
                self.spec,
                sample.view,
                sample.ending,
                started_at=sample.started_at,
                now=at,
                watch=watch,
            )
        except LivebarError as exc:
            self.say_once(
                ("plainly",),
                logging.WARNING,
                "livebar: %r cannot be shown as it is (%s); it is shown plainly instead",
                self.title,
                exc,
            )
            return render_plainly(sample.view, sample.ending)

    def give_up(self, why: str) -> None:
        """Nothing of this activity will be sent: say why in its stats, and wake its waiters."""
        self.stats.dropped += 1
        self.stats.last_error = why
        self.done.set()

    @property
    def over(self) -> bool:
        """The job is over for the engine: its end is to be settled (a flush waits for it)."""
        return self.ending is not None

    def may_settle(self) -> bool:
        """Whether the engine may forget it once pacing has nothing more to send for it."""
        return True


class FleetJob(ActivityJob):
    """One member of a fleet, and (while it holds the fleet's lease) the fleet's card.

    The member's own progress is sampled like an activity's, but goes to the ledger as its
    absolute state (``member_state``), never to the phone. ``state``, ``snapshot`` and
    ``ending`` are the *card's*, rendered from the fleet's record while this member leads
    (``_engine/fleets.py``); the member's own ending is ``own_ending``.
    """

    kind = JobKind.FLEET

    __slots__ = (
        "adopt",
        "card_started",
        "card_updates",
        "fleet",
        "holder",
        "leading",
        "lease_until",
        "left_at",
        "mine",
        "next_join",
        "next_read",
        "next_report",
        "offset",
        "own_ending",
        "reported",
        "reported_at",
        "run",
        "unavailable",
        "wrote_final",
    )

    def __init__(
        self, key: int, spec: ActivitySpec, fleet: FleetSpec, sample: Sampler, config: Config
    ) -> None:
        super().__init__(key, spec, sample, config)
        self.fleet = fleet
        self.stream_key = None  # the run's, once joined
        self.run: str | None = None
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{os.urandom(6).hex()}"
        """This member's name for the lease (unique to the job)."""
        self.mine = MemberState()
        self.own_ending: Ending | None = None
        self.reported: MemberState | None = None
        self.reported_at = -float("inf")
        self.wrote_final = False
        self.left_at = float("inf")
        """When the member's final state went into the record (the engine's clock)."""
        self.next_join = self.next_report = self.next_read = -float("inf")
        self.leading = False
        """Holds the lease and has the card in pacing."""
        self.lease_until = -float("inf")
        """Until when (the engine's clock) this member may send as the fleet's sender."""
        self.adopt: tuple[float, int] | None = None
        """The card was on the phone before this member led: (its age, its updates)."""
        self.card_started: float | None = None
        self.card_updates = 0
        self.offset = 0.0
        """The ledger's clock minus the engine's, as of the last read."""
        self.unavailable = False

    @property
    def over(self) -> bool:
        return self.own_ending is not None or self.ending is not None

    def may_settle(self) -> bool:
        return self.wrote_final

    def look(self, seal_before: float, now: float) -> Sample | None:
        """One look at the member's own progress: kept as its absolute state (``mine``)."""
        try:
            sample = self.sample(seal_before)
            self.mine = member_state(sample.view, sample.ending)
        except Exception as exc:  # the state could not be built: say so once, never spin
            self.stats.last_error = f"could not build the state: {exc}"
            self.stats.dropped += 1
            log.warning("livebar: fleet member %r cannot be read: %s", self.fleet.member, exc)
            return None
        if sample.ending is not None:
            self.own_ending = sample.ending
        return sample

    def join(self, run: str) -> None:
        self.run = run
        digest = hashlib.sha256(f"{self.fleet.name}\0{run}".encode()).hexdigest()[:32]
        self.stream_key = f"livebar-fleet-{digest}"


@dataclass
class PushJob:
    """A queued push notification: the user's own, or an activity's outcome."""

    key: int
    notification: PushNotification
    config: Config
    owner: ActivityJob | None = None
    client: Client | None = None
    kind = JobKind.PUSH

    @property
    def title(self) -> str:
        return f"push {self.notification.title!r}"


@dataclass
class OrphanJob:
    """An activity whose owning process is gone, to be ended truthfully ("Lost: …")."""

    key: int
    end: LostEnd
    config: Config
    client: Client | None = None
    owner: ActivityJob | None = None
    plain: bool = False
    """Send the end once more without the last state: the server refused it as it was."""
    kind = JobKind.ORPHAN

    @property
    def title(self) -> str:
        orphan = self.end.orphan
        return f"the end of {orphan.title} (left by process {orphan.owner.pid})"


@dataclass
class MarkJob:
    """One update of a hung process's card: "Not responding for 5m at 61%"."""

    key: int
    mark: Mark
    config: Config
    client: Client | None = None
    owner: ActivityJob | None = None
    plain: bool = False
    kind = JobKind.MARK

    @property
    def title(self) -> str:
        watched = self.mark.watched
        return f"the mark of {watched.title} (process {watched.owner.pid} is not responding)"


Job = Union[ActivityJob, FleetJob, PushJob, OrphanJob, MarkJob]


def new_stream_key() -> str:
    """A stream key of livebar's own, unique to one activity of this process."""
    return f"livebar-{os.getpid()}-{os.urandom(9).hex()}"
