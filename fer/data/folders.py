"""Reading image files into a dataset: class-folder trees, threaded decoding, framing.

Every file-based loader lists ``(file, label, split)`` entries and hands them to
:func:`decode_entries`, which decodes them in threads (OpenCV releases the GIL) and
frames each image: :class:`Resize` for datasets of face crops, a
:class:`fer.faces.FaceCropper` for full frames.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from fer.data.arrays import FaceArrays
from fer.data.decode import DataError, Problems, UnreadableImage, list_images, read_grey, shown
from fer.data.labels import canonical

Entry = tuple[Path, int, str]  # file, label index, source split ("train"/"val"/"test"/"")
Framing = Callable[[np.ndarray], tuple[np.ndarray, bool]]  # grey -> (square uint8 image, face found)


@dataclass
class Resize:
    """Frame an image that is already a face crop: resize it to ``size`` x ``size``."""

    size: int

    def __call__(self, grey: np.ndarray) -> tuple[np.ndarray, bool]:
        if grey.shape == (self.size, self.size):
            return grey, True
        return cv2.resize(grey, (self.size, self.size), interpolation=cv2.INTER_AREA), True


def decode_entries(
    root: Path, entries: list[Entry], problems: Problems, framing: Framing
) -> tuple[np.ndarray, list[int]]:
    """Images ``(N, S, S)`` of the readable entries and their positions in ``entries``."""

    def one(entry: Entry):
        try:
            return framing(read_grey(entry[0]))
        except UnreadableImage as err:
            return str(err)

    with ThreadPoolExecutor(max_workers=4) as pool:
        decoded = list(pool.map(one, entries))
    images, kept = [], []
    record = getattr(framing, "record", None)
    for i, ((path, _, _), result) in enumerate(zip(entries, decoded)):
        name = shown(path.relative_to(root))
        if isinstance(result, str):
            problems.skip(name, result)
            continue
        images.append(result[0])
        kept.append(i)
        if record is not None:
            record(name, result[1])
    size = getattr(framing, "size", 0)
    return (np.stack(images) if images else np.zeros((0, size, size), np.uint8)), kept


def class_folder_entries(
    root: Path,
    folders: dict[str, Path],
    problems: Problems,
    classes: list[str],
    split_of: Callable[[Path, str], str],
) -> list[Entry]:
    """Entries of ``<split folder>/<class>/`` trees; class folder names in any spelling or case."""
    entries: list[Entry] = []
    for split_folder, folder in folders.items():
        for class_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
            try:
                label = classes.index(canonical(class_dir.name))
            except (KeyError, ValueError):
                problems.skip(class_dir.relative_to(root), f"unknown class folder; expected one of {classes}")
                continue
            images = list_images(class_dir)
            if not images:
                problems.skip(class_dir.relative_to(root), "empty class folder")
            entries += [(p, label, split_of(p, split_folder)) for p in images]
    if not entries and not problems.skipped:
        raise DataError(f"{root}: no images in any class folder")
    return entries


def read_entries(
    root: Path,
    entries: list[Entry],
    problems: Problems,
    classes: list[str],
    framing: Framing,
    subjects: list[str] | None = None,
) -> FaceArrays:
    """Decode ``entries`` into arrays; ``subjects`` (aligned with ``entries``) where a dataset names them."""
    images, kept = decode_entries(root, entries, problems, framing)
    return FaceArrays(
        images=images,
        labels=np.array([entries[i][1] for i in kept], np.int64),
        classes=list(classes),
        splits=np.array([entries[i][2] for i in kept], dtype="<U5"),
        files=[shown(entries[i][0].relative_to(root)) for i in kept],
        subjects=None if subjects is None else np.array([subjects[i] for i in kept]),
    )


def read_class_folders(
    root: Path,
    folders: dict[str, Path],
    problems: Problems,
    classes: list[str],
    framing: Framing,
    split_of: Callable[[Path, str], str],
) -> FaceArrays:
    """The images of class-folder trees, with their labels, source splits and relative file names."""
    return read_entries(
        root, class_folder_entries(root, folders, problems, classes, split_of), problems, classes, framing
    )
