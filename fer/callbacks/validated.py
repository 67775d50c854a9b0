"""Callbacks that watch validation metrics or loggers, refusing or standing down where there are none."""

from __future__ import annotations

import lightning as L
from lightning.pytorch.callbacks import EarlyStopping, LearningRateMonitor


class ValidatedEarlyStopping(EarlyStopping):
    """Lightning's early stopping, refused before training where there is no validation split to watch."""

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        if trainer.limit_val_batches == 0:
            raise ValueError(
                f"callbacks.early_stopping watches {self.monitor}, and data.val_fraction=0 leaves no "
                "validation split: drop one of them (callbacks=default)"
            )
        super().setup(trainer, pl_module, stage)


class LearningRates(LearningRateMonitor):
    """Each parameter group's learning rate, to the loggers; nothing where a run has none (logger=none)."""

    def on_train_start(self, trainer: L.Trainer, *args, **kwargs) -> None:
        if trainer.loggers:
            super().on_train_start(trainer, *args, **kwargs)

    def on_train_epoch_start(self, trainer: L.Trainer, *args, **kwargs) -> None:
        if trainer.loggers:
            super().on_train_epoch_start(trainer, *args, **kwargs)

    def on_train_batch_start(self, trainer: L.Trainer, *args, **kwargs) -> None:
        if trainer.loggers:
            super().on_train_batch_start(trainer, *args, **kwargs)
