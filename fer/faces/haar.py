"""OpenCV's Haar cascade (Viola and Jones 2001), which ships inside the ``opencv-python-headless``
wheel (``cv2.data.haarcascades``): boxes only, no landmarks, so its crops are not aligned."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from fer.faces.box import Face

CASCADES = Path(cv2.data.haarcascades)


@dataclass
class HaarDetector:
    cascade: str = "haarcascade_frontalface_default.xml"  # a file in cv2.data.haarcascades, or a path
    scale_factor: float = 1.1  # image pyramid step of the cascade
    min_neighbors: int = 5  # overlapping detections needed to accept a face
    min_size: float = 0.08  # smallest face side, as a fraction of the frame's shorter side
    max_side: int = 480  # frames are scaled down to this longer side before detection

    follows = False  # searches every frame whole

    def __post_init__(self) -> None:
        path = Path(self.cascade) if Path(self.cascade).is_file() else CASCADES / self.cascade
        self._classifier = cv2.CascadeClassifier(str(path))
        if self._classifier.empty():
            raise FileNotFoundError(f"face detector: cannot load the Haar cascade {path}")

    def detect(self, image: np.ndarray) -> list[Face]:
        """Faces of a grey or BGR image, largest first, in its pixels."""
        grey = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        scale = min(1.0, self.max_side / max(grey.shape[:2]))
        small = (
            cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else grey
        )
        side = max(12, int(self.min_size * min(small.shape[:2])))
        boxes = self._classifier.detectMultiScale(
            small, self.scale_factor, self.min_neighbors, minSize=(side, side)
        )
        faces = [Face(np.asarray(b, np.float64) / scale) for b in boxes]
        return sorted(faces, key=lambda f: -f.box[2] * f.box[3])
