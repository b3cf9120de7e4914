"""Hugging Face ``transformers``: ``Trainer(..., callbacks=[LivebarCallback()])``.

One Live Activity per ``trainer.train()``, on the world process zero only (so ``accelerate
launch`` and ``torchrun`` show one): total ``state.max_steps``, progress ``state.global_step``
after every step, subtitle ``Epoch 1.5/3 · loss 0.41 · eval_loss 0.39`` from ``on_log`` and
``on_evaluate``. Endings: done; "Stopped early at epoch k" when training stopped before
``max_steps`` (``EarlyStoppingCallback``); failed or cancelled when ``train()`` raises.

``TrainerCallback`` has no exception hook and never sees the trainer, so the failing endings
come from livebar's own exception paths: an exception that ends the script ends the activity
failed (Ctrl-C: cancelled) at exit, a failing notebook cell ends it right after the cell, and
for a failure your code catches (or SIGTERM) wrap the call::

    callback = LivebarCallback()
    trainer = Trainer(model, args, train_dataset=data, callbacks=[callback])
    with callback:
        trainer.train()
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import transformers

from livebar._activity import LiveActivity, checked_options, live_activity
from livebar._integrations.training import (
    CallbackEndings,
    metrics_text,
    stopped_early_text,
    subtitle,
)

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from livebar._job.options import IntegrationOptions

__all__ = ["LivebarCallback"]


class LivebarCallback(transformers.TrainerCallback, CallbackEndings):  # type: ignore[misc]
    """Mirror ``Trainer.train`` to a Live Activity.

    ``title`` defaults to "Training <model class>"; ``metrics`` names the logged values shown
    in the subtitle (default: the losses). Other keywords go to ``livebar.live_activity``.
    """

    def __init__(
        self,
        title: str | None = None,
        *,
        metrics: Sequence[str] | None = None,
        **options: Unpack[IntegrationOptions],
    ) -> None:
        self.title = title
        self.metrics = tuple(metrics) if metrics is not None else None
        self.options = checked_options(options)
        self._activity: LiveActivity | None = None
        self._logged: dict[str, Any] = {}

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if not (state.is_world_process_zero or self.options.get("ranks") == "all"):
            return
        model = kwargs.get("model")
        title = self.title or (f"Training {type(model).__name__}" if model else "Training")
        total = state.max_steps if state.max_steps and state.max_steps > 0 else None
        activity = live_activity(title, total=total, **self.options)
        activity.start()
        activity.update(state.global_step)
        self._activity = activity
        self._logged = {}

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        activity = self._activity
        if activity is not None:
            activity.update(state.global_step)

    def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kwargs: Any) -> None:
        self._show(args, state, logs)

    def on_evaluate(
        self, args: Any, state: Any, control: Any, metrics: Any = None, **kwargs: Any
    ) -> None:
        self._show(args, state, metrics)

    def _show(self, args: Any, state: Any, values: Any) -> None:
        activity = self._activity
        if activity is None or activity.closed:
            return
        self._logged.update(values or {})
        activity.update(subtitle=self._subtitle(args, state))

    def _subtitle(self, args: Any, state: Any) -> str:
        epochs = getattr(args, "num_train_epochs", None)
        epochs_text = ""
        if state.epoch is not None:
            shown = f"{state.epoch:.1f}" if state.epoch % 1 else str(int(state.epoch))
            whole = int(epochs) if epochs and float(epochs).is_integer() else epochs
            epochs_text = (
                f"Epoch {shown}/{whole}" if whole and state.max_steps else f"Epoch {shown}"
            )
        return subtitle(epochs_text, metrics_text(self._logged, self.metrics))

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        activity = self._activity
        if activity is None or activity.closed:
            return
        activity.update(state.global_step)
        if state.max_steps and state.global_step < state.max_steps:
            epoch = max(1, round(state.epoch or 0))
            activity.close(outcome="stopped", subtitle=stopped_early_text(epoch))
        else:
            activity.close()
