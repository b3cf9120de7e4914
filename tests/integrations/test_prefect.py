"""livebar.prefect: real Prefect flows (Prefect's temporary local server on 127.0.0.1).

Completion, failure and a crash run through Prefect's own engine and hooks. A cancellation
needs a worker or runner to cancel a deployed run; its hook is called here with stand-ins of
the objects Prefect passes (the attributes the hook reads: the flow's ``name``, the run's
``id`` and ``name``, the state's ``message``).
"""

from __future__ import annotations

import os
import uuid
from types import SimpleNamespace
from typing import Any

import pytest
from phone import only_activity, opts

import livebar
import livebar.prefect


@pytest.fixture(autouse=True, scope="module")
def prefect_home(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Prefect's database and settings in a directory of the module's own."""
    os.environ["PREFECT_HOME"] = str(tmp_path_factory.mktemp("prefect-home"))
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault(
        "PREFECT_LOGGING_LEVEL", "WARNING"
    )  # its exit message hits a closed stream


def test_a_completed_flow_run_is_done(sim: Any) -> None:
    """on_running starts the card (run name as subtitle), on_completion ends it done."""
    from prefect import flow

    seen: list[Any] = []

    @flow(name="nightly-etl", **livebar.prefect.state_hooks(**opts(sim, total=3)))
    def etl() -> int:
        card = livebar.prefect.current_card()
        seen.append(card)
        assert card is not None
        for _ in card.track(range(3)):
            pass
        return 3

    assert 3 == etl()
    activity = only_activity(sim)
    displayed = activity["displayed"]
    assert ("nightly-etl", 100) == (displayed["title"], displayed["percentage"])
    assert displayed["subtitle"].startswith("Done in")
    assert activity["history"][0]["content_state"]["subtitle"]  # the run's generated name
    assert seen[0] is not None


def test_a_failed_flow_run_shows_the_exception(sim: Any) -> None:
    """on_failure: red, "Failed: ValueError: bad input", and the flow's exception propagates."""
    from prefect import flow

    @flow(name="import", **livebar.prefect.state_hooks("Import", **opts(sim)))
    def broken() -> None:
        raise ValueError("bad input")

    with pytest.raises(ValueError, match="bad input"):
        broken()
    displayed = only_activity(sim)["displayed"]
    assert ("Import", "Failed: ValueError: bad input", "red") == (
        displayed["title"],
        displayed["subtitle"],
        displayed["color"],
    )


def test_a_crashed_flow_run_says_crashed(sim: Any) -> None:
    """A flow interrupted by a BaseException crashes: on_crashed ends the card "Crashed: …"."""
    from prefect import flow

    @flow(name="train", **livebar.prefect.state_hooks(**opts(sim)))
    def train() -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train()
    displayed = only_activity(sim)["displayed"]
    assert displayed["subtitle"].startswith("Crashed: ")
    assert "red" == displayed["color"]


def test_the_cancellation_hook_ends_the_card_cancelled(sim: Any) -> None:
    """on_cancellation (stand-ins of Prefect's objects): the run's card ends Cancelled."""
    hooks = livebar.prefect.PrefectHooks(**opts(sim))
    flow = SimpleNamespace(name="backfill")
    run = SimpleNamespace(id=uuid.uuid4(), name="brave-otter")
    hooks.on_running(flow, run, SimpleNamespace(name="Running", message=None))
    hooks.on_cancellation(flow, run, SimpleNamespace(name="Cancelling", message=None))
    displayed = only_activity(sim)["displayed"]
    assert ("backfill", "gray") == (displayed["title"], displayed["color"])
    assert displayed["subtitle"].startswith("Cancelled")


def test_a_hook_run_elsewhere_ends_the_same_card(sim: Any) -> None:
    """A crash hook in a process that never saw the run ends the run's own stream."""
    flow = SimpleNamespace(name="backfill")
    run = SimpleNamespace(id=uuid.uuid4(), name="brave-otter")
    key = livebar.prefect.stream_key(run.id)
    with livebar.Client(api_key=sim.api_key, base_url=sim.url) as client:  # the flow's process
        client.stream(key, livebar.StreamUpdate(content_state=running("backfill")))
    hooks = livebar.prefect.PrefectHooks(**opts(sim))
    hooks.on_crashed(flow, run, SimpleNamespace(name="Crashed", message="worker lost"))
    activity = only_activity(sim)
    assert ("ended", "Crashed: worker lost") == (
        activity["state"],
        activity["displayed"]["subtitle"],
    )


def running(title: str) -> livebar.ContentState:
    return livebar.ContentState.segmented_progress(title, number_of_steps=1, current_step=0)


def test_bad_options_are_refused_when_the_hooks_are_made() -> None:
    """A bad option names itself at decoration time, not in a hook Prefect would swallow."""
    with pytest.raises(livebar.ValidationError) as info:
        livebar.prefect.state_hooks(color="chartreuse")
    assert "color" == info.value.field
