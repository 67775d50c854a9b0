"""The base of video datasets (SAVEE, eNTERFACE'05): frames sampled per clip, faces cropped.

A subclass parses a clip's path into its emotion and subject; this base lists the clips,
takes ``data.frames_per_clip`` frames from each, evenly spaced over its length (the middle
of each of that many equal parts), detects and crops the face of each frame as for the
photo datasets, and names every image ``<clip>#<frame>``. Subjects are recorded, so folds
are subject-independent and a clip's frames never straddle splits; :meth:`groups` gives each
image's clip, so a test reports clip accuracy (the mean of its frames' probabilities) beside
frame accuracy. A clip OpenCV cannot open or decode is skipped and named in the report.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np

from fer.data.arrays import FaceArrays
from fer.data.decode import DataError, Problems, UnreadableImage, shown
from fer.data.labels import EMOTIONS
from fer.data.source import Source
from fer.faces.cropper import crop_settings, dataset_cropper
from fer.run.config import VideoDataConfig

VIDEO_SUFFIXES = (".avi", ".mp4", ".mov", ".mkv")
CLIP_SEPARATOR = "#"  # image names: <clip path relative to data.root>#<frame index>


def frame_indices(count: int, k: int) -> list[int]:
    """``k`` frames evenly spaced over ``count``: the middle of each of ``k`` equal parts."""
    return sorted({min(count - 1, int((i + 0.5) * count / k)) for i in range(k)})


def sample_frames(path: Path, k: int) -> list[tuple[int, np.ndarray]]:
    """``(index, grey frame)`` for :func:`frame_indices` of the clip; :class:`UnreadableImage` if none."""
    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            raise UnreadableImage("not a video OpenCV can open")
        count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        if count <= 0:
            raise UnreadableImage("the video reports no frames")
        wanted = frame_indices(count, k)
        frames, index = [], 0
        while index <= wanted[-1] and capture.grab():
            if index in wanted:
                ok, frame = capture.retrieve()
                if ok:
                    frames.append((index, cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)))
            index += 1
    finally:
        capture.release()
    if not frames:
        raise UnreadableImage(f"no frame could be decoded ({count} announced)")
    return frames


class VideoClipsSource(Source):
    classes_available: list[str] = []  # the dataset's emotions, in vocabulary order

    schema: type = VideoDataConfig

    def __init__(self, section):
        super().__init__(section)
        self.frames_per_clip = self.cfg["frames_per_clip"]
        if self.frames_per_clip < 1:
            raise ValueError(f"data.frames_per_clip={self.frames_per_clip}: expected at least 1")

    def parse(self, path: Path, root: Path) -> tuple[str, str] | str:
        """``(emotion, subject)`` of a clip, or the reason its path is not the dataset's."""
        raise NotImplementedError

    def decode_settings(self) -> dict:
        return {
            **super().decode_settings(),
            **crop_settings(self.cfg),
            "frames_per_clip": self.frames_per_clip,
        }

    def source_files(self, root: Path) -> list[Path]:
        if not root.is_dir():
            raise DataError(f"data.root={root} is not a folder (expected {self.expected})")
        return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES)

    def decode(self, root: Path, files: list[Path], problems: Problems) -> FaceArrays:
        classes = [c for c in EMOTIONS if c in self.classes_available]
        clips = []
        for path in files:
            parsed = self.parse(path, root)
            if isinstance(parsed, str):
                problems.skip(path.relative_to(root), parsed)
            else:
                clips.append((path, classes.index(parsed[0]), parsed[1]))
        if not clips:
            raise DataError(
                f"data.root={root}: none of its {len(files)} video files is a {self.name} clip "
                f"(expected {self.expected})"
            )
        cropper = dataset_cropper(self.image_size, self.cfg)

        def one(path: Path):
            try:
                return [(index, *cropper(grey)) for index, grey in sample_frames(path, self.frames_per_clip)]
            except UnreadableImage as err:
                return str(err)

        with ThreadPoolExecutor(max_workers=4) as pool:
            decoded = list(pool.map(one, [clip[0] for clip in clips]))
        images, labels, subjects, names = [], [], [], []
        for (path, label, subject), result in zip(clips, decoded):
            clip = shown(path.relative_to(root))
            if isinstance(result, str):
                problems.skip(clip, result)
                continue
            for index, face, found in result:
                name = f"{clip}{CLIP_SEPARATOR}{index}"
                cropper.record(name, found)
                images.append(face)
                labels.append(label)
                subjects.append(subject)
                names.append(name)
        self.facts["face_crop"] = cropper.summary()
        self.facts["clips"] = len({n.rsplit(CLIP_SEPARATOR, 1)[0] for n in names})
        self.facts["frames_per_clip"] = self.frames_per_clip
        size = self.image_size
        return FaceArrays(
            images=np.stack(images) if images else np.zeros((0, size, size), np.uint8),
            labels=np.array(labels, np.int64),
            classes=classes,
            splits=np.full(len(images), "", dtype="<U5"),
            files=names,
            subjects=np.array(subjects),
        )

    def groups(self, files: list[str]) -> list[str]:
        """The clip of each image."""
        return [f.rsplit(CLIP_SEPARATOR, 1)[0] for f in files]
