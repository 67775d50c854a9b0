"""``data=fer2013``: the Kaggle CSVs and the image-folder copy, with the official splits.

Accepted at ``data.root``:
- ``fer2013.csv`` or ``fer2013.csv.gz`` (``emotion,pixels,Usage``), or a folder holding one;
- ``icml_face_data.csv`` (``emotion, Usage, pixels``: other order, names with a space);
- the image-folder layout ``train/<class>/*.jpg`` + ``test/<class>/*.jpg``. Where file
  names keep their ``PublicTest_``/``PrivateTest_`` prefix the two test sets are told
  apart; where a copy merged them, the whole test folder is the test split and val is
  carved from train (the report says so).
Official protocol: train = Training, val = PublicTest, test = PrivateTest.
"""

from __future__ import annotations

import csv
import gzip
import io
from pathlib import Path

import numpy as np

from fer.data.arrays import FaceArrays
from fer.data.decode import DataError, Problems, list_images
from fer.data.folders import Resize, read_class_folders
from fer.data.labels import FER2013_CLASSES
from fer.data.source import Source

USAGE = {"Training": "train", "PublicTest": "val", "PrivateTest": "test"}
OWN_SPLITS = ", ".join(f"{split} = {usage}" for usage, split in USAGE.items())  # for the protocol note
CSV_NAMES = ("fer2013.csv", "fer2013.csv.gz", "icml_face_data.csv", "icml_face_data.csv.gz")
PIXELS = 48 * 48


def _open_text(path: Path):
    """The CSV as text, gzip-compressed or not whatever its name says; bytes that are not UTF-8
    reach the row checks (which name the line) instead of stopping the whole file."""
    with open(path, "rb") as f:
        compressed = f.read(2) == b"\x1f\x8b"
    binary = gzip.open(path) if compressed else open(path, "rb")
    return io.TextIOWrapper(binary, encoding="utf-8", errors="surrogateescape", newline="")


def read_fer2013_csv(path: Path, problems: Problems) -> FaceArrays:
    """One of the Kaggle CSVs: column names are matched after stripping spaces, any order."""
    try:
        return _read_csv(path, problems)
    except (csv.Error, EOFError, OSError) as err:  # not text, a gzip stream cut short, NUL bytes ...
        raise DataError(f"{path}: not a readable FER2013 CSV ({type(err).__name__}: {err})") from err


def _read_csv(path: Path, problems: Problems) -> FaceArrays:
    with _open_text(path) as f:
        reader = csv.reader(f)
        header = [h.strip() for h in next(reader, [])]
        missing = {"emotion", "pixels", "Usage"} - set(header)
        if missing:
            raise DataError(
                f"{path}: expected the columns emotion, pixels and Usage; "
                f"missing {sorted(missing)} in header {header}"
            )
        col = {name: header.index(name) for name in ("emotion", "pixels", "Usage")}
        labels, splits, files, pixels = [], [], [], []
        for line, row in enumerate(reader, start=2):
            where = f"{path.name}:{line}"
            if len(row) < len(header):
                problems.skip(where, f"row has {len(row)} fields, expected {len(header)}")
                continue
            text = row[col["pixels"]].strip()
            count = text.count(" ") + 1 if text else 0
            if count != PIXELS:
                problems.skip(where, f"row has {count} pixel values, expected {PIXELS} (48x48)")
                continue
            usage = row[col["Usage"]].strip()
            emotion = row[col["emotion"]].strip()
            if usage not in USAGE:
                problems.skip(where, f"Usage {usage!r} is not one of {list(USAGE)}")
                continue
            if emotion not in {str(i) for i in range(7)}:
                problems.skip(where, f"emotion {emotion!r} is not a code 0-6")
                continue
            labels.append(int(emotion))
            splits.append(USAGE[usage])
            files.append(where)
            pixels.append(text)
    images = _parse_pixels(pixels, files, problems)
    keep = [i for i, image in enumerate(images) if image is not None]
    return FaceArrays(
        images=np.stack([images[i] for i in keep]) if keep else np.zeros((0, 48, 48), np.uint8),
        labels=np.array(labels, np.int64)[keep],
        classes=list(FER2013_CLASSES),
        splits=np.array(splits, dtype="<U5")[keep],
        files=[files[i] for i in keep],
    )


def _integers(text: str) -> np.ndarray | None:
    """Space-separated integers parsed in C, or None if any token is not an integer."""
    try:
        return np.fromstring(text, dtype=np.int32, sep=" ")
    except ValueError:
        return None


def _parse_pixels(rows: list[str], where: list[str], problems: Problems) -> list[np.ndarray | None]:
    """Pixel strings -> 48x48 uint8 images; one C-level parse of all rows, row by row only on error."""
    values = _integers(" ".join(rows))
    if (
        values is not None
        and values.size == len(rows) * PIXELS
        and (values.size == 0 or (values.min() >= 0 and values.max() <= 255))
    ):
        return list(values.astype(np.uint8).reshape(-1, 48, 48))
    images: list[np.ndarray | None] = []
    for text, at in zip(rows, where):  # slow path: find the bad rows and say which
        row = _integers(text)
        if row is None or row.size != PIXELS or row.min() < 0 or row.max() > 255:
            problems.skip(at, f"pixels are not {PIXELS} integers in 0..255")
            images.append(None)
        else:
            images.append(row.astype(np.uint8).reshape(48, 48))
    return images


def find_csv(root: Path) -> Path | None:
    """``root`` itself when it is a file, else the first Kaggle CSV inside it."""
    if root.is_file():
        return root
    return next((root / n for n in CSV_NAMES if (root / n).is_file()), None)


def split_from_name(path: Path, folder: str) -> str:
    """``Training_``/``PublicTest_``/``PrivateTest_`` prefixes name the split; else the folder does."""
    for prefix, split in USAGE.items():
        if path.name.startswith(prefix + "_"):
            return split
    return "train" if folder == "train" else "test"


class FER2013Source(Source):
    name = "fer2013"
    expected = "fer2013.csv(.gz), icml_face_data.csv, or the image folders train/<class>/ and test/<class>/"
    own_splits = OWN_SPLITS
    accepts_file = True

    def source_files(self, root: Path) -> list[Path]:
        if (table := find_csv(root)) is not None:
            return [table]
        if not (root / "train").is_dir() or not (root / "test").is_dir():
            raise DataError(
                f"data.root={root}: expected {self.expected}; found "
                f"{sorted(p.name for p in root.iterdir())[:10]}"
            )
        return sorted(
            p
            for split in ("train", "test")
            for c in (root / split).iterdir()
            if c.is_dir()
            for p in list_images(c)
        )

    def decode(self, root: Path, files: list[Path], problems: Problems) -> FaceArrays:
        if files[0].suffix in (".csv", ".gz"):
            return read_fer2013_csv(files[0], problems)
        folders = {"train": root / "train", "test": root / "test"}
        arrays = read_class_folders(
            root, folders, problems, list(FER2013_CLASSES), Resize(self.image_size), split_from_name
        )
        test = arrays.splits[arrays.splits != "train"]
        if len(test) and not (test == "val").any():
            self.facts["split_note"] = (
                "the test folder merges PublicTest and PrivateTest (no file-name prefixes): test = the whole "
                "test folder, val carved from train"
            )
        return arrays
