"""``data=ferplus``: Microsoft's FER+ relabelling of FER2013 (eight classes, with contempt).

Two forms are read, chosen by what ``data.root`` holds:
- **Microsoft's folders** (what ``generate_training_data.py`` writes, the form most users
  hold): ``FER2013Train/``, ``FER2013Valid/``, ``FER2013Test/``, each with 48x48 grey PNGs
  and a headerless ``label.csv`` (``name,"(x, y, w, h)",`` then the ten vote counts).
  Where ``fer2013new.csv`` is found too (``data.votes``, or beside the folders) the folders
  are audited against it: a name that two vote rows share holds the last row's pixels, so a
  ``label.csv`` row carrying the other row's votes labels the wrong picture and is skipped.
- **fer2013.csv + fer2013new.csv** (``Usage,Image name,neutral,...,contempt,unknown,NF``,
  one row per ``fer2013.csv`` row in the same order). Rows with an empty name are not faces.

Votes are processed as Microsoft's ``ferplus.py`` does (Barsoum et al. 2016): single
votes are dropped as outliers first, and a face whose processed votes are led by
``unknown`` or ``NF`` is dropped. Schemes (``data.label_scheme``) for the training split:
- ``majority``: the emotion with more than half the votes, else dropped;
- ``plurality``: the emotion with the most votes, ties dropped;
- ``probability``: the leading emotions (at most three, until 75% of the votes) as soft
  targets, dropped where they hold half the votes or less (the target whose draw
  Microsoft's code samples each epoch, as its expectation);
- ``crossentropy``: the whole distribution over the eight emotions as the target.
Validation and test are labelled by majority under every scheme, as Microsoft's
``train.py`` scores them; the report counts what each split dropped and why.
"""

from __future__ import annotations

import csv
import dataclasses
from pathlib import Path

import numpy as np

from fer.data.arrays import FaceArrays
from fer.data.decode import DataError, Problems
from fer.data.fer2013 import USAGE, find_csv, read_fer2013_csv
from fer.data.folders import Resize, decode_entries
from fer.data.labels import EMOTIONS, canonical
from fer.data.source import Source
from fer.run.config import FERPlusDataConfig

VOTE_COLUMNS = ["neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt"]
SCHEMES = ("majority", "plurality", "probability", "crossentropy")
FOLDERS = {"train": "FER2013Train", "val": "FER2013Valid", "test": "FER2013Test"}
# EMOTIONS order -> FER+ column, and the columns beyond the emotions
ORDER = [VOTE_COLUMNS.index(next(c for c in VOTE_COLUMNS if canonical(c) == e)) for e in EMOTIONS]
UNKNOWN, NOT_FACE = 8, 9
DROP_REASONS = ("not_a_face", "unknown", "no_agreement")


def process_votes(raw: np.ndarray, scheme: str) -> tuple[np.ndarray | None, str]:
    """One face's ten vote counts (FER+ column order) -> its eight-emotion distribution in EMOTIONS
    order, or None and the reason it is dropped (Microsoft's ``_process_data``)."""
    votes = np.where(raw > 1, raw, 0).astype(np.float64)  # a single vote is an outlier
    total = votes.sum()
    winner = int(np.argmax(votes))
    reason = "not_a_face" if winner == NOT_FACE else "unknown" if winner == UNKNOWN else "no_agreement"
    out = np.zeros(10)
    if scheme == "majority":
        if votes.max() > 0.5 * total:
            out[winner] = votes.max()
    elif scheme == "plurality":
        if votes.max() > 0 and (votes == votes.max()).sum() == 1:
            out[winner] = votes.max()
    elif scheme == "probability":
        left, count, valid = votes.copy(), 0, True
        while out.sum() < 0.75 * total and count < 3 and valid:
            peak = left.max()
            for i in range(10):
                if left[i] == peak:
                    out[i], left[i] = peak, 0
                    count += 1
                    if i >= UNKNOWN:  # unknown or NF ties with the emotions so far: stop there
                        valid = False
                        if out.sum() > peak:
                            out[i] = 0
                            count -= 1
                        break
        if out.sum() <= 0.5 * total or count > 3:
            out[:] = 0
    else:
        out = votes
    if out.sum() == 0 or int(np.argmax(out)) >= UNKNOWN:
        return None, reason
    emotions = out[:8][ORDER]
    return emotions / emotions.sum(), ""


def label_faces(votes: np.ndarray, splits: np.ndarray, scheme: str) -> tuple[np.ndarray, np.ndarray, dict]:
    """Rows kept, their targets (training by ``scheme``, validation and test by majority), and per
    split the rows read, kept and dropped by reason."""
    keep, targets = [], []
    counts = {s: dict.fromkeys(("rows", "kept", *DROP_REASONS), 0) for s in FOLDERS}
    for i, (raw, split) in enumerate(zip(votes, splits)):
        target, reason = process_votes(raw, scheme if split == "train" else "majority")
        counts[split]["rows"] += 1
        if target is None:
            counts[split][reason] += 1
            continue
        counts[split]["kept"] += 1
        keep.append(i)
        targets.append(target)
    return np.array(keep, np.int64), np.array(targets, np.float32).reshape(-1, 8), counts


def read_votes(path: Path) -> tuple[np.ndarray, list[str], list[str]]:
    """fer2013new.csv: votes ``(rows, 10)`` in FER+ column order, the usages and the image names."""
    with open(path, newline="") as f:
        reader = csv.reader(f)
        header = [h.strip() for h in next(reader, [])]
        expected = ["Usage", "Image name", *VOTE_COLUMNS, "unknown", "NF"]
        if header != expected:
            raise DataError(
                f"{path}: expected the FER+ header {','.join(expected)}; found {','.join(header)}"
            )
        rows = list(reader)
    try:
        votes = np.array([[int(v) for v in row[2:12]] for row in rows], np.int64).reshape(-1, 10)
    except (ValueError, IndexError) as err:
        raise DataError(f"{path}: every row needs 10 integer vote counts ({err})") from err
    return votes, [row[0].strip() for row in rows], [row[1].strip() for row in rows]


def read_label_csv(path: Path) -> tuple[list[str], np.ndarray]:
    """A folder's headerless label.csv: PNG names and votes ``(rows, 10)``; each row's face box
    ``"(x, y, w, h)"`` is checked for form (the script writes the whole 48x48 image)."""
    names, votes = [], []
    with open(path, newline="") as f:
        for line, row in enumerate(csv.reader(f), 1):
            try:
                box = tuple(int(v) for v in row[1].strip(" ()").split(","))
                counts = [int(v) for v in row[2:12]]
                if len(box) != 4 or len(counts) != 10:
                    raise ValueError
            except (ValueError, IndexError):
                raise DataError(
                    f'{path} line {line}: expected name,"(x, y, w, h)", then 10 vote counts; found {row}'
                ) from None
            names.append(row[0].strip())
            votes.append(counts)
    return names, np.array(votes, np.int64).reshape(-1, 10)


def shared_names(names: list[str], votes: np.ndarray) -> dict[str, tuple[list[int], np.ndarray]]:
    """Names that several fer2013new.csv rows carry: their row numbers and the last row's votes
    (generate_training_data.py writes the PNG once per row, so the last row's pixels stay)."""
    rows: dict[str, list[int]] = {}
    for row, name in enumerate(names):
        if name:
            rows.setdefault(name, []).append(row)
    return {name: (r, votes[r[-1]]) for name, r in rows.items() if len(r) > 1}


class FERPlusSource(Source):
    name = "ferplus"
    expected = (
        "Microsoft's FER2013Train/ FER2013Valid/ FER2013Test/ folders (each with label.csv), or "
        "fer2013.csv (or a folder holding it) with FER+'s fer2013new.csv beside it or at data.votes"
    )
    own_splits = ", ".join(
        f"{split} = {folder} ({usage})" for (usage, split), folder in zip(USAGE.items(), FOLDERS.values())
    )
    accepts_file = True

    schema = FERPlusDataConfig

    def __init__(self, section):
        super().__init__(section)
        self.votes = self.cfg["votes"]
        self.label_scheme = self.cfg["label_scheme"]
        if self.label_scheme not in SCHEMES:
            raise ValueError(f"data.label_scheme={self.label_scheme!r}: expected one of {SCHEMES}")

    def decode_settings(self) -> dict:
        return {**super().decode_settings(), "label_scheme": self.label_scheme, "votes": self.votes}

    def votes_file(self, folder: Path) -> Path:
        return Path(self.votes).expanduser() if self.votes else folder / "fer2013new.csv"

    def source_files(self, root: Path) -> list[Path]:
        if root.is_dir() and any((root / f).is_dir() for f in FOLDERS.values()):
            missing = [f for f in FOLDERS.values() if not (root / f / "label.csv").is_file()]
            if missing:
                raise DataError(f"data.root={root}: no label.csv in {missing} (expected {self.expected})")
            pngs = sorted(p for f in FOLDERS.values() for p in (root / f).iterdir() if p.suffix == ".png")
            votes = self.votes_file(root)
            if self.votes and not votes.is_file():
                raise DataError(f"data.votes={votes} not found: point it at FER+'s fer2013new.csv")
            audit = [votes] if votes.is_file() else []
            return [*(root / f / "label.csv" for f in FOLDERS.values()), *audit, *pngs]
        folder = root if root.is_dir() else root.parent
        table = find_csv(root)
        votes = self.votes_file(folder)
        if table is None:
            raise DataError(
                f"data.root={root}: no fer2013.csv and no FER2013Train/ (expected {self.expected})"
            )
        if not votes.is_file():
            raise DataError(f"FER+ votes {votes} not found: set data.votes=PATH to fer2013new.csv")
        return [table, votes]

    def decode(self, root: Path, files: list[Path], problems: Problems) -> FaceArrays:
        if files[0].name == "label.csv":
            return self.decode_folders(root, files, problems)
        return self.decode_csv(files, problems)

    def decode_csv(self, files: list[Path], problems: Problems) -> FaceArrays:
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
        unnamed = np.array([names[r] == "" for r in rows], bool)
        named = np.flatnonzero(~unnamed)
        keep, targets, counts = label_faces(votes[rows[named]], faces.splits[named], self.label_scheme)
        for split in FOLDERS:  # FER+ left these rows unnamed: not faces
            n = int((unnamed & (faces.splits == split)).sum())
            counts[split]["rows"] += n
            counts[split]["not_a_face"] += n
        return self.labelled(faces.subset(named[keep]), targets, counts, {"form": "fer2013.csv + votes"})

    def decode_folders(self, root: Path, files: list[Path], problems: Problems) -> FaceArrays:
        audit_votes = next((f for f in files[3:4] if f.suffix == ".csv"), None)
        shared = {}
        if audit_votes is not None:
            votes, _, names = read_votes(audit_votes)
            shared = shared_names(names, votes)
        entries, all_votes, listed = [], [], set()
        for split, folder in FOLDERS.items():
            names, votes = read_label_csv(root / folder / "label.csv")
            for name, counts in zip(names, votes):
                path = root / folder / name
                listed.add(path)
                if name in shared and not np.array_equal(counts, shared[name][1]):
                    rows = ", ".join(str(r + 2) for r in shared[name][0])
                    problems.skip(
                        path.relative_to(root),
                        f"fer2013new.csv lines {rows} all name this PNG; it holds the last one's pixels "
                        f"(votes {shared[name][1].tolist()}) while label.csv gives it {counts.tolist()}",
                    )
                    continue
                if not path.is_file():
                    problems.skip(path.relative_to(root), "listed in label.csv, but the PNG is missing")
                    continue
                entries.append((path, 0, split))
                all_votes.append(counts)
        for path in files:
            if path.suffix == ".png" and path not in listed:
                problems.skip(path.relative_to(root), "PNG not listed in its folder's label.csv")
        images, kept = decode_entries(root, entries, problems, Resize(self.image_size))
        faces = FaceArrays(
            images=images,
            labels=np.zeros(len(kept), np.int64),
            classes=list(EMOTIONS),
            splits=np.array([entries[i][2] for i in kept], dtype="<U5"),
            files=[f"{entries[i][0].parent.name}/{entries[i][0].name}" for i in kept],
        )
        votes = np.array([all_votes[i] for i in kept], np.int64).reshape(-1, 10)
        keep, targets, counts = label_faces(votes, faces.splits, self.label_scheme)
        facts = {
            "form": "Microsoft's folders",
            "audited_against": None if audit_votes is None else str(audit_votes),
            "names_shared_by_vote_rows": len(shared),
        }
        return self.labelled(faces.subset(keep), targets, counts, facts)

    def labelled(self, faces: FaceArrays, targets: np.ndarray, counts: dict, facts: dict) -> FaceArrays:
        """``faces`` with their labels (and soft targets under probability and crossentropy) and the
        FER+ section of the report."""
        soft = self.label_scheme in ("probability", "crossentropy")
        self.facts["ferplus"] = {
            "label_scheme": self.label_scheme,
            "val_and_test_labels": "majority",
            **facts,
            "rows": sum(c["rows"] for c in counts.values()),
            **{reason: sum(c[reason] for c in counts.values()) for reason in DROP_REASONS},
            "per_split": counts,
        }
        return dataclasses.replace(
            faces,
            classes=list(EMOTIONS),
            labels=targets.argmax(1).astype(np.int64),
            targets=targets if soft else None,
        )
