"""Which ensemble of trained models, chosen on the validation split and reported on the test split once.

Every member answers both splits once; each candidate ensemble (the mean of its members' class
probabilities) is scored on validation, and the test split is read for the best candidate alone.
Candidates are the ``--cell`` lists, fixed before the run, or else every subset of two or more
members. Trailing ``key=value`` arguments are ``fer.ensemble``'s: ``data=...`` scores the members
on that dataset among the classes they share with it (so a seven-class FER2013 model may join
five-class ones), ``prior=uniform`` removes each member's training prior.

    python experiments/ensemble_choice.py --member A=runA/checkpoints/best.ckpt --member B=... \
        [--cell AB=A+B --cell ABC=A+B+C] [--json choice.json] [data=fer2013_clean data.root=...]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
from omegaconf import OmegaConf  # noqa: E402

from fer.ensemble import in_order_of, member_outputs, same_test_split, scores  # noqa: E402
from fer.run.checkpoint import read  # noqa: E402
from fer.run.config import compose_config  # noqa: E402

SPLITS = ("val", "test")


def candidates(names: list[str], cells: dict[str, list[str]]) -> dict[str, list[str]]:
    """The ``--cell`` lists, each member named; without any, every subset of two or more members."""
    if not cells:
        subsets = (c for k in range(2, len(names) + 1) for c in itertools.combinations(names, k))
        return {"+".join(c): list(c) for c in subsets}
    for cell, members in cells.items():
        unknown = [m for m in members if m not in names]
        if unknown:
            raise ValueError(f"--cell {cell}: {unknown} are not among the --member names {names}")
    return cells


def choose(probabilities: dict, labels: dict, classes: list[str], cells: dict[str, list[str]]) -> dict:
    """Every cell's validation accuracy; the test scores of the cell with the best one alone.
    ``probabilities[name][split]`` is a member's ``(N, K)``; ``labels[split]`` is ``(N,)``."""

    def score(cell: list[str], split: str) -> dict:
        mean = np.mean([probabilities[m][split] for m in cell], axis=0)
        return scores(mean, labels[split], len(classes))

    val = {name: score(cell, "val")["acc"] for name, cell in cells.items()}
    chosen = max(val, key=val.get)  # the first of equals, in the order given
    test = score(cells[chosen], "test")
    return {
        "classes": classes,
        "val_acc": val,
        "members_val_acc": {
            m: scores(p["val"], labels["val"], len(classes))["acc"] for m, p in probabilities.items()
        },
        "chosen": chosen,
        "members": cells[chosen],
        "test_acc": test["acc"],
        "test_macro_f1": test["macro_f1"],
        "test_per_class_recall": dict(zip(classes, test["recall"].tolist())),
        "test_images": int(len(labels["test"])),
    }


def member_answers(members: dict[str, str], overrides: list[str]) -> tuple[dict, dict, list[str]]:
    """Each member's probabilities on both splits, in the first member's class order, and the labels."""
    cfg = compose_config("ensemble", ["ckpt=[]", *overrides])  # the data, prior, seed and cache it names
    data = OmegaConf.to_container(cfg.data, resolve=True) if cfg.get("data") else None
    if data is None:  # each member reads its own dataset: they must have been tested on one split
        same_test_split(list(members.values()), [read(c) for c in members.values()])
    probabilities, labels, classes = {}, None, None
    for name, ckpt in members.items():
        answers, y, names = member_outputs(
            ckpt, SPLITS, data, [None], cfg.seed, cfg.paths.cache_dir, cfg.prior
        )
        per_split = {}
        for split in SPLITS:
            member = (answers[None, split], y[split], names)
            p, y_split, _ = member if classes is None else in_order_of(classes, member, ckpt)
            if labels is not None and not np.array_equal(y_split, labels[split]):
                raise ValueError(f"{ckpt} does not answer for the same {split} images as the first member")
            per_split[split] = p
        if labels is None:
            labels = {split: y[split] for split in SPLITS}
            classes = names
        probabilities[name] = per_split
    return probabilities, labels, classes


def named(pairs: list[str], flag: str) -> dict[str, str]:
    """``NAME=VALUE`` arguments as a dict, in the order given."""
    out = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name or not value or name in out:
            raise ValueError(f"{flag} {pair!r}: expected NAME=VALUE with a new NAME")
        out[name] = value
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--member", action="append", required=True, help="NAME=PATH/best.ckpt")
    parser.add_argument("--cell", action="append", default=[], help="NAME=A+B+...: a candidate")
    parser.add_argument("--json", type=Path, help="write the figures to this file too")
    parser.add_argument("overrides", nargs="*", help="fer.ensemble's data=..., prior=..., seed=...")
    args = parser.parse_args()
    members = named(args.member, "--member")
    if len(members) < 2:
        parser.error("an ensemble needs at least two --member")
    cells = candidates(list(members), {k: v.split("+") for k, v in named(args.cell, "--cell").items()})
    probabilities, labels, classes = member_answers(members, args.overrides)
    result = choose(probabilities, labels, classes, cells)
    for name, acc in result["members_val_acc"].items():
        print(f"val  member {name:<20} {100 * acc:.2f}%")
    for name, acc in sorted(result["val_acc"].items(), key=lambda item: -item[1]):
        print(f"val  cell   {name:<20} {100 * acc:.2f}%{'  (chosen)' if name == result['chosen'] else ''}")
    recall = " ".join(f"{c} {100 * r:.1f}" for c, r in result["test_per_class_recall"].items())
    print(
        f"test cell   {result['chosen']:<20} {100 * result['test_acc']:.2f}%  macro-F1 "
        f"{100 * result['test_macro_f1']:.2f}%  ({result['test_images']} images; recall {recall})"
    )
    if args.json:
        args.json.write_text(json.dumps({"members": members, "cells": cells, **result}, indent=2))


if __name__ == "__main__":
    main()
