"""Face detection and cropping, shared by the full-frame datasets and by prediction.

The detector is OpenCV's Haar cascade, which ships inside the ``opencv-python-headless``
wheel (``cv2.data.haarcascades``): no download, no account. Large frames are scaled
down before detection (the cost grows with the pixel count) and boxes are mapped back.
A crop is the detected box grown by a margin and squared, the way FER2013's faces
were framed; where no face is found a dataset falls back to the central square and
counts the image in its report.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

CASCADES = Path(cv2.data.haarcascades)


@dataclass
class FaceDetector:
    cascade: str = "haarcascade_frontalface_default.xml"  # a file in cv2.data.haarcascades, or a path
    scale_factor: float = 1.1  # image pyramid step of the cascade
    min_neighbors: int = 5  # overlapping detections needed to accept a face
    min_face: float = 0.08  # smallest face side, as a fraction of the frame's shorter side
    max_side: int = 480  # frames are scaled down to this longer side before detection

    def __post_init__(self) -> None:
        path = Path(self.cascade) if Path(self.cascade).is_file() else CASCADES / self.cascade
        self._classifier = cv2.CascadeClassifier(str(path))
        if self._classifier.empty():
            raise FileNotFoundError(f"face detector: cannot load the Haar cascade {path}")

    def detect(self, grey: np.ndarray) -> np.ndarray:
        """Boxes ``(K, 4)`` as x, y, w, h in ``grey``'s pixels, largest first."""
        scale = min(1.0, self.max_side / max(grey.shape[:2]))
        small = (
            cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else grey
        )
        side = max(12, int(self.min_face * min(small.shape[:2])))
        boxes = self._classifier.detectMultiScale(
            small, self.scale_factor, self.min_neighbors, minSize=(side, side)
        )
        if len(boxes) == 0:
            return np.zeros((0, 4), np.int64)
        boxes = np.round(np.asarray(boxes, np.float64) / scale).astype(np.int64)
        return boxes[np.argsort(-boxes[:, 2] * boxes[:, 3], kind="stable")]


def square(box: np.ndarray, margin: float, shape: tuple[int, int]) -> tuple[int, int, int, int]:
    """The box grown by ``margin`` of its side on every edge, made square, clipped to the frame."""
    x, y, w, h = (int(v) for v in box)
    side = int(round(max(w, h) * (1 + 2 * margin)))
    side = min(side, shape[0], shape[1])
    cx, cy = x + w / 2, y + h / 2
    x0 = int(round(min(max(cx - side / 2, 0), shape[1] - side)))
    y0 = int(round(min(max(cy - side / 2, 0), shape[0] - side)))
    return x0, y0, x0 + side, y0 + side


def centre_square(shape: tuple[int, int]) -> tuple[int, int, int, int]:
    """The largest central square of a frame: the fallback where no face is found."""
    side = min(shape[:2])
    x0, y0 = (shape[1] - side) // 2, (shape[0] - side) // 2
    return x0, y0, x0 + side, y0 + side


def crop(grey: np.ndarray, box: tuple[int, int, int, int], size: int) -> np.ndarray:
    """``grey[box]`` resized to ``size`` x ``size`` (area interpolation when shrinking)."""
    x0, y0, x1, y1 = box
    patch = grey[y0:y1, x0:x1]
    interpolation = cv2.INTER_AREA if patch.shape[0] > size else cv2.INTER_LINEAR
    return cv2.resize(patch, (size, size), interpolation=interpolation)


class FaceCropper:
    """Crops the largest face of an image to ``size``; counts the images where none was found.

    Calls may come from several threads (each gets its own detector); ``record`` is
    called once per image, in order, by the loader that owns the cropper.
    """

    def __init__(self, size: int, margin: float = 0.15, profiles: bool = False, **detector: object):
        self.size = size
        self.margin = margin
        self.profiles = profiles  # also try the profile cascade, on the image and its mirror
        self.settings = detector
        self._local = threading.local()
        self.found = 0
        self.missed: list[str] = []

    @property
    def detector(self) -> FaceDetector:
        if not hasattr(self._local, "detector"):
            self._local.detector = FaceDetector(**self.settings)
        return self._local.detector

    @property
    def profile_detector(self) -> FaceDetector:
        if not hasattr(self._local, "profile"):
            self._local.profile = FaceDetector(**{**self.settings, "cascade": "haarcascade_profileface.xml"})
        return self._local.profile

    def find(self, grey: np.ndarray) -> np.ndarray | None:
        """The largest face box (x, y, w, h), or None."""
        boxes = self.detector.detect(grey)
        if len(boxes):
            return boxes[0]
        if self.profiles:
            if len(boxes := self.profile_detector.detect(grey)):
                return boxes[0]
            if len(boxes := self.profile_detector.detect(grey[:, ::-1].copy())):
                x, y, w, h = boxes[0]
                return np.array([grey.shape[1] - x - w, y, w, h])
        return None

    def __call__(self, grey: np.ndarray) -> tuple[np.ndarray, bool]:
        """The face crop and True, or the central square and False where no face was found."""
        box = self.find(grey)
        if box is not None:
            return crop(grey, square(box, self.margin, grey.shape), self.size), True
        return crop(grey, centre_square(grey.shape), self.size), False

    def record(self, name: str, found: bool) -> None:
        if found:
            self.found += 1
        else:
            self.missed.append(name)

    def summary(self) -> dict:
        """The report's ``face_crop`` entry."""
        return {
            "detector": f"opencv haar {self.detector.cascade}"
            + (" + haarcascade_profileface.xml" if self.profiles else ""),
            "margin": self.margin,
            "faces_found": self.found,
            "no_face_fallback": len(self.missed),  # cropped to the central square instead
            "no_face_files": self.missed,
        }
