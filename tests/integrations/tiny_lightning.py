"""A two-layer Lightning module and a run() the tests (and their subprocesses) share."""

from __future__ import annotations

import os
import sys
import time
from typing import Any

import lightning.pytorch as pl
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from livebar.lightning import LivebarCallback


class Tiny(pl.LightningModule):
    """Linear -> ReLU -> Linear on random data; can fail, or wait, at a given step."""

    def __init__(
        self,
        fail_at: int | None = None,
        pause_at: int | None = None,
        step_time: float = 0.0,
    ) -> None:
        super().__init__()
        self.step_time = step_time
        self.net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
        self.fail_at = fail_at
        self.pause_at = pause_at

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        if self.fail_at is not None and self.global_step == self.fail_at:
            raise FloatingPointError("loss is NaN")
        if self.pause_at is not None and self.global_step == self.pause_at:
            print("paused", flush=True)
            for _ in range(300):  # the test signals us here; a preempted step then finishes
                if self.trainer.received_sigterm:
                    break
                time.sleep(0.1)
        time.sleep(self.step_time)
        x, y = batch
        loss = nn.functional.mse_loss(self.net(x), y)
        self.log("loss", loss)
        return loss

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        x, y = batch
        self.log("val_loss", nn.functional.mse_loss(self.net(x), y))

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.05)


def loader(n: int = 64) -> DataLoader[Any]:
    generator = torch.Generator().manual_seed(0)
    data = TensorDataset(torch.randn(n, 4, generator=generator), torch.randn(n, 1))
    return DataLoader(data, batch_size=8)


def trainer(callbacks: list[Any], **options: Any) -> pl.Trainer:
    settings: dict[str, Any] = {
        "max_epochs": 3,
        "accelerator": "cpu",
        "devices": 1,
        "logger": False,
        "enable_checkpointing": False,
        "enable_progress_bar": False,
        "enable_model_summary": False,
        "num_sanity_val_steps": 0,
    }
    settings.update(options)
    return pl.Trainer(callbacks=callbacks, **settings)


def main() -> None:
    """Subprocess entry: ``python tiny_lightning.py pause_at [livebar-first]``."""
    torch.manual_seed(0)
    if len(sys.argv) > 2 and sys.argv[2] == "livebar-first":
        import livebar

        with livebar.live_activity("Warm-up"):
            pass  # livebar's SIGTERM handler is installed before fit
    model = Tiny(pause_at=int(sys.argv[1]))
    fit = trainer([LivebarCallback(title="Preemptible")], max_epochs=5)
    try:
        fit.fit(model, loader(), loader(16))
    except BaseException as exc:
        print("ended by", type(exc).__name__, flush=True)
        raise
    finally:
        print("exit", os.getpid(), flush=True)


if __name__ == "__main__":
    main()
