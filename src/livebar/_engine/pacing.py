"""The pacing policy: which request to send now, and when to look again.

Pure and sans-I/O. It takes ``now`` as an argument, never reads a clock, never sleeps, never
touches the network and holds no ledger: the shell (``outbox.Outbox``) puts its questions to the
account's ledger (``messages``) and writes the effects it returns. That is what lets the tests
and the benchmarks drive hours of a job on a virtual clock.

The budgets it keeps (``budgets.Budgets``; see ``docs/design.md`` for the reasoning):

* the account: at most ``requests_per_window`` requests in any sliding ``window``, shared by all
  activities and pushes of every livebar process on the account, with ``reserve`` of them kept
  for starts, ends and pushes so an end never waits behind updates;
* concurrency: at most ``max_activities`` activities started at once on the account;
* iOS, per activity: the server warns (and iOS stops showing updates) once an activity has had
  more than ``ios_burst`` updates averaging more than one per ``ios_interval``; update number
  ``k > ios_burst`` is therefore only sent once ``ios_interval * k * ios_margin`` seconds have
  passed since the start.

Within those budgets ``freshness.update_score`` decides where an activity's updates go; where an
activity stands after each answer is ``phases``' (two tables, and ``retrying``); how much of the
account's window each kind of request may fill is ``window.Window``'s.
"""

from __future__ import annotations

import math
import random
from collections import deque
from collections.abc import Generator
from typing import Any, Union

from livebar import _defaults
from livebar._engine.budgets import Budgets
from livebar._engine.freshness import Snapshot, next_look, update_score
from livebar._engine.messages import (
    AskRoom,
    AskSlot,
    Effect,
    Heard,
    Kind,
    Landed,
    Question,
    Refund,
    Release,
    Room,
    Send,
)
from livebar._engine.phases import (
    RETRYING,
    Held,
    Phase,
    Slot,
    Wait,
    adopted,
    failed,
    retrying,
    succeeded,
)
from livebar._engine.window import Window
from livebar._wire.retry import backoff

__all__ = ["Held", "PacingPolicy", "Phase", "Plan", "Wait"]


Plan = Generator[Question, Union[bool, Room], list[Send]]


class PacingPolicy:
    """The state machine the dispatcher drives. Not thread-safe: one dispatcher owns it.

    It keeps no account state of its own: the account's window and its concurrent slots are
    the ledger's, shared by every livebar process on the account. The policy asks the shell
    to put its questions to the ledger (``AskSlot`` when an activity opens; ``plan`` yields
    ``AskRoom`` for every request it wants to send, before it is sent) and returns what must be
    written there afterwards as effects (``Refund``, ``YieldSlot``, ``Release``). livebar's
    share of the window is ``budgets.requests_per_window``, lowered for a while (AIMD) after a
    429 the ledger did not predict: another tool on the same key is sending too.
    """

    def __init__(self, budgets: Budgets | None = None, rng: random.Random | None = None) -> None:
        self.rng = rng if rng is not None else random.Random()
        self._budgets = budgets if budgets is not None else Budgets()
        self._window = Window(self._budgets)
        self._slots: dict[int, Slot] = {}
        self._pushes: deque[int] = deque()
        self._tickets: dict[tuple[int, Kind], Room] = {}
        self._push_retry_at = -math.inf
        self._push_failures = 0
        self._forbidden = False
        self._blocked = False
        self.deadline: float | None = None
        """While a flush waits, its deadline: a retried end or push is tried again before it."""

    @property
    def budgets(self) -> Budgets:
        return self._budgets

    @budgets.setter
    def budgets(self, budgets: Budgets) -> None:
        self._budgets = budgets
        self._window.rebudget(budgets)

    def share(self, now: float) -> int:
        """livebar's share of the account's window now (lowered after unforeseen 429s)."""
        return self._window.share(now)

    # -- what the dispatcher tells the policy -------------------------------------------------

    def open(
        self,
        key: int,
        now: float,
        snapshot: Snapshot,
        *,
        rotates: bool = False,
        title: str = "",
        stream_key: str | None = None,
        reserve: int = 0,
    ) -> AskSlot:
        """A new activity wants to start, showing ``snapshot``; ``rotates`` when pacing must
        renew it before iOS ends it (the manual lifecycle; the server renews streams). It joins
        the account's queue of starts at once: the shell puts the returned question to the
        ledger and answers with ``granted`` (``title`` and ``stream_key`` are what the ledger
        keeps of it, so that it can be ended if this process dies; ``reserve``: ``Slot``'s)."""
        slot = Slot(key=key, opened_at=now, latest=snapshot, rotates=rotates, reserve=reserve)
        slot.title, slot.stream_key = title, stream_key
        self._slots[key] = slot
        return self._slot_question(slot)

    def granted(self, key: int, granted: bool) -> None:
        """The ledger's answer to ``AskSlot`` for ``key``."""
        if (slot := self._slots.get(key)) is not None:
            slot.granted = granted

    def renewed(self, key: int, now: float) -> None:
        """The server replaced the activity (a stream ``rotated``): iOS's budget starts afresh."""
        slot = self._slots.get(key)
        if slot is not None and slot.phase is Phase.ACTIVE:
            slot.started_at = now
            slot.renew_at = now + self.budgets.rotate_after
            slot.updates_sent = 0
            slot.base_fraction = (slot.shown.fraction or 0.0) if slot.shown is not None else 0.0

    def adopt(self, key: int, now: float, *, age: float, updates: int) -> None:
        """Activity ``key`` is a card already on the phone, started ``age`` seconds ago and
        updated ``updates`` times by another sender (a fleet's, taken over): active at once, on
        the budget iOS has left it; its next state is worth a send (the phone's is unknown)."""
        slot = self._slots.get(key)
        if slot is not None and slot.phase is Phase.WAITING:
            adopted(slot, now - max(age, 0.0), updates, self.budgets.rotate_after)

    def slot(self, key: int) -> Slot | None:
        """Activity ``key`` as pacing sees it (``phases.card_of``, ``phases.overwritten``)."""
        return self._slots.get(key)

    def observe(self, key: int, snapshot: Snapshot) -> None:
        """The latest state of an activity; states between two sends coalesce into one."""
        slot = self._slots.get(key)
        if slot is None or snapshot == slot.latest:
            return
        if slot.latest is not None and slot.latest != slot.shown:
            slot.coalesced += 1
        slot.latest = snapshot

    def close(self, key: int, snapshot: Snapshot) -> None:
        """The activity is over; its end (showing ``snapshot``) goes out ahead of any update."""
        slot = self._slots.get(key)
        if slot is None:
            return
        slot.latest = snapshot
        slot.closing = True
        if slot.blocked and slot.phase is Phase.WAITING:
            slot.retry_at = -math.inf  # no slot to wait for any more: the push can go now
        elif slot.phase is Phase.ACTIVE:
            # The end is a request of its own: its first try does not wait out the backoff of
            # the updates (or starts) that failed before it (an account-wide 429 pause still
            # holds). Only its own failures back it off.
            slot.retry_at = -math.inf

    def push(self, key: int) -> None:
        """Queue a push notification."""
        self._pushes.append(key)

    def coalesced(self, key: int) -> int:
        """How many sampled states of ``key`` were replaced by a newer one before being sent."""
        return slot.coalesced if (slot := self._slots.get(key)) is not None else 0

    def held_back(self) -> list[tuple[int, Held]]:
        """The activities whose start the last plan held back, and why (oldest first)."""
        waiting = [s for s in self._slots.values() if s.phase is Phase.WAITING and s.held]
        waiting.sort(key=lambda s: s.opened_at)
        return [(s.key, s.held) for s in waiting if s.held is not None]

    def phase(self, key: int) -> Phase | None:
        return None if (slot := self._slots.get(key)) is None else slot.phase

    def abandon(self, key: int) -> list[Effect]:
        """Give up on an activity (its end will not be sent)."""
        slot = self._slots.get(key)
        if slot is None:
            return []
        slot.phase = Phase.ABANDONED
        slot.in_flight = None
        return [Release(key)]

    def as_stream(self, key: int) -> None:
        """The activity goes on as a stream (renewed by the server, not by pacing)."""
        if (slot := self._slots.get(key)) is not None:
            slot.rotates = False

    def forget(self, key: int) -> list[Effect]:
        """Drop an activity that is ended or abandoned (its slot and record go too)."""
        return [Release(key)] if self._slots.pop(key, None) is not None else []

    @property
    def forbidden(self) -> bool:
        """True once the account refused us (401): nothing more is sent."""
        return self._forbidden

    @property
    def blocked(self) -> bool:
        """True once the account's billing blocked us (402): only ends are sent."""
        return self._blocked

    def result(
        self,
        send: Send,
        now: float,
        heard: Heard,
        *,
        retry_after: float | None = None,
        arrived: bool | None = True,
    ) -> list[Effect]:
        """Record how ``send`` went (``heard``: what its answer means, from the verdicts) and
        return what the ledger must be told.

        ``arrived`` says whether the request reached the server (``None``: it may have, its
        answer was lost); one that may have counts against the account's window, whatever the
        answer.
        """
        effects: list[Effect] = []
        room = self._tickets.pop((send.key, send.kind), None)
        if room is not None and room.ticket is not None:
            # It never reached the server: give it back. Else the window counts it from now,
            # as the server counted it from its arrival (after it was admitted).
            effects.append(Refund(room.ticket) if arrived is False else Landed(room.ticket))
        self._account_heard(heard, now, retry_after, room)
        slot = self._slots.get(send.key)
        if slot is None:  # a push of its own
            self._push_heard(send, heard, now, retry_after)
            return effects
        slot.in_flight = None
        if heard is Heard.OK:
            succeeded(slot, send.kind, now, self.budgets.rotate_after)
        elif heard in RETRYING:
            slot.failures += 1
            b = self.budgets
            if heard is Heard.SLOT_TAKEN:  # only an ending activity frees a slot: be patient
                initial, cap = b.activity_limit_initial, b.activity_limit_max
            else:
                initial, cap = b.backoff_initial, b.backoff_max
            delay = _hurried(
                self.deadline,
                send.kind,
                now,
                _backoff(slot.failures, initial, cap, retry_after, self.rng),
                b.backoff_initial,
            )
            effects += retrying(slot, send.kind, heard, now, arrived, delay)
        else:
            failed(slot, send.kind, heard)
        if slot.phase.settled:  # its slot (and record) on the account are free at once
            effects.append(Release(slot.key))
        return effects

    def _account_heard(
        self, heard: Heard, now: float, retry_after: float | None, room: Room | None
    ) -> None:
        """What an answer means for the whole account."""
        window = self._window
        if heard is Heard.OK:
            window.answered(now)
        elif heard is Heard.RATE_LIMITED:  # the account is saturated: everyone waits
            window.rate_failures += 1
            b = self.budgets
            delay = _backoff(
                window.rate_failures, b.backoff_initial, b.backoff_max, retry_after, self.rng
            )
            window.rate_limited(now, delay, room.used if room is not None else None)
        elif heard is Heard.FORBIDDEN:
            self._forbidden = True
        elif heard is Heard.BLOCKED:
            self._blocked = True

    def _push_heard(self, send: Send, heard: Heard, now: float, retry_after: float | None) -> None:
        if heard in RETRYING:
            self._pushes.appendleft(send.key)
            self._push_failures += 1
            b = self.budgets
            delay = _backoff(
                self._push_failures, b.backoff_initial, b.backoff_max, retry_after, self.rng
            )
            self._push_retry_at = now + _hurried(
                self.deadline, Kind.PUSH, now, delay, b.backoff_initial
            )
        else:
            self._push_failures = 0

    # -- what the policy tells the dispatcher -------------------------------------------------

    def plan(self, now: float) -> Plan:
        """The requests to make now, most urgent first, within every budget.

        A generator: it yields each question for the ledger (``AskSlot``, ``AskRoom``), is sent
        the answer (``bool``, ``Room``), and returns the sends once every request it wanted was
        admitted or refused.
        """
        if self._forbidden:
            return []
        self._window.new_plan()
        if now < self._window.paused_until:
            return []
        sends: list[Send] = []
        slots = [s for s in self._slots.values() if s.in_flight is None and now >= s.retry_at]
        for slot in slots:
            if slot.closing:
                yield from self._plan_ending(slot, now, sends)
        if self._blocked:
            return sends  # the account's billing refuses anything new: only ends go out
        for slot in sorted(slots, key=lambda s: s.opened_at):
            if slot.phase is not Phase.WAITING:
                continue
            if not (yield from self._holds_slot(slot)):
                slot.held = None if slot.closing else Held(Wait.SLOTS, math.inf)
                continue
            if (yield from self._take(Send(slot.key, Kind.START), now, sends)):
                slot.in_flight = Kind.START
                slot.phase = Phase.STARTING
                slot.latest_sent = slot.latest
                slot.held = None
            else:
                slot.held = Held(Wait.ROOM, self._window.frees_at(Kind.START, now))
        for slot in slots:
            if (
                slot.rotates
                and slot.phase is Phase.ACTIVE
                and not slot.closing
                and slot.in_flight is None
                and now >= slot.started_at + self.budgets.rotate_after
                and (yield from self._take(Send(slot.key, Kind.ROTATE), now, sends))
            ):
                slot.in_flight = Kind.ROTATE
                slot.latest_sent = slot.latest
        while (
            self._pushes
            and now >= self._push_retry_at
            and (yield from self._take(Send(self._pushes[0], Kind.PUSH), now, sends))
        ):
            self._pushes.popleft()
        yield from self._plan_updates(slots, now, sends)
        return sends

    def _plan_ending(self, slot: Slot, now: float, sends: list[Send]) -> Plan:
        """An activity that is over: its end, or the push that stands in for it."""
        started = slot.phase is Phase.ACTIVE
        never_started = not started and (
            slot.phase is Phase.FALLBACK
            or (
                slot.phase is Phase.WAITING
                and (slot.blocked or not (yield from self._holds_slot(slot)))
            )
        )
        if started and (yield from self._take(Send(slot.key, Kind.END), now, sends)):
            slot.in_flight = Kind.END
            slot.latest_sent = slot.latest
        elif (
            never_started
            and not self._blocked
            and (yield from self._take(Send(slot.key, Kind.PUSH), now, sends))
        ):
            # It never got a Live Activity and the job is over: say how it went in a push.
            slot.in_flight = Kind.PUSH
            slot.phase = Phase.FALLBACK
        return sends

    def _plan_updates(self, slots: list[Slot], now: float, sends: list[Send]) -> Plan:
        ranked = []
        for slot in slots:
            if slot.phase is not Phase.ACTIVE or slot.closing or slot.in_flight is not None:
                continue
            score = update_score(slot, self.budgets, now)
            if score >= 1.0:
                ranked.append((score, slot))
        ranked.sort(key=lambda pair: -pair[0])
        for _score, slot in ranked:
            if not (yield from self._take(Send(slot.key, Kind.UPDATE), now, sends)):
                break
            slot.in_flight = Kind.UPDATE
            slot.latest_sent = slot.latest
        return sends

    def _take(self, send: Send, now: float, sends: list[Send]) -> Generator[Question, Any, bool]:
        """Ask the ledger for room for ``send``; True (and ``send`` planned) when admitted."""
        limit, floor = self._window.room(send.kind, now)
        if self._window.full_for(limit, floor):
            return False  # a request with more room found the window full: so would this one
        room: Room = yield AskRoom(limit=limit, floor=floor)
        if not room.admitted:
            self._window.refused(limit, floor, room.retry_at)
            return False
        self._tickets[(send.key, send.kind)] = room
        sends.append(send)
        return True

    def _holds_slot(self, slot: Slot) -> Generator[Question, Any, bool]:
        """Whether ``slot`` holds one of the account's concurrent slots (asking if it does not)."""
        if not slot.granted:
            slot.granted = yield self._slot_question(slot)
        return slot.granted

    def _slot_question(self, slot: Slot) -> AskSlot:
        return AskSlot(slot.key, self.budgets.max_activities, slot.title, slot.stream_key)

    def next_wake(
        self,
        now: float,
        *,
        shortest: float = _defaults.DEFAULT_SAMPLE_INTERVAL,
        longest: float = _defaults.DEFAULT_LONGEST_NAP,
    ) -> float:
        """The earliest moment a decision of the policy could change (``inf``: none until
        something new arrives): a backoff or a pause over, the account's window freeing for a
        request that waits for room, a renewal due, and for each open activity the moment its
        next update could be worth sending (``freshness.next_look``: when the iOS budget
        allows it, or when the bar should have moved far enough, between ``shortest`` and
        ``longest`` from now). Endings, new activities and pushes wake the engine themselves.
        """
        b = self.budgets
        wake = math.inf

        def later(t: float) -> None:
            nonlocal wake
            t = max(t, self._window.paused_until)
            if t > now:
                wake = min(wake, t)

        later(self._window.paused_until)
        if self._pushes:
            later(max(self._push_retry_at, self._window.frees_at(Kind.PUSH, now)))
        for slot in self._slots.values():
            later(slot.retry_at)
            if slot.in_flight is not None:
                continue
            if slot.closing and slot.phase in (Phase.ACTIVE, Phase.WAITING, Phase.FALLBACK):
                ending = Kind.END if slot.phase is Phase.ACTIVE else Kind.PUSH
                later(max(slot.retry_at, self._window.frees_at(ending, now)))
            elif slot.phase is Phase.WAITING and slot.granted:
                later(max(slot.retry_at, self._window.frees_at(Kind.START, now)))
            elif slot.phase is Phase.WAITING:  # another process may free a slot: ask again
                later(max(slot.retry_at, now + longest))
            elif slot.phase is Phase.ACTIVE:
                if slot.rotates:  # renewed by pacing before iOS's 8 hours end it
                    due = slot.started_at + b.rotate_after
                    later(max(due, self._window.frees_at(Kind.ROTATE, now)))
                look = next_look(slot, b, now, shortest=shortest, longest=longest)
                later(max(look, slot.retry_at, self._window.frees_at(Kind.UPDATE, now)))
        return wake


def _hurried(deadline: float | None, kind: Kind, now: float, delay: float, least: float) -> float:
    """``delay``, cut so that an end or a push is tried again before a waiting flush's
    ``deadline`` (halfway there: room for the request itself, and for one more try), unless
    so little time is left (less than ``least``) that a try would only hammer the server."""
    if deadline is None or kind not in (Kind.END, Kind.PUSH):
        return delay
    halfway = (deadline - now) / 2
    return delay if halfway < least else min(delay, halfway)


def _backoff(
    failures: int, initial: float, cap: float, retry_after: float | None, rng: random.Random
) -> float:
    if retry_after is not None and retry_after > 0:  # the server knows best (capped)
        return retry_after
    # No hint, or "now" (0, negative, a date past): asking again at once only hammers a
    # server that just refused us; the usual backoff.
    return backoff(failures, initial=initial, cap=cap, rng=rng)
