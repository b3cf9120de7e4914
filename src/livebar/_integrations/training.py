"""What the training callbacks (Lightning, Keras, transformers) share: metrics text, endings.

Framework-free: numbers may be Python floats, NumPy scalars or tensors (anything with
``item()``); nothing here imports a framework.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any

from livebar._activity import LiveActivity

__all__ = ["CallbackEndings", "epoch_text", "metrics_text", "stopped_early_text"]

MAX_DEFAULT_METRICS = 3
"""With no ``metrics=``, the subtitle shows at most this many losses."""
SEPARATOR = " · "


def as_number(value: Any) -> float | None:
    """A finite float from a float, an int, a NumPy scalar or a one-element tensor; else None."""
    if isinstance(value, bool):
        return None
    if not isinstance(value, (int, float)):
        item = getattr(value, "item", None)
        if item is None:
            return None
        try:
            value = item()
        except Exception:  # a tensor with more than one element, or on a lost device
            return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def chosen_metrics(values: Mapping[str, Any], names: Sequence[str] | None) -> list[str]:
    """``names`` if given, else every key with "loss" in it (training first), at most three."""
    if names is not None:
        return list(names)
    losses = [key for key in values if "loss" in key]
    losses.sort(key=lambda key: (key.startswith(("val", "eval", "test")), key))
    return losses[:MAX_DEFAULT_METRICS]


def metrics_text(values: Mapping[str, Any], names: Sequence[str] | None = None) -> str:
    """``loss 0.4123 · val_loss 0.398`` (4 significant digits; missing names are skipped)."""
    parts = []
    for name in chosen_metrics(values, names):
        number = as_number(values.get(name))
        if number is not None:
            parts.append(f"{name} {number:.4g}")
    return SEPARATOR.join(parts)


def epoch_text(epoch: int, epochs: int | None) -> str:
    """``Epoch 3/10`` (1-based ``epoch``); ``Epoch 3`` when the run has no fixed length."""
    if epochs is not None and epochs > 0:
        return f"Epoch {epoch}/{epochs}"
    return f"Epoch {epoch}"


def subtitle(*parts: str) -> str:
    return SEPARATOR.join(part for part in parts if part)


def stopped_early_text(epoch: int) -> str:
    return f"Stopped early at epoch {epoch}"


class CallbackEndings:
    """Lets a callback be used as ``with callback: trainer.train()``.

    Frameworks without an exception hook never tell a callback that training raised; leaving
    the block with an exception ends the callback's activity the way ``live_activity`` does
    (cancelled for Ctrl-C and SIGTERM, failed otherwise). The exception propagates unchanged.
    """

    _activity: LiveActivity | None = None

    @property
    def activity(self) -> LiveActivity | None:
        """The activity of the current (or last) run; None before one started or off-rank."""
        return self._activity

    def __enter__(self) -> Any:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        activity = self._activity
        if activity is not None and not activity.closed and exc is not None:
            activity.close(exc)
