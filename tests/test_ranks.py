"""Rank awareness: only the main process of a distributed job mirrors (livebar._engine.ranks)."""

from __future__ import annotations

import os
import subprocess
import sys
import types
from typing import Any

import pytest

import livebar
from livebar._engine import ranks as _ranks
from livebar._wire.errors import ConfigurationError, ValidationError


def fake_distributed(rank: int, *, initialized: bool = True) -> dict[str, Any]:
    """A stand-in for an imported ``torch.distributed`` module."""
    module = types.ModuleType("torch.distributed")
    module.is_available = lambda: True  # type: ignore[attr-defined]
    module.is_initialized = lambda: initialized  # type: ignore[attr-defined]
    module.get_rank = lambda: rank  # type: ignore[attr-defined]
    return {"torch.distributed": module}


@pytest.mark.parametrize("name", _ranks.RANK_VARIABLES)
def test_any_non_zero_launcher_variable_means_not_main(name: str) -> None:
    """Each launcher's variable, set to a non-zero rank, turns mirroring off there."""
    assert False is _ranks.is_main_process(environ={name: "1"}, modules={})
    assert True is _ranks.is_main_process(environ={name: "0"}, modules={})


def test_lightning_ddp_child_sets_only_local_and_node_rank() -> None:
    """Lightning's launcher sets LOCAL_RANK/NODE_RANK, not RANK: rank 1 still stays quiet."""
    assert 1 == _ranks.process_rank(environ={"LOCAL_RANK": "1", "NODE_RANK": "0"}, modules={})
    assert 0 == _ranks.process_rank(environ={"LOCAL_RANK": "0", "NODE_RANK": "0"}, modules={})


def test_no_launcher_is_the_main_process() -> None:
    """A plain process (no variables, no torch) mirrors."""
    assert True is _ranks.decide(environ={}, modules={})


def test_malformed_values_prove_nothing() -> None:
    """A value that is not a number is ignored rather than silencing the job."""
    assert 0 == _ranks.process_rank(environ={"RANK": "", "SLURM_PROCID": "x"}, modules={})


def test_initialised_torch_distributed_wins_over_the_environment() -> None:
    """An initialised process group's rank decides, whatever the variables say."""
    env = {"RANK": "0"}
    assert 3 == _ranks.process_rank(environ=env, modules=fake_distributed(3))
    assert 0 == _ranks.process_rank(environ={"RANK": "2"}, modules=fake_distributed(0))


def test_uninitialised_torch_distributed_falls_back_to_the_environment() -> None:
    """torch imported without a process group: the variables decide."""
    modules = fake_distributed(0, initialized=False)
    assert 2 == _ranks.process_rank(environ={"RANK": "2"}, modules=modules)


def test_broken_torch_distributed_is_ignored() -> None:
    """A torch.distributed whose calls raise never breaks the decision."""
    module = types.ModuleType("torch.distributed")

    def boom() -> bool:
        raise RuntimeError("half imported")

    module.is_available = boom  # type: ignore[attr-defined]
    assert 0 == _ranks.process_rank(environ={}, modules={"torch.distributed": module})


def test_ranks_all_mirrors_every_process() -> None:
    """ranks="all" (argument or LIVEBAR_RANKS) mirrors on non-zero ranks too."""
    assert True is _ranks.decide("all", environ={"RANK": "1"}, modules={})
    assert True is _ranks.decide(environ={"RANK": "1", "LIVEBAR_RANKS": "ALL"}, modules={})
    assert False is _ranks.decide(environ={"RANK": "1", "LIVEBAR_RANKS": "main"}, modules={})


def test_argument_beats_the_environment() -> None:
    """An explicit ranks="main" wins over LIVEBAR_RANKS=all."""
    env = {"RANK": "1", "LIVEBAR_RANKS": "all"}
    assert False is _ranks.decide("main", environ=env, modules={})


def test_bad_values_are_named() -> None:
    """A bad ranks= is a ValidationError naming the field; a bad variable names the variable."""
    with pytest.raises(ValidationError) as caught:
        livebar.live_activity("Job", ranks="some")
    assert "ranks" == caught.value.field
    with pytest.raises(ConfigurationError) as bad_env:
        _ranks.decide(environ={"LIVEBAR_RANKS": "every"}, modules={})
    assert "LIVEBAR_RANKS" == bad_env.value.option


def test_non_main_rank_starts_nothing(sim: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """With RANK=1 an activity runs without a request; ranks="all" mirrors it anyway."""
    monkeypatch.setenv("RANK", "1")
    options = {"api_key": sim.api_key, "base_url": sim.url}
    with livebar.live_activity("Rank one", total=3, **options) as quiet:
        quiet.advance(3)
    assert (False, "done") == (quiet.enabled, quiet.outcome)
    with livebar.live_activity("Everyone", ranks="all", **options) as loud:
        pass
    assert loud.wait(10)
    assert ["Everyone"] == [a["title"] for a in sim.activities()]


def test_bad_environment_logs_once_and_mirrors_the_main_process() -> None:
    """LIVEBAR_RANKS=every: one error line, then the main-process rule."""
    script = (
        "import logging; logging.basicConfig()\n"
        "from livebar._engine.runtime import runtime\n"
        "print(runtime.mirrors_here(), runtime.mirrors_here())\n"
    )
    env = {**os.environ, "LIVEBAR_RANKS": "every", "RANK": "1"}
    proc = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=30
    )
    assert "False False" == proc.stdout.strip()
    assert 1 == proc.stderr.count("LIVEBAR_RANKS")
