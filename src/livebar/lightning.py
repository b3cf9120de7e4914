"""PyTorch Lightning: ``Trainer(callbacks=[livebar.lightning.LivebarCallback()])``.

A plain ``Callback`` (Lightning allows one progress-bar callback; this keeps its own bar). On
the global rank 0 only, it mirrors the run to one Live Activity:

- total: ``trainer.estimated_stepping_batches`` (optimizer steps); progress: ``global_step``.
  An infinite run (``max_steps=-1`` with an endless loader) shows the count and the rate;
- subtitle: ``Epoch 2/10 · loss 0.412 · val_loss 0.398`` (the ``metrics=`` names, default the
  losses), refreshed at every epoch and validation end and at most every ``refresh`` seconds;
- endings, from Lightning's own ``on_exception`` hook: Ctrl-C -> cancelled (Lightning then
  turns it into ``SystemExit(1)``: the phone still says Cancelled), SIGTERM -> cancelled, any
  other exception -> failed, ``trainer.should_stop`` before the last epoch (``EarlyStopping``)
  -> "Stopped early at epoch k", otherwise done.

SIGTERM: while ``fit`` runs, Lightning owns the signal (its handler is installed after
livebar's and chains it). livebar then only notes that the job was asked to stop; Lightning
records it, kills its launched ranks and raises ``SIGTERMException`` at the next step (so a
step or a checkpoint is never cut in half), which this callback ends as cancelled.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import lightning.pytorch as pl
from lightning.pytorch.utilities.exceptions import (
    SIGTERMException,
)

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

__all__ = ["DEFAULT_REFRESH", "LivebarCallback"]

DEFAULT_REFRESH = 10.0
"""Seconds between two readings of the metrics during an epoch (reading a GPU metric syncs)."""


class LivebarCallback(pl.Callback, CallbackEndings):  # type: ignore[misc]
    """Mirror ``trainer.fit`` to a Live Activity.

    ``title`` defaults to "Training <ModuleName>"; ``metrics`` names the logged values shown in
    the subtitle (default: the losses); ``refresh`` is how often, in seconds, they are read
    during an epoch. Other keywords go to ``livebar.live_activity`` (``color=``, ``icon=``,
    ``ranks="all"`` to mirror every rank, ...).
    """

    def __init__(
        self,
        title: str | None = None,
        *,
        metrics: Sequence[str] | None = None,
        refresh: float = DEFAULT_REFRESH,
        **options: Unpack[IntegrationOptions],
    ) -> None:
        super().__init__()
        self.title = title
        self.metrics = tuple(metrics) if metrics is not None else None
        self.refresh = refresh
        self.options = checked_options(options)
        self._activity: LiveActivity | None = None
        self._next_refresh = 0.0

    # -- start and progress ---------------------------------------------------------------------

    def on_train_start(self, trainer: Any, pl_module: Any) -> None:
        if not (trainer.is_global_zero or self.options.get("ranks") == "all"):
            return
        total = _finite(trainer.estimated_stepping_batches)
        title = self.title or f"Training {type(pl_module).__name__}"
        activity = live_activity(title, total=total, **self.options)
        activity.start()
        activity.update(trainer.global_step, subtitle=self._subtitle(trainer))
        self._activity = activity
        self._next_refresh = time.monotonic() + self.refresh

    def on_train_batch_end(
        self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        activity = self._activity
        if activity is None or activity.closed:
            return
        activity.update(trainer.global_step)
        now = time.monotonic()
        if now >= self._next_refresh:
            self._next_refresh = now + self.refresh
            activity.update(subtitle=self._subtitle(trainer))

    def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        self._refresh(trainer)

    def on_validation_end(self, trainer: Any, pl_module: Any) -> None:
        if not trainer.sanity_checking:
            self._refresh(trainer)

    def _refresh(self, trainer: Any) -> None:
        activity = self._activity
        if activity is not None and not activity.closed:
            activity.update(trainer.global_step, subtitle=self._subtitle(trainer))

    def _subtitle(self, trainer: Any) -> str:
        epochs = trainer.max_epochs if trainer.max_epochs and trainer.max_epochs > 0 else None
        epoch = min(trainer.current_epoch + 1, epochs or trainer.current_epoch + 1)
        return subtitle(
            epoch_text(epoch, epochs), metrics_text(trainer.callback_metrics, self.metrics)
        )

    # -- endings --------------------------------------------------------------------------------

    def on_train_end(self, trainer: Any, pl_module: Any) -> None:
        activity = self._activity
        if activity is None or activity.closed:
            return
        activity.update(trainer.global_step, subtitle=self._subtitle(trainer))
        epochs = trainer.max_epochs if trainer.max_epochs and trainer.max_epochs > 0 else None
        reached_the_end = epochs is not None and trainer.current_epoch >= epochs
        if trainer.should_stop and not reached_the_end and not _all_steps_done(trainer):
            activity.close(outcome="stopped", subtitle=stopped_early_text(trainer.current_epoch))
        else:
            activity.close()

    def on_exception(self, trainer: Any, pl_module: Any, exception: BaseException) -> None:
        activity = self._activity
        if activity is None or activity.closed:
            return
        activity.update(trainer.global_step)
        if isinstance(exception, SIGTERMException):  # a SystemExit with no code: not "done"
            activity.close(exception, outcome="cancelled")
        else:
            activity.close(exception)  # KeyboardInterrupt -> cancelled, others -> failed

    def teardown(self, trainer: Any, pl_module: Any, stage: str) -> None:
        activity = self._activity
        if activity is not None and not activity.closed and stage == "fit":
            activity.close()  # fit returned without on_train_end (nothing left to train)


def _finite(total: Any) -> float | None:
    try:
        number = float(total)
    except (TypeError, ValueError):
        return None
    return number if 0 < number < float("inf") else None


def _all_steps_done(trainer: Any) -> bool:
    total = _finite(trainer.estimated_stepping_batches)
    return total is not None and trainer.global_step >= total
