"""Airflow: one segmented card per DAG run, from the run's own callbacks.

::

    from livebar.airflow import LivebarNotifier

    notify = LivebarNotifier()                 # title=, channels=, api_key=, base_url=
    with DAG(
        "nightly_etl",
        on_success_callback=notify,            # the run ended: the card ends
        on_failure_callback=notify,
        default_args={"on_success_callback": notify, "on_failure_callback": notify},
    ):
        ...

Each callback recomputes the card from the run's task instances: one segment per task of the
DAG, filled as tasks finish (green done, gray skipped, red failed), "3/5 tasks · load failed"
beneath the DAG's id. The task callbacks update it; the DAG's callback (the run is over) ends
it: "Done: 5 tasks", or red "Failed: load". Callbacks run in different processes (a task's
worker, the DAG processor), so the card is a stream keyed by the run (``airflow-<dag>-<run>``)
and each callback sends its state with ``livebar.Client`` directly: one request per task
callback, two for the run's end. A callback never raises: the DAG's outcome is Airflow's.

Task states come from ``dag_run.get_task_instances()`` where the callback runs next to the
database (Airflow 2, the DAG processor), else from the Task SDK's ``ti.get_task_states()``
(Airflow 3 workers). Where neither answers, the run's end keeps what the phone last showed.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import livebar
from livebar._log import log

try:  # Airflow 3
    from airflow.sdk.bases.notifier import BaseNotifier
except ImportError:  # Airflow 2.6+
    from airflow.notifications.basenotifier import BaseNotifier  # type: ignore[no-redef,unused-ignore]

__all__ = ["LivebarNotifier", "RunCard", "card_for", "stream_key"]


STEP_COLORS = {
    "success": "green",
    "skipped": "gray",
    "failed": "red",
    "upstream_failed": "red",
    "removed": "gray",
}
"""A finished task's segment colour, by its state."""
FAILED = ("failed", "upstream_failed")
ENDED_RUN = ("success", "failed")
MAX_KEY = 255
DONE_DISMISS = 3
FAILED_DISMISS = 30
CALLBACK_RETRY = livebar.RetryPolicy(max_attempts=2, max_total=5.0)
"""A callback holds up Airflow's process: give up after 5 s (the next callback catches up)."""


class RunCard(NamedTuple):
    """What one callback sends: the card's state, and whether the run is over."""

    state: livebar.ContentState
    ended: bool
    failed: bool


def stream_key(dag_id: str, run_id: str) -> str:
    """``airflow-<dag>-<run>`` in the characters a stream key allows, unique per run."""
    digest = hashlib.sha1(f"{dag_id}\0{run_id}".encode()).hexdigest()[:10]
    readable = re.sub(r"[^A-Za-z0-9_-]+", "-", f"{dag_id}-{run_id}")
    return f"airflow-{readable[: MAX_KEY - 20]}-{digest}"


def card_for(
    title: str,
    task_ids: Sequence[str],
    states: Mapping[str, str | None],
    run_state: str | None,
) -> RunCard:
    """The card for a run whose tasks are in ``states`` (pure)."""
    finished = [t for t in task_ids if states.get(t) in STEP_COLORS]
    failed = [t for t in task_ids if states.get(t) in FAILED]
    ended = run_state in ENDED_RUN
    run_failed = run_state == "failed" or (ended and bool(failed))
    count = max(len(task_ids), 1)
    current = count if run_state == "success" else min(len(finished), count)
    colors = [STEP_COLORS[str(states.get(t))] for t in finished][:current]
    if run_state == "success":
        colors += ["green"] * (current - len(colors))
    if run_state == "success":
        subtitle = f"Done: {len(task_ids)} task{'s' * (len(task_ids) != 1)}"
    elif run_failed:
        subtitle = f"Failed: {', '.join(failed)}" if failed else "Failed"
    else:
        subtitle = f"{len(finished)}/{len(task_ids)} tasks"
        if failed:
            subtitle += f" \u00b7 {', '.join(failed)} failed"
    state = livebar.ContentState.segmented_progress(
        title[:64],
        number_of_steps=count,
        current_step=current,
        subtitle=subtitle[:120],
        step_colors=colors or None,
        color="red" if run_failed or failed else "blue",
    )
    return RunCard(state, ended, run_failed)


class LivebarNotifier(BaseNotifier):  # type: ignore[misc,unused-ignore]
    """Use as ``on_success_callback`` / ``on_failure_callback`` of a DAG and of its tasks."""

    def __init__(
        self,
        *,
        title: str | None = None,
        channels: list[str] | None = None,
        api_key: str | None = None,
        base_url: str | None = None,
        disable: bool | None = None,
    ) -> None:
        super().__init__()
        self.title = title
        self.channels = channels
        self._config = livebar.resolve_config(api_key=api_key, base_url=base_url, disable=disable)

    def render_template_fields(self, context: Any, jinja_env: Any = None) -> None:
        """Nothing to render: no template fields. (Airflow 3.3 hands a DAG callback a serialized
        DAG without ``get_template_env``, and the base class would fail on it.)"""

    def notify(self, context: Mapping[str, Any]) -> None:
        """Recompute the run's card and send it (never raises into Airflow)."""
        try:
            self._notify(context)
        except Exception as exc:
            log.warning("livebar: the Airflow callback could not update the card: %s", exc)

    def _notify(self, context: Mapping[str, Any]) -> None:
        config = self._config
        if config.disabled or not config.api_key:
            return
        dag = context["dag"]
        dag_run = context.get("dag_run")
        run_id = str(context.get("run_id") or getattr(dag_run, "run_id", ""))
        states = task_states(context, dag.dag_id, run_id)
        run_state = _plain(getattr(dag_run, "state", None))  # running, until the run's own callback
        card = card_for(self.title or dag.dag_id, list(dag.task_ids), states or {}, run_state)
        # A failed run whose tasks nobody can tell: its end keeps what the phone last showed.
        known = states is not None or run_state == "success"
        key = stream_key(dag.dag_id, run_id)
        with livebar.Client(
            api_key=config.api_key, base_url=config.base_url, retry=CALLBACK_RETRY
        ) as client:
            if known:
                update = livebar.StreamUpdate(content_state=card.state, channels=self.channels)
                client.stream(key, update)
            if card.ended:
                dismiss = FAILED_DISMISS if card.failed else DONE_DISMISS
                end = (
                    livebar.StreamEnd(content_state=card.state, auto_dismiss_minutes=dismiss)
                    if known
                    else livebar.StreamEnd()
                )
                with contextlib.suppress(livebar.StreamNotFoundError):  # a callback repeated
                    client.end_stream(key, end)


def task_states(context: Mapping[str, Any], dag_id: str, run_id: str) -> dict[str, str] | None:
    """Each task's state in this run, as plain strings; None when nothing can tell. A task's
    own callback knows its state before the database does: it is taken from ``ti``."""
    states = _recorded_states(context, dag_id, run_id)
    ti = context.get("ti")
    own = _plain(getattr(ti, "state", None))
    task_id = getattr(ti, "task_id", None)
    if states is not None and own and task_id and "reason" not in context:
        states[task_id] = own
    return states


def _recorded_states(context: Mapping[str, Any], dag_id: str, run_id: str) -> dict[str, str] | None:
    dag_run = context.get("dag_run")
    get_task_instances = getattr(dag_run, "get_task_instances", None)
    if get_task_instances is not None:
        try:
            return {ti.task_id: _plain(ti.state) for ti in get_task_instances()}
        except Exception:
            pass
    ti = context.get("ti")
    get_task_states = getattr(ti, "get_task_states", None)
    if get_task_states is not None:
        try:
            by_run = get_task_states(dag_id=dag_id, run_ids=[run_id])
            return {task: _plain(state) for task, state in dict(by_run.get(run_id, {})).items()}
        except Exception:  # a DAG-level callback has no supervisor to ask (Airflow 3)
            pass
    return None


def _plain(state: Any) -> str:
    """``TaskInstanceState.SUCCESS`` / ``DagRunState.FAILED`` / ``"success"`` as ``"success"``."""
    return str(getattr(state, "value", state) or "")
