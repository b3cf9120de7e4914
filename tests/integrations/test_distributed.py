"""Distributed launches: torchrun and Lightning DDP (2 CPU ranks, gloo) show one activity."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import livebar

HERE = Path(__file__).resolve().parent

pytestmark = pytest.mark.timeout(240)  # two ranks start torch (and Lightning) each


def run(sim: Any, *command: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **sim.env(), "PYTHONPATH": str(HERE), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        list(command), env=env, capture_output=True, text=True, timeout=200, cwd=str(HERE)
    )
    assert 0 == proc.returncode, proc.stderr[-3000:]
    livebar.flush(5)
    return proc


def test_torchrun_two_ranks_show_one_activity_per_bar(sim: Any) -> None:
    """torchrun --nproc-per-node 2: each bar once (RANK before init, the group's rank after)."""
    torchrun = str(Path(sys.executable).with_name("torchrun"))
    run(sim, torchrun, "--standalone", "--nproc-per-node", "2", "ddp_scripts.py", "torchrun")
    titles = [a["title"] for a in sim.activities()]
    assert ["After init", "Before init"] == sorted(titles)
    assert all("ended" == a["state"] for a in sim.activities())


def test_lightning_ddp_on_two_cpu_ranks_shows_one_activity(sim: Any) -> None:
    """Lightning's DDP launcher (LOCAL_RANK/NODE_RANK only): one activity, done."""
    run(sim, sys.executable, "ddp_scripts.py", "lightning")
    [activity] = sim.activities()
    assert ("DDP fit", 100) == (activity["title"], activity["displayed"]["percentage"])
    assert activity["displayed"]["subtitle"].startswith("Done in")
