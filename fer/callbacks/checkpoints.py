"""The run's two checkpoints: ``best.ckpt`` (the ``callbacks.checkpoint`` entry) and ``last.ckpt``.

Both are written through :class:`fer.run.checkpoint.AtomicCheckpointIO`. Without a validation split
(``data.val_fraction=0``: the trainer skips validation) there is nothing to choose by, and
``best.ckpt`` holds the latest epoch.
"""

from __future__ import annotations

import logging
from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.callbacks import ModelCheckpoint

log = logging.getLogger(__name__)


class BestCheckpoint(ModelCheckpoint):
    """``<dirpath>/best.ckpt``: the epoch with the best ``monitor`` (``mode``: max or min)."""

    def __init__(self, dirpath: str | Path, monitor: str = "val/acc", mode: str = "max"):
        super().__init__(
            dirpath=dirpath,
            filename="best",
            monitor=monitor,
            mode=mode,
            save_top_k=1,
            auto_insert_metric_name=False,
            enable_version_counter=False,
        )

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        if trainer.limit_val_batches == 0 and self.monitor != "epoch":  # no validation split
            log.info("no validation split: best.ckpt holds the latest epoch, not the best %s", self.monitor)
            self.monitor, self.mode, self.kth_value = "epoch", "max", torch.tensor(-torch.inf)
        super().setup(trainer, pl_module, stage)


class LastCheckpoint(ModelCheckpoint):
    """``<dirpath>/last.ckpt`` after every epoch (Lightning's ``save_last`` waits for an improvement):
    what ``resume=`` continues from."""

    def __init__(self, dirpath: str | Path):
        super().__init__(
            dirpath=dirpath,
            filename="last",
            monitor=None,
            save_top_k=1,
            auto_insert_metric_name=False,
            enable_version_counter=False,
        )
