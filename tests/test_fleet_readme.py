"""The README's fleet examples, run as written against the simulator: the shell loop of three
"hosts", and the Kubernetes Indexed Job with the Job controller's part played here (one process
per completion index, ``$(VAR)`` expanded as the kubelet does, the cluster's Redis and secret
standing in as a local ``redis-server`` and the simulator's key)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger_support import RedisServer, redis_server_fixture
from livebar.simulator import SimulatorHandle, serve

pytestmark = pytest.mark.timeout(120)

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
SECTION = README.split("## One card for a fleet", 1)[1].split("\n## ", 1)[0]


def block(language: str, containing: str) -> str:
    [found] = [b for b in re.findall(rf"```{language}\n(.*?)```", SECTION, re.S) if containing in b]
    return found


@pytest.fixture
def sim() -> Iterator[SimulatorHandle]:
    with serve() as handle:
        yield handle


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    yield from redis_server_fixture()


def environment(sim: SimulatorHandle, ledger: str) -> dict[str, str]:
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    return {**os.environ, **sim.env(), "LIVEBAR_LEDGER": ledger, "PATH": path}


def test_the_shell_loop_of_three_hosts(sim: SimulatorHandle, tmp_path: Path) -> None:
    """Three hosts of four, one failing: one card, ending as the README says."""
    script = block("sh", "for host in web1 web2 web3")
    said = re.search(r'the card ends "(.*)", in red', script)
    assert said is not None
    result = subprocess.run(
        ["bash", "-c", script],
        env=environment(sim, str(tmp_path)),
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert 0 == result.returncode, result.stderr
    cards = sim.activities()
    assert 1 == len(cards), (cards, result.stderr)
    [activity] = cards
    assert (said.group(1), "red") == (
        activity["content_state"]["subtitle"],
        activity["content_state"]["color"],
    )


def expand(arg: str, env: dict[str, str]) -> str:
    """``$(NAME)`` replaced by the container's variable, as the kubelet does."""
    return re.sub(r"\$\((\w+)\)", lambda m: env[m.group(1)], arg)


def test_the_kubernetes_indexed_job(
    sim: SimulatorHandle, redis_server: RedisServer, tmp_path: Path
) -> None:
    """The Job's pods, one per completion index, with its command and environment: one card
    for the Job, each pod a member named by its index (shard 2 fails, and is named)."""
    redis_server.flush()
    manifest = block("yaml", "kind: Job")
    completions = int(re.search(r"completions: (\d+)", manifest).group(1))  # type: ignore[union-attr]
    command = json.loads(re.search(r"command: (\[.*\])", manifest).group(1))  # type: ignore[union-attr]
    given = dict(re.findall(r"- name: (\w+)\n\s+value: (\S+)", manifest))
    assert {"LIVEBAR_LEDGER"} == set(given)
    assert "LIVEBAR_FLEET_RUN" in manifest
    assert "ACTIVITYSMITH_API_KEY" in manifest
    (tmp_path / "reindex.py").write_text(  # the image's program: a while, then shard 2 fails
        textwrap.dedent(
            f"""
            import pathlib, sys, time
            # The Job's pods run in parallel: each works until all {completions} are up (a
            # loaded machine can start one late), then a moment more.
            here = pathlib.Path(".")
            (here / f"up-{{sys.argv[-1]}}").touch()
            deadline = time.monotonic() + 60
            while len(list(here.glob("up-*"))) < {completions} and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(2)
            sys.exit(1 if sys.argv[-1] == "2" else 0)
            """
        ),
        encoding="utf-8",
    )
    base = environment(sim, redis_server.url)  # the cluster's Redis, here
    base["LIVEBAR_FLEET_RUN"] = "3f1c9a62-job-uid"  # the downward API's value
    base.pop("LIVEBAR_HOST_ID", None)
    pods = []
    for index in range(completions):
        env = {**base, "JOB_COMPLETION_INDEX": str(index)}
        argv = [expand(arg, env) for arg in command]
        pods.append(
            subprocess.Popen(argv, env=env, cwd=tmp_path, stderr=subprocess.PIPE, text=True)
        )
    codes = []
    for pod in pods:
        _out, err = pod.communicate(timeout=90)
        codes.append(pod.returncode)
        assert pod.returncode in (0, 1), err
    assert [0, 0, 1, 0] == codes
    [activity] = sim.activities()
    assert "Done 3/4 \u00b7 failed: 2" == activity["content_state"]["subtitle"]
