"""``data=ckplus``: CK+ (Extended Cohn-Kanade), split by subject.

Two layouts are accepted at ``data.root``:
- CK+48, the common 48x48 copy: class folders (``anger contempt disgust fear happy
  sadness surprise``) of ``S<subject>_<sequence>_<frame>.png`` files, 327 sequences x 3
  peak frames, no neutral;
- the original release: ``cohn-kanade-images/S005/001/S005_001_00000001.png`` frames and
  ``Emotion/S005/001/S005_001_000000NN_emotion.txt`` labels (one float: 0 neutral,
  1 anger, 2 contempt, 3 disgust, 4 fear, 5 happy, 6 sadness, 7 surprise). The last
  ``peak_frames`` frames of each labelled sequence carry its emotion, the first frame
  optionally ``neutral``; faces are detected and cropped.
Frames of one sequence are near-duplicates and subjects repeat across sequences, so
every protocol keeps a subject's images in one split.
"""

from __future__ import annotations

import re
from pathlib import Path

from fer.data.arrays import FaceArrays
from fer.data.decode import DataError, Problems, list_images
from fer.data.folders import Entry, Resize, class_folder_entries, read_entries
from fer.data.labels import EMOTIONS
from fer.data.source import Source
from fer.faces.cropper import crop_settings, dataset_cropper
from fer.run.config import CKPlusDataConfig

CKPLUS_CLASSES = ["angry", "contempt", "disgust", "fear", "happy", "sad", "surprise"]
EMOTION_CODES = ["neutral", "angry", "contempt", "disgust", "fear", "happy", "sad", "surprise"]
NAME = re.compile(r"^(S\d+)_(\d+)_(\d+)\.", re.IGNORECASE)


def is_original(root: Path) -> bool:
    return (root / "cohn-kanade-images").is_dir() and (root / "Emotion").is_dir()


def read_emotion(path: Path) -> int | None:
    """The code (0-7) in an ``_emotion.txt`` file, or None if it holds no such number."""
    try:
        value = float(path.read_text().strip())
    except ValueError:
        return None
    return int(value) if value.is_integer() and 0 <= value < len(EMOTION_CODES) else None


class CKPlusSource(Source):
    name = "ckplus"
    expected = (
        "the CK+48 class folders (anger contempt ... surprise) of S###_###_########.png files, "
        "or the original cohn-kanade-images/ and Emotion/ folders"
    )

    schema = CKPlusDataConfig

    def __init__(self, section):
        super().__init__(section)
        self.peak_frames = self.cfg["peak_frames"]
        self.neutral_first_frame = self.cfg["neutral_first_frame"]

    def decode_settings(self) -> dict:
        return {
            **super().decode_settings(),
            "peak_frames": self.peak_frames,
            "neutral_first_frame": self.neutral_first_frame,
            **crop_settings(self.cfg),
        }

    def source_files(self, root: Path) -> list[Path]:
        if is_original(root):
            labels = sorted((root / "Emotion").glob("S*/*/*_emotion.txt"))
            frames = (
                [
                    p
                    for label in labels
                    for p in list_images(
                        root / "cohn-kanade-images" / label.parent.relative_to(root / "Emotion")
                    )
                ]
                if labels
                else []
            )
            return labels + frames
        folders = [p for p in sorted(root.iterdir()) if p.is_dir()]
        if not folders:
            raise DataError(f"data.root={root}: expected {self.expected}; found no folders")
        return [p for folder in folders for p in list_images(folder)]

    def decode(self, root: Path, files: list[Path], problems: Problems) -> FaceArrays:
        if is_original(root):
            return self._decode_original(root, problems)
        classes = [c for c in EMOTIONS if c in CKPLUS_CLASSES]
        entries = class_folder_entries(root, {"": root}, problems, classes, lambda path, folder: "")
        named = []
        for entry in entries:
            if NAME.match(entry[0].name) is None:
                problems.skip(
                    entry[0].relative_to(root),
                    "file name is not S<subject>_<sequence>_<frame>: the subject is unknown",
                )
            else:
                named.append(entry)
        subjects = [NAME.match(path.name).group(1).upper() for path, _, _ in named]
        return read_entries(root, named, problems, classes, Resize(self.image_size), subjects)

    def _decode_original(self, root: Path, problems: Problems) -> FaceArrays:
        classes = [
            c for c in EMOTIONS if c in CKPLUS_CLASSES or (self.neutral_first_frame and c == "neutral")
        ]
        entries: list[Entry] = []
        for label_file in sorted((root / "Emotion").glob("S*/*/*_emotion.txt")):
            code = read_emotion(label_file)
            if code is None or EMOTION_CODES[code] not in classes:
                problems.skip(
                    label_file.relative_to(root),
                    "expected one emotion code 0-7 (not 0 neutral) in the label file; read "
                    f"{label_file.read_text().strip()!r}",
                )
                continue
            sequence = root / "cohn-kanade-images" / label_file.parent.relative_to(root / "Emotion")
            frames = list_images(sequence) if sequence.is_dir() else []
            if len(frames) < self.peak_frames + self.neutral_first_frame:
                problems.skip(
                    sequence.relative_to(root),
                    f"labelled sequence has {len(frames)} frames, expected at least "
                    f"{self.peak_frames + self.neutral_first_frame}",
                )
                continue
            entries += [(p, classes.index(EMOTION_CODES[code]), "") for p in frames[-self.peak_frames :]]
            if self.neutral_first_frame:
                entries.append((frames[0], classes.index("neutral"), ""))
        if not entries:
            raise DataError(
                f"data.root={root}: no labelled sequence could be read (expected {self.expected})"
            )
        cropper = dataset_cropper(self.image_size, self.cfg)
        arrays = read_entries(
            root,
            entries,
            problems,
            classes,
            cropper,
            [path.parent.parent.name.upper() for path, _, _ in entries],
        )
        self.facts["face_crop"] = cropper.summary()
        return arrays
