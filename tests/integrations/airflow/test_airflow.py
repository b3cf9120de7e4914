"""livebar.airflow with real Airflow: ``airflow dags test`` runs a DAG whose callbacks are
``LivebarNotifier``; the phone shows one segmented card per run.

Airflow pins FastAPI against Prefect's, so it has a virtual environment of its own
(``tests/integrations/airflow/requirements.txt``, see ``.ci/run``); this folder is not collected
with the other integrations. Each test gets a fresh ``AIRFLOW_HOME`` (a SQLite database,
``airflow db migrate``) and runs the DAG in a subprocess pointed at the simulator.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from phone import only_activity

from livebar.airflow import card_for, stream_key

AIRFLOW = str(Path(sys.executable).with_name("airflow"))

DAG_FILE = """
import pendulum
from airflow.sdk import DAG, task

from livebar.airflow import LivebarNotifier

notify = LivebarNotifier()
with DAG(
    "nightly_etl",
    start_date=pendulum.datetime(2024, 1, 1),
    schedule=None,
    on_success_callback=notify,
    on_failure_callback=notify,
    default_args={{"on_success_callback": notify, "on_failure_callback": notify}},
):
    @task
    def extract():
        return 1

    @task
    def transform(x):
        if {fail}:
            raise ValueError("bad row")
        return x + 1

    @task
    def load(x):
        return x

    load(transform(extract()))
"""


@pytest.fixture
def airflow(tmp_path: Path, sim: Any) -> Any:
    """Run ``airflow`` with a fresh home (migrated database) and the simulator's variables."""
    home = tmp_path / "airflow"
    (home / "dags").mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LIVEBAR_", "AIRFLOW"))}
    env.update(AIRFLOW_HOME=str(home), AIRFLOW__CORE__LOAD_EXAMPLES="False", **sim.env())
    env.update(LIVEBAR_LEDGER=str(tmp_path / "ledger"), LIVEBAR_COURIER="0")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [AIRFLOW, *args], env=env, capture_output=True, text=True, timeout=180, cwd=tmp_path
        )

    assert 0 == run("db", "migrate").returncode

    def dag_test(*, fail: bool) -> subprocess.CompletedProcess[str]:
        (home / "dags" / "etl.py").write_text(textwrap.dedent(DAG_FILE.format(fail=fail)))
        assert 0 == run("dags", "reserialize").returncode
        return run("dags", "test", "nightly_etl")

    return dag_test


def test_a_successful_run_fills_one_segment_per_task(sim: Any, airflow: Any) -> None:
    """3 tasks: the card fills 1/3, 2/3, 3/3 green as they finish, then "Done: 3 tasks"."""
    done = airflow(fail=False)
    assert 0 == done.returncode, done.stderr[-2000:]
    assert "Callback failed" not in done.stdout + done.stderr
    activity = only_activity(sim)
    steps = [event["content_state"]["current_step"] for event in activity["history"]]
    assert [1, 2, 3] == sorted(set(steps))
    displayed = activity["displayed"]
    assert ("nightly_etl", "Done: 3 tasks", "ended") == (
        displayed["title"],
        displayed["subtitle"],
        activity["state"],
    )
    assert ["green", "green", "green"] == displayed["step_colors"]
    assert 5 == len(sim.requests())  # 3 task callbacks, then the run's: a PUT and a DELETE


def test_a_failed_run_ends_red_at_the_failed_task(sim: Any, airflow: Any) -> None:
    """transform raises: red, "2/3 tasks · transform failed"; the run's end keeps it (an
    Airflow 3 DAG callback cannot read task states, so it ends the card as it stands)."""
    airflow(fail=True)
    activity = only_activity(sim)
    displayed = activity["displayed"]
    assert ("ended", "red") == (activity["state"], displayed["color"])
    assert "2/3 tasks \u00b7 transform failed" == displayed["subtitle"]
    assert ["green", "red"] == displayed["step_colors"][:2]


def test_the_card_is_computed_from_the_task_states() -> None:
    """Pure: one segment per task, coloured by state; the run's state ends it."""
    tasks = ["extract", "transform", "load"]
    running = card_for("etl", tasks, {"extract": "success", "transform": "running"}, "running")
    assert (1, "1/3 tasks", False) == (
        running.state.current_step,
        running.state.subtitle,
        running.ended,
    )
    failed = card_for("etl", tasks, {"extract": "success", "transform": "failed"}, "failed")
    assert ("Failed: transform", ("green", "red"), True) == (
        failed.state.subtitle,
        failed.state.step_colors,
        failed.ended,
    )


def test_the_stream_key_is_valid_and_per_run() -> None:
    """Characters a stream key allows; two runs of a DAG get two keys."""
    first = stream_key("etl", "manual__2026-12-06T20:52:29.792223+00:00")
    second = stream_key("etl", "manual__2026-12-07T20:52:29.792223+00:00")
    assert first != second
    assert all(c.isalnum() or c in "-_" for c in first)
