"""``python -m fer.ensemble 'ckpt=[A.ckpt,B.ckpt,C.ckpt]' [split=test] [tta=flip]``: several trained
models as one, by the mean of their class probabilities.

Members may differ in backbone and input size: each sees the split through its own
preprocessing (:mod:`fer.run.checkpoint`), and all must have the same classes and the same dataset
(split by the same protocol and seed), so that they answer for the same images. With ``data=``
(another dataset, e.g. ``data=kdef split=all``) each member answers among the classes it shares
with that dataset, as ``fer.eval`` scores it there, so models of other datasets and class lists
(FER2013's seven, FER+'s eight) may join, provided they keep the same classes; their
probabilities are matched by class name. ``prior=uniform`` removes each member's training prior
first. The output folder gets the usual ``metrics.json`` (with each member's own accuracy beside
the ensemble's) and ``confusion_matrix.png``.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import hydra
import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf

from fer.data.labels import canonical
from fer.models.tta import predict
from fer.run.checkpoint import (
    answer_among,
    dataset_named,
    load_classifier,
    read,
    run_record,
    shared_datamodule,
)
from fer.run.cli import command
from fer.run.config import CONF_PATH, EnsembleConfig
from fer.run.plots import plot_confusion_matrix

log = logging.getLogger(__name__)
SPLITS = ("test", "val", "all")


@torch.inference_mode()
def member_outputs(
    ckpt: str, splits, data: dict | None, ttas, seed: int, cache_dir, prior: str = "train"
) -> tuple:
    """A member's class probabilities ``(N, K)`` per ``(tta, split)``, the labels ``(N,)`` per split and
    its classes; the model and the dataset are loaded once for all of them. On its own dataset
    (``data`` None) the member answers among all its classes; on ``data``, among those it shares
    with it."""
    model, checkpoint = load_classifier(ckpt)
    model.eval()
    hparams = checkpoint["hyper_parameters"]
    datamodule, shared, _ = shared_datamodule(
        ckpt, checkpoint, data, seed, cache_dir, shared_only=data is not None
    )
    answer_among(model, shared, prior)
    probabilities, labels = {}, {}
    for split in splits:
        batches, targets = {tta: [] for tta in ttas}, []
        for x, target in datamodule.loader(split):
            for tta in ttas:
                batches[tta].append(predict(model, x, tta or hparams["tta"]).softmax(-1))
            targets.append(target.argmax(1) if target.is_floating_point() else target)
        labels[split] = torch.cat(targets).numpy()
        probabilities |= {(tta, split): torch.cat(batch).numpy() for tta, batch in batches.items()}
    return probabilities, labels, list(model.classes)


def member_probabilities(
    ckpt: str, split: str, data: dict | None, tta: str | None, seed: int, cache_dir, prior: str
):
    """A member's class probabilities ``(N, K)`` on ``split``, the labels ``(N,)`` and its classes."""
    probabilities, labels, classes = member_outputs(ckpt, [split], data, [tta], seed, cache_dir, prior)
    return probabilities[tta, split], labels[split], classes


def in_order_of(classes: list[str], member: tuple, ckpt: str) -> tuple:
    """A member's ``(probabilities, labels, classes)`` with its columns and labels in ``classes``'
    order, matched by emotion name; refused if it answers for other classes."""
    probabilities, labels, own = member
    position = {canonical(c): i for i, c in enumerate(own)}
    if sorted(position) != sorted(canonical(c) for c in classes):
        raise ValueError(f"{ckpt} answers for the classes {own}, the first member for {classes}")
    columns = [position[canonical(c)] for c in classes]
    relabel = np.empty(len(own), np.int64)
    relabel[columns] = np.arange(len(classes))
    return probabilities[:, columns], relabel[labels], classes


def scores(probabilities: np.ndarray, labels: np.ndarray, k: int) -> dict:
    """Accuracy, macro-F1, per-class recall and the confusion matrix (rows: true class)."""
    matrix = np.zeros((k, k), np.int64)
    np.add.at(matrix, (labels, probabilities.argmax(1)), 1)
    true, predicted, hits = matrix.sum(1), matrix.sum(0), np.diag(matrix)
    recall = np.divide(hits, true, out=np.zeros(k), where=true > 0)
    precision = np.divide(hits, predicted, out=np.zeros(k), where=predicted > 0)
    f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros(k), where=precision + recall > 0)
    present = (true + predicted) > 0
    return {
        "acc": float(hits.sum() / matrix.sum()),
        "macro_f1": float(f1[present].mean()),
        "recall": recall,
        "matrix": matrix,
    }


def member_scores(ckpt: str, probabilities: np.ndarray, labels: np.ndarray, classes: list[str]) -> dict:
    """A member's own accuracy and per-class recall, beside the ensemble's."""
    result = scores(probabilities, labels, len(classes))
    return {
        "checkpoint": str(Path(ckpt).resolve()),
        "test/acc": result["acc"],
        "test/per_class_recall": dict(zip(classes, result["recall"].tolist())),
    }


def same_test_split(ckpts, checkpoints) -> None:
    """Refuse members that were tested on different images (other folds, seeds or data)."""
    digests = {str(c): run_record(ckpt).get("test_digest") for c, ckpt in zip(ckpts, checkpoints)}
    if len(set(digests.values()) - {None}) > 1:
        listed = ", ".join(f"{c} ({d})" for c, d in digests.items())
        raise ValueError(
            f"the members were tested on different images (test split digests: {listed}): an ensemble "
            "needs models of one split; train them with one data.split_seed and data.fold"
        )


def ensemble(cfg: DictConfig) -> dict:
    if len(cfg.ckpt) < 2:
        raise ValueError(f"ckpt={list(cfg.ckpt)}: an ensemble needs at least two checkpoints")
    if cfg.split not in SPLITS:
        raise ValueError(f"split={cfg.split!r}: expected one of {SPLITS} (a split that no member trained on)")
    data = OmegaConf.to_container(cfg.data, resolve=True) if cfg.get("data") else None
    checkpoints = [read(c) for c in cfg.ckpt]  # read once: the split check and the record use them
    if data is None:  # each member reads its own dataset: they must have been tested on one split
        same_test_split(cfg.ckpt, checkpoints)
    members = [
        member_probabilities(c, cfg.split, data, cfg.tta, cfg.seed, cfg.paths.cache_dir, cfg.prior)
        for c in cfg.ckpt
    ]
    _, labels, classes = members[0]
    members = [members[0]] + [in_order_of(classes, m, c) for c, m in zip(cfg.ckpt[1:], members[1:])]
    for ckpt, (_, other_labels, _) in zip(cfg.ckpt[1:], members[1:]):
        if not np.array_equal(other_labels, labels):
            raise ValueError(f"{ckpt} does not answer for the same images as {cfg.ckpt[0]}")
    mean = np.mean([p for p, _, _ in members], axis=0)
    result = scores(mean, labels, len(classes))
    out = Path(cfg.output)
    out.mkdir(parents=True, exist_ok=True)
    metrics = {
        "test/acc": result["acc"],
        "test/macro_f1": result["macro_f1"],
        "test/per_class_recall": dict(zip(classes, result["recall"].tolist())),
        "test/confusion_matrix": result["matrix"].tolist(),
        "classes": classes,
        "split": cfg.split,
        "dataset": dataset_named(data or checkpoints[0]["hyper_parameters"]["data"])["name"],
        "tta": cfg.tta,
        "prior": cfg.prior,
        "images": int(len(labels)),
        "members": [member_scores(c, p, labels, classes) for c, (p, _, _) in zip(cfg.ckpt, members)],
    }
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    plot_confusion_matrix(
        metrics["test/confusion_matrix"],
        classes,
        out / "confusion_matrix.png",
        f"ensemble of {len(members)}: {cfg.split}",
    )
    return {**metrics, "run_dir": str(out)}


@hydra.main(version_base="1.3", config_path=CONF_PATH, config_name="ensemble")
def main(cfg: DictConfig) -> None:
    with command(cfg, EnsembleConfig):
        metrics = ensemble(cfg)
    members = ", ".join(f"{m['test/acc']:.4f}" for m in metrics["members"])
    log.info(
        "ensemble accuracy on %s %.4f (members %s); wrote %s",
        metrics["split"],
        metrics["test/acc"],
        members,
        metrics["run_dir"],
    )


if __name__ == "__main__":
    main()
