"""A fleet: one job run by many members (hosts, pods, shards), shown as one card. Pure.

Every member writes its own *absolute* state into the fleet's record in the ledger
(``MemberState``: items done of its total or steps done of its steps, its stage, and once it is
over its outcome); one member at a time, the leader, reads the whole record and renders the card
(``fleet_view.render_fleet``). What the record means is decided here, without I/O or a clock:

* ``tally(fleet)``: who is done, failed, lost (its heartbeat went stale, or its process is
  known dead), running, and who never started;
* ``is_over(fleet, tally)``: whether the card ends now — every expected member has ended; or
  the deadline has passed and nobody runs any more; or the last member still running is leaving
  (nobody would be left to tell the phone) and has given the missing ones a short grace.

Because states are absolute, a duplicate or a reordered write changes nothing: the record holds
each member's latest word.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from livebar._job.endings import Outcome

if TYPE_CHECKING:
    from livebar._job.endings import Ending
    from livebar._job.progress import ProgressView

__all__ = [
    "Fleet",
    "Member",
    "FleetSpec",
    "MemberState",
    "Tally",
    "expected_names",
    "expected_of",
    "is_over",
    "member_state",
    "others_report",
    "tally",
]


class MemberState(NamedTuple):
    """What one member writes of itself: absolute, so writing it twice changes nothing."""

    done: float = 0.0
    """Items done (a progress bar), or steps complete (a segmented bar)."""
    total: float | None = None
    """Items (or steps) it will do, when known."""
    fraction: float | None = None
    """The share of its own work that is done, when known."""
    stage: str | None = None
    outcome: Outcome | None = None
    """How it ended; ``None`` while it runs."""
    detail: str | None = None
    """Its ending's words ("Failed at upload: OSError: …"), once over."""

    def to_json(self) -> dict[str, Any]:
        return {
            "done": self.done,
            "total": self.total,
            "fraction": self.fraction,
            "stage": self.stage,
            "outcome": None if self.outcome is None else self.outcome.value,
            "detail": self.detail,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> MemberState:
        """A state as another member wrote it; what cannot be read is left out, never raised."""

        def number(name: str) -> float | None:
            value = data.get(name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                return None
            return float(value) if math.isfinite(value) else None

        def text(name: str) -> str | None:
            value = data.get(name)
            return value if isinstance(value, str) else None

        try:
            outcome = Outcome(data.get("outcome")) if data.get("outcome") else None
        except ValueError:
            outcome = Outcome.FAILED  # a word this version does not know: an end, not a success
        return cls(
            done=number("done") or 0.0,
            total=number("total"),
            fraction=number("fraction"),
            stage=text("stage"),
            outcome=outcome,
            detail=text("detail"),
        )


def member_state(view: ProgressView, ending: Ending | None) -> MemberState:
    """What a member writes of itself, from its progress (and its ending, once over)."""
    fraction = view.fraction
    total: float | None
    if view.segmented:
        done, total = float(view.current_step), float(view.number_of_steps)
    else:
        done, total = float(view.items), view.total
    if ending is not None and ending.complete:
        fraction = 1.0
    return MemberState(
        done=max(done, 0.0),
        total=total,
        fraction=None if fraction is None else min(max(fraction, 0.0), 1.0),
        stage=view.stage,
        outcome=None if ending is None else ending.outcome,
        detail=None if ending is None else ending.subtitle,
    )


class Member(NamedTuple):
    """One member as the leader reads it from the record."""

    name: str
    state: MemberState
    alive: bool = True
    """Its heartbeat is fresh and its process is not known dead."""
    quiet: bool = False
    """It has missed its last reports (it may be dead, not yet lost)."""


class Fleet(NamedTuple):
    """The fleet's record as the leader read it, at one moment."""

    title: str
    expected: int | tuple[str, ...]
    """How many members there should be, or their names."""
    members: tuple[Member, ...]
    deadline_in: float | None = None
    """Seconds until the deadline by which every member should have started (negative: past;
    ``None``: no deadline)."""
    elapsed: float = 0.0
    """Seconds since the first member joined."""


class Tally(NamedTuple):
    """Who is where, by name (in the order the names sort, numbers by value)."""

    done: tuple[str, ...]
    failed: tuple[str, ...]
    """Ended failed or cancelled (a stopped member counts as done, with its own words)."""
    lost: tuple[str, ...]
    """Went silent while running: killed (SIGKILL, OOM) or cut off."""
    running: tuple[str, ...]
    missing: tuple[str, ...]
    """Expected members that never reported, by name when the names are known."""
    missing_count: int
    expected: int
    items: float
    """Items done across the members, and the total of those that gave one."""
    items_total: float | None
    fraction: float
    """The fleet's share done: each expected member counts for its own share."""

    @property
    def ended(self) -> int:
        return len(self.done) + len(self.failed) + len(self.lost)

    @property
    def trouble(self) -> bool:
        return bool(self.failed or self.lost)


def expected_names(expected: int | Sequence[str]) -> int:
    return expected if isinstance(expected, int) else len(expected)


def tally(fleet: Fleet) -> Tally:
    """Who is done, failed, lost, running and missing in ``fleet``."""
    done: list[str] = []
    failed: list[str] = []
    lost: list[str] = []
    running: list[str] = []
    shares = 0.0
    items = 0.0
    totals: float | None = 0.0
    for member in sorted(fleet.members, key=lambda m: _order(m.name)):
        state = member.state
        if state.outcome is None:
            (running if member.alive else lost).append(member.name)
        elif state.outcome.is_trouble:
            failed.append(member.name)
        else:
            done.append(member.name)
        ended_well = state.outcome is not None and not state.outcome.is_trouble
        shares += 1.0 if ended_well else (state.fraction or 0.0)
        items += state.done
        totals = None if totals is None or state.total is None else totals + state.total
    present = {m.name for m in fleet.members}
    names = _missing(fleet.expected, present)
    expected = max(expected_names(fleet.expected), len(present))
    missing_count = max(expected - len(present), 0)
    return Tally(
        done=tuple(done),
        failed=tuple(failed),
        lost=tuple(lost),
        running=tuple(running),
        missing=names,
        missing_count=missing_count,
        expected=expected,
        items=items,
        items_total=totals if fleet.members and missing_count == 0 else None,
        fraction=min(shares / expected, 1.0) if expected else 0.0,
    )


def is_over(
    fleet: Fleet,
    counted: Tally,
    *,
    leaving: bool = False,
    waited: float = math.inf,
    late_grace: float = 0.0,
) -> bool:
    """Whether the card ends now.

    Over when nobody runs any more and either every expected member has reported, or the
    deadline has passed, or a member is leaving (``leaving``: the caller's own job ended
    ``waited`` seconds ago, and with nobody else running nobody would be left to tell the phone)
    and has waited ``late_grace`` for the missing members: members started together on a busy
    machine join seconds apart, and one that finished first must not end the card before the
    others have had a chance to say they run.
    """
    if counted.running:
        return False
    if counted.missing_count == 0:
        return True
    if fleet.deadline_in is not None and fleet.deadline_in <= 0:
        return True
    return leaving and waited >= late_grace


def others_report(fleet: Fleet, me: str) -> bool:
    """Whether a member other than ``me`` still runs and reports: one that can send the card
    once ``me`` has left. When the only others running have gone quiet (killed, most likely),
    a leaving sender stays until they are lost or report again, so that someone ends the card.
    """
    return any(
        m.name != me and m.state.outcome is None and m.alive and not m.quiet for m in fleet.members
    )


def _missing(expected: int | tuple[str, ...], present: set[str]) -> tuple[str, ...]:
    """The names of expected members that never reported: the listed names, or, for a count
    whose members are named by index (Kubernetes' ``JOB_COMPLETION_INDEX``), the indexes."""
    if isinstance(expected, tuple):
        return tuple(name for name in expected if name not in present)
    if present and all(name.isdigit() and int(name) < expected for name in present):
        return tuple(str(i) for i in range(expected) if str(i) not in present)
    return ()


def _order(name: str) -> tuple[str, int, str]:
    """Names sort as text, with a trailing number by value (``web2`` before ``web10``)."""
    head = name.rstrip("0123456789")
    tail = name[len(head) :]
    return (head, int(tail) if tail else -1, name)


class FleetSpec(NamedTuple):
    """A fleet's options, checked and resolved once (``livebar.fleet``); what the engine reads."""

    name: str
    member: str
    expected: int | tuple[str, ...]
    run: str | None = None
    """The run this member belongs to; ``None``: the fleet's current run (see ``may_join``)."""
    deadline: float | None = None
    """Seconds from the member's start by which every member should have started."""
    bar: str = "auto"

    def meta(self, title: str) -> dict[str, Any]:
        """What the first member of a run writes of the fleet, for every sender to read."""
        expected = self.expected if isinstance(self.expected, int) else list(self.expected)
        return {"title": title, "expected": expected, "bar": self.bar}


def expected_of(meta: Mapping[str, Any], default: int | tuple[str, ...]) -> int | tuple[str, ...]:
    """The expected members as the run's first member wrote them (else ``default``)."""
    expected = meta.get("expected")
    if isinstance(expected, int) and not isinstance(expected, bool) and expected > 0:
        return expected
    if isinstance(expected, list) and expected and all(isinstance(n, str) for n in expected):
        return tuple(expected)
    return default
