"""Pacing on real shapes (issue #19): eight jobs shaped like real ones, none tuned for.

The same harness as ``bench_pacing`` (the real engine on a virtual clock, the simulator's account
and phone, the offline optimum under the same iOS budget), on job shapes written from what real
jobs do rather than from livebar's own scenarios, and against three naive peers a user might
write instead: an update every 1 % (the official SDK's examples), every 10 %, and every
2 minutes (the iOS budget's own spacing). A trace whose truth goes back (a total that grows)
gets the optimum of the plain dynamic programme, on a coarser grid.
"""

from __future__ import annotations

import math
from typing import Any

from bench_pacing import Job, Scenario, deploy, evaluate

PEERS = ("every-1%", "every-10%", "every-2min")


def _piecewise(rates: list[tuple[float, float]], total: int) -> tuple[tuple[float, float], ...]:
    """Breakpoints for segments of ``(seconds, relative rate)``, scaled to reach ``total``."""
    work = sum(seconds * rate for seconds, rate in rates)
    points = [(0.0, 0.0)]
    t = done = 0.0
    for seconds, rate in rates:
        t += seconds
        done += total * seconds * rate / work
        points.append((t, done))
    return tuple(points)


def slow_first_epoch(key: str) -> Job:
    """12 epochs of training: the first 3x slower (warm-up, compilation, cold caches), each
    followed by a 60-s evaluation during which the bar stands still (68 minutes)."""
    batches, base, evaluation = 400, 240.0, 60.0
    points: list[tuple[float, float]] = [(0.0, 0.0)]
    t = 0.0
    for epoch in range(12):
        t += base * (3.0 if epoch == 0 else 1.0)
        points.append((t, float((epoch + 1) * batches)))
        t += evaluation
        points.append((t, float((epoch + 1) * batches)))
    return Job(key, "Training", t, 12 * batches, tuple(points))


def uneven_etl(key: str) -> Job:
    """An ETL of six stages from 2 s to 25 minutes (a segmented bar)."""
    names = ("extract", "validate", "transform", "load", "index", "report")
    return deploy(key, (3.0, 45.0, 1500.0, 8.0, 600.0, 2.0), stages=names, title="ETL")


def swinging_download(key: str) -> Job:
    """A 20-minute download whose rate swings 10x between a fast and a congested link."""
    fast, slow = 10.0, 1.0
    rates = [(60.0, fast), (240.0, slow), (90.0, fast), (300.0, slow)]
    rates += [(60.0, fast), (180.0, slow), (70.0, fast), (200.0, slow)]
    points = _piecewise(rates, 1_200_000)
    return Job(key, "Download", points[-1][0], 1_200_000, points)


def growing_crawl(key: str) -> Job:
    """A 30-minute crawl at a steady 100 pages a minute whose total grows from 1,000 pages to
    3,000 when the sitemap's second part is found after 8 minutes (the bar drops from 80 %)."""
    points = ((0.0, 0.0), (1800.0, 3000.0))
    return Job(key, "Crawl", 1800.0, 1000, points, totals=((480.0, 3000),))


def stall_then_burst(key: str) -> Job:
    """25 % in 4 minutes, a 12-minute stall (a lock, a slow upstream), then the rest in 3."""
    points = ((0.0, 0.0), (240.0, 250.0), (960.0, 250.0), (1140.0, 1000.0))
    return Job(key, "Burst", 1140.0, 1000, points)


def nine_hours(key: str) -> Job:
    """A 9-hour job whose rate drifts +-30 % over the hours (past iOS's 8-hour renewal)."""
    segments = [(1800.0, 1.0 + 0.3 * math.sin(i / 3.0)) for i in range(18)]
    points = _piecewise(segments, 90_000)
    return Job(key, "Nightly", points[-1][0], 90_000, points)


def ninety_seconds(key: str) -> Job:
    """A 90-second job at a steady rate."""
    return Job(key, "Quick", 90.0, 900, ((0.0, 0.0), (90.0, 900.0)))


def small_steps(key: str) -> Job:
    """200 small steps of uneven length (0.5 s to 10 s, a fixed pseudo-random draw)."""
    seed = 12345
    points: list[tuple[float, float]] = [(0.0, 0.0)]
    t = 0.0
    for i in range(200):
        seed = (seed * 1103515245 + 12345) % 2**31
        t += 0.5 + 9.5 * (seed / 2**31) ** 2
        points.append((t, float(i)))  # the step runs: the count stays
        points.append((t, float(i + 1)))  # done: it moves by one at once
    return Job(key, "Steps", t, 200, tuple(points))


def shapes(*, quick: bool = False) -> list[Scenario]:
    """The eight held-out shapes; ``quick`` coarsens the long jobs' grids."""
    return [
        Scenario(
            "slow-epoch",
            "training, slow first epoch + evals",
            (slow_first_epoch("t"),),
            grid=4.0 if quick else 1.0,
        ),
        Scenario("etl", "ETL, very uneven stages", (uneven_etl("e"),), grid=1.0),
        Scenario("download", "download, rate swings 10x", (swinging_download("d"),), grid=1.0),
        Scenario("crawl", "crawl, total grows 3x mid-run", (growing_crawl("c"),), grid=4.0),
        Scenario("burst", "12-min stall then a burst", (stall_then_burst("b"),), grid=1.0),
        Scenario("nine-hours", "9-hour job", (nine_hours("n"),), grid=30.0 if quick else 10.0),
        Scenario("ninety", "90-s job", (ninety_seconds("q"),)),
        Scenario("steps", "200 small uneven steps", (small_steps("s"),), grid=1.0),
    ]


def run(quick: bool = False) -> dict[str, Any]:
    return {"scenarios": [evaluate(s, peers=PEERS) for s in shapes(quick=quick)]}


def verdict(result: dict[str, Any], *, factor: float = 1.25) -> tuple[bool, bool]:
    """(never worse than any naive peer, within ``factor`` of the optimum)."""
    mine = result["livebar"]["error"]
    beaten = all(mine <= peer["error"] + 1e-9 for peer in result["peers"].values())
    ratio = result["ratio"]
    return beaten, ratio is not None and ratio <= factor


if __name__ == "__main__":
    import sys

    for scenario in shapes(quick="--quick" in sys.argv):
        r = evaluate(scenario, peers=PEERS)
        lb = r["livebar"]
        peers = " ".join(f"{k}={v['error'] * 100:.2f}" for k, v in r["peers"].items())
        print(
            f"{scenario.name:10s} upd={lb['updates']:3d} warn={lb['warnings']} "
            f"err={lb['error'] * 100:6.2f} opt={r['optimum_ios'] * 100:6.2f} "
            f"x={r['ratio'] or float('nan'):.2f} | {peers} ({r['seconds']:.1f}s)",
            flush=True,
        )
