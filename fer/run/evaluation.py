"""Scoring a checkpoint on a split of its own dataset or of another one (fer.eval, fer.crossdata).

On another dataset a model answers among the classes both share (its head keeps their rows,
:meth:`EmotionClassifier.keep_classes`); the target's images of classes the model never
learned are left out, and both lists are in ``metrics.json`` (``classes_left_out``): no class
is ever mapped onto another. ``split=all`` scores every image of the dataset, all splits
together, as a cross-dataset test does.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import lightning as L

from fer.callbacks.clip_accuracy import ClipAccuracy
from fer.callbacks.compose import show_bar
from fer.callbacks.progress import PlainProgress
from fer.callbacks.run_record import RECORD_KEY, RunRecord
from fer.data.summary import split_digest
from fer.run.checkpoint import answer_among, load_classifier, shared_datamodule

SPLITS = ("test", "val", "all")
RUN_FACTS = ("dataset", "train_images", "test_split", "test_images", "test_digest", "tta")


def evaluate_checkpoint(
    ckpt: str | Path,
    run_dir: str | Path,
    split: str,
    *,
    data: Mapping | None,
    tta: str | None,
    prior: str,
    seed: int,
    cache_dir: str | None,
    trainer: Mapping,
    loggers: list,
) -> dict:
    """Test ``ckpt`` on ``split`` of its dataset (or of ``data``); writes metrics.json in ``run_dir``.
    ``prior="uniform"`` scores it as if its classes had been equally common in training."""
    if split not in SPLITS:
        raise ValueError(f"split={split!r}: expected one of {SPLITS}")
    model, checkpoint = load_classifier(ckpt, **({"tta": tta} if tta else {}))
    datamodule, shared, left_out = shared_datamodule(ckpt, checkpoint, data, seed, cache_dir, split)
    answer_among(model, shared, prior)
    splits = datamodule.splits
    record = checkpoint["callbacks"][RECORD_KEY]
    note = splits.report["protocol"]["note"]
    meta = {
        "dataset": splits.name,
        "checkpoint": str(Path(ckpt).resolve()),
        "split": split,
        "test_split": "every image of every split (split=all)" if split == "all" else f"{split}: {note}",
        "test_images": len(datamodule.dataset(split, augment=False)),
        "test_digest": None if split == "all" else split_digest(splits.arrays[split].files),
        "tta": model.hparams.tta,
        "prior": prior,
        "classes_left_out": left_out,
        # the training run's own facts, kept apart from this evaluation's
        "trained": {k: record["meta"].pop(k, None) for k in RUN_FACTS},
    }
    report = RunRecord.from_record(run_dir, record, meta)
    groups = splits.group_of(split)
    tester = L.Trainer(
        **trainer,
        logger=loggers or False,
        callbacks=[report]
        + ([] if groups is None else [ClipAccuracy(groups)])
        + ([] if show_bar("auto") else [PlainProgress()]),
        enable_progress_bar=show_bar("auto"),
        default_root_dir=run_dir,
    )
    tester.test(model, dataloaders=datamodule.loader(split))
    return {**report.metrics, "run_dir": str(run_dir)}
