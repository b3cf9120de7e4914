"""livebar.ray.track on a 2-CPU local Ray (one init for the module)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import ray
from phone import only_activity, opts

import livebar
from livebar.ray import track

pytestmark = pytest.mark.timeout(180)  # Ray's start-up alone can take tens of seconds here


@ray.remote
def square(x: int) -> int:
    return x * x


@ray.remote
def broken(x: int) -> float:
    return 1 / (x - 3)


@pytest.fixture(scope="module", autouse=True)
def local_ray() -> Iterator[None]:
    """Ray with 2 CPUs, no dashboard, started once for these tests."""
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        object_store_memory=80 * 1024 * 1024,
        configure_logging=False,
    )
    yield
    ray.shutdown()


def test_track_returns_values_in_order_and_ends_done(sim: Any) -> None:
    """30 tasks: the values in input order, one activity, done at 30 of 30."""
    refs = [square.remote(i) for i in range(30)]
    assert [i * i for i in range(30)] == track(refs, title="Squares", **opts(sim, show_count=True))
    displayed = only_activity(sim)["displayed"]
    assert (30, 30) == (displayed["value"], displayed["upper_limit"])
    assert displayed["subtitle"].startswith("Done in")


def test_a_failing_task_fails_with_its_own_exception(sim: Any) -> None:
    """A task dividing by zero: RayTaskError propagates; the phone names ZeroDivisionError."""
    refs = [broken.remote(i) for i in range(6)]
    with pytest.raises(ray.exceptions.RayTaskError) as caught:
        track(refs, title="Divide", **opts(sim))
    assert isinstance(caught.value, ZeroDivisionError)
    displayed = only_activity(sim)["displayed"]
    assert "Failed: ZeroDivisionError: division by zero" == displayed["subtitle"]


@ray.remote
def count_with(handle: Any, n: int) -> int:
    for _ in range(n):
        handle.advance()
    return n


def test_a_handle_advances_the_driver_from_ray_workers(sim: Any) -> None:
    """act.handle() passed to Ray tasks: the driver's one activity counts every item."""
    with livebar.live_activity("Ray items", total=400, **opts(sim)) as act:
        with act.handle() as progress:
            assert [100] * 4 == ray.get([count_with.remote(progress, 100) for _ in range(4)])
        assert 400 == act.count
    assert 100 == only_activity(sim)["displayed"]["percentage"]
