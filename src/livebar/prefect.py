"""Prefect: a card per flow run, from Prefect's own state hooks.

::

    from prefect import flow
    import livebar.prefect

    @flow(**livebar.prefect.state_hooks())
    def nightly_etl():
        card = livebar.prefect.current_card()     # this run's card (None off the phone)
        for table in card.track(tables) if card else tables:
            load(table)

``state_hooks(title=None, **options)`` gives the five hooks Prefect 3 calls as a flow run
changes state: ``on_running`` starts the card (titled by the flow, the run's name as its
subtitle), ``on_completion`` ends it done, ``on_failure`` failed with the run's message
("Failed: ValueError: boom"), ``on_crashed`` failed ("Crashed: …"), ``on_cancellation``
cancelled. The card is a stream keyed by the flow run's id (``prefect-<id>``), so a hook that
runs in another process than the flow (a crash or a cancellation seen by a worker) still ends
the right card. Keywords go to ``livebar.live_activity``. Hooks never raise into Prefect.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from livebar._integrations.keyed import KeyedCards

if TYPE_CHECKING:
    from livebar._activity import LiveActivity

__all__ = ["PrefectHooks", "current_card", "state_hooks"]

Hook = Callable[[Any, Any, Any], None]
EXCEPTION_PREFIX = "Flow run encountered an exception: "
"""What Prefect puts before the exception in a failed run's message."""

_cards = KeyedCards()


def stream_key(flow_run_id: object) -> str:
    return f"prefect-{flow_run_id}"


class PrefectHooks:
    """The five state hooks of one flow (see the module docstring)."""

    def __init__(self, title: str | None = None, **options: Any) -> None:
        import livebar

        livebar.live_activity(title or "Prefect flow", **options)  # refuse bad options now
        self.title = title
        self.options = options

    def on_running(self, flow: Any, flow_run: Any, state: Any) -> None:
        options = {"subtitle": getattr(flow_run, "name", None), **self.options}
        _cards.open(stream_key(flow_run.id), self._title(flow), **options)

    def on_completion(self, flow: Any, flow_run: Any, state: Any) -> None:
        self._end(flow, flow_run, "done", None)

    def on_failure(self, flow: Any, flow_run: Any, state: Any) -> None:
        self._end(flow, flow_run, "failed", f"Failed: {_message(state)}")

    def on_crashed(self, flow: Any, flow_run: Any, state: Any) -> None:
        self._end(flow, flow_run, "failed", f"Crashed: {_message(state)}")

    def on_cancellation(self, flow: Any, flow_run: Any, state: Any) -> None:
        self._end(flow, flow_run, "cancelled", None)

    def hooks(self) -> dict[str, list[Hook]]:
        """The keywords of ``@flow(...)`` that install these hooks."""
        return {
            "on_running": [self.on_running],
            "on_completion": [self.on_completion],
            "on_failure": [self.on_failure],
            "on_crashed": [self.on_crashed],
            "on_cancellation": [self.on_cancellation],
        }

    def _title(self, flow: Any) -> str:
        return self.title or str(getattr(flow, "name", None) or "Prefect flow")

    def _end(self, flow: Any, flow_run: Any, outcome: str, subtitle: str | None) -> None:
        _cards.end(
            stream_key(flow_run.id),
            self._title(flow),
            outcome=outcome,
            subtitle=subtitle,
            **self.options,
        )


def state_hooks(title: str | None = None, **options: Any) -> dict[str, list[Hook]]:
    """``@flow(**livebar.prefect.state_hooks())``: a card for each run of the flow."""
    return PrefectHooks(title, **options).hooks()


def current_card() -> LiveActivity | None:
    """The card of the flow run this code runs in (None outside one, or when off the phone)."""
    from prefect.runtime import flow_run

    run_id = flow_run.id
    return None if run_id is None else _cards.get(stream_key(run_id))


def _message(state: Any) -> str:
    message = str(getattr(state, "message", None) or getattr(state, "name", "") or "")
    return message.removeprefix(EXCEPTION_PREFIX) if message else "no message"
