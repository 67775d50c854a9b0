"""A reproducible cleaning of a dataset's known defects (``data.clean=true``).

FER2013 holds byte-identical images (some across train and test), blank images, and
duplicate groups whose copies carry different labels. Cleaning removes, in this order:
1. constant images (every pixel the same: blank frames carry no expression);
2. every image of a duplicate group whose copies disagree on the label;
3. the extra copies of the remaining groups, keeping one in the earliest split
   (train, then val, then test): copies in a later split than the kept one are
   cross-split leaks, the rest within-split repeats.
The result depends only on the pixels, labels and source splits, never on a seed.
"""

from __future__ import annotations

import numpy as np

from fer.data.arrays import FaceArrays
from fer.data.summary import duplicate_groups

SPLIT_ORDER = {"train": 0, "val": 1, "test": 2, "": 3}


def clean(arrays: FaceArrays) -> tuple[FaceArrays, dict]:
    """The cleaned arrays and a report: the count of each removal and the files removed."""
    flat = arrays.images.reshape(len(arrays.images), -1)
    reason = np.full(len(flat), "", dtype=object)
    reason[np.ptp(flat, axis=1) == 0] = "constant image"
    for group in duplicate_groups(arrays.images):
        group = group[reason[group] == ""]
        if len(group) < 2:
            continue
        if len(np.unique(arrays.labels[group])) > 1:
            reason[group] = "duplicate group with conflicting labels"
            continue
        rank = np.array([SPLIT_ORDER[s] for s in arrays.splits[group]])
        kept = group[np.argmin(rank)]
        for i in group[group != kept]:
            same = arrays.splits[i] == arrays.splits[kept]
            reason[i] = "within-split duplicate" if same else "cross-split duplicate"
    removed = np.flatnonzero(reason != "")
    counts = {
        r: int((reason == r).sum())
        for r in (
            "constant image",
            "duplicate group with conflicting labels",
            "cross-split duplicate",
            "within-split duplicate",
        )
    }
    report = {
        "removed": int(len(removed)),
        "constant_images": counts["constant image"],
        "conflicting_label_images": counts["duplicate group with conflicting labels"],
        "cross_split_duplicates": counts["cross-split duplicate"],
        "within_split_duplicates": counts["within-split duplicate"],
        "removed_files": [
            {"file": arrays.files[i] if arrays.files else str(i), "reason": reason[i]} for i in removed
        ],
    }
    return arrays.subset(np.flatnonzero(reason == "")), report
