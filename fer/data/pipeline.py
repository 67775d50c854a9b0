"""From a ``data`` config section to :class:`Splits`, in one visible order.

    read (through the cache) -> clean -> select classes -> assign protocol and folds
    -> hold out a split of train (PathNet's fitness faces) -> soft targets (distillation) -> Splits

:func:`build_splits` runs it; a command passes the steps it needs (``hold_out``, ``soft_targets``)
and nothing changes the result afterwards. :func:`split` starts from a source already read, for
commands that first look at the classes a dataset has (:func:`fer.run.checkpoint.shared_splits`). The
same inputs give the same splits on every machine: a checkpoint stores them all (its ``data``
section and the run's seed), so any command rebuilds the run's own test split.
"""

from __future__ import annotations

import csv
import dataclasses
import io
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import numpy as np

from fer.data.arrays import FaceArrays
from fer.data.cleaning import clean
from fer.data.decode import DataError
from fer.data.labels import select_classes
from fer.data.registry import make_source
from fer.data.source import Decoded, Source
from fer.data.splits import assign
from fer.data.summary import duplicates_summary, split_counts, split_digest, subject_overlap
from fer.run.atomic import atomic_write_text

SPLITS = ("train", "val", "test")
# the training split's arrays and classes -> (soft targets (N, K), what to report about them)
SoftTargets = Callable[[FaceArrays, list[str]], tuple[np.ndarray, dict]]


@dataclass(frozen=True)
class Splits:
    """A dataset split for one run: arrays per split (train, val, test, and any held-out split), the
    classes, each image's group (a video's clip) where it has one, and the report of how it was made."""

    name: str
    classes: list[str]
    arrays: Mapping[str, FaceArrays]
    groups: Mapping[str, list[str] | None]
    report: dict

    @property
    def validates(self) -> bool:
        """Whether there is a validation split to score each epoch and choose checkpoints on."""
        return len(self.arrays["val"].labels) > 0

    def group_of(self, split: str) -> list[str] | None:
        """The group of each image of ``split`` (``all``: every split in order), or None."""
        names = SPLITS if split == "all" else (split,)
        if self.groups[names[0]] is None:
            return None
        return [g for s in names for g in self.groups[s]]

    def class_counts(self) -> list[int]:
        """Training images per class."""
        return np.bincount(self.arrays["train"].labels, minlength=len(self.classes)).tolist()

    def save(self, path: Path) -> None:
        """The split of every image (file, split, label), so a run's split can be checked or reused."""
        table = io.StringIO(newline="")
        writer = csv.writer(table)
        writer.writerow(["file", "split", "label"])
        for name, arrays in self.arrays.items():
            writer.writerows(
                (file, name, self.classes[label]) for file, label in zip(arrays.files, arrays.labels)
            )
        atomic_write_text(path, table.getvalue())


def read_source(section: Mapping, cache_dir: str | None) -> tuple[Source, Decoded]:
    """The dataset of a ``data`` section (its ``name`` picks the source) and its decoded arrays."""
    source = make_source(section)
    return source, source.read(cache_dir)


def build_splits(
    section: Mapping,
    seed: int,
    cache_dir: str | None,
    *,
    hold_out: tuple[str, float] | None = None,
    soft_targets: SoftTargets | None = None,
) -> Splits:
    """The splits of a ``data`` section for a run seeded ``seed`` (see the module's docstring)."""
    return split(*read_source(section, cache_dir), seed, hold_out=hold_out, soft_targets=soft_targets)


def split(
    source: Source,
    decoded: Decoded,
    seed: int,
    *,
    classes: Sequence[str] | None = None,
    hold_out: tuple[str, float] | None = None,
    soft_targets: SoftTargets | None = None,
) -> Splits:
    """``decoded`` cleaned, over ``classes`` (default: ``data.classes``), split by the section's
    protocol; ``hold_out=(name, fraction)`` moves that share of each training class into a split of its
    own (seeded by ``seed``); ``soft_targets`` mixes a teacher's probabilities into the training targets."""
    cfg = source.cfg
    arrays, cleaning = clean(decoded.arrays) if source.cleans() else (decoded.arrays, None)
    requested = classes if classes is not None else cfg["classes"] or source.default_classes()
    chosen = select_classes(requested, arrays.classes)
    arrays = arrays.select_classes(chosen)
    protocol = {k: cfg[k] for k in ("protocol", "num_folds", "fold", "val_fraction", "test_fraction")}
    protocol["seed"] = seed if cfg["split_seed"] is None else cfg["split_seed"]
    index, note = assign(
        arrays.labels,
        arrays.splits,
        arrays.subjects,
        protocol["protocol"],
        protocol["num_folds"],
        protocol["fold"],
        protocol["val_fraction"],
        protocol["test_fraction"],
        protocol["seed"],
        source.own_splits,
    )
    # val_fraction 0 asks for no validation split
    empty = [s for s in SPLITS if len(index[s]) == 0 and (s != "val" or protocol["val_fraction"] > 0)]
    if empty:
        raise DataError(
            f"{source.name}: split(s) {empty} are empty under protocol {protocol['protocol']}; check "
            "data.root, data.classes and the protocol"
        )
    parts = {s: arrays.subset(index[s]) for s in SPLITS}
    split_of = np.empty(len(arrays.labels), dtype=object)
    for s in SPLITS:
        split_of[index[s]] = s
    report = {
        "dataset": source.name,
        "root": None if source.root is None else str(Path(source.root).expanduser().resolve()),
        "classes": chosen,
        "num_images": int(sum(len(i) for i in index.values())),
        "splits": split_counts(arrays, index),
        "protocol": {**protocol, "note": note},
        "test_digest": split_digest(parts["test"].files),  # a checkpoint's test split, checked on reuse
        "num_subjects": None if arrays.subjects is None else int(len(np.unique(arrays.subjects))),
        "subject_overlap": subject_overlap(arrays, index),
        "image_shape": list(arrays.images.shape[1:]),
        "duplicates": duplicates_summary(arrays, split_of),
        "cleaning": cleaning,
        **decoded.facts,
        "num_skipped": len(decoded.skipped),
        "skipped": decoded.skipped,
    }
    if hold_out is not None:
        name, fraction = hold_out
        index = held_out(parts["train"].labels, name, fraction, seed)
        report["splits"] |= split_counts(parts["train"], index)
        report["protocol"]["held_out"] = f"{name}: {fraction} of each training class (seed {seed})"
        parts |= {s: parts["train"].subset(rows) for s, rows in index.items()}
    if soft_targets is not None:
        targets, report["distillation"] = soft_targets(parts["train"], chosen)
        parts["train"] = dataclasses.replace(parts["train"], targets=targets)
    return Splits(
        name=source.name,
        classes=chosen,
        arrays=MappingProxyType(parts),
        groups=MappingProxyType({s: source.groups(a.files) for s, a in parts.items()}),
        report=report,
    )


def held_out(labels: np.ndarray, name: str, fraction: float, seed: int) -> dict[str, np.ndarray]:
    """Rows of the training split: ``fraction`` of each class (at least one image) as a split ``name`` of
    its own, and the rest as train: data that training never sees but that is not val or test."""
    rng = np.random.default_rng(seed)
    held = []
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        held.append(members[: max(1, round(fraction * len(members)))])
    index = {name: np.sort(np.concatenate(held))}
    index["train"] = np.setdiff1d(np.arange(len(labels)), index[name])
    return index
