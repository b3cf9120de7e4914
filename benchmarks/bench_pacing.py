"""Pacing quality on a virtual clock: what the phone shows, against the best schedule possible.

livebar's pure ``PacingPolicy`` is driven exactly as the dispatcher drives it (sample every
``DEFAULT_SAMPLE_INTERVAL`` or at the policy's ``next_wake``, send until it has nothing more to
say, answer each request), on scripted jobs whose true progress is known at every instant. The
states are the ``ContentState`` objects livebar builds, reduced with the dispatcher's own
``_snapshot``, so the benchmark measures what users get.

Every request goes through a model of the server and the phone, the same rules the simulator
applies:

* the account: at most 60 requests in any sliding 60 s; a request over it is refused (a 429)
  and not shown;
* iOS: an update warns when the activity has had more than 12 updates averaging more than one
  per 120 s since its start; the phone drops the update that first meets that condition (counted
  since the start, or since the last throttle lifted) and keeps showing its last state for
  3600 s; an end is always shown and lifts the throttle.

The displayed error of a job is the time average of ``|true fraction - displayed fraction|``
over its run, on a grid of ``h`` seconds. The optimum is the best offline schedule with the
same number of updates, found by dynamic programming over the known trajectory on the same grid
(divide and conquer: the cost of showing a monotone trajectory's value is a Monge matrix). It is
reported constrained by the iOS rule (the fair comparison, used for the target) and
unconstrained.

The peers get the same scripted jobs and the same model:

* ``sdk``: the official SDK called from the loop every N iterations (N = 1 % of the total; on
  each stage change for a segmented job), wrapped in ``try/except`` so a 429 does not kill the
  job;
* ``tqdm-mirror``: a ``tqdm.contrib`` style mirror that pushes whenever tqdm redraws (at most every
  ``mininterval`` = 0.1 s, and only when the count moved), through a ``MonoWorker``.
"""

from __future__ import annotations

import bisect
import math
import random
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Optional, Sequence

from livebar import _defaults
from livebar._activity import format_duration
from livebar._dispatch import _snapshot
from livebar._pacing import Budgets, Kind, Outcome, PacingPolicy, Snapshot
from livebar._payload import ContentState

ACCOUNT_LIMIT = _defaults.ACCOUNT_REQUESTS_PER_MINUTE
ACCOUNT_WINDOW = 60.0
IOS_UPDATES = _defaults.IOS_BUDGET_UPDATES
IOS_INTERVAL = _defaults.IOS_BUDGET_INTERVAL
THROTTLE_SECONDS = 3600.0
"""How long the phone keeps an over-budget activity frozen (the simulator's model)."""
TQDM_MININTERVAL = 0.1
PEER_TICK = 0.1
"""How finely the peers' send schedules are resolved (tqdm's own display cadence)."""
SDK_EVERY = 0.01
"""The SDK peer updates every 1 % of the iterations."""


# -- scripted jobs ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Job:
    """One job whose true progress is known at every instant.

    ``points`` are ``(elapsed, items done)`` breakpoints, linear in between (two points at the
    same time make a jump). A job with ``steps`` is segmented: ``items`` counts completed steps.
    A job that ``fails`` stops at ``duration`` and ends red (with a push if ``notify``).
    """

    key: str
    title: str
    duration: float
    total: int
    points: tuple[tuple[float, float], ...]
    steps: tuple[str, ...] = ()
    start: float = 0.0
    fails: bool = False
    notify: bool = False
    epochs: int = 0

    @property
    def end(self) -> float:
        return self.start + self.duration

    def items(self, elapsed: float) -> float:
        pts = self.points
        if elapsed <= pts[0][0]:
            return pts[0][1]
        for (t0, n0), (t1, n1) in zip(pts, pts[1:]):
            if elapsed < t1:
                if t1 == t0:
                    return n1
                return n0 + (n1 - n0) * (elapsed - t0) / (t1 - t0)
        return pts[-1][1]

    def state(self, elapsed: float) -> ContentState:
        """The content state livebar would build for this job ``elapsed`` seconds in."""
        done = math.floor(self.items(elapsed) + 1e-9)
        if self.steps:
            current = min(done, len(self.steps))
            return ContentState.segmented_progress(
                self.title,
                number_of_steps=len(self.steps),
                current_step=current,
                subtitle=self.steps[current] if current < len(self.steps) else None,
            )
        subtitle = None
        if self.epochs:
            epoch = min(int(elapsed / (self.duration / self.epochs)) + 1, self.epochs)
            subtitle = f"Epoch {epoch}/{self.epochs}"
        return ContentState.progress(
            self.title, percentage=round(min(done / self.total, 1.0) * 100, 1), subtitle=subtitle
        )

    def ending(self) -> ContentState:
        """The end livebar sends: done (full bar) or failed (red, where it stopped)."""
        if self.fails:
            last = self.state(self.duration)
            text = "Failed: RuntimeError: worker lost"
            if self.steps:
                return ContentState.segmented_progress(
                    self.title,
                    number_of_steps=len(self.steps),
                    current_step=last.current_step or 0,
                    subtitle=f"Failed at {last.subtitle}: RuntimeError",
                    step_color="red",
                )
            return ContentState.progress(
                self.title, percentage=last.percentage, subtitle=text, color="red"
            )
        took = f"Done in {format_duration(self.duration)}"
        if self.steps:
            return ContentState.segmented_progress(
                self.title,
                number_of_steps=len(self.steps),
                current_step=len(self.steps),
                subtitle=took,
            )
        return ContentState.progress(self.title, percentage=100.0, subtitle=took)

    def fraction(self, elapsed: float) -> float:
        return _fraction(self.state(elapsed))


@dataclass(frozen=True)
class Scenario:
    name: str
    label: str
    jobs: tuple[Job, ...]
    pushes: tuple[float, ...] = ()
    """Times at which user code sends a push notification (``livebar.push``)."""
    grid: float = 0.25
    """Step (s) of the error integral and of the optimum's schedule."""


def _fraction(state: ContentState) -> float:
    fraction = _snapshot(state).fraction
    return 0.0 if fraction is None else fraction


def uniform(key: str, duration: float, items: int, *, title: str = "Uniform") -> Job:
    return Job(key, title, duration, items, ((0.0, 0.0), (duration, float(items))))


def training(key: str, *, epochs: int = 50, epoch_seconds: float = 144.0) -> Job:
    """Epochs of 500 batches; the last 15 % of each epoch is validation (the bar stands still)."""
    batches = 500
    points: list[tuple[float, float]] = [(0.0, 0.0)]
    for e in range(epochs):
        t0 = e * epoch_seconds
        points.append((t0 + 0.85 * epoch_seconds, float((e + 1) * batches)))
        points.append((t0 + epoch_seconds, float((e + 1) * batches)))
    return Job(
        key,
        "Training",
        epochs * epoch_seconds,
        epochs * batches,
        tuple(points),
        epochs=epochs,
    )


def deploy(key: str, lengths: Sequence[float] = (5.3, 240.7, 20.2, 900.4, 33.4)) -> Job:
    """A segmented deploy whose stages take very different times."""
    names = ("build", "test", "migrate", "rollout", "verify")[: len(lengths)]
    points: list[tuple[float, float]] = [(0.0, 0.0)]
    t = 0.0
    for i, length in enumerate(lengths):
        t += length
        points.append((t, float(i)))
        points.append((t, float(i + 1)))
    return Job(key, "Deploy", t, len(names), tuple(points), steps=tuple(names))


def stall_then_jump(key: str) -> Job:
    """30 % in 2 minutes, stuck for 8, a jump to 90 %, then the last 10 % in 5 minutes."""
    points = ((0.0, 0.0), (120.0, 300.0), (600.0, 300.0), (600.0, 900.0), (900.0, 1000.0))
    return Job(key, "Stalls", 900.0, 1000, points)


def scenarios(*, quick: bool = False) -> list[Scenario]:
    """The scenarios of issue #6; ``quick`` coarsens the long job's grid."""
    return [
        Scenario("uniform", "10-min uniform loop", (uniform("u", 600.0, 60_000),)),
        Scenario(
            "training",
            "2-h training, 50 epochs",
            (training("t"),),
            grid=4.0 if quick else 1.0,
        ),
        Scenario("deploy", "5-stage deploy (uneven)", (deploy("d"),)),
        Scenario("stall", "stall then jump", (stall_then_jump("s"),)),
        Scenario(
            "concurrent",
            "4 jobs + failure pushes",
            (
                uniform("a", 300.0, 30_000, title="Job A"),
                Job(
                    "b",
                    "Job B",
                    420.0,
                    60_000,
                    ((0.0, 0.0), (420.0, 42_000.0)),
                    fails=True,
                    notify=True,
                ),
                uniform("c", 900.0, 90_000, title="Job C"),
                Job(
                    "d",
                    "Job D",
                    1000.0,
                    120_000,
                    ((0.0, 0.0), (1000.0, 100_000.0)),
                    fails=True,
                    notify=True,
                ),
            ),
            pushes=tuple(300.0 + 0.5 * i for i in range(8)),
        ),
        Scenario("short", "20-s job", (uniform("x", 20.0, 2_000, title="Short"),)),
    ]


# -- the server and the phone -------------------------------------------------------------------


class Account:
    """The account's sliding window, as the simulator keeps it (a refused request is free)."""

    def __init__(self) -> None:
        self.window: deque[float] = deque()
        self.requests = 0
        self.refused = 0

    def admit(self, now: float) -> bool:
        self.requests += 1
        while self.window and self.window[0] <= now - ACCOUNT_WINDOW:
            self.window.popleft()
        if len(self.window) >= ACCOUNT_LIMIT:
            self.refused += 1
            return False
        self.window.append(now)
        return True


def _over_budget(updates: int, elapsed: float) -> bool:
    return updates > IOS_UPDATES and updates / max(elapsed, 1e-9) > 1.0 / IOS_INTERVAL


@dataclass
class Phone:
    """One Live Activity on the phone: what it showed when, and the iOS budget."""

    started_at: float = 0.0
    updates: int = 0
    warnings: int = 0
    budget_since: float = 0.0
    budget_updates: int = 0
    throttled_until: Optional[float] = None
    throttles: list[list[float]] = field(default_factory=list)
    shown_at: list[float] = field(default_factory=list)
    shown: list[float] = field(default_factory=list)
    ended: bool = False

    def start(self, now: float, fraction: float) -> None:
        self.started_at = self.budget_since = now
        self._show(now, fraction)

    def update(self, now: float, fraction: float) -> None:
        self.updates += 1
        accepted = True
        if self.throttled_until is not None:
            if now < self.throttled_until:
                accepted = False
            else:
                self.throttled_until = None
                self.budget_since = now
                self.budget_updates = 0
        if accepted:
            self.budget_updates += 1
            if _over_budget(self.budget_updates, now - self.budget_since):
                self.throttled_until = now + THROTTLE_SECONDS
                self.throttles.append([now, now + THROTTLE_SECONDS])
                accepted = False
        if accepted:
            self._show(now, fraction)
        if _over_budget(self.updates, now - self.started_at):
            self.warnings += 1

    def end(self, now: float, fraction: float) -> None:
        self._show(now, fraction)
        self.ended = True
        if self.throttles and self.throttles[-1][1] > now:
            self.throttles[-1][1] = now
        self.throttled_until = None

    def _show(self, now: float, fraction: float) -> None:
        self.shown_at.append(now)
        self.shown.append(fraction)

    def displayed(self, now: float) -> float:
        i = bisect.bisect_right(self.shown_at, now + 1e-9)
        return self.shown[i - 1] if i else 0.0

    def throttled_time(self, until: float) -> float:
        return sum(max(0.0, min(b, until) - a) for a, b in self.throttles)


# -- what one system did on one scenario --------------------------------------------------------


@dataclass
class Trace:
    """The requests one system made on one scenario and what the phones showed."""

    account: Account = field(default_factory=Account)
    phones: dict[str, Phone] = field(default_factory=dict)
    updates: dict[str, int] = field(default_factory=dict)
    log: list[tuple[float, str, str, bool]] = field(default_factory=list)
    end_shown: dict[str, bool] = field(default_factory=dict)
    zero_waits: int = 0

    def send(self, now: float, key: str, kind: str, fraction: Optional[float]) -> bool:
        ok = self.account.admit(now)
        self.log.append((now, key, kind, ok))
        if kind == "update":
            self.updates[key] = self.updates.get(key, 0) + 1
        if not ok or fraction is None:
            return ok
        if kind == "start":
            phone = self.phones[key] = Phone()
            phone.start(now, fraction)
        elif key in self.phones:
            if kind == "update":
                self.phones[key].update(now, fraction)
            elif kind == "end":
                self.phones[key].end(now, fraction)
                self.end_shown[key] = True
        return ok


def run_livebar(
    scenario: Scenario,
    *,
    budgets: Optional[Budgets] = None,
    sample_interval: float = _defaults.DEFAULT_SAMPLE_INTERVAL,
) -> Trace:
    """Drive livebar's policy through ``scenario`` the way the dispatcher does, on a virtual clock.

    A request takes no time; the dispatcher is woken at once by an open, a close or a push (as
    ``Dispatcher.opened/closed/push`` do), otherwise it sleeps until the next sample or the
    policy's ``next_wake``.
    """
    policy = PacingPolicy(budgets or Budgets(), rng=random.Random(0))
    trace = Trace()
    jobs = {job.key: job for job in scenario.jobs}
    states: dict[Any, ContentState] = {}
    opened: set[str] = set()
    handed_over: set[str] = set()
    settled: set[str] = set()
    push_times = sorted(scenario.pushes)
    queued = 0
    notifies = 0
    pushes_done = 0
    events = sorted({job.start for job in scenario.jobs} | {job.end for job in scenario.jobs})
    events += push_times
    events.sort()
    horizon = max(job.end for job in scenario.jobs) + 2 * THROTTLE_SECONDS
    now = 0.0
    while now <= horizon:
        for job in scenario.jobs:
            if job.key not in opened and job.start <= now:
                opened.add(job.key)
                states[job.key] = job.state(now - job.start)
                policy.open(job.key, now, _snapshot(states[job.key]))
        any_open = False
        for key in opened - handed_over:
            job = jobs[key]
            if now >= job.end:
                states[key] = job.ending()
                handed_over.add(key)
                policy.close(key, _snapshot(states[key]))
            else:
                any_open = True
                states[key] = job.state(now - job.start)
                policy.observe(key, _snapshot(states[key]))
        while queued < len(push_times) and push_times[queued] <= now:
            policy.push(("push", queued))
            queued += 1
        while True:
            sends = policy.next_sends(now)
            if not sends:
                break
            for send in sends:
                key = send.key
                if isinstance(key, tuple):  # a push notification
                    ok = trace.send(now, str(key), "push", None)
                    pushes_done += ok
                else:
                    fraction = _fraction(states[key]) if send.kind is not Kind.PUSH else None
                    ok = trace.send(now, key, send.kind.value, fraction)
                    if ok and send.kind is Kind.END and jobs[key].notify:
                        policy.push(("notify", key))  # what notify_on=("failed",) does
                        notifies += 1
                policy.result(send, now, Outcome.OK if ok else Outcome.RATE_LIMITED)
                if not isinstance(key, tuple) and policy.phase(key) in ("ended", "abandoned"):
                    policy.forget(key)
                    settled.add(key)
        everything_sent = queued == len(push_times) and pushes_done == queued + notifies
        if len(settled) == len(jobs) and everything_sent:
            break
        wake = policy.next_wake(now)
        if any_open:
            later = now + max(0.0, min(sample_interval, wake - now))
        else:
            later = min(wake, now + 1.0) if wake != math.inf else math.inf
        upcoming = [t for t in events if t > now]
        if upcoming:
            later = min(later, upcoming[0])
        if later <= now:
            trace.zero_waits += 1
            later = now + 1e-3
        if later == math.inf:
            break
        now = later
    return trace


def run_peer(scenario: Scenario, peer: str) -> Trace:
    """The send schedule of a peer (``sdk`` or ``tqdm-mirror``) on ``scenario``, modelled."""
    events: list[tuple[float, int, str, str]] = []  # (time, order, key, kind)
    for job in scenario.jobs:
        events.append((job.start, 0, job.key, "start"))
        last_items = job.items(0.0)
        every = 1.0 if job.steps else max(1.0, job.total * SDK_EVERY)
        last_bucket = math.floor(last_items / every)
        last_display = job.start
        ticks = int(job.duration / PEER_TICK)
        for i in range(1, ticks + 1):
            elapsed = i * PEER_TICK
            if elapsed >= job.duration:
                break
            items = math.floor(job.items(elapsed) + 1e-9)
            now = job.start + elapsed
            if peer == "sdk":
                bucket = math.floor(items / every)
                if bucket != last_bucket:
                    last_bucket = bucket
                    events.append((now, 1, job.key, "update"))
            elif items != last_items and now - last_display >= TQDM_MININTERVAL - 1e-9:
                last_items = items
                last_display = now
                events.append((now, 1, job.key, "update"))
        events.append((job.end, 2, job.key, "end"))
        if job.notify:
            events.append((job.end, 3, job.key, "push"))
    for i, t in enumerate(scenario.pushes):
        events.append((t, 3, f"push{i}", "push"))
    events.sort()
    trace = Trace()
    jobs = {job.key: job for job in scenario.jobs}
    for now, _order, key, kind in events:
        if kind == "push":
            trace.send(now, key, "push", None)
            continue
        job = jobs[key]
        state = job.ending() if kind == "end" else job.state(now - job.start)
        trace.send(now, key, kind, _fraction(state))
    return trace


# -- the error and the optimum ------------------------------------------------------------------


def truth(job: Job, grid: float) -> list[float]:
    """The true fraction at each grid point of the job's run (left end of each cell)."""
    cells = max(1, round(job.duration / grid))
    return [job.fraction(m * grid) for m in range(cells)]


def displayed_error(job: Job, phone: Optional[Phone], grid: float, f: Sequence[float]) -> float:
    """Time-average of |true - displayed| over the job's run (nothing shown counts as 0 %)."""
    if phone is None:
        return sum(f) / len(f)
    total = 0.0
    for m, value in enumerate(f):
        total += abs(value - phone.displayed(job.start + m * grid))
    return total / len(f)


def optimum(
    f: Sequence[float], grid: float, updates: int, *, ios: bool = True, margin: float = 1.0
) -> float:
    """The least mean error of any schedule of at most ``updates`` updates on the grid.

    The start shows ``f[0]`` at index 0; update ``k`` at index ``j`` shows ``f[j]`` from then on.
    With ``ios``, update ``k > IOS_UPDATES`` must come at least ``IOS_INTERVAL * k`` seconds after
    the start (the server's rule, so the schedule never warns; ``margin`` stretches that spacing
    the way livebar's ``ios_margin`` does). ``f`` must not decrease: then
    showing ``f[i]`` over ``[i, j)`` costs ``sum(f[i:j]) - f[i] * (j - i)``, a Monge matrix, and
    each layer of the dynamic programme is solved by divide and conquer in O(M log M).
    """
    m_count = len(f)
    if any(b < a - 1e-12 for a, b in zip(f, f[1:])):
        raise ValueError("the optimum needs a trajectory that never goes back")
    prefix = [0.0]
    for value in f:
        prefix.append(prefix[-1] + value)

    def tail(i: int) -> float:
        return prefix[m_count] - prefix[i] - f[i] * (m_count - i)

    prev: list[float] = [math.inf] * m_count
    prev[0] = 0.0
    first = 0
    best = tail(0)
    for k in range(1, updates + 1):
        lo = max(first + 1, k)
        if ios and k > IOS_UPDATES:
            lo = max(lo, math.ceil(IOS_INTERVAL * margin * k / grid - 1e-9))
        if lo >= m_count:
            break
        cur: list[float] = [math.inf] * m_count
        _layer(prev, cur, f, prefix, lo, m_count - 1, first, m_count - 2)
        prev, first = cur, lo
        best = min(best, min(prev[i] + tail(i) for i in range(lo, m_count)))
    return max(best / m_count, 0.0)


def _layer(
    prev: list[float],
    cur: list[float],
    f: Sequence[float],
    prefix: list[float],
    jl: int,
    jr: int,
    il: int,
    ir: int,
) -> None:
    stack = [(jl, jr, il, ir)]
    while stack:
        jl, jr, il, ir = stack.pop()
        if jl > jr:
            continue
        j = (jl + jr) // 2
        pj = prefix[j]
        best_v = math.inf
        best_i = il
        for i in range(il, min(j - 1, ir) + 1):
            v = prev[i] + pj - prefix[i] - f[i] * (j - i)
            if v < best_v:
                best_v = v
                best_i = i
        cur[j] = best_v
        stack.append((jl, j - 1, il, best_i))
        stack.append((j + 1, jr, best_i, ir))


# -- one scenario, every system -----------------------------------------------------------------


@dataclass
class SystemResult:
    requests: int
    refused: int
    warnings: int
    throttled: float
    error: float
    updates: int
    ends_shown: int
    ends: int

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def measure(scenario: Scenario, trace: Trace, truths: dict[str, list[float]]) -> SystemResult:
    weighted = 0.0
    weight = 0.0
    throttled = 0.0
    warnings = 0
    for job in scenario.jobs:
        phone = trace.phones.get(job.key)
        err = displayed_error(job, phone, scenario.grid, truths[job.key])
        weighted += err * job.duration
        weight += job.duration
        if phone is not None:
            warnings += phone.warnings
            throttled += phone.throttled_time(job.end)
    return SystemResult(
        requests=trace.account.requests,
        refused=trace.account.refused,
        warnings=warnings,
        throttled=throttled,
        error=weighted / weight,
        updates=sum(trace.updates.values()),
        ends_shown=sum(1 for job in scenario.jobs if trace.end_shown.get(job.key)),
        ends=len(scenario.jobs),
    )


def evaluate(
    scenario: Scenario, *, peers: Sequence[str] = ("sdk", "tqdm-mirror")
) -> dict[str, Any]:
    """livebar, its optimum (iOS-constrained and free) and the peers on one scenario."""
    began = time.perf_counter()
    truths = {job.key: truth(job, scenario.grid) for job in scenario.jobs}
    trace = run_livebar(scenario)
    livebar = measure(scenario, trace, truths)
    opt_ios = 0.0
    opt_free = 0.0
    weight = 0.0
    worst = 0.0
    for job in scenario.jobs:
        k = trace.updates.get(job.key, 0)
        f = truths[job.key]
        a = optimum(f, scenario.grid, k, ios=True)
        b = optimum(f, scenario.grid, k, ios=False)
        opt_ios += a * job.duration
        opt_free += b * job.duration
        weight += job.duration
        mine = displayed_error(job, trace.phones.get(job.key), scenario.grid, f)
        worst = max(worst, _ratio(mine, a) or math.inf)
    opt_ios /= weight
    opt_free /= weight
    result: dict[str, Any] = {
        "name": scenario.name,
        "label": scenario.label,
        "grid": scenario.grid,
        "livebar": livebar.to_json(),
        "optimum_ios": opt_ios,
        "optimum_free": opt_free,
        "ratio": _ratio(livebar.error, opt_ios),
        "worst_job_ratio": worst,
        "zero_waits": trace.zero_waits,
        "peers": {
            peer: measure(scenario, run_peer(scenario, peer), truths).to_json() for peer in peers
        },
    }
    result["seconds"] = time.perf_counter() - began
    return result


def _ratio(mine: float, best: float) -> Optional[float]:
    """``mine / best``; 1.0 when both are nil (a schedule that shows every change at once)."""
    if best < 1e-9:
        return 1.0 if mine < 1e-9 else None
    return mine / best


def meets_target(result: dict[str, Any], *, factor: float = 1.25) -> bool:
    lb = result["livebar"]
    ratio = result["ratio"]
    return (
        lb["refused"] == 0
        and lb["warnings"] == 0
        and lb["throttled"] == 0
        and ratio is not None
        and ratio <= factor
    )


def run(quick: bool = False) -> dict[str, Any]:
    return {"scenarios": [evaluate(s) for s in scenarios(quick=quick)]}


def snapshot_of(state: ContentState) -> Snapshot:
    """The dispatcher's reduction of a state (re-exported for the tests)."""
    return _snapshot(state)


if __name__ == "__main__":
    import sys

    from bench_common import emit

    emit(run(quick="--quick" in sys.argv))
