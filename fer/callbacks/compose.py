"""The callbacks of a run: the ``callbacks`` config's entries (``_target_`` and arguments, in their
order), then what every run has: ``last.ckpt``, the run's records, the stop at a non-finite loss,
the progress display and, for video frames, clip accuracy."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path

from hydra.utils import instantiate
from lightning.pytorch.callbacks import TQDMProgressBar

from fer.callbacks.checkpoints import LastCheckpoint
from fer.callbacks.clip_accuracy import ClipAccuracy
from fer.callbacks.finite_loss import FiniteLoss
from fer.callbacks.progress import PlainProgress
from fer.callbacks.run_record import RunRecord
from fer.data.pipeline import Splits

PROGRESS = ("auto", "bar", "plain")  # callbacks.progress
RENAMED = {  # keys of callbacks before its entries named their classes: what to type now
    "weight_averaging": "callbacks/weight_averaging=ema|swa",
    "ema_decay": "callbacks/weight_averaging=ema callbacks.weight_averaging.decay=...",
    "swa_lr": "callbacks/weight_averaging=swa callbacks.weight_averaging.swa_lrs=...",
    "swa_epoch_start": "callbacks/weight_averaging=swa callbacks.weight_averaging.swa_epoch_start=...",
    "lr_monitor": "callbacks.lr_monitor=null to drop it",
}


def show_bar(progress: str) -> bool:
    """Whether to draw a progress bar: ``auto`` draws one only on a terminal."""
    if progress not in PROGRESS:
        raise ValueError(f"callbacks.progress={progress!r}: expected one of {', '.join(PROGRESS)}")
    return progress == "bar" or (progress == "auto" and sys.stdout.isatty())


def configured(cfg: Mapping) -> list:
    """The callbacks the config's entries name; an entry that is not a callback spec (an old key such as
    ``callbacks.weight_averaging=ema``) is refused by name."""
    made = []
    for name, spec in cfg.items():
        if name == "progress" or spec is None:
            continue
        if not isinstance(spec, Mapping) or "_target_" not in spec:
            hint = f"; renamed: use {RENAMED[name]}" if name in RENAMED else ""
            raise ValueError(
                f"callbacks.{name}={spec!r}: each callbacks entry is a callback (_target_ and its arguments) "
                f"or null{hint}"
            )
        made.append(instantiate(spec))
    return made


def build_callbacks(cfg: Mapping, run_dir: Path, meta: dict, splits: Splits) -> list:
    groups = splits.group_of("test")
    return [
        *configured(cfg),
        LastCheckpoint(run_dir / "checkpoints"),
        RunRecord(run_dir, meta),
        FiniteLoss(),
        TQDMProgressBar() if show_bar(cfg["progress"]) else PlainProgress(),
        *([] if groups is None else [ClipAccuracy(groups)]),
    ]
