"""``data=ferplus``: Microsoft's FER+ relabelling of FER2013 (eight classes, with contempt).

``fer2013new.csv`` (``Usage,Image name,neutral,...,contempt,unknown,NF``: ten tagger
votes per row) has one row per ``fer2013.csv`` row, in the same order; the images come
from that CSV. Rows with an empty image name are not faces. Label schemes:
- ``majority``: the emotion with more than half the votes; rows without one, or whose
  winner is unknown/not-a-face, are dropped;
- ``plurality``: the emotion with the most votes (ties and unknown/NF winners dropped);
- ``probability``: the vote distribution over the eight emotions as soft targets.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from fer.config import FERPlusDataConfig
from fer.data.arrays import FaceArrays
from fer.data.datamodule import FERDataModule
from fer.data.decode import DataError, Problems
from fer.data.fer2013 import OWN_SPLITS, USAGE, find_csv, read_fer2013_csv
from fer.labels import EMOTIONS, canonical

VOTE_COLUMNS = ["neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt"]
SCHEMES = ("majority", "plurality", "probability")


def read_votes(path: Path) -> tuple[np.ndarray, list[str], list[str]]:
    """Votes ``(rows, 10)`` in EMOTIONS order + unknown + NF, the usages and the image names."""
    with open(path, newline="") as f:
        reader = csv.reader(f)
        header = [h.strip() for h in next(reader, [])]
        expected = ["Usage", "Image name", *VOTE_COLUMNS, "unknown", "NF"]
        if header != expected:
            raise DataError(
                f"{path}: expected the FER+ header {','.join(expected)}; found {','.join(header)}"
            )
        rows = list(reader)
    order = [VOTE_COLUMNS.index(next(c for c in VOTE_COLUMNS if canonical(c) == e)) for e in EMOTIONS]
    try:
        votes = np.array([[int(v) for v in row[2:12]] for row in rows], np.int64)
    except (ValueError, IndexError) as err:
        raise DataError(f"{path}: every row needs 10 integer vote counts ({err})") from err
    votes = np.concatenate([votes[:, order], votes[:, 8:]], 1)
    return votes, [row[0].strip() for row in rows], [row[1].strip() for row in rows]


class FERPlusDataModule(FERDataModule):
    name = "ferplus"
    expected = "fer2013.csv (or a folder holding it), with FER+'s fer2013new.csv beside it or at data.votes"
    own_splits = OWN_SPLITS
    accepts_file = True

    schema = FERPlusDataConfig

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.votes = self.cfg["votes"]
        self.label_scheme = self.cfg["label_scheme"]
        if self.label_scheme not in SCHEMES:
            raise ValueError(f"data.label_scheme={self.label_scheme!r}: expected one of {SCHEMES}")

    def decode_settings(self) -> dict:
        return {**super().decode_settings(), "label_scheme": self.label_scheme}

    def source_files(self, root: Path) -> list[Path]:
        folder = root if root.is_dir() else root.parent
        table = find_csv(root)
        votes = Path(self.votes).expanduser() if self.votes else folder / "fer2013new.csv"
        if table is None:
            raise DataError(f"data.root={root}: no fer2013.csv there (expected {self.expected})")
        if not votes.is_file():
            raise DataError(f"FER+ votes {votes} not found: set data.votes=PATH to fer2013new.csv")
        return [table, votes]

    def decode(self, root: Path, files: list[Path], problems: Problems) -> FaceArrays:
        table, votes_path = files
        faces = read_fer2013_csv(table, problems)
        votes, usages, names = read_votes(votes_path)
        rows = np.array([int(f.rsplit(":", 1)[1]) - 2 for f in faces.files])  # CSV line -> row number
        if rows.size and rows.max() >= len(votes):
            raise DataError(
                f"{votes_path} has {len(votes)} rows but {table.name} has more: "
                "they must be the same FER2013 release"
            )
        usage_of = {v: k for k, v in USAGE.items()}
        mismatched = [r for r, s in zip(rows, faces.splits) if usages[r] != usage_of[s]]
        if mismatched:
            raise DataError(
                f"{votes_path} row {mismatched[0] + 2}: Usage {usages[mismatched[0]]!r} differs from "
                f"{table.name}: the rows are not aligned"
            )
        v = votes[rows]
        emotion = v[:, :8]
        total = v.sum(1)
        winner = v.argmax(1)  # over emotions + unknown + NF
        not_face = np.array([names[r] == "" for r in rows]) | (winner == 9)
        if self.label_scheme == "majority":
            keep = ~not_face & (winner < 8) & (v.max(1) * 2 > total)
        elif self.label_scheme == "plurality":
            tie = (emotion == emotion.max(1, keepdims=True)).sum(1) > 1
            keep = ~not_face & (winner < 8) & ~tie
        else:
            keep = ~not_face & (emotion.sum(1) > 0)
        self.extra["ferplus"] = {
            "label_scheme": self.label_scheme,
            "rows": int(len(rows)),
            "not_a_face": int(not_face.sum()),
            "dropped_by_scheme": int((~keep & ~not_face).sum()),
        }
        index = np.flatnonzero(keep)
        arrays = faces.subset(index)
        arrays.classes = list(EMOTIONS)
        arrays.labels = emotion[index].argmax(1)
        if self.label_scheme == "probability":
            arrays.targets = (emotion[index] / emotion[index].sum(1, keepdims=True)).astype(np.float32)
        return arrays
