"""``data=fer2013_clean``: the five-class FER2013-cleaned set of the slide deck and the paper.

``data.root`` may hold either
- the Kaggle "fer13-cleaned-dataset" layout: five class folders at the root with mixed
  capitalisation (``Angry/ disgust/ fear/ Happy/ Neutral/``, 16,876 JPEGs) and no split,
  so the official protocol makes a seeded, stratified train/val/test split (saved with
  every run as splits.csv); or
- any FER2013 copy ``data=fer2013`` accepts, which is then cleaned reproducibly
  (:mod:`fer.data.cleaning`) and restricted to the same five classes: the closest
  honest stand-in, since the Kaggle set's own curation is undocumented.
"""

from __future__ import annotations

from pathlib import Path

from fer.data.arrays import FaceArrays
from fer.data.decode import DataError, Problems, list_images
from fer.data.fer2013 import FER2013Source, find_csv
from fer.data.folders import Resize, read_class_folders
from fer.data.labels import FER2013_CLASSES

FIVE_CLASSES = ["angry", "disgust", "fear", "happy", "neutral"]


def is_fer2013(root: Path) -> bool:
    """Whether ``root`` is a FER2013 copy (a Kaggle CSV or the train/ + test/ folders)."""
    return find_csv(root) is not None or ((root / "train").is_dir() and (root / "test").is_dir())


class FER2013CleanSource(FER2013Source):
    name = "fer2013_clean"
    expected = (
        "the FER2013-cleaned class folders (Angry disgust fear Happy Neutral) at the root, "
        "or a FER2013 copy to clean"
    )

    def default_classes(self) -> list[str]:
        return list(FIVE_CLASSES)

    def cleans(self) -> bool:
        return self.cfg["clean"] or is_fer2013(self.resolve_root())

    def source_files(self, root: Path) -> list[Path]:
        if is_fer2013(root):
            return super().source_files(root)
        folders = [p for p in sorted(root.iterdir()) if p.is_dir()] if root.is_dir() else []
        if not folders:
            raise DataError(f"data.root={root}: expected {self.expected}; found no class folders")
        return [p for folder in folders for p in list_images(folder)]

    def decode(self, root: Path, files: list[Path], problems: Problems) -> FaceArrays:
        if is_fer2013(root):
            self.facts["source"] = (
                "FER2013, cleaned reproducibly (fer.data.cleaning) and restricted to five classes"
            )
            return super().decode(root, files, problems)
        self.facts["source"] = "the Kaggle FER2013-cleaned class folders"
        return read_class_folders(
            root,
            {"": root},
            problems,
            list(FER2013_CLASSES),
            Resize(self.image_size),
            lambda path, folder: "",
        )
