"""What runs the engine's turns: the ``Driver`` protocol, the background thread (``Sender``)
that drives the real engine, and the ``FlushTicket`` both drivers (the thread, and
``livebar.testing``'s virtual clock) use to wait for a flush without polling."""

from __future__ import annotations

import math
import threading
import time
from typing import TYPE_CHECKING, Callable, Protocol

from livebar._engine.intake import Intake, Opening

if TYPE_CHECKING:
    from livebar._engine.dispatcher import Dispatcher
    from livebar._engine.jobs import ActivityJob, Sampler
    from livebar._job.fleet import FleetSpec
    from livebar._job.options import ActivitySpec
    from livebar._wire.config import Config

__all__ = ["Driver", "FlushTicket", "Sender"]

_GO_TIMEOUT = 0.05
"""How long a new engine thread waits for the caller to finish handing over (a push or a
flush goes on at once)."""


class Driver(Protocol):
    """Runs a dispatcher's turns: the background thread, or a virtual clock in tests."""

    intake: Intake

    @property
    def dispatcher(self) -> Dispatcher | None: ...

    def open(
        self, spec: ActivitySpec, sample: Sampler, fleet: FleetSpec | None = None
    ) -> Opening: ...

    def flush(self, timeout: float, stop: Callable[[], bool] | None = None) -> bool: ...

    def wait_for(self, job: ActivityJob, timeout: float) -> bool: ...

    def resolve(self, spec: ActivitySpec) -> Config | None: ...


class FlushTicket:
    """One flush of an engine until ``deadline`` (the engine's clock): done when a turn that
    began after it leaves nothing pending. While a ticket is out, endings seal at once (nobody
    waits for a late excepthook) and the retries of ends and pushes fit before its deadline."""

    def __init__(self, intake: Intake, deadline: float) -> None:
        self.intake = intake
        self.mark = intake.turns_started
        self.deadline = deadline
        intake.flushing.append(deadline)

    def done(self) -> bool:
        intake = self.intake
        return intake.turns_completed > self.mark and not intake.pending()

    def close(self) -> None:
        self.intake.flushing.remove(self.deadline)


class Sender:
    """The background thread: a short shell that builds the dispatcher on its own thread (the
    caller's only made the intake), then calls ``turn`` when due or woken."""

    def __init__(
        self,
        build: Callable[[Intake], Dispatcher],
        intake: Intake,
        built: Dispatcher | None = None,
        *,
        importing: threading.Lock,
        resolve: Callable[[ActivitySpec], Config | None],
    ) -> None:
        self.intake = intake
        self._build = build
        self._importing = importing
        self._resolve = resolve
        self._dispatcher: Dispatcher | None = built
        self._event = threading.Event()
        self._go = threading.Event()
        self._hold_until = -math.inf
        intake.waker = self._wake
        intake.waker_at = self._wake_at
        self._thread = threading.Thread(target=self._run, name="livebar-dispatcher", daemon=True)
        self._thread.start()

    @property
    def dispatcher(self) -> Dispatcher | None:
        """The dispatcher, once the engine's thread has built it."""
        return self._dispatcher

    def _run(self) -> None:
        # Let the caller finish handing over first (it wakes this thread as its last step):
        # otherwise it would wait for the GIL while this thread imports (a switch interval or
        # more).
        self._go.wait(_GO_TIMEOUT)
        dispatcher = self._dispatcher
        if dispatcher is None:
            with self._importing:  # a fork waits: a child never inherits half-imported modules
                dispatcher = self._dispatcher = self._build(self.intake)
        clock = dispatcher.clock
        while True:  # a daemon thread: it ends with the interpreter
            self._event.clear()  # before the turn, so a wake-up during it is not lost
            timeout = dispatcher.turn(clock())
            self._event.wait(timeout)  # None: parked until something new arrives
            # Woken early by a nudge alone: hold until it is due (a hand-over ends the hold).
            hold = self._hold_until - clock()
            if hold > 0:
                self._event.clear()
                self._event.wait(hold)
            self._hold_until = -math.inf

    def _wake(self) -> None:
        self._hold_until = -math.inf  # a hand-over or an ending: no hold
        self._go.set()
        self._event.set()

    def _wake_at(self, at: float) -> None:
        self._hold_until = max(self._hold_until, at)
        self._event.set()

    def open(self, spec: ActivitySpec, sample: Sampler, fleet: FleetSpec | None = None) -> Opening:
        """Hand over a starting activity: the engine's thread resolves its account and makes
        its job (the caller's thread only queues it)."""
        opening = self.intake.open(spec, sample, fleet=fleet, wake=False)
        self._wake()  # the last thing the caller does here: the engine may start now
        return opening

    def flush(self, timeout: float, stop: Callable[[], bool] | None = None) -> bool:
        """Wait (no polling) until the ticket is done, or the deadline passes, or ``stop()``
        (looked at after each turn) says waiting is pointless."""
        intake = self.intake
        deadline = time.monotonic() + timeout
        with intake.idle:
            ticket = FlushTicket(intake, deadline)
            try:
                self._wake()
                while not ticket.done():
                    left = deadline - time.monotonic()
                    if left <= 0 or (stop is not None and stop()):
                        return False
                    intake.idle.wait(left)
                return True
            finally:
                ticket.close()

    def wait_for(self, job: ActivityJob, timeout: float) -> bool:
        job.done.wait(timeout)
        return job.stats.end_delivered

    def resolve(self, spec: ActivitySpec) -> Config | None:
        return self._resolve(spec)
