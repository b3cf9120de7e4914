"""Pacing quality on a virtual clock: what the phone shows, against the best schedule possible.

livebar runs as users run it, through the real engine (``live_activity`` → dispatcher → pacing
→ ``livebar.Client``) under ``livebar.testing.virtual_time()``, on scripted jobs whose true
progress is known at every instant: the activity reads the job's progress through
``set_source``, so each of the dispatcher's turns samples the truth of that moment. Every
request reaches the simulator's account and phone model (the same ``SimulatorState`` that
``livebar simulate`` serves), which decides what was refused and what the phone showed when:

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

The peers get the same scripted jobs and the same simulated account and phone:

* ``sdk``: the official SDK called from the loop every N iterations (N = 1 % of the total; on
  each stage change for a segmented job), wrapped in ``try/except`` so a 429 does not kill the
  job;
* ``tqdm-mirror``: a ``tqdm.contrib`` style mirror that pushes whenever tqdm redraws (at most every
  ``mininterval`` = 0.1 s, and only when the count moved), through a ``MonoWorker``.
"""

from __future__ import annotations

import bisect
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import livebar
from livebar._defaults import IOS_BUDGET_INTERVAL, IOS_BUDGET_UPDATES
from livebar._job.endings import format_duration
from livebar._wire.payload import (
    ContentState,
    EndActivity,
    PushNotification,
    StartActivity,
    UpdateActivity,
    state_fraction,
)
from livebar.simulator import SimulatorConfig, SimulatorState
from livebar.testing import VIRTUAL_EPOCH, virtual_time

IOS_UPDATES = IOS_BUDGET_UPDATES
IOS_INTERVAL = IOS_BUDGET_INTERVAL
TQDM_MININTERVAL = 0.1
PEER_TICK = 0.1
"""How finely the peers' send schedules are resolved (tqdm's own display cadence)."""
SDK_EVERY = 0.01
"""The SDK peer updates every 1 % of the iterations."""
NAIVE_EVERY = {"sdk": SDK_EVERY, "every-1%": 0.01, "every-10%": 0.10}
"""Naive peers that send each time the bar crosses a multiple of this share (each stage of a
segmented job); ``every-2min`` sends the latest state at most once per 120 s."""


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
    totals: tuple[tuple[float, int], ...] = ()
    """``(elapsed, new total)``: the job's code raises its total then (a crawl that finds more)."""

    def total_at(self, elapsed: float) -> int:
        total = self.total
        for at, value in self.totals:
            if elapsed >= at:
                total = value
        return total

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
        subtitle = self.epoch_text(elapsed) if self.epochs else None
        total = self.total_at(elapsed)
        return ContentState.progress(
            self.title, percentage=round(min(done / total, 1.0) * 100, 1), subtitle=subtitle
        )

    def epoch_text(self, elapsed: float) -> str:
        epoch = min(int(elapsed / (self.duration / self.epochs)) + 1, self.epochs)
        return f"Epoch {epoch}/{self.epochs}"

    def changes(self) -> list[float]:
        """When (seconds in) the job's code changes its stage or epoch."""
        if self.steps:
            return [t1 for (t0, n0), (t1, n1) in zip(self.points, self.points[1:]) if t0 == t1]
        if self.epochs:
            return [e * self.duration / self.epochs for e in range(1, self.epochs)]
        return []

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
    return fraction_of(state.to_json())


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


def deploy(
    key: str,
    lengths: Sequence[float] = (5.3, 240.7, 20.2, 900.4, 33.4),
    *,
    stages: Sequence[str] = ("build", "test", "migrate", "rollout", "verify"),
    title: str = "Deploy",
) -> Job:
    """A segmented deploy whose stages take very different times."""
    names = tuple(stages)[: len(lengths)]
    points: list[tuple[float, float]] = [(0.0, 0.0)]
    t = 0.0
    for i, length in enumerate(lengths):
        t += length
        points.append((t, float(i)))
        points.append((t, float(i + 1)))
    return Job(key, title, t, len(names), tuple(points), steps=names)


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


# -- what the simulated phone showed -------------------------------------------------------------


def fraction_of(state: dict[str, Any] | None) -> float:
    """The share of the bar a content state (as the simulator keeps it) shows."""
    fraction = state_fraction(state or {})
    return 0.0 if fraction is None else fraction


@dataclass
class Phone:
    """One activity as the simulator saw it: what the phone showed when (engine seconds)."""

    shown_at: list[float] = field(default_factory=list)
    shown: list[float] = field(default_factory=list)
    updates: int = 0
    warnings: int = 0
    throttles: list[list[float]] = field(default_factory=list)
    ended: bool = False

    @classmethod
    def of(cls, activity: dict[str, Any], throttle_seconds: float) -> Phone:
        phone = cls(updates=activity["updates"], warnings=activity["warnings"])
        until = -math.inf
        for event in activity["history"]:
            at = event["t"] - VIRTUAL_EPOCH
            if event["displayed"]:
                phone.shown_at.append(at)
                phone.shown.append(fraction_of(event["content_state"]))
            if event["kind"] == "update" and not event["displayed"] and at >= until:
                until = at + throttle_seconds
                phone.throttles.append([at, until])
            if event["kind"] == "end":
                phone.ended = True
                if phone.throttles and phone.throttles[-1][1] > at:
                    phone.throttles[-1][1] = at
        return phone

    def then(self, later: Phone) -> Phone:
        """This card, then the one that replaced it (a renewal): one job's phone."""
        cut = later.shown_at[0] if later.shown_at else math.inf
        keep = [i for i, at in enumerate(self.shown_at) if at < cut]
        return Phone(
            shown_at=[self.shown_at[i] for i in keep] + later.shown_at,
            shown=[self.shown[i] for i in keep] + later.shown,
            updates=self.updates + later.updates,
            warnings=self.warnings + later.warnings,
            throttles=self.throttles + later.throttles,
            ended=later.ended,
        )

    def displayed(self, now: float) -> float:
        i = bisect.bisect_right(self.shown_at, now + 1e-9)
        return self.shown[i - 1] if i else 0.0

    def throttled_time(self, until: float) -> float:
        return sum(max(0.0, min(b, until) - a) for a, b in self.throttles)


@dataclass
class Trace:
    """The requests one system made on one scenario and what the phones showed."""

    requests: int = 0
    refused: int = 0
    phones: dict[str, Phone] = field(default_factory=dict)
    log: list[tuple[float, str, int]] = field(default_factory=list)
    """(engine seconds, method and path, status) of every request."""
    entries: list[dict[str, Any]] = field(default_factory=list)
    """The simulator's own log entries (bodies included): the golden traces compare them."""

    @property
    def updates(self) -> dict[str, int]:
        return {key: phone.updates for key, phone in self.phones.items()}

    @property
    def end_shown(self) -> dict[str, bool]:
        return {key: phone.ended for key, phone in self.phones.items()}

    @classmethod
    def of(cls, state: SimulatorState, scenario: Scenario) -> Trace:
        log = state.requests()
        trace = cls(
            requests=len(log),
            refused=sum(1 for r in log if r["status"] == 429),
            log=[(r["t"] - VIRTUAL_EPOCH, f"{r['method']} {r['path']}", r["status"]) for r in log],
            entries=log,
        )
        by_title = {job.title: job.key for job in scenario.jobs}
        for activity in state.activities():
            key = by_title.get(str(activity["content_state"].get("title")))
            if key is None:
                continue
            phone = Phone.of(activity, state.config.throttle_seconds)
            earlier = trace.phones.get(key)
            if earlier is not None:  # renewed before iOS's 8 hours: one job, two cards in turn
                phone = earlier.then(phone)
            trace.phones[key] = phone
        return trace


# -- livebar, through the real engine ------------------------------------------------------------


def run_livebar(scenario: Scenario) -> Trace:
    """Run ``scenario``'s jobs through livebar's engine under ``virtual_time()``."""
    with virtual_time() as clock:
        events: list[tuple[float, int, Any]] = []
        for job in scenario.jobs:
            events.append((job.start, 0, ("open", job)))
            for at in job.changes():
                events.append((job.start + at, 1, ("change", job)))
            for at, _total in job.totals:
                events.append((job.start + at, 1, ("total", job)))
            events.append((job.end, 2, ("close", job)))
        for i, at in enumerate(scenario.pushes):
            events.append((at, 3, ("push", i)))
        events.sort(key=lambda event: (event[0], event[1]))
        acts: dict[str, livebar.LiveActivity] = {}
        for at, _order, (what, item) in events:
            clock.advance(max(0.0, at - clock.now))
            if what == "push":
                livebar.push(f"Alert {item}")
            elif what == "open":
                acts[item.key] = _open(item, clock)
            elif what == "change":
                _show_stage(acts[item.key], item, clock.now - item.start)
            elif what == "total":
                acts[item.key].set_total(item.total_at(clock.now - item.start))
            else:
                act = acts[item.key]
                act.set_source(None)
                act.update(item.items(item.duration))
                _show_stage(act, item, item.duration)
                act.close(RuntimeError("worker lost") if item.fails else None)
        clock.flush(3600.0)
        return Trace.of(clock.state, scenario)


def _open(job: Job, clock: Any) -> livebar.LiveActivity:
    notify = ["failed"] if job.notify else []
    if job.steps:
        act = livebar.live_activity(job.title, steps=list(job.steps), notify_on=notify)
    else:
        act = livebar.live_activity(job.title, total=job.total, notify_on=notify)
        act.set_source(lambda: math.floor(job.items(clock.now - job.start) + 1e-9))
    act.start()
    _show_stage(act, job, 0.0)
    return act


def _show_stage(act: livebar.LiveActivity, job: Job, elapsed: float) -> None:
    """What the job's code does when its stage or epoch changes."""
    if job.steps:
        current = min(math.floor(job.items(elapsed) + 1e-9), len(job.steps))
        if current < len(job.steps):
            act.step(job.steps[current])
        else:
            act.step(current)
    elif job.epochs:
        act.update(subtitle=job.epoch_text(elapsed))


# -- the peers, against the same simulated account and phone ------------------------------------


def run_peer(scenario: Scenario, peer: str) -> Trace:
    """The send schedule of a peer (``sdk`` or ``tqdm-mirror``) on ``scenario``."""
    events: list[tuple[float, int, str, str]] = []  # (time, order, key, kind)
    for job in scenario.jobs:
        events.append((job.start, 0, job.key, "start"))
        last_items = job.items(0.0)
        last_bucket = 0
        last_display = job.start
        ticks = int(job.duration / PEER_TICK)
        for i in range(1, ticks + 1):
            elapsed = i * PEER_TICK
            if elapsed >= job.duration:
                break
            items = math.floor(job.items(elapsed) + 1e-9)
            now = job.start + elapsed
            if peer in NAIVE_EVERY:
                step = 1.0 if job.steps else NAIVE_EVERY[peer]
                fraction = items if job.steps else items / job.total_at(elapsed)
                bucket = math.floor(fraction / step + 1e-9)
                if bucket != last_bucket:
                    last_bucket = bucket
                    events.append((now, 1, job.key, "update"))
            elif peer == "every-2min":
                if items != last_items and now - last_display >= 120.0 - 1e-9:
                    last_items = items
                    last_display = now
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
    now = [0.0]
    state = SimulatorState(SimulatorConfig(clock=lambda: VIRTUAL_EPOCH + now[0]))
    key = state.config.api_key
    jobs = {job.key: job for job in scenario.jobs}
    ids: dict[str, str] = {}
    for at, _order, job_key, kind in events:
        now[0] = at
        body: Any
        if kind == "push":
            body = PushNotification(title=f"Alert {job_key}")
            _send(state, key, "/push-notification", body)
            continue
        job = jobs[job_key]
        content = job.ending() if kind == "end" else job.state(at - job.start)
        if kind == "start":
            reply = _send(state, key, "/live-activity/start", StartActivity(content_state=content))
            if reply.status == 200:
                ids[job_key] = reply.body["activity_id"]
        elif job_key in ids and kind == "update":
            body = UpdateActivity(activity_id=ids[job_key], content_state=content)
            _send(state, key, "/live-activity/update", body)
        elif job_key in ids:
            body = EndActivity(activity_id=ids[job_key], content_state=content)
            _send(state, key, "/live-activity/end", body)
    return Trace.of(state, scenario)


def _send(state: SimulatorState, key: str, path: str, payload: Any) -> Any:
    import json

    body = json.dumps(payload.to_json()).encode()
    return state.handle("POST", path, authorization=f"Bearer {key}", body=body)


# -- the error and the optimum ------------------------------------------------------------------


def truth(job: Job, grid: float) -> list[float]:
    """The true fraction at each grid point of the job's run (left end of each cell)."""
    cells = max(1, round(job.duration / grid))
    return [job.fraction(m * grid) for m in range(cells)]


def displayed_error(job: Job, phone: Phone | None, grid: float, f: Sequence[float]) -> float:
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
        return _optimum_any(f, grid, updates, ios=ios, margin=margin)
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


def _optimum_any(
    f: Sequence[float], grid: float, updates: int, *, ios: bool, margin: float
) -> float:
    """``optimum`` for a trajectory that goes back (a total that grows): the plain dynamic
    programme, O(updates x M^2), with each cost summed incrementally (use a coarse grid)."""
    m_count = len(f)
    # cost[i][j - i]: showing f[i] over [i, j)
    cost = []
    for i in range(m_count):
        row = [0.0]
        acc = 0.0
        fi = f[i]
        for t in range(i, m_count):
            acc += abs(f[t] - fi)
            row.append(acc)
        cost.append(row)
    prev = [math.inf] * m_count
    prev[0] = 0.0
    best = cost[0][m_count]
    for k in range(1, updates + 1):
        lo = k
        if ios and k > IOS_UPDATES:
            lo = max(lo, math.ceil(IOS_INTERVAL * margin * k / grid - 1e-9))
        if lo >= m_count:
            break
        cur = [math.inf] * m_count
        for j in range(lo, m_count):
            cur[j] = min(prev[i] + cost[i][j - i] for i in range(j) if prev[i] < math.inf)
        prev = cur
        best = min(best, min(prev[i] + cost[i][m_count - i] for i in range(lo, m_count)))
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
        requests=trace.requests,
        refused=trace.refused,
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
    mine = measure(scenario, trace, truths)
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
        err = displayed_error(job, trace.phones.get(job.key), scenario.grid, f)
        worst = max(worst, _ratio(err, a) or math.inf)
    opt_ios /= weight
    opt_free /= weight
    result: dict[str, Any] = {
        "name": scenario.name,
        "label": scenario.label,
        "grid": scenario.grid,
        "livebar": mine.to_json(),
        "optimum_ios": opt_ios,
        "optimum_free": opt_free,
        "ratio": _ratio(mine.error, opt_ios),
        "worst_job_ratio": worst,
        "peers": {
            peer: measure(scenario, run_peer(scenario, peer), truths).to_json() for peer in peers
        },
    }
    result["seconds"] = time.perf_counter() - began
    return result


INVISIBLE_ERROR = 1e-4
"""A mean error the phone cannot show (it draws whole percents): 0.01 % of the bar."""


def _ratio(mine: float, best: float) -> float | None:
    """``mine / best``; 1.0 when both are invisible (a schedule that shows every change at once,
    give or take one 0.25-s sample)."""
    if best < 1e-9:
        return 1.0 if mine < INVISIBLE_ERROR else None
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


if __name__ == "__main__":
    import sys

    from bench_common import emit

    emit(run(quick="--quick" in sys.argv))
