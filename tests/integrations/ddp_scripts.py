"""Scripts run under torchrun / Lightning DDP by test_distributed.py (``python -m`` style)."""

from __future__ import annotations

import sys
import time


def torchrun_job() -> None:
    """Every rank runs the same loops: one before the process group exists, one after."""
    import torch.distributed as dist

    from livebar import tqdm

    for _ in tqdm(range(10), desc="Before init"):
        time.sleep(0.01)
    dist.init_process_group("gloo")
    for _ in tqdm(range(10), desc="After init"):
        time.sleep(0.01)
    dist.barrier()
    dist.destroy_process_group()


def lightning_ddp_job() -> None:
    """A 2-process DDP fit on CPU (gloo), with the callback on every rank."""
    from tiny_lightning import Tiny, loader, trainer

    from livebar.lightning import LivebarCallback

    fit = trainer(
        [LivebarCallback(title="DDP fit")],
        strategy="ddp",
        devices=2,
        max_epochs=2,
    )
    fit.fit(Tiny(), loader(), loader(16))


if __name__ == "__main__":
    {"torchrun": torchrun_job, "lightning": lightning_ddp_job}[sys.argv[1]]()
