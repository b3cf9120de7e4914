"""livebar.keras.LivebarCallback on Keras 3 (torch backend): progress, losses, endings."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from typing import Any

import keras
import numpy as np
import pytest
from phone import only_activity, opts, subtitles

from livebar.keras import LivebarCallback

assert "torch" == keras.backend.backend()


class Slow(keras.callbacks.Callback):
    """Makes each batch take a little while, so updates reach the phone during the run."""

    def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
        import time

        time.sleep(0.04)


class FailAt(keras.callbacks.Callback):
    """Raises in the middle of training, as a bad batch would."""

    def __init__(self, batch: int) -> None:
        super().__init__()
        self.at = batch

    def on_train_batch_begin(self, batch: int, logs: Any = None) -> None:
        if batch == self.at:
            raise ArithmeticError("bad batch")


def model() -> keras.Model:
    keras.utils.set_random_seed(0)
    m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, "relu"), keras.layers.Dense(1)])
    m.compile(optimizer="sgd", loss="mse")
    return m


def data(n: int = 64) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.normal(size=(n, 4)).astype("float32"), rng.normal(size=(n, 1)).astype("float32")


def test_fit_is_done_at_epochs_times_steps_with_losses(sim: Any) -> None:
    """3 epochs x 8 steps: total 24, done at 100%, the subtitle showed the epoch and losses."""
    x, y = data()
    callback = LivebarCallback(**opts(sim))
    model().fit(
        x, y, batch_size=8, epochs=3, validation_split=0.25, verbose=0, callbacks=[callback, Slow()]
    )
    assert 18 == callback.activity.total  # 48 training rows / 8 x 3 epochs
    activity = only_activity(sim)
    assert (100, "ended") == (activity["displayed"]["percentage"], activity["state"])
    assert activity["displayed"]["subtitle"].startswith("Done in")
    shown = subtitles(activity)
    assert any("Epoch " in s and "val_loss " in s for s in shown), shown


def test_the_callback_keeps_keras_async_dispatch(sim: Any) -> None:
    """async_safe: Keras keeps async batch dispatch with our callback, and drops it for Slow."""
    ours = keras.callbacks.CallbackList([LivebarCallback(**opts(sim))], model=model())
    plain = keras.callbacks.CallbackList([Slow()], model=model())
    assert (True, False) == (ours._async_train, plain._async_train)


def test_early_stopping_says_stopped_early(sim: Any) -> None:
    """EarlyStopping after epoch 2 of 10: "Stopped early at epoch 2"."""
    x, y = data()
    stop = keras.callbacks.EarlyStopping(monitor="loss", patience=0, min_delta=1e9)
    model().fit(
        x, y, batch_size=8, epochs=10, verbose=0, callbacks=[stop, LivebarCallback(**opts(sim))]
    )
    displayed = only_activity(sim)["displayed"]
    assert "Stopped early at epoch 2" == displayed["subtitle"]
    assert 20 == displayed["percentage"]


def test_a_caught_fit_failure_ends_failed_with_the_context_manager(sim: Any) -> None:
    """fit raising inside ``with callback:`` ends failed with the exception, never "Stopped"."""
    x, y = data()
    with pytest.raises(ArithmeticError), LivebarCallback(**opts(sim)) as callback:
        model().fit(x, y, batch_size=8, epochs=2, verbose=0, callbacks=[callback, FailAt(3)])
    displayed = only_activity(sim)["displayed"]
    assert "ArithmeticError: bad batch" in displayed["subtitle"]
    assert "red" == displayed["color"]


UNCAUGHT = textwrap.dedent(
    """
    import os, sys
    sys.path.insert(0, {here!r})
    os.environ["KERAS_BACKEND"] = "torch"
    from test_keras import FailAt, data, model
    from livebar.keras import LivebarCallback
    x, y = data()
    model().fit(x, y, batch_size=8, epochs=2, verbose=0,
                callbacks=[LivebarCallback(title="Crashing fit"), FailAt(3)])
    """
)


def test_an_uncaught_fit_failure_ends_failed_not_stopped(sim: Any) -> None:
    """A script whose fit raises: the phone says failed with the error (tqdm says Stopped)."""
    here = os.path.dirname(os.path.abspath(__file__))
    env = {**os.environ, **sim.env()}
    proc = subprocess.run(
        [sys.executable, "-c", UNCAUGHT.format(here=here)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert 1 == proc.returncode
    assert "ArithmeticError: bad batch" in proc.stderr
    displayed = only_activity(sim)["displayed"]
    assert "Failed: ArithmeticError: bad batch" == displayed["subtitle"]
