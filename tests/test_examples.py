"""Every example in examples/ runs against the simulator and leaves the phone showing the end."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from livebar.simulator import SimulatorHandle

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

# example -> (exit code, outcomes the phone should end up showing, in order of start)
EXPECTED = {
    "stages.py": (0, ["Done"]),
    "loop.py": (0, ["Done", "Done"]),
    "decorator.py": (0, ["Done"]),
    "async_job.py": (0, ["Done"]),
    "failure.py": (1, ["Failed at compress: OSError: No space left on device"]),
    "manual.py": (0, ["Done"]),
    "tqdm_training.py": (0, ["Done"]),
    "tqdm_files.py": (1, ["Failed: OSError: No space left on device"]),
    "process_pool.py": (0, ["Done", "Done"]),
}


def test_every_example_is_covered() -> None:
    """A new example gets an expectation here."""
    assert sorted(EXPECTED) == sorted(p.name for p in EXAMPLES.glob("*.py"))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_runs_and_ends(sim: SimulatorHandle, name: str) -> None:
    """The example exits as documented and each of its activities ends with the right outcome."""
    env = {
        **os.environ,
        "ACTIVITYSMITH_API_KEY": sim.api_key,
        "ACTIVITYSMITH_BASE_URL": sim.url,
        "EXAMPLE_PAUSE": "0.01",
        "LIVEBAR_DISABLE": "0",
    }
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / name)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    code, outcomes = EXPECTED[name]
    assert code == proc.returncode, proc.stderr
    subtitles = [a["displayed"].get("subtitle", "") for a in sim.activities()]
    assert len(outcomes) == len(subtitles)
    for expected, shown in zip(outcomes, subtitles):
        assert shown.startswith(expected), shown
    assert all("ended" == a["state"] for a in sim.activities())
