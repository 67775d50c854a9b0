"""The base of posed-face datasets whose file names carry the expression and the subject.

KDEF and JAFFE ship full frames (a head and shoulders, or a face that does not fill
the picture), one file per pose, with the expression code and the subject in the name.
A subclass parses a name; this base lists the files, decodes them, detects and crops
the faces, and records subjects so that folds are subject-independent.
"""

from __future__ import annotations

from pathlib import Path

from fer.data.arrays import FaceArrays
from fer.data.decode import IMAGE_SUFFIXES, DataError, Problems
from fer.data.folders import Entry, read_entries
from fer.data.labels import EMOTIONS
from fer.data.source import Source
from fer.faces.cropper import crop_settings, dataset_cropper
from fer.run.config import FullFrameDataConfig


class PosedFacesSource(Source):
    classes_available: list[str] = []  # the dataset's emotions, in vocabulary order
    recursive = False  # whether images sit in subfolders of data.root
    profiles = False  # whether some poses are profiles (try the profile cascade too)

    schema: type = FullFrameDataConfig

    def parse(self, path: Path) -> tuple[str, str] | str | None:
        """``(emotion, subject)``; a reason string if the name is not the dataset's; None if filtered out."""
        raise NotImplementedError

    def decode_settings(self) -> dict:
        return {**super().decode_settings(), **crop_settings(self.cfg)}

    def source_files(self, root: Path) -> list[Path]:
        if not root.is_dir():
            raise DataError(f"data.root={root} is not a folder (expected {self.expected})")
        found = root.rglob("*") if self.recursive else root.iterdir()
        return sorted(p for p in found if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)

    def decode(self, root: Path, files: list[Path], problems: Problems) -> FaceArrays:
        classes = [c for c in EMOTIONS if c in self.classes_available]
        entries: list[Entry] = []
        subjects: list[str] = []
        filtered = 0
        for path in files:
            parsed = self.parse(path)
            if parsed is None:
                filtered += 1
            elif isinstance(parsed, str):
                problems.skip(path.relative_to(root), parsed)
            else:
                entries.append((path, classes.index(parsed[0]), ""))
                subjects.append(parsed[1])
        if not entries:
            raise DataError(
                f"data.root={root}: none of its {len(files)} image files is a {self.name} image selected by "
                f"the filters (expected {self.expected})"
            )
        cropper = dataset_cropper(self.image_size, self.cfg, self.profiles)
        arrays = read_entries(root, entries, problems, classes, cropper, subjects)
        self.facts["face_crop"] = cropper.summary()
        self.facts["filtered_out"] = filtered  # files of the dataset left out by the angle/session filters
        return arrays
