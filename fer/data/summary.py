"""The dataset report: what was loaded, how it was split, and what looks wrong in it."""

from __future__ import annotations

import hashlib
from collections import defaultdict

import numpy as np

from fer.data.arrays import FaceArrays


def split_digest(files: list[str]) -> str:
    """The identity of a split: a hash of its images' ids (file names, CSV lines), in any order."""
    return hashlib.sha256("\n".join(sorted(files)).encode("utf-8", "surrogateescape")).hexdigest()[:16]


def duplicate_groups(images: np.ndarray) -> list[np.ndarray]:
    """Indices of byte-identical images, one array per group of two or more."""
    groups: dict[bytes, list[int]] = defaultdict(list)
    for i, image in enumerate(images):
        groups[hashlib.blake2b(image.tobytes(), digest_size=16).digest()].append(i)
    return [np.array(g) for g in groups.values() if len(g) > 1]


def duplicates_summary(arrays: FaceArrays, split_of: np.ndarray) -> dict:
    """Exact duplicate groups, leaks into val/test from train, groups with conflicting labels."""
    groups = duplicate_groups(arrays.images)
    leaks = 0
    for g in groups:
        if (split_of[g] == "train").any():
            leaks += int(np.isin(split_of[g], ["val", "test"]).sum())
    conflicting = [g for g in groups if len(set(arrays.labels[g].tolist())) > 1]
    return {
        "groups": len(groups),
        "images_in_groups": int(sum(len(g) for g in groups)),
        "largest_group": int(max((len(g) for g in groups), default=0)),
        "cross_split_leaks": leaks,  # val/test images with a byte-identical twin in train
        "conflicting_label_groups": len(conflicting),
        "constant_images": int((np.ptp(arrays.images.reshape(len(arrays.images), -1), axis=1) == 0).sum()),
    }


def split_counts(arrays: FaceArrays, split_index: dict[str, np.ndarray]) -> dict:
    return {
        s: {c: int((arrays.labels[index] == i).sum()) for i, c in enumerate(arrays.classes)}
        for s, index in split_index.items()
    }


def subject_overlap(arrays: FaceArrays, split_index: dict[str, np.ndarray]) -> list[str]:
    """Subjects present in more than one split (empty for a subject-independent split)."""
    if arrays.subjects is None:
        return []
    seen: dict[str, set] = defaultdict(set)
    for split, index in split_index.items():
        for subject in np.unique(arrays.subjects[index]):
            seen[str(subject)].add(split)
    return sorted(s for s, splits in seen.items() if len(splits) > 1)
