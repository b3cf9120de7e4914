"""The benchmark modules import, and the pacing-quality harness computes sane figures."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


@pytest.fixture(scope="module")
def bench_pacing() -> Iterator[ModuleType]:
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import bench_pacing

        yield bench_pacing
    finally:
        sys.path.remove(str(BENCHMARKS))


def test_benchmark_modules_import(bench_pacing: ModuleType) -> None:
    """Every benchmark module and the runner import without running anything."""
    import importlib

    saved = list(sys.path)
    sys.path.insert(0, str(BENCHMARKS))
    try:
        names = [
            "bench_common",
            "bench_loop",
            "bench_realtime",
            "bench_startup",
            "bench_ledger",
            "bench_accounts",
            "bench_engine",
            "bench_shapes",
            "render_engine",
            "run",
        ]
        modules = [importlib.import_module(name) for name in names]
    finally:
        sys.path[:] = saved
    assert names == [m.__name__ for m in modules]


def test_pacing_harness_on_a_short_job(bench_pacing: ModuleType) -> None:
    """On a 30-s job livebar stays in budget and the optimum is no worse than livebar."""
    job = bench_pacing.uniform("smoke", 30.0, 300)
    scenario = bench_pacing.Scenario("smoke", "30-s job", (job,))
    result = bench_pacing.evaluate(scenario)
    livebar = result["livebar"]
    assert (0, 0, 0.0) == (livebar["refused"], livebar["warnings"], livebar["throttled"])
    assert (1, 1) == (livebar["ends_shown"], livebar["ends"])
    assert 0.0 < result["optimum_free"] <= result["optimum_ios"] <= livebar["error"] < 0.5
    assert 1.0 <= result["ratio"] < 2.0
    assert livebar["requests"] == livebar["updates"] + 2
    sdk = result["peers"]["sdk"]
    assert sdk["warnings"] > 0
    assert sdk["error"] > livebar["error"]


def test_optimum_matches_brute_force(bench_pacing: ModuleType) -> None:
    """The divide-and-conquer optimum equals an exhaustive search on a small trajectory."""
    import itertools

    f = [0.0, 0.1, 0.1, 0.3, 0.35, 0.6, 0.6, 0.9, 1.0, 1.0]

    def error(updates: tuple[int, ...]) -> float:
        shown = 0
        total = 0.0
        for m, value in enumerate(f):
            if m in updates:
                shown = m
            total += abs(value - f[shown])
        return total / len(f)

    brute = min(error(c) for c in itertools.combinations(range(1, len(f)), 3))
    assert pytest.approx(brute) == bench_pacing.optimum(f, 1.0, 3, ios=False)


def test_the_real_shapes_harness_on_the_90_second_job(bench_pacing: ModuleType) -> None:
    """The 90-s shape: livebar in budget, no worse than the naive peers, near its optimum."""
    import bench_shapes

    [ninety] = [s for s in bench_shapes.shapes() if s.name == "ninety"]
    result = bench_pacing.evaluate(ninety, peers=bench_shapes.PEERS)
    livebar = result["livebar"]
    assert (0, 0) == (livebar["refused"], livebar["warnings"])
    assert (True, True) == bench_shapes.verdict(result)
    assert set(bench_shapes.PEERS) == set(result["peers"])


def test_a_job_past_its_ios_burst_wakes_the_engine_at_most_once_per_2_seconds(
    bench_pacing: ModuleType,
) -> None:
    """The engine-sleeps benchmark's virtual job: once the iOS budget allows one update per ~2
    minutes the engine sleeps until the next (0.5 turns a second at most, 4 on the old tick),
    and after the last activity it does not wake at all."""
    import bench_engine

    figures = bench_engine.virtual_wakeups()
    assert figures["past_burst_turns_per_s"] <= 0.5
    assert 0.0 == figures["after_turns_per_s"]
