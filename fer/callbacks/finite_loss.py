"""Stop a run whose training loss is no longer a number, naming the epoch.

A NaN or infinite loss (a zero distillation temperature, a learning rate far too high) would
otherwise train on to the end and be tested and recorded as if the run had finished.
"""

from __future__ import annotations

import math

import lightning as L


class NonFiniteLoss(ValueError):
    """The training loss became NaN or infinite."""


class FiniteLoss(L.Callback):
    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        loss = trainer.callback_metrics.get("train/loss")
        if loss is not None and not math.isfinite(float(loss)):
            raise NonFiniteLoss(
                f"the training loss was {float(loss)} in epoch {trainer.current_epoch + 1}: the run stopped "
                "there and was not tested (check the learning rate and the loss settings)"
            )
