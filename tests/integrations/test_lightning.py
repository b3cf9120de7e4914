"""livebar.lightning.LivebarCallback on a real Trainer: progress, metrics, every ending."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import torch
from lightning.pytorch.callbacks import EarlyStopping
from phone import only_activity, opts, subtitles
from tiny_lightning import Tiny, loader, trainer

import livebar
from livebar.lightning import LivebarCallback

HERE = Path(__file__).resolve().parent


def test_a_finished_fit_is_done_with_epochs_and_losses(sim: Any) -> None:
    """3 epochs of 8 steps: total 24, done at 100%, the last subtitle had epoch and losses."""
    torch.manual_seed(0)
    callback = LivebarCallback(refresh=0.1, **opts(sim))
    trainer([callback]).fit(Tiny(step_time=0.05), loader(), loader(16))
    activity = only_activity(sim)
    assert ("Training Tiny", 100, "ended") == (
        activity["displayed"]["title"],
        activity["displayed"]["percentage"],
        activity["state"],
    )
    assert activity["displayed"]["subtitle"].startswith("Done in")
    assert 24 == callback.activity.total
    shown = subtitles(activity)
    assert any(s.startswith("Epoch ") and "loss " in s for s in shown), shown
    assert 0 == activity["warnings"]
    assert len(sim.requests()) <= 14  # start + the 12 quick updates iOS allows + end, at most


def test_an_exception_in_training_fails_with_its_text(sim: Any) -> None:
    """A training_step that raises: failed, red, the exception's text; it propagates unchanged."""
    with pytest.raises(FloatingPointError, match="loss is NaN"):
        trainer([LivebarCallback(**opts(sim))]).fit(Tiny(fail_at=5), loader(), loader(16))
    displayed = only_activity(sim)["displayed"]
    assert "red" == displayed["color"]
    assert "FloatingPointError: loss is NaN" in displayed["subtitle"]


def test_early_stopping_says_stopped_early_at_its_epoch(sim: Any) -> None:
    """EarlyStopping that stops at epoch 2 of 10: "Stopped early at epoch 2", not done."""
    stop = EarlyStopping(monitor="val_loss", patience=0, min_delta=1e9, mode="min")
    fit = trainer([stop, LivebarCallback(**opts(sim))], max_epochs=10)
    fit.fit(Tiny(), loader(), loader(16))
    displayed = only_activity(sim)["displayed"]
    assert f"Stopped early at epoch {fit.current_epoch}" == displayed["subtitle"]
    assert 2 == fit.current_epoch
    assert displayed["percentage"] < 100


def test_an_endless_run_shows_a_count_and_a_rate(sim: Any) -> None:
    """max_steps=-1 over an infinite loader: no percentage that would lie, a count instead."""
    from torch.utils.data import IterableDataset

    class Endless(IterableDataset):  # type: ignore[type-arg]
        def __iter__(self) -> Any:
            while True:
                yield torch.randn(4), torch.randn(1)

    from torch.utils.data import DataLoader

    callback = LivebarCallback(**opts(sim))
    fit = trainer([callback], max_epochs=-1, max_steps=-1, max_time={"seconds": 1})
    fit.fit(Tiny(), DataLoader(Endless(), batch_size=8), loader(16))
    assert callback.activity.total is None
    displayed = only_activity(sim)["displayed"]
    assert "metrics" == displayed["type"]
    assert "Done" == displayed["metrics"][0]["label"]


def run_and_signal(sim: Any, sig: int, *extra: str) -> tuple[subprocess.CompletedProcess[str], Any]:
    """Run tiny_lightning.py in a subprocess, signal it while it trains, return what it did."""
    env = {**os.environ, **sim.env(), "PYTHONPATH": str(HERE)}
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "tiny_lightning.py"), "6", *extra],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert "paused" == line.strip(), proc.stderr.read() if proc.stderr else ""
    deadline = time.monotonic() + 10
    while not any(a["title"] == "Preemptible" for a in sim.activities()):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    livebar.flush(5)
    [activity] = [a for a in sim.activities() if a["title"] == "Preemptible"]
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err), activity


def test_ctrl_c_says_cancelled_despite_lightnings_systemexit(sim: Any) -> None:
    """SIGINT mid-fit: Lightning exits with 1 (SystemExit), the phone says Cancelled."""
    proc, activity = run_and_signal(sim, signal.SIGINT)
    assert 1 == proc.returncode, proc.stderr
    assert activity["displayed"]["subtitle"].startswith("Cancelled"), activity["displayed"]
    assert "gray" == activity["displayed"]["color"]


@pytest.mark.parametrize("order", ["lightning-only", "livebar-first"])
def test_sigterm_during_fit_ends_cancelled(sim: Any, order: str) -> None:
    """A preempted job (SIGTERM) ends Cancelled; Lightning, which owns SIGTERM during fit,
    stops it at the next step (SIGTERMException), whenever livebar's engine started."""
    extra = ("livebar-first",) if order == "livebar-first" else ()
    proc, activity = run_and_signal(sim, signal.SIGTERM, *extra)
    assert "ended by SIGTERMException" in proc.stdout, proc.stderr
    assert activity["displayed"]["subtitle"].startswith("Cancelled"), activity["displayed"]
    assert 0 < activity["displayed"]["percentage"] < 100
