"""``data=ckplus``: CK+ in the common 48x48 layout (CK+48), split by subject.

``data.root`` holds class folders (``anger contempt disgust fear happy sadness
surprise``) of ``S<subject>_<sequence>_<frame>.png`` files: 327 sequences x 3 peak
frames. Frames of one sequence are near-duplicates and subjects repeat across
sequences, so every protocol keeps a subject's images in one split.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from fer.data.arrays import FaceArrays
from fer.data.datamodule import FERDataModule
from fer.data.decode import DataError, Problems, list_images
from fer.data.fer2013 import read_class_folders
from fer.labels import EMOTIONS

CKPLUS_CLASSES = ["angry", "contempt", "disgust", "fear", "happy", "sad", "surprise"]
NAME = re.compile(r"^(S\d+)_(\d+)_(\d+)\.", re.IGNORECASE)


class CKPlusDataModule(FERDataModule):
    name = "ckplus"
    expected = "the CK+48 class folders (anger contempt disgust fear happy sadness surprise) of S###_###_########.png files"

    def source_files(self, root: Path) -> list[Path]:
        folders = [p for p in sorted(root.iterdir()) if p.is_dir()]
        if not folders:
            raise DataError(f"data.root={root}: expected {self.expected}; found no folders")
        return [p for folder in folders for p in list_images(folder)]

    def decode(self, root: Path, files: list[Path], problems: Problems) -> FaceArrays:
        classes = [c for c in EMOTIONS if c in CKPLUS_CLASSES]
        images, labels, _, names = read_class_folders(root, {"": root}, problems, self.image_size, classes)
        subjects, keep = [], []
        for i, name in enumerate(names):
            match = NAME.match(Path(name).name)
            if match is None:
                problems.skip(name, "file name is not S<subject>_<sequence>_<frame>: the subject is unknown")
                continue
            subjects.append(match.group(1).upper())
            keep.append(i)
        return FaceArrays(
            images=np.stack([images[i] for i in keep]) if keep else np.zeros((0, self.image_size, self.image_size), np.uint8),
            labels=np.array([labels[i] for i in keep], np.int64),
            classes=classes,
            splits=np.full(len(keep), "", dtype="<U5"),
            files=[names[i] for i in keep],
            subjects=np.array(subjects),
        )
