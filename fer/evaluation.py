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

from fer.callbacks import show_bar
from fer.callbacks.progress import PlainProgress
from fer.callbacks.run_report import RunReport
from fer.checkpoint import data_section, load_classifier
from fer.data.datamodule import build_datamodule
from fer.labels import canonical

SPLITS = ("test", "val", "all")


def evaluate_checkpoint(
    ckpt: str | Path,
    run_dir: str | Path,
    split: str,
    *,
    data: Mapping | None,
    tta: str | None,
    seed: int,
    cache_dir: str | None,
    trainer: Mapping,
    loggers: list,
) -> dict:
    """Test ``ckpt`` on ``split`` of its dataset (or of ``data``); writes metrics.json in ``run_dir``."""
    if split not in SPLITS:
        raise ValueError(f"split={split!r}: expected one of {SPLITS}")
    model, checkpoint = load_classifier(ckpt)
    if tta:
        model.hparams.tta = tta
    hparams = checkpoint["hyper_parameters"]
    section = data_section(hparams, data)
    input_size = hparams["backbone"]["input_size"]
    datamodule = build_datamodule({**section, "classes": None}, input_size, [], seed, cache_dir)
    datamodule.setup()
    available = list(datamodule.classes)
    names = {canonical(c) for c in available}
    shared = [c for c in model.classes if canonical(c) in names]
    left_out = {
        "not_learned": [c for c in available if c not in {canonical(m) for m in model.classes}],
        "not_in_data": [c for c in model.classes if canonical(c) not in names],
    }
    if not shared:
        raise ValueError(f"{ckpt}: its classes {model.classes} and the dataset's {available} share none")
    if shared != model.classes:
        model.keep_classes(shared)
    datamodule.select(shared)
    datamodule.setup()
    model.test_groups = datamodule.groups(split)
    meta = {"dataset": datamodule.name, "checkpoint": str(Path(ckpt).resolve()), "split": split}
    meta |= {"tta": model.hparams.tta, "classes_left_out": left_out}
    report = RunReport.from_record(run_dir, checkpoint["callbacks"]["RunReport"], meta)
    tester = L.Trainer(
        **trainer,
        logger=loggers or False,
        callbacks=[report] + ([] if show_bar("auto") else [PlainProgress()]),
        enable_progress_bar=show_bar("auto"),
        default_root_dir=run_dir,
    )
    tester.test(model, dataloaders=datamodule.loader(split))
    return {**report.metrics, "run_dir": str(run_dir)}
