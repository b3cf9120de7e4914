"""Keras 3: ``model.fit(..., callbacks=[livebar.keras.LivebarCallback()])``.

One Live Activity per ``fit``: total = epochs x steps per epoch (a count and a rate when the
steps are unknown), the bar moves with every batch, the subtitle shows ``Epoch 3/10 ·
loss 0.41 · val_loss 0.39`` after each epoch. ``async_safe = True``: the batch hook only stores
a number (it never reads the logs), so Keras keeps dispatching batches asynchronously.

Endings: ``fit`` returned -> done, or "Stopped early at epoch k" when ``stop_training`` was set
before the last epoch (``EarlyStopping``). Keras has no exception hook, so when ``fit`` raises:

- uncaught in a script, the exception reaches ``sys.excepthook`` and the activity ends failed
  (cancelled for Ctrl-C) at exit, not "Stopped at 0%";
- in a notebook, livebar's cell hook ends it failed or cancelled right after the cell;
- caught by your own code: use the callback as a context manager,
  ``with LivebarCallback() as cb: model.fit(..., callbacks=[cb])``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import keras

from livebar._activity import LiveActivity, checked_options, live_activity
from livebar._integrations.training import (
    CallbackEndings,
    epoch_text,
    metrics_text,
    stopped_early_text,
    subtitle,
)

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from livebar._job.options import IntegrationOptions

__all__ = ["LivebarCallback"]


class LivebarCallback(keras.callbacks.Callback, CallbackEndings):  # type: ignore[misc]
    """Mirror ``model.fit`` to a Live Activity.

    ``title`` defaults to "Training <model name>"; ``metrics`` names the logged values shown
    in the subtitle (default: the losses). Other keywords go to ``livebar.live_activity``.
    """

    async_safe = True

    def __init__(
        self,
        title: str | None = None,
        *,
        metrics: Sequence[str] | None = None,
        **options: Unpack[IntegrationOptions],
    ) -> None:
        super().__init__()
        self.title = title
        self.metrics = tuple(metrics) if metrics is not None else None
        self.options = checked_options(options)
        self._activity: LiveActivity | None = None
        self._epochs: int | None = None
        self._steps: int | None = None
        self._epoch = 0
        self._done_before_epoch = 0
        self._metrics_text = ""

    def on_train_begin(self, logs: Any = None) -> None:
        params = self.params or {}
        self._epochs = params.get("epochs")
        self._steps = params.get("steps")
        total = self._epochs * self._steps if self._epochs and self._steps else None
        name = getattr(self.model, "name", None) or "model"
        activity = live_activity(self.title or f"Training {name}", total=total, **self.options)
        activity.start()
        self._activity = activity
        self._done_before_epoch = 0
        self._metrics_text = ""

    def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
        self._epoch = epoch
        if self._steps:
            self._done_before_epoch = epoch * self._steps
        activity = self._activity
        if activity is not None and not activity.closed:
            activity.update(self._done_before_epoch, subtitle=self._epoch_text(epoch))

    def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
        activity = self._activity
        if activity is not None:
            activity.update(self._done_before_epoch + batch + 1)

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        activity = self._activity
        if activity is None or activity.closed:
            return
        if not self._steps:  # unknown length: count the batches this epoch ran
            self._done_before_epoch = int(activity.count)
        self._metrics_text = metrics_text(logs or {}, self.metrics)
        activity.update(subtitle=self._epoch_text(epoch))

    def on_train_end(self, logs: Any = None) -> None:
        activity = self._activity
        if activity is None or activity.closed:
            return
        last_epoch = self._epoch + 1
        if getattr(self.model, "stop_training", False) and last_epoch < (self._epochs or 0):
            activity.close(outcome="stopped", subtitle=stopped_early_text(last_epoch))
        else:
            activity.close()

    def _epoch_text(self, epoch: int) -> str:
        return subtitle(epoch_text(epoch + 1, self._epochs), self._metrics_text)
