"""The pacing policy on a virtual clock: no threads, no sockets, no sleeping."""

from __future__ import annotations

import random
from collections import deque
from typing import Callable

import pytest

from livebar._engine.budgets import Budgets
from livebar._engine.freshness import Snapshot
from livebar._engine.messages import Effect, Heard, Kind, Question, Room, Send
from livebar._engine.outbox import admit, apply, ask
from livebar._engine.pacing import PacingPolicy, Phase
from livebar._ledger.ledger import AccountLedger
from livebar._ledger.memory import MemoryBackend
from livebar._wire.errors import ConfigurationError


def snap(fraction: float | None, *, title: str = "job", subtitle: str = "") -> Snapshot:
    return Snapshot(fraction=fraction, structure=(title,), detail=(subtitle,))


A, B, C, D, E = 1, 2, 3, 4, 5
PUSH = 1000


class Run:
    """Asks a policy for its sends (its questions answered by an in-memory ledger, as the
    engine's shell does) and answers each with ``answer``."""

    def __init__(
        self,
        budgets: Budgets | None = None,
        answer: Callable[[Send, float], Heard] | None = None,
    ) -> None:
        budgets = budgets or Budgets()
        self.policy = PacingPolicy(budgets, rng=random.Random(7))
        self.ledger = AccountLedger(MemoryBackend(window=budgets.window))
        self.answer = answer or (lambda send, now: Heard.OK)
        self.log: list[tuple[float, int, Kind]] = []

    def open(self, key: int, now: float, snapshot: Snapshot) -> None:
        """A new activity, its slot asked for at once (as the shell does)."""
        question = self.policy.open(key, now, snapshot)
        self.policy.granted(key, bool(self.ask(question, now)))

    def ask(self, question: Question, now: float) -> bool | Room:
        return ask(self.ledger, question, now)

    def step(self, now: float) -> list[Send]:
        """Everything the policy sends at ``now``, each answered at once."""
        everything: list[Send] = []
        for _ in range(50):
            sends = admit(self.policy, lambda question: self.ask(question, now), now)
            if not sends:
                break
            for send in sends:
                self.log.append((now, send.key, send.kind))
                self.apply(self.policy.result(send, now, self.answer(send, now)), now)
            everything.extend(sends)
        return everything

    def apply(self, effects: list[Effect], now: float) -> None:
        apply(self.ledger, effects, now)

    def kinds(self, key: int = A) -> list[Kind]:
        return [kind for _, k, kind in self.log if k == key]

    def times(self, kind: Kind, key: int = A) -> list[float]:
        return [t for t, k, kd in self.log if k == key and kd is kind]


def uniform_job(run: Run, key: int, duration: float, dt: float = 0.5) -> None:
    run.open(key, 0.0, snap(0.0))
    t = 0.0
    while t < duration:
        run.policy.observe(key, snap(t / duration))
        run.step(t)
        t += dt
    run.policy.close(key, snap(1.0))
    run.step(t)


def server_would_warn(update_times: list[float], started: float, budgets: Budgets) -> bool:
    """The server's rule: over ``ios_burst`` updates, averaging more than one per interval."""
    for count, t in enumerate(update_times, start=1):
        elapsed = t - started
        if count > budgets.ios_burst and count / max(elapsed, 1e-9) > 1 / budgets.ios_interval:
            return True
    return False


def test_start_goes_out_at_once() -> None:
    """The first look at a new activity sends its start."""
    run = Run()
    run.open(A, 0.0, snap(0.0))
    assert [Send(A, Kind.START)] == run.step(0.0)


def test_equal_state_is_never_resent() -> None:
    """A state equal to the one shown costs no request."""
    run = Run()
    run.open(A, 0.0, snap(0.5))
    run.step(0.0)
    for t in range(1, 200):
        run.policy.observe(A, snap(0.5))
        run.step(float(t))
    assert [Kind.START] == run.kinds()


def test_sub_percent_moves_are_not_sent() -> None:
    """A change the phone cannot show is not worth an update."""
    run = Run()
    run.open(A, 0.0, snap(0.0))
    run.step(0.0)
    run.policy.observe(A, snap(0.004))
    run.step(1000.0)
    assert [Kind.START] == run.kinds()


def test_ten_minute_job_spreads_its_burst_over_the_job() -> None:
    """A uniform 10-minute job spends its updates evenly, not in the first seconds."""
    run = Run()
    uniform_job(run, A, 600.0)
    updates = run.times(Kind.UPDATE)
    assert 8 <= len(updates) <= 12
    assert updates[0] > 20.0
    gaps = [b - a for a, b in zip(updates, updates[1:])]
    assert min(gaps) > 0.5 * max(gaps)
    assert run.kinds()[-1] == Kind.END


def test_two_hour_job_never_trips_the_ios_warning() -> None:
    """Past the burst, updates follow the one-per-interval average exactly."""
    budgets = Budgets()
    run = Run(budgets)
    uniform_job(run, A, 7200.0, dt=1.0)
    updates = run.times(Kind.UPDATE)
    assert not server_would_warn(updates, 0.0, budgets)
    assert len(updates) >= 45


def test_fast_steps_do_not_burn_the_budget() -> None:
    """A hundred quick step changes still respect the iOS rule and the minimum gap."""
    budgets = Budgets()
    run = Run(budgets)
    run.open(A, 0.0, snap(0.0))
    t = 0.0
    for step in range(1, 101):
        t += 0.3
        run.policy.observe(A, snap(step / 100))
        run.step(t)
    updates = run.times(Kind.UPDATE)
    assert not server_would_warn(updates, 0.0, budgets)
    gaps = [b - a for a, b in zip(updates, updates[1:])]
    assert all(gap >= budgets.min_update_gap for gap in gaps)


def test_structural_change_goes_out_as_soon_as_allowed() -> None:
    """A new title is shown at the next chance, however small the progress."""
    run = Run()
    run.open(A, 0.0, snap(0.0))
    run.step(0.0)
    run.policy.observe(A, snap(0.0, title="renamed"))
    assert [Send(A, Kind.UPDATE)] == run.step(5.0)


def test_stall_then_jump_is_shown_promptly() -> None:
    """After a long stall, a jump to 90% is sent on the next look."""
    run = Run()
    run.open(A, 0.0, snap(0.0))
    run.step(0.0)
    for t in range(1, 300):
        run.policy.observe(A, snap(0.0))
        run.step(float(t))
    run.policy.observe(A, snap(0.9))
    assert [Send(A, Kind.UPDATE)] == run.step(300.0)


def test_states_between_sends_coalesce() -> None:
    """Only the latest state goes out; the ones it replaced are counted."""
    run = Run()
    run.open(A, 0.0, snap(0.0))
    run.step(0.0)
    for i in range(1, 6):
        run.policy.observe(A, snap(i / 1000))
    assert 4 == run.policy.coalesced(A)


def test_account_window_is_never_exceeded_and_ends_are_not_starved() -> None:
    """Four busy activities plus pushes stay within the window; ends go out at once."""
    budgets = Budgets(requests_per_window=20, window=60.0, reserve=4, min_update_gap=0.0)
    run = Run(budgets)
    keys = [A, B, C, D]
    for key in keys:
        run.open(key, 0.0, snap(0.0))
    t = 0.0
    for tick in range(1, 400):
        t = tick * 0.25
        for i, key in enumerate(keys):
            run.policy.observe(key, snap(min(1.0, tick / (40 + 10 * i)), subtitle=str(tick)))
        if tick % 50 == 0:
            run.policy.push(PUSH + tick)
        run.step(t)
    for key in keys:
        run.policy.close(key, snap(1.0))
    run.step(t)
    ends = [at for at, key, kind in run.log if kind is Kind.END]
    assert 4 == len(ends)
    assert all(at == t for at in ends)
    window: deque[float] = deque()
    for at, _, _ in run.log:
        window.append(at)
        while window[0] <= at - budgets.window:
            window.popleft()
        assert len(window) <= budgets.requests_per_window


def test_rate_limit_pauses_everyone_then_resends_latest() -> None:
    """A 429 stops all sending until Retry-After has passed; then the latest state goes out."""
    run = Run(Budgets(min_update_gap=0.0))
    run.open(A, 0.0, snap(0.0))
    run.step(0.0)
    run.policy.observe(A, snap(0.5))
    [send] = admit(run.policy, lambda question: run.ask(question, 10.0), 10.0)
    run.apply(run.policy.result(send, 10.0, Heard.RATE_LIMITED, retry_after=30.0), 10.0)
    run.policy.observe(A, snap(0.6))
    assert [] == run.step(39.0)
    assert 40.0 == run.policy.next_wake(11.0)
    assert [Send(A, Kind.UPDATE)] == run.step(40.0)


def test_transient_failures_back_off_exponentially() -> None:
    """Network trouble on a start retries later and later, never in a tight loop."""
    run = Run(answer=lambda send, now: Heard.RETRY)
    run.open(A, 0.0, snap(0.0))
    t = 0.0
    while t < 120.0:
        run.step(t)
        t += 0.1
    starts = run.times(Kind.START)
    gaps = [b - a for a, b in zip(starts, starts[1:])]
    assert len(starts) < 12
    assert gaps[-1] > gaps[0]


def test_activity_limit_falls_back_to_a_push_when_the_job_ends() -> None:
    """A start refused for the concurrency limit keeps retrying; the outcome goes out as a push."""
    run = Run(answer=lambda send, now: Heard.SLOT_TAKEN if send.kind is Kind.START else Heard.OK)
    run.open(A, 0.0, snap(0.0))
    for t in range(100):
        run.step(float(t))
    assert len(run.times(Kind.START)) >= 2
    run.policy.close(A, snap(1.0))
    assert [Send(A, Kind.PUSH)] == run.step(100.0)
    assert Phase.ENDED == run.policy.phase(A)


def test_local_concurrency_cap_queues_the_fifth_start() -> None:
    """A fifth activity waits for a free slot instead of spending a request on a sure 429."""
    run = Run()
    for key in (A, B, C, D, E):
        run.open(key, 0.0, snap(0.0))
    run.step(0.0)
    assert [] == run.kinds(E)
    run.policy.close(A, snap(1.0))
    run.step(1.0)
    assert [Kind.START] == run.kinds(E)


def test_forbidden_stops_everything() -> None:
    """After a 401/403 nothing more is sent for the account."""
    run = Run(answer=lambda send, now: Heard.FORBIDDEN)
    run.open(A, 0.0, snap(0.0))
    run.step(0.0)
    run.open(B, 1.0, snap(0.0))
    run.policy.push(PUSH)
    assert [] == run.step(2.0)
    assert run.policy.forbidden


def test_unknown_total_spreads_updates_in_time() -> None:
    """Without a total, updates are spaced further apart as the job ages."""
    budgets = Budgets()
    run = Run(budgets)
    run.open(A, 0.0, Snapshot(fraction=None, count=0.0))
    for t in range(1, 3600):
        run.policy.observe(A, Snapshot(fraction=None, count=float(t * 10)))
        run.step(float(t))
    updates = run.times(Kind.UPDATE)
    assert not server_would_warn(updates, 0.0, budgets)
    assert updates[1] - updates[0] < updates[-1] - updates[-2]


@pytest.mark.parametrize("reserve", [-1, 40])
def test_budgets_reject_impossible_reserve(reserve: int) -> None:
    """A reserve that leaves nothing (or less than nothing) for updates is refused."""
    with pytest.raises(ConfigurationError, match="reserve"):
        Budgets(requests_per_window=40, reserve=reserve)


def test_a_small_gap_that_stays_is_shown_in_time() -> None:
    """A stall just under the threshold is sent once its stale area is worth an update."""
    run = Run()
    run.open(A, 0.0, snap(0.0))
    run.step(0.0)
    t = 0.0
    while t < 54.0:  # 0 -> 27 % in 54 s (shown in ~7 % steps), then stuck at 27 % for ten minutes
        t += 0.25
        run.policy.observe(A, snap(t / 200))
        run.step(t)
    stall_started = t
    assert run.times(Kind.UPDATE)[-1] / 200 < 0.26  # the phone is visibly behind at the stall
    while t < 654.0:
        t += 0.25
        run.policy.observe(A, snap(0.27))
        run.step(t)
    updates = run.times(Kind.UPDATE)
    shown_stall = [at for at in updates if at >= stall_started]
    assert shown_stall, "the stalled value was never shown"
    assert shown_stall[0] - stall_started < 120.0


def test_a_new_subtitle_alone_is_not_worth_an_update() -> None:
    """Text that changes on every sample does not spend the budget by itself."""
    run = Run()
    run.open(A, 0.0, snap(0.5))
    run.step(0.0)
    for t in range(1, 600):
        run.policy.observe(A, snap(0.5, subtitle=f"loss {t}"))
        run.step(float(t))
    assert [Kind.START] == run.kinds()


def test_a_flood_of_pushes_never_holds_an_end_back() -> None:
    """Pushes stop short of the last requests of the window; those are for ends."""
    budgets = Budgets(requests_per_window=10, reserve=4, end_reserve=2)
    run = Run(budgets)
    run.open(A, 0.0, snap(0.0))
    run.step(0.0)
    for i in range(40):
        run.policy.push(PUSH + i)
    run.step(1.0)
    run.policy.close(A, snap(1.0))
    assert [Send(A, Kind.END)] == run.step(2.0)


def test_a_rate_limited_start_is_started_again_after_the_pause() -> None:
    """A start refused with the account 429 goes out again once the pause is over."""
    answers = iter([Heard.RATE_LIMITED])
    run = Run(answer=lambda send, now: next(answers, Heard.OK))
    run.open(A, 0.0, snap(0.0))
    run.step(0.0)
    assert [] == run.step(0.1)
    run.step(5.0)
    assert [0.0, 5.0] == run.times(Kind.START)
    assert Phase.ACTIVE == run.policy.phase(A)


def test_a_failed_push_is_retried_after_a_backoff_not_at_once() -> None:
    """A push that met network trouble waits before it is tried again, then goes out."""
    answers = iter([Heard.RETRY])
    run = Run(answer=lambda send, now: next(answers, Heard.OK))
    run.policy.push(PUSH)
    run.step(0.0)
    assert [] == run.step(0.1)
    run.step(2.0)
    assert [0.0, 2.0] == run.times(Kind.PUSH, key=PUSH)
