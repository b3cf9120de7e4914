"""livebar's share of an account under AIMD, on a fake clock, and what it does to a shared account.

The simulations run tools against a model of the account (at most 60 accepted requests in any
sliding 60 s; a refused request is not counted) in steps of half a second, for hours of virtual
time, in milliseconds of real time.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Protocol

import pytest

from livebar._engine.share import ShareController

WINDOW = 60.0
CAPACITY = 60
DT = 0.5


def test_a_collision_halves_the_share_and_time_grows_it_back() -> None:
    """40 → 20 on an unpredicted 429, then one request per window per window, up to 40."""
    share = ShareController(ceiling=40, floor=8)
    assert 40 == share.limit(0.0)
    assert share.on_rate_limited(0.0)
    assert 20 == share.limit(0.0)
    assert 25 == share.limit(300.0)  # 5 windows later: +5
    assert 40 == share.limit(3600.0)  # never past the ceiling
    assert 1 == share.collisions


def test_one_collision_cuts_once() -> None:
    """The 429s of requests already in flight are one collision: one cut per cooldown."""
    share = ShareController(ceiling=40, floor=8)
    assert [True, False, False] == [share.on_rate_limited(t) for t in (0.0, 0.1, 59.9)]
    assert 20 == share.limit(59.9)
    assert share.on_rate_limited(60.0)
    assert 10 == share.limit(60.0)


def test_the_floor_holds() -> None:
    """However many collisions, the share stays at the floor, so starts and ends still go."""
    share = ShareController(ceiling=40, floor=8, cooldown=0.0)
    for t in range(10):
        share.on_rate_limited(float(t))
    assert 8 == share.limit(9.0)


def test_a_predicted_429_does_not_cut() -> None:
    """When the ledger already counted more than the account allows, the 429 is ours."""
    share = ShareController(ceiling=60, floor=8)
    assert not share.on_rate_limited(0.0, used=61)
    assert 60 == share.limit(0.0)
    assert share.on_rate_limited(0.0, used=60)


def test_time_going_backwards_changes_nothing() -> None:
    """A caller's clock never runs back, but if it did the share would not move."""
    share = ShareController(ceiling=40)
    share.on_rate_limited(100.0)
    assert 20 == share.limit(50.0)
    assert 20 == share.limit(100.0)


@pytest.mark.parametrize(
    "kwargs",
    [{"floor": 0}, {"floor": 50}, {"decrease": 1.0}, {"decrease": 0.0}, {"increase": -1.0}],
)
def test_bad_settings_are_refused(kwargs: dict[str, float]) -> None:
    """Floors outside 1..ceiling, factors outside (0, 1), negative growth: ValueError."""
    with pytest.raises(ValueError):
        ShareController(ceiling=40, **kwargs)  # type: ignore[arg-type]


# -- simulations of a shared account ----------------------------------------------------------


class Share(Protocol):
    def limit(self, now: float) -> int: ...

    def on_rate_limited(self, now: float, *, used: int | None = None) -> bool: ...


@dataclass
class FixedShare:
    """A tool that never adapts."""

    share: int

    def limit(self, now: float) -> int:
        return self.share

    def on_rate_limited(self, now: float, *, used: int | None = None) -> bool:
        return False


@dataclass
class PacedTool:
    """Sends evenly (one request per window / share), like livebar's dispatcher: never more
    than its share in its own window (refused requests count: they were recorded first)."""

    share: Share
    sent: deque[float] = field(default_factory=deque)
    next_at: float = 0.0

    def attempts(self, now: float) -> int:
        while self.sent and self.sent[0] <= now - WINDOW:
            self.sent.popleft()
        limit = self.share.limit(now)
        if len(self.sent) >= limit or now < self.next_at:
            return 0
        self.sent.append(now)
        self.next_at = now + WINDOW / limit
        return 1


@dataclass
class BurstTool:
    """Another tool on the key: ``size`` requests at once every ``every`` seconds (a CI job)."""

    size: int
    every: float
    share: Share = field(default_factory=lambda: FixedShare(CAPACITY))

    def attempts(self, now: float) -> int:
        return self.size if now % self.every == 0 else 0


@dataclass
class Run:
    refused: list[list[int]]
    accepted: list[list[int]]

    def refused_after(self, tool: int, minute: int) -> int:
        return sum(self.refused[tool][minute:])

    def accepted_per_minute(self, tool: int, minute: int) -> float:
        per_minute = self.accepted[tool][minute:]
        return sum(per_minute) / len(per_minute)


def simulate(tools: list[PacedTool | BurstTool], minutes: int) -> Run:
    """Run ``tools`` on one account for ``minutes`` of virtual time."""
    accepted_at: deque[float] = deque()
    run = Run([[0] * minutes for _ in tools], [[0] * minutes for _ in tools])
    for step in range(int(minutes * 60 / DT)):
        now = step * DT
        minute = int(now // 60)
        order = range(len(tools)) if step % 2 else range(len(tools) - 1, -1, -1)
        for i in order:
            for _ in range(tools[i].attempts(now)):
                while accepted_at and accepted_at[0] <= now - WINDOW:
                    accepted_at.popleft()
                if len(accepted_at) < CAPACITY:
                    accepted_at.append(now)
                    run.accepted[i][minute] += 1
                else:
                    run.refused[i][minute] += 1
                    tools[i].share.on_rate_limited(now)
    return run


def test_next_to_a_bursty_tool_aimd_stops_colliding() -> None:
    """A CI job sends 30 at once every 5 minutes. A fixed share of 40 keeps colliding with it
    every time; AIMD backs off and, after the first hour, hardly collides at all."""
    fixed = simulate([PacedTool(FixedShare(40)), BurstTool(30, 300.0)], 180)
    aimd = simulate([PacedTool(ShareController(ceiling=40)), BurstTool(30, 300.0)], 180)
    fixed_refused = fixed.refused_after(0, 60) + fixed.refused_after(1, 60)
    aimd_refused = aimd.refused_after(0, 60) + aimd.refused_after(1, 60)
    assert fixed_refused >= 100
    assert aimd_refused * 5 <= fixed_refused
    assert aimd.accepted_per_minute(0, 60) >= 15  # livebar still gets a fair part of the rest


def test_two_adaptive_tools_converge_to_fair_shares() -> None:
    """Two AIMD tools, one starting at 60 and one at 8: the gap closes (each halving halves it,
    each additive step keeps it) and the account stops refusing; two fixed tools of 40 are
    refused every minute, forever."""
    small = ShareController(ceiling=60, floor=1)
    for t in (-120.0, -60.0, 0.0):
        small.on_rate_limited(t)
    big = ShareController(ceiling=60, floor=1)
    assert (60, 8) == (big.limit(0.0), small.limit(0.0))
    run = simulate([PacedTool(big), PacedTool(small)], 240)
    a, b = run.accepted_per_minute(0, 180), run.accepted_per_minute(1, 180)
    assert 0.8 <= a / b <= 1.25
    assert a + b >= 40  # the account is used, not starved
    assert run.refused_after(0, 180) + run.refused_after(1, 180) <= 20  # in the last hour
    fixed = simulate([PacedTool(FixedShare(40)), PacedTool(FixedShare(40))], 60)
    assert fixed.refused_after(0, 30) + fixed.refused_after(1, 30) >= 30 * 15
