"""livebar.dask: progress() on a distributed LocalCluster, LivebarCallback on local schedulers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import dask
import dask.bag
import pytest
from distributed import Client, LocalCluster
from phone import only_activity, opts

from livebar.dask import LivebarCallback, progress


def inc(x: int) -> int:
    return x + 1


def broken(x: int) -> float:
    return 1 / (x - 7)


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    """One LocalCluster of 2 worker processes for the module."""
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=":0")
    with cluster, Client(cluster) as c:
        yield c


def test_progress_counts_futures_and_returns_at_once(sim: Any, client: Client) -> None:
    """client.map futures: progress() returns while they run; done at 20 of 20."""
    futures = client.map(inc, range(20))
    activity = progress(futures, title="Increment", **opts(sim, show_count=True))
    assert list(range(1, 21)) == client.gather(futures)
    assert activity.wait(10)
    displayed = only_activity(sim)["displayed"]
    assert (20, 20) == (displayed["value"], displayed["upper_limit"])
    assert displayed["subtitle"].startswith("Done in")


def test_a_persisted_collection_is_watched_too(sim: Any, client: Client) -> None:
    """A persisted bag of 4 partitions: one activity, done."""
    bag = client.persist(dask.bag.from_sequence(range(40), npartitions=4).map(inc))
    activity = progress(bag, title="Bag", **opts(sim))
    assert 4 == activity.total
    assert activity.wait(10)
    assert "done" == activity.outcome


def test_a_task_error_is_shown_readably(sim: Any, client: Client) -> None:
    """A task raising ZeroDivisionError: failed with the decoded error, not a pickled blob."""
    futures = client.map(broken, range(10))
    activity = progress(futures, title="Divide", **opts(sim))
    assert activity.wait(10)
    displayed = only_activity(sim)["displayed"]
    assert "Failed: ZeroDivisionError: division by zero" == displayed["subtitle"]


def test_an_unpersisted_collection_is_refused_clearly() -> None:
    """A lazy collection has no futures to watch: a ValueError says to persist it first."""
    with pytest.raises(ValueError, match="persist"):
        progress(dask.bag.from_sequence(range(3)))


@pytest.mark.parametrize("scheduler", ["threads", "sync"])
def test_local_callback_is_done_at_the_graph_size(sim: Any, scheduler: str) -> None:
    """The local-scheduler callback: every task counted, done."""
    bag = dask.bag.from_sequence(range(30), npartitions=3).map(inc)
    with LivebarCallback(title="Local", **opts(sim)) as callback:
        assert 465 == bag.sum().compute(scheduler=scheduler)
    displayed = only_activity(sim)["displayed"]
    assert (100, "Local") == (displayed["percentage"], displayed["title"])
    assert callback.activity is None


def test_local_callback_honours_errored(sim: Any) -> None:
    """A failing task under the local scheduler: failed with its exception (tqdm: done)."""
    bag = dask.bag.from_sequence(range(10), npartitions=2).map(broken)
    with pytest.raises(ZeroDivisionError), LivebarCallback(title="Local broken", **opts(sim)):
        bag.compute(scheduler="sync")
    displayed = only_activity(sim)["displayed"]
    assert "Failed: ZeroDivisionError: division by zero" == displayed["subtitle"]
    assert displayed["percentage"] < 100
