"""What user threads hand the engine, and what flushes read of it: the engine's front desk.

The part of the engine that exists before its thread has loaded anything, so that opening the
first activity of a process costs the caller a few microseconds (issue #19): an ``Intake`` is a
queue and a handful of counters, and this module imports nothing heavier than ``threading``.
The dispatcher (``dispatcher.Dispatcher``) is built on the engine's own thread, around the
intake it was handed, and takes everything in at its next turn: an activity arrives as an
``Opening`` that the engine turns into its job (resolving the account, which may say "off").
"""

from __future__ import annotations

import collections
import itertools
import math
import threading
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from livebar._engine.jobs import ActivityJob, Sampler
    from livebar._job.fleet import FleetSpec
    from livebar._job.options import ActivitySpec

__all__ = ["CLOSE", "Intake", "Opening"]


class Opening:
    """An activity the caller's thread handed over: the engine fills in ``job`` (None when it
    is not mirrored: no usable account) and sets ``taken``."""

    __slots__ = ("fleet", "job", "sample", "spec", "taken")

    def __init__(self, spec: ActivitySpec, sample: Sampler, fleet: FleetSpec | None = None) -> None:
        self.spec = spec
        self.sample = sample
        self.fleet = fleet
        """A fleet member's fleet: the engine makes a ``FleetJob``."""
        self.job: ActivityJob | None = None
        self.taken = threading.Event()

    def take(self, job: ActivityJob | None) -> None:
        self.job = job
        self.taken.set()


class _Close:
    """The message that asks the engine's thread to close its ledgers (a clean exit)."""


CLOSE = _Close()


class Intake:
    """The engine's inbox and the counters that flushes and the exit read. Thread-safe where it
    is written from user threads (a deque, counters bumped under the GIL)."""

    def __init__(self, *, clock: Callable[[], float], sample_interval: float) -> None:
        self.clock = clock
        self.sample_interval = sample_interval
        self.inbox: collections.deque[Any] = collections.deque()
        self.idle = threading.Condition()
        """Notified after every turn (flushes wait on it)."""
        self.flushing: list[float] = []
        """The deadlines (engine clock) of the flushes waiting now: endings seal at once (nobody
        waits for a late excepthook), and retries of ends and pushes fit before the first."""
        self.turns_started = 0
        self.turns_completed = 0
        self.last_turn_at = -math.inf
        self.pending_now = False
        """Something taken in is not settled yet, as of the last turn."""
        self.handed_over = 0
        """How many activities, pushes and endings user code has handed over so far."""
        self.seen_handed_over = 0
        """``handed_over`` as the last completed turn began: what it has looked at."""
        self.reached = False
        """Some request of this process reached a server (anything but a refused connection)."""
        self.refused_in_a_row = 0
        """Connections refused (``ConnectError``) since a request last reached a server."""
        self.new_key: Callable[[], int] = itertools.count(1).__next__
        """Pacing's name for the next job (activities, pushes, orphans)."""
        self.use_given_clients = True
        """Send with a ``client=`` the user passed (off under virtual time: no real I/O)."""
        self.waker: Callable[[], None] = _nothing
        """Wakes the engine for a turn now (set by the driver)."""
        self.waker_at: Callable[[float], None] = lambda at: self.waker()
        """Wakes the engine for a turn at ``at`` on its clock, or now if that has passed."""

    def hand(self, item: object, *, counted: bool = True, wake: bool = True) -> None:
        """Queue ``item`` for the engine's next turn and wake it (``counted``: a flush waits
        for it; ``wake=False``: the caller wakes the engine itself)."""
        if counted:
            self.handed_over += 1
        self.inbox.append(item)
        if wake:
            self.waker()

    def open(
        self,
        spec: ActivitySpec,
        sample: Sampler,
        *,
        fleet: FleetSpec | None = None,
        wake: bool = True,
    ) -> Opening:
        """Hand over a starting activity; the engine makes its job at its next turn."""
        opening = Opening(spec, sample, fleet)
        self.hand(opening, wake=wake)
        return opening

    def ended(self) -> None:
        """An ending was made: the engine should look now (a flush waits for it)."""
        self.handed_over += 1
        self.waker()

    def nudge(self) -> None:
        """Something an open job shows changed (a step, a stage, a title): look at it within a
        sample interval of the last look, so that quick changes are seen together."""
        self.waker_at(self.last_turn_at + self.sample_interval)

    def close(self) -> None:
        """A clean exit: every ledger drops this process's records (none is left to reap).

        Done by the next turn, on the engine's own thread: only that thread touches a ledger
        (a sqlite connection closed under a turn that is using it can crash the process).
        """
        self.hand(CLOSE, counted=False)

    def pending(self) -> bool:
        """Anything handed over or ending that is not settled yet, as of the last turn (an
        ending made while a turn waited on the network counts: no turn has looked at it)."""
        return bool(self.inbox) or self.pending_now or self.handed_over != self.seen_handed_over

    def unreachable(self) -> int:
        """How many connections were refused in a row when no request of this process ever
        reached a server (0 otherwise): nothing of ours can be on the phone."""
        return 0 if self.reached else self.refused_in_a_row


def _nothing() -> None:
    pass
