"""The checkpoint contract: what a checkpoint of ``fer.train`` holds and how it is read back.

A checkpoint is Lightning's, loaded with ``weights_only=True`` (plain containers and tensors,
never code). Its ``hyper_parameters`` hold the classes and the complete config sections the
model was trained with (``backbone``, ``optim``, ``finetune``, ``loss``, ``data``, ``tta``,
...), so the model, its classes, its preprocessing and its dataset are rebuilt from the file
alone; ``callbacks.RunReport`` holds the run's record (history, training time, metadata).
Every entry point (eval, predict, export, explain) and the runtimes load through here.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import torch

from fer.config import DataConfig, FullFrameDataConfig
from fer.data.datamodule import FERDataModule, build_datamodule
from fer.models.classifier import EmotionClassifier

RETIRED_DATA_KEYS = (
    "cache_dir",
)  # data keys of checkpoints written before fer/config.py (now paths.cache_dir)


def read(path: str | Path) -> dict:
    """The raw checkpoint, refused unless it is a file that fer.train wrote."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"ckpt={path}: no such checkpoint file (expected a .ckpt written by fer.train)"
        )
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    if "hyper_parameters" not in checkpoint or "classes" not in checkpoint["hyper_parameters"]:
        raise ValueError(f"ckpt={path}: not a fer checkpoint (no classes among its hyperparameters)")
    return checkpoint


def load_classifier(path: str | Path) -> tuple[EmotionClassifier, dict]:
    """The model of a checkpoint (its own weights, no pretrained-weight download) and the raw checkpoint."""
    checkpoint = read(path)
    model = EmotionClassifier.load_from_checkpoint(
        path, map_location="cpu", load_weights=False, weights_only=True
    )
    return model, checkpoint


def data_section(hparams: Mapping, data: Mapping | None = None) -> dict:
    """The data section to evaluate on: ``data`` when given, else the checkpoint's own; over its classes."""
    section = {
        k: v
        for k, v in dict(data if data is not None else hparams["data"]).items()
        if k not in RETIRED_DATA_KEYS
    }
    section["classes"] = list(hparams["classes"])
    return section


def checkpoint_datamodule(
    hparams: Mapping, data: Mapping | None, seed: int, cache_dir: str | None
) -> FERDataModule:
    """The checkpoint's dataset (or ``data``) over its classes, at its input size, not augmented."""
    return build_datamodule(
        data_section(hparams, data), hparams["backbone"]["input_size"], [], seed, cache_dir
    )


def preprocessing(hparams: Mapping) -> dict:
    """What a deployed model needs to prepare a face, from a checkpoint's hyperparameters."""
    backbone = hparams["backbone"]
    data = hparams.get("data") or {}
    return {
        "classes": list(hparams["classes"]),
        "image_size": int(data.get("image_size", DataConfig.image_size)),
        "face_margin": float(data.get("face_margin", FullFrameDataConfig.face_margin)),
        "input_size": int(backbone["input_size"]),
        "in_chans": int(backbone["in_chans"]),
        "input": "uint8 grey (B, 1, input_size, input_size); the model scales, repeats channels, normalises",
        "mean": list(backbone.get("mean") or []),
        "std": list(backbone.get("std") or []),
        "backbone": backbone["name"],
    }
