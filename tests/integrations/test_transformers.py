"""livebar.transformers.LivebarCallback on a real Trainer with a tiny BERT, offline."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from phone import only_activity, opts, subtitles
from tiny_bert import RaiseAt, Slow, StopAt, trainer

from livebar.transformers import LivebarCallback

HERE = Path(__file__).resolve().parent


def test_train_is_done_at_max_steps_with_the_loss(sim: Any, tmp_path: Path) -> None:
    """2 epochs of 4 steps: total 8, done at 100%; the subtitle showed the epoch and loss."""
    callback = LivebarCallback(**opts(sim))
    trainer(str(tmp_path), [callback, Slow()]).train()
    assert 8 == callback.activity.total
    activity = only_activity(sim)
    assert ("Training BertForSequenceClassification", 100, "ended") == (
        activity["displayed"]["title"],
        activity["displayed"]["percentage"],
        activity["state"],
    )
    assert activity["displayed"]["subtitle"].startswith("Done in")
    shown = subtitles(activity)
    assert any(s.startswith("Epoch ") and "loss " in s for s in shown), shown
    assert callback.activity.subtitle.startswith("Epoch 2/2 · loss ")
    assert "eval_loss " in callback.activity.subtitle


def test_stopping_before_max_steps_says_stopped_early(sim: Any, tmp_path: Path) -> None:
    """should_training_stop at step 3 of 8: "Stopped early at epoch 1"."""
    trainer(str(tmp_path), [StopAt(3), LivebarCallback(**opts(sim))]).train()
    displayed = only_activity(sim)["displayed"]
    assert "Stopped early at epoch 1" == displayed["subtitle"]
    assert 37.5 == displayed["percentage"]


def test_a_failure_inside_the_wrapper_ends_failed(sim: Any, tmp_path: Path) -> None:
    """train() raising inside ``with callback:`` ends failed with the error and re-raises it."""
    callback = LivebarCallback(**opts(sim))
    job = trainer(str(tmp_path), [callback, RaiseAt(2, MemoryError("CUDA out of memory"))])
    with pytest.raises(MemoryError), callback:
        job.train()
    displayed = only_activity(sim)["displayed"]
    assert "MemoryError: CUDA out of memory" in displayed["subtitle"]
    assert "red" == displayed["color"]


def test_an_uncaught_ctrl_c_ends_cancelled(sim: Any, tmp_path: Path) -> None:
    """A script whose train() dies of Ctrl-C: Cancelled at exit (no wrapper needed)."""
    env = {**os.environ, **sim.env(), "PYTHONPATH": str(HERE)}
    proc = subprocess.run(
        [sys.executable, str(HERE / "tiny_bert.py"), str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "KeyboardInterrupt" in proc.stderr
    displayed = only_activity(sim)["displayed"]
    assert displayed["subtitle"].startswith("Cancelled"), displayed
    assert "gray" == displayed["color"]
