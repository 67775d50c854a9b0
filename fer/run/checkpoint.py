"""The checkpoint contract: what a checkpoint of ``fer.train`` holds and how it is read back.

A checkpoint is Lightning's, loaded with ``weights_only=True`` (plain containers and tensors,
never code). Its ``hyper_parameters`` hold the classes and the complete config sections the
model was trained with (``backbone``, ``optim``, ``finetune``, ``loss``, ``data``, ``tta``,
...), so the model, its classes, its preprocessing and its dataset are rebuilt from the file
alone; ``callbacks.RunRecord`` holds the run's record (history, training time, metadata).
Every entry point (eval, predict, export, explain) and the runtimes load through here, and
training resumes through :func:`resume_checkpoint`.

Checkpoints are written by :class:`AtomicCheckpointIO`: into a temporary file beside the target
(the same filesystem), flushed to disk, then renamed over it, so a kill at any moment leaves the
old file or the new one, never a part of one; ``last.ckpt``'s previous version is kept as
``last.prev.ckpt``, for a resume whose checkpoint was damaged after it was written.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO

from fer.callbacks.run_record import RECORD_KEY
from fer.data.datamodule import FERDataModule
from fer.data.labels import canonical
from fer.data.pipeline import Splits, read_source
from fer.data.pipeline import split as split_data
from fer.data.registry import name_of_target
from fer.data.summary import split_digest
from fer.models.classifier import EmotionClassifier
from fer.run.atomic import atomic_write, partial_path
from fer.run.checkpoint_file import NotACheckpoint, read_checkpoint
from fer.run.config import DataConfig, FullFrameDataConfig

log = logging.getLogger(__name__)
RETIRED_DATA_KEYS = (
    "cache_dir",
)  # data keys of old checkpoints (before fer/run/config.py; now paths.cache_dir)
PREVIOUS_SUFFIX = ".prev.ckpt"  # last.ckpt's previous version: last.prev.ckpt


class SplitMismatch(ValueError):
    """A command rebuilt a run's dataset and got other test images than the run had."""


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning's checkpoint writer, made safe against kills on any filesystem (fer/run/atomic.py);
    ``last.ckpt``'s previous version is kept as ``last.prev.ckpt`` once the new one is written."""

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: str | Path, storage_options: Any = None
    ) -> None:
        path = Path(path)

        def keep_previous() -> None:  # last.ckpt's previous version, once the new one is whole on disk
            if path.name == "last.ckpt" and path.is_file():
                keep = partial_path(path.with_name(path.stem))
                keep.unlink(missing_ok=True)
                os.link(path, keep)
                os.replace(keep, path.with_name(path.stem + PREVIOUS_SUFFIX))

        atomic_write(path, lambda f: torch.save(checkpoint, f), before_replace=keep_previous)


def resume_checkpoint(path: str | None) -> str | None:
    """The checkpoint to continue from (``resume=``), loaded once to check it before any work starts.

    A damaged file (a full disk, a copy cut short) is named, with the previous good ``last`` where
    one was kept.
    """
    if path is None:
        return None
    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(
            f"resume={path}: no such file; expected a checkpoint written by fer.train, "
            "e.g. <run dir>/checkpoints/last.ckpt"
        )
    try:
        read(file, "resume")
    except NotACheckpoint as err:
        if not err.damaged:
            raise
        previous = file.with_name(file.stem + PREVIOUS_SUFFIX)
        hint = (
            f"resume={previous} continues from the epoch before"
            if _loads(previous)
            else "no earlier one was kept"
        )
        raise NotACheckpoint(f"resume={path}: the checkpoint is damaged (cut short); {hint}", True) from None
    return str(file)


def _loads(path: Path) -> bool:
    try:
        read(path)
    except (FileNotFoundError, NotACheckpoint, OSError):
        return False
    return True


def read(path: str | Path, key: str = "ckpt") -> dict:
    """The raw checkpoint, refused unless it is a file that fer.train wrote (``key``: the option that
    named it, for the message)."""
    return read_checkpoint(path, key)


def load_classifier(path: str | Path, **overrides) -> tuple[EmotionClassifier, dict]:
    """The model of a checkpoint (its own weights, no pretrained-weight download) and the raw checkpoint;
    ``overrides`` replace constructor arguments it was saved with (``tta=``)."""
    checkpoint = read(path)
    model = EmotionClassifier.load_from_checkpoint(
        path, map_location="cpu", load_weights=False, weights_only=True, **overrides
    )
    return model, checkpoint


def run_record(checkpoint: Mapping) -> dict:
    """What the run recorded about itself (dataset, seed, test split ...); empty for foreign files."""
    return dict(checkpoint.get("callbacks", {}).get(RECORD_KEY, {}).get("meta", {}))


def data_section(checkpoint: Mapping, data: Mapping | None = None) -> dict:
    """The data section to evaluate on: ``data`` when given, else the checkpoint's own; over its classes.

    On the run's own dataset the splits are drawn by the run's split seed (``data.split_seed``, or the
    run's seed where that was null), whatever seed the command itself has. A checkpoint written before
    ``data.name`` names its dataset by the DataModule class (``data._target_``)."""
    hparams = checkpoint["hyper_parameters"]
    own = dataset_named(hparams.get("data") or {})
    section = {
        k: v
        for k, v in dataset_named(data if data is not None else own).items()
        if k not in RETIRED_DATA_KEYS
    }
    section["classes"] = list(hparams["classes"])
    if section.get("name") == own.get("name") and section.get("split_seed") is None:
        run_seed = own.get("split_seed")
        section["split_seed"] = run_record(checkpoint).get("seed") if run_seed is None else run_seed
    return section


def dataset_named(section: Mapping) -> dict:
    """``section`` with ``name`` in place of an old checkpoint's ``_target_``."""
    section = dict(section)
    if "_target_" in section and "name" not in section:
        section["name"] = name_of_target(section.pop("_target_"))
    return section


def own_dataset(checkpoint: Mapping, data: Mapping | None) -> bool:
    """Whether ``data`` (None: the checkpoint's own) names the dataset the run trained on."""
    own = dataset_named(checkpoint["hyper_parameters"].get("data") or {})
    return data is None or dataset_named(data).get("name") == own.get("name")


def check_split(checkpoint: Mapping, section: Mapping, splits: Splits, ckpt: str | Path) -> None:
    """Stop unless the rebuilt test split of the run's own dataset is the one the run tested on.

    Runs record a digest of their test images (``test_digest``); older checkpoints have none and pass."""
    own = dataset_named(checkpoint["hyper_parameters"].get("data") or {})
    expected = run_record(checkpoint).get("test_digest")
    if section.get("name") != own.get("name") or expected is None:
        return
    test = splits.arrays["test"].files
    if split_digest(test) == expected:
        return
    unrelated = {"batch_size", "num_workers", "strict", "classes", "split_seed"}
    differ = [
        f"data.{k}={section.get(k)!r} (the run: {own.get(k)!r})"
        for k in sorted(set(section) | set(own))
        if k not in unrelated and section.get(k) != own.get(k)
    ]
    raise SplitMismatch(
        f"ckpt={ckpt}: the test split rebuilt here ({len(test)} images) is not the one the run tested on "
        f"({run_record(checkpoint).get('test_images', '?')} images): its scores could include training "
        "images. "
        + (
            f"Differences: {', '.join(differ)}."
            if differ
            else "The files under data.root changed since the run."
        )
    )


def shared_datamodule(
    ckpt: str | Path,
    checkpoint: Mapping,
    data: Mapping | None,
    seed: int,
    cache_dir: str | None,
    split: str = "test",
    shared_only: bool = True,
) -> tuple[FERDataModule, list[str], dict]:
    """The checkpoint's dataset (or ``data``) at the model's input size, not augmented, over the classes
    it shares with the run's model (``shared_only`` false: over the model's classes, all of which the
    dataset must have) and, unless ``split=all``, checked against the run's test split: (datamodule, the
    model's classes kept, the classes left out on either side). No class is mapped onto another."""
    classes = list(checkpoint["hyper_parameters"]["classes"])
    section = data_section(checkpoint, data)
    source, decoded = read_source({**section, "classes": None}, cache_dir)
    # the dataset's classes as training on it would take them: data.classes, else its own
    # (data=fer2013_clean: five), among those its files hold
    asked = (data if data is not None else checkpoint["hyper_parameters"].get("data") or {}).get("classes")
    own = {canonical(c) for c in asked or source.default_classes() or []}
    available = [c for c in decoded.arrays.classes if not own or canonical(c) in own]
    names = {canonical(c) for c in available}
    shared = [c for c in classes if canonical(c) in names] if shared_only else classes
    left_out = {
        "not_learned": [c for c in available if c not in {canonical(m) for m in classes}],
        "not_in_data": [c for c in classes if canonical(c) not in names],
    }
    if not shared:
        raise ValueError(f"{ckpt}: its classes {classes} and the dataset's {available} share none")
    splits = split_data(source, decoded, seed, classes=shared)
    if split != "all":
        check_split(checkpoint, section, splits, ckpt)
    datamodule = FERDataModule(
        splits,
        input_size=checkpoint["hyper_parameters"]["backbone"]["input_size"],
        batch_size=source.cfg["batch_size"],
        num_workers=source.cfg["num_workers"],
    )
    return datamodule, shared, left_out


def answer_among(model, shared: list[str], prior: str) -> None:
    """Prepare ``model`` to be scored among ``shared`` (its classes that the dataset has): with
    ``prior="uniform"`` its training prior is removed first, while its head still has every class
    the counts were taken over."""
    if prior == "uniform":
        model.assume_uniform_prior()
    if shared != model.classes:
        model.keep_classes(shared)


def preprocessing(hparams: Mapping) -> dict:
    """What a deployed model needs to prepare a face, from a checkpoint's hyperparameters."""
    backbone = hparams["backbone"]
    data = hparams.get("data") or {}
    return {
        "classes": list(hparams["classes"]),
        "image_size": int(data.get("image_size", DataConfig.image_size)),
        "face_margin": float(data.get("face_margin", FullFrameDataConfig.face_margin)),
        "faces": dict(data["faces"])
        if data.get("faces")
        else None,  # how a full-frame set's faces were cropped
        "input_size": int(backbone["input_size"]),
        "in_chans": int(backbone["in_chans"]),
        "input": "uint8 grey (B, 1, input_size, input_size); the model scales, repeats channels, normalises",
        "mean": list(backbone.get("mean") or []),
        "std": list(backbone.get("std") or []),
        "backbone": backbone["name"],
    }
