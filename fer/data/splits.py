"""Split protocols: official, k-fold and leave-one-subject-out, grouped by subject.

Folds never split a subject (or, where subjects are unknown, are built per image),
are stratified by class as far as the groups allow, and depend only on the seed.
``kfold_images`` alone ignores the subjects: random folds over images, the protocol of
image-level published figures (Akhand et al. 2021 on KDEF), which a person's photos can
straddle; its note says so.
"""

from __future__ import annotations

import numpy as np

PROTOCOLS = ("official", "kfold", "kfold_images", "loso")


def grouped_folds(labels: np.ndarray, groups: np.ndarray | None, num_folds: int, seed: int) -> np.ndarray:
    """A fold number per image; every group lands in one fold, class mix balanced greedily."""
    rng = np.random.default_rng(seed)
    num_classes = int(labels.max()) + 1 if len(labels) else 1
    if groups is None:  # stratified: deal each class's shuffled images round-robin
        folds = np.empty(len(labels), np.int64)
        start = 0
        for c in range(num_classes):
            index = rng.permutation(np.flatnonzero(labels == c))
            folds[index] = (np.arange(len(index)) + start) % num_folds
            start += len(index)
        return folds
    names, inverse = np.unique(groups, return_inverse=True)
    counts = np.zeros((len(names), num_classes))
    np.add.at(counts, (inverse, labels), 1)
    order = rng.permutation(len(names))
    order = order[np.argsort(-counts[order].sum(1), kind="stable")]  # big groups first, ties shuffled
    fold_counts = np.zeros((num_folds, num_classes))
    assignment = np.empty(len(names), np.int64)
    total = counts.sum(0) / num_folds
    for g in order:
        trial = fold_counts + counts[g]  # every fold with this group added
        # deviation from an even share of each class, plus fold size, after adding the group
        cost = np.abs(trial - total).sum(1) - np.abs(fold_counts - total).sum(1) + 1e-3 * trial.sum(1)
        best = int(np.argmin(cost))
        assignment[g] = best
        fold_counts[best] += counts[g]
    return assignment[inverse]


def carve(
    index: np.ndarray, labels: np.ndarray, groups: np.ndarray | None, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Split ``index`` into (rest, held-out ~``fraction``), grouped and stratified; ``fraction`` 0
    holds nothing out."""
    if fraction == 0:
        return index, index[:0]
    num = max(2, round(1 / fraction))
    folds = grouped_folds(labels[index], None if groups is None else groups[index], num, seed)
    return index[folds != 0], index[folds == 0]


def assign(
    labels: np.ndarray,
    source_splits: np.ndarray,
    subjects: np.ndarray | None,
    protocol: str,
    num_folds: int,
    fold: int,
    val_fraction: float,
    test_fraction: float,
    seed: int,
    own_splits: str,
) -> tuple[dict[str, np.ndarray], str]:
    """Image indices of train/val/test under ``protocol``, and a note on how they were made."""
    everything = np.arange(len(labels))
    if protocol == "official":
        has = {s: np.flatnonzero(source_splits == s) for s in ("train", "val", "test")}
        if len(has["train"]) and len(has["val"]) and len(has["test"]):
            return has, f"the dataset's own split: {own_splits}"
        if len(has["train"]) and len(has["test"]):
            train, val = carve(has["train"], labels, subjects, val_fraction, seed)
            return (
                {"train": train, "val": val, "test": has["test"]},
                f"the dataset's own test split; val = {val_fraction:.0%} of train (seeded, "
                f"stratified{', by subject' if subjects is not None else ''})",
            )
        rest, test = carve(everything, labels, subjects, test_fraction, seed)
        train, val = carve(rest, labels, subjects, val_fraction / (1 - test_fraction), seed + 1)
        return (
            {"train": train, "val": val, "test": test},
            "no split in the source: seeded stratified "
            f"{1 - test_fraction - val_fraction:.0%}/{val_fraction:.0%}/{test_fraction:.0%}"
            + (" by subject" if subjects is not None else ""),
        )
    if protocol in ("kfold", "kfold_images"):
        if not 0 <= fold < num_folds:
            raise ValueError(f"data.fold={fold} is outside 0..{num_folds - 1} (data.num_folds={num_folds})")
        if protocol == "kfold_images":
            grouping = (
                " over images, subjects ignored (a person's photos can be in train and test: comparable "
                "with image-level published figures, not subject-independent)"
            )
            subjects = None
        else:
            grouping = " grouped by subject" if subjects is not None else " (per image: no subject ids)"
        folds = grouped_folds(labels, subjects, num_folds, seed)
        test = np.flatnonzero(folds == fold)
        note = f"fold {fold} of {num_folds}-fold cross-validation{grouping}"
    elif protocol == "loso":
        if subjects is None:
            raise ValueError("data.protocol=loso needs subject ids, and this dataset has none")
        names = np.unique(subjects)
        if not 0 <= fold < len(names):
            raise ValueError(f"data.fold={fold} is outside 0..{len(names) - 1} ({len(names)} subjects)")
        test = np.flatnonzero(subjects == names[fold])
        note = f"leave-one-subject-out: test subject {names[fold]} (fold {fold} of {len(names)})"
    else:
        raise ValueError(f"data.protocol={protocol!r}: expected one of {PROTOCOLS}")
    rest = np.setdiff1d(everything, test)
    train, val = carve(rest, labels, subjects, val_fraction, seed + 1)
    if val_fraction == 0:
        note += "; no validation split (data.val_fraction=0): every other image trains"
    return {"train": train, "val": val, "test": test}, note
