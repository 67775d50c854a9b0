"""Callbacks from the ``callbacks`` config group."""

from __future__ import annotations

import sys
from pathlib import Path

from lightning.pytorch.callbacks import (
    EarlyStopping,
    LearningRateMonitor,
    ModelCheckpoint,
    StochasticWeightAveraging,
    TQDMProgressBar,
)
from omegaconf import DictConfig

from fer.callbacks.ema import EMA
from fer.callbacks.finite_loss import FiniteLoss
from fer.callbacks.progress import PlainProgress
from fer.callbacks.run_report import RunReport


def show_bar(progress: str) -> bool:
    """Whether to draw a progress bar (auto | bar | plain, checked by fer/config.py): ``auto`` draws one
    only on a terminal."""
    return progress == "bar" or (progress == "auto" and sys.stdout.isatty())


def build_callbacks(cfg: DictConfig, run_dir: Path, meta: dict, with_loggers: bool, validates: bool) -> list:
    """``validates`` false (no validation split): best.ckpt holds the latest epoch (its monitor is
    the epoch), and early stopping, which watches a validation metric, is refused."""
    if not validates and cfg.early_stopping.enabled:
        raise ValueError(
            f"callbacks.early_stopping.enabled=true watches {cfg.checkpoint.monitor}, and "
            "data.val_fraction=0 leaves no validation split: disable one of them"
        )
    callbacks = [
        ModelCheckpoint(  # first: trainer.checkpoint_callback, what test(ckpt_path="best") reads
            dirpath=run_dir / "checkpoints",
            filename="best",
            monitor=cfg.checkpoint.monitor if validates else "epoch",
            mode=cfg.checkpoint.mode if validates else "max",
            save_top_k=1,
            auto_insert_metric_name=False,
            enable_version_counter=False,
        ),
        ModelCheckpoint(  # last.ckpt after every epoch (Lightning's save_last waits for an improvement)
            dirpath=run_dir / "checkpoints",
            filename="last",
            monitor=None,
            save_top_k=1,
            auto_insert_metric_name=False,
            enable_version_counter=False,
        ),
        RunReport(run_dir, meta),
        FiniteLoss(),
        TQDMProgressBar() if show_bar(cfg.progress) else PlainProgress(),
    ]
    if cfg.early_stopping.enabled:
        callbacks.append(
            EarlyStopping(
                monitor=cfg.checkpoint.monitor, mode=cfg.checkpoint.mode, patience=cfg.early_stopping.patience
            )
        )
    if cfg.weight_averaging == "ema":
        callbacks.append(EMA(decay=cfg.ema_decay))
    elif cfg.weight_averaging == "swa":
        callbacks.append(StochasticWeightAveraging(swa_lrs=cfg.swa_lr, swa_epoch_start=cfg.swa_epoch_start))
    elif cfg.weight_averaging != "none":
        raise ValueError(f"callbacks.weight_averaging={cfg.weight_averaging!r}: expected none, ema or swa")
    if cfg.lr_monitor and with_loggers:
        callbacks.append(LearningRateMonitor(logging_interval="epoch"))
    return callbacks
