"""Test-time augmentation and seed ensembles of k-fold multiruns, chosen on the validation folds.

Each sweep folder holds ``<job>/checkpoints/best.ckpt`` fold models. Where a fold has several (the
same folds trained from other seeds, in one sweep or several: ``data.split_seed`` fixed, ``seed``
varied), its models average their probabilities. Every TTA mode is scored on each fold's
validation and test splits (rebuilt from the checkpoint); the members of a fold must agree on
those splits image for image. Prints, per mode, the mean validation accuracy and negative
log-likelihood (finer than accuracy where validation folds are near 100%) and the mean ± sample
std of test accuracy over the folds, for the ensemble and for its members one by one; choose by
the validation columns, report that row's test figure. Fold models trained without a validation
split (``data.val_fraction=0``, a refit) are scored on test only: their mode is chosen beforehand.

    python experiments/fold_ensemble.py logs/ckplus_10fold/multiruns/<time> [<time2> ...] [--modes none shift]
"""

from __future__ import annotations

import argparse
import os
import statistics
from collections import defaultdict
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402

from fer.ensemble import member_outputs  # noqa: E402
from fer.models.tta import MODES  # noqa: E402
from fer.run.checkpoint import read  # noqa: E402

SPLITS = ("val", "test")


def fold_members(sweeps: list[Path]) -> dict[int, list[Path]]:
    """Each fold's checkpoints, from one sweep or several; every fold must have as many as the others."""
    members = defaultdict(list)
    for sweep in sweeps:
        checkpoints = sorted(sweep.glob("*/checkpoints/best.ckpt"))
        if not checkpoints:
            raise FileNotFoundError(f"{sweep}: no <job>/checkpoints/best.ckpt in this folder")
        for ckpt in checkpoints:
            members[int(read(ckpt)["hyper_parameters"]["data"]["fold"])].append(ckpt)
    counts = {fold: len(c) for fold, c in sorted(members.items())}
    if len(set(counts.values())) > 1:
        raise ValueError(f"the folds have unequal numbers of models (fold: models found): {counts}")
    return dict(sorted(members.items()))


def accuracy(probabilities: np.ndarray, labels: np.ndarray) -> float:
    return float((probabilities.argmax(1) == labels).mean())


def nll(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """Mean negative log-likelihood of the true classes."""
    return float(-np.log(np.maximum(probabilities[np.arange(len(labels)), labels], 1e-12)).mean())


def scored_splits(checkpoints: list[Path]) -> tuple[str, ...]:
    """val and test, or test alone where the fold models were trained without a validation split."""
    refits = {read(ckpt)["hyper_parameters"]["data"]["val_fraction"] == 0 for ckpt in checkpoints}
    if len(refits) > 1:
        raise ValueError(
            f"{checkpoints[0].parents[2]} and the others mix models with and without a validation split "
            "(data.val_fraction=0)"
        )
    return ("test",) if refits.pop() else SPLITS


def fold_scores(checkpoints: list[Path], modes: list[str], seed: int) -> dict:
    """Accuracy and NLL per mode and split of the fold's ensemble and, averaged, of its members one by one."""
    members, labels = [], None
    splits = scored_splits(checkpoints)
    for ckpt in checkpoints:
        probabilities, y, _ = member_outputs(str(ckpt), splits, None, modes, seed, None)
        for split in splits:
            if labels is not None and not np.array_equal(labels[split], y[split]):
                raise ValueError(f"{ckpt}: {split} split differs from {checkpoints[0]}'s (data.split_seed?)")
        members.append(probabilities)
        labels = y
    scores = {metric: {"ensemble": {}, "members": {}} for metric in ("acc", "nll")}
    for key in members[0]:
        y = labels[key[1]]
        for metric, score in (("acc", accuracy), ("nll", nll)):
            scores[metric]["ensemble"][key] = score(np.mean([m[key] for m in members], 0), y)
            scores[metric]["members"][key] = float(np.mean([score(m[key], y) for m in members]))
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("sweeps", type=Path, nargs="+", help="multirun folders of the same folds")
    parser.add_argument("--modes", nargs="+", default=["none", "flip", "shift"], choices=MODES)
    parser.add_argument(
        "--seed", type=int, default=42, help="the folds' seed, for checkpoints without data.split_seed"
    )
    args = parser.parse_args()
    folds = fold_members(args.sweeps)
    results = {fold: fold_scores(checkpoints, args.modes, args.seed) for fold, checkpoints in folds.items()}
    size = len(folds[next(iter(folds))])
    print(f"{len(folds)} folds x {size} models: {' '.join(map(str, args.sweeps))}")
    for mode in args.modes:
        kinds = {"members": "one model", "ensemble": f"{size} averaged"}
        for kind, name in kinds.items() if size > 1 else [("ensemble", "one model")]:
            test = [100 * r["acc"][kind][mode, "test"] for r in results.values()]
            val = "val -- (no validation split)"
            if all((mode, "val") in r["acc"][kind] for r in results.values()):
                val_acc = statistics.mean(100 * r["acc"][kind][mode, "val"] for r in results.values())
                val_nll = statistics.mean(r["nll"][kind][mode, "val"] for r in results.values())
                val = f"val {val_acc:.2f}% (nll {val_nll:.4f})"
            print(
                f"tta={mode:<8} {name:<12} {val}  "
                f"test {statistics.mean(test):.2f} ± {statistics.stdev(test):.2f}%  "
                f"per fold {' '.join(f'{t:.1f}' for t in test)}"
            )


if __name__ == "__main__":
    main()
