"""Frames to classify: a photo, a folder of photos and videos, a video file, or the webcam.

Videos are read frame by frame with OpenCV; skipped frames (``every``) are grabbed but not
decoded. Unreadable files are counted in a :class:`Tally`, never fatal, and so are videos that
end before the frame count in their header (a file cut short).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from fer.data.decode import IMAGE_SUFFIXES

log = logging.getLogger(__name__)
VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg"}


@dataclass
class Frame:
    source: str
    index: int  # frame number in a video, 0 for a photo
    image: np.ndarray  # BGR or grey, as read
    fps: float | None = None  # a video's frame rate (None: a photo, or a stream that does not say)


@dataclass
class Tally:
    frames: int = 0
    faces: int = 0
    without_face: int = 0
    unreadable: list[dict] = field(default_factory=list)
    ended_early: list[dict] = field(default_factory=list)  # videos shorter than their headers say
    seconds: float = 0.0

    def add(self, **counts: int) -> None:
        """Add to the named counters (``frames``, ``faces``, ``without_face``)."""
        for name, count in counts.items():
            setattr(self, name, getattr(self, name) + count)


def frames(source: str, every: int, tally: Tally) -> Iterator[Frame]:
    """Frames of a photo, a folder of photos (sorted), a video file, or ``webcam`` (device 0)."""
    if source == "webcam" or source.isdigit():
        yield from video_frames(0 if source == "webcam" else int(source), "webcam", every, tally)
        return
    path = Path(source).expanduser()
    if not path.exists():
        raise FileNotFoundError(
            f"input={source}: no such file or folder (expected a photo, a folder of photos, a video or "
            "'webcam')"
        )
    files = sorted(p for p in path.iterdir() if p.is_file()) if path.is_dir() else [path]
    for file in files:
        suffix = file.suffix.lower()
        if suffix in VIDEO_SUFFIXES:
            yield from video_frames(str(file), str(file), every, tally)
        elif suffix in IMAGE_SUFFIXES:
            image = cv2.imread(str(file), cv2.IMREAD_COLOR)
            if image is None:
                tally.unreadable.append({"file": str(file), "reason": "not a readable image"})
                continue
            yield Frame(str(file), 0, image)
        elif not path.is_dir():
            tally.unreadable.append(
                {
                    "file": str(file),
                    "reason": f"unknown suffix {suffix!r}: expected an image {sorted(IMAGE_SUFFIXES)} "
                    f"or a video {sorted(VIDEO_SUFFIXES)}",
                }
            )


def video_frames(device_or_file: str | int, name: str, every: int, tally: Tally) -> Iterator[Frame]:
    capture = cv2.VideoCapture(device_or_file)
    if not capture.isOpened():
        tally.unreadable.append({"file": name, "reason": "cannot open the video"})
        return
    fps = capture.get(cv2.CAP_PROP_FPS) or None
    announced = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) if isinstance(device_or_file, str) else 0
    index = 0
    try:
        while True:
            if index % every:
                if not capture.grab():  # skipped frames are not decoded
                    break
            else:
                ok, image = capture.read()
                if not ok:
                    break
                yield Frame(name, index, image, fps)
            index += 1
    finally:
        capture.release()
    if announced > 0 and index < announced:  # a file cut short: its header still counts the lost frames
        log.warning("%s ends at frame %d; its header says %d frames", name, index, announced)
        tally.ended_early.append({"file": name, "frames_read": index, "frames_in_header": announced})
