"""Seeds of one recipe on one split, FER2013's protocol: choose on the validation split (PublicTest),
report the test split (PrivateTest) once.

Each run's ``best.ckpt`` answers both splits in every TTA mode. The single models' mode is the one
with the best mean validation accuracy over the seeds; the ensemble (the seeds' mean probabilities)
gets the mode with its own best validation accuracy. Validation figures are printed for every mode,
test figures for the chosen modes alone: each seed's, their mean ± sample std, and the ensemble's.

    python experiments/seed_study.py <run> <run> [<run> ...] [--modes none flip shift ten_crop]
        [--cache-dir DIR] [--json summary.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402

from fer.ensemble import member_outputs, scores  # noqa: E402
from fer.models.tta import MODES  # noqa: E402

SPLITS = ("val", "test")


def study(runs: list[Path], modes: list[str], seed: int, cache_dir: str | None) -> dict:
    """Validation accuracy per mode, the chosen modes and their test accuracy and macro-F1."""
    members, labels, classes = [], None, None
    for run in runs:
        probabilities, y, names = member_outputs(
            str(run / "checkpoints" / "best.ckpt"), SPLITS, None, modes, seed, cache_dir
        )
        if labels is not None and (
            names != classes or any(not np.array_equal(labels[s], y[s]) for s in SPLITS)
        ):
            raise ValueError(f"{run}: its classes or splits differ from {runs[0]}'s")
        members.append(probabilities)
        labels, classes = y, names

    def score(probabilities: np.ndarray, split: str) -> dict:
        return scores(probabilities, labels[split], len(classes))

    ensemble = {key: np.mean([m[key] for m in members], 0) for key in members[0]}
    val = {
        mode: {
            "seeds": [score(m[mode, "val"], "val")["acc"] for m in members],
            "ensemble": score(ensemble[mode, "val"], "val")["acc"],
        }
        for mode in modes
    }
    single = max(modes, key=lambda mode: statistics.mean(val[mode]["seeds"]))
    together = max(modes, key=lambda mode: val[mode]["ensemble"])
    tests = [score(m[single, "test"], "test") for m in members]
    ensemble_test = score(ensemble[together, "test"], "test")
    return {
        "runs": [str(run) for run in runs],
        "val_acc": val,
        "single": {
            "tta": single,
            "test_acc": [t["acc"] for t in tests],
            "test_macro_f1": [t["macro_f1"] for t in tests],
        },
        "ensemble": {
            "tta": together,
            "test_acc": ensemble_test["acc"],
            "test_macro_f1": ensemble_test["macro_f1"],
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("runs", type=Path, nargs="+", help="run folders of the same recipe and dataset")
    parser.add_argument("--modes", nargs="+", default=list(MODES), choices=MODES)
    parser.add_argument("--seed", type=int, default=42, help="the split seed, for protocols that draw one")
    parser.add_argument("--cache-dir", help="decoded-dataset cache (paths.cache_dir of the runs)")
    parser.add_argument("--json", type=Path, help="write the figures to this file too")
    args = parser.parse_args()
    if len(args.runs) < 2:
        parser.error("a seed study needs at least two runs")
    result = study(args.runs, args.modes, args.seed, args.cache_dir)
    for mode, val in result["val_acc"].items():
        seeds = " ".join(f"{100 * a:.2f}" for a in val["seeds"])
        print(f"val  tta={mode:<9} seeds {seeds}  ensemble {100 * val['ensemble']:.2f}%")
    single, ensemble = result["single"], result["ensemble"]
    test = [100 * a for a in single["test_acc"]]
    print(
        f"test tta={single['tta']:<9} seeds {' '.join(f'{a:.2f}' for a in test)}  "
        f"mean {statistics.mean(test):.2f} ± {statistics.stdev(test):.2f}%  "
        f"(macro-F1 {100 * statistics.mean(single['test_macro_f1']):.2f}%)"
    )
    print(
        f"test tta={ensemble['tta']:<9} ensemble of {len(args.runs)}: {100 * ensemble['test_acc']:.2f}%  "
        f"(macro-F1 {100 * ensemble['test_macro_f1']:.2f}%)"
    )
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
