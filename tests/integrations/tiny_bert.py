"""A 2-layer, hidden-32 BERT classifier and a Trainer around it, built in code (no hub)."""

from __future__ import annotations

import sys
from typing import Any

import torch
import transformers
from transformers import BertConfig, BertForSequenceClassification, Trainer, TrainingArguments


class Rows(torch.utils.data.Dataset):  # type: ignore[type-arg]
    """Random token ids with random labels."""

    def __init__(self, n: int) -> None:
        generator = torch.Generator().manual_seed(0)
        self.ids = torch.randint(0, 100, (n, 8), generator=generator)
        self.labels = torch.randint(0, 2, (n,), generator=generator)

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {
            "input_ids": self.ids[i],
            "attention_mask": torch.ones(8, dtype=torch.long),
            "labels": self.labels[i],
        }


class Slow(transformers.TrainerCallback):
    """Makes each step take a while, so updates reach the phone during the run."""

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        import time

        time.sleep(0.15)


class StopAt(transformers.TrainerCallback):
    """Asks the trainer to stop at a step, as EarlyStoppingCallback does."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if state.global_step == self.step:
            control.should_training_stop = True


class RaiseAt(transformers.TrainerCallback):
    """Raises at a step, as a bad batch or a Ctrl-C would."""

    def __init__(self, step: int, error: BaseException) -> None:
        self.step = step
        self.error = error

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if state.global_step == self.step:
            raise self.error


def trainer(output_dir: str, callbacks: list[Any], **options: Any) -> Trainer:
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=100,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=37,
        max_position_embeddings=16,
        num_labels=2,
    )
    settings: dict[str, Any] = {
        "output_dir": output_dir,
        "num_train_epochs": 2,
        "per_device_train_batch_size": 4,
        "per_device_eval_batch_size": 4,
        "logging_steps": 2,
        "eval_strategy": "epoch",
        "save_strategy": "no",
        "report_to": "none",
        "use_cpu": True,
        "disable_tqdm": True,
    }
    settings.update(options)
    return Trainer(
        model=BertForSequenceClassification(config),
        args=TrainingArguments(**settings),
        train_dataset=Rows(16),
        eval_dataset=Rows(8),
        callbacks=callbacks,
    )


def main() -> None:
    """Subprocess entry: ``python tiny_bert.py OUTPUT_DIR``: Ctrl-C (uncaught) at step 3."""
    from livebar.transformers import LivebarCallback

    trainer(
        sys.argv[1], [LivebarCallback(title="Interrupted BERT"), RaiseAt(3, KeyboardInterrupt())]
    ).train()


if __name__ == "__main__":
    main()
