"""Face crops, shared by the full-frame datasets and by prediction so that both crop alike.

A face with landmarks (the CNN detector) is aligned on them (:mod:`fer.faces.align`) where
``faces.align`` is on; otherwise the crop is the detected box grown by a margin and squared,
the way FER2013's faces were framed. Where no face is found a dataset falls back to the
central square and counts the image in its report.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping

import cv2
import numpy as np

from fer.faces.align import aligned_crop
from fer.faces.box import Face, centre_square, square
from fer.faces.detector import build_detector, describe
from fer.faces.haar import HaarDetector


def crop(grey: np.ndarray, box: tuple[int, int, int, int], size: int) -> np.ndarray:
    """``grey[box]`` resized to ``size`` x ``size`` (area interpolation when shrinking)."""
    x0, y0, x1, y1 = box
    patch = grey[y0:y1, x0:x1]
    interpolation = cv2.INTER_AREA if patch.shape[0] > size else cv2.INTER_LINEAR
    return cv2.resize(patch, (size, size), interpolation=interpolation)


def face_crop(grey: np.ndarray, face: Face, size: int, margin: float, align: bool) -> np.ndarray:
    """The face as a ``size`` x ``size`` grey crop: aligned on its landmarks, or its box squared."""
    if align and face.landmarks is not None:
        return aligned_crop(grey, face.landmarks, size)
    return crop(grey, square(face.box, margin, grey.shape), size)


class FaceCropper:
    """Crops the largest face of an image to ``size``; counts the images where none was found.

    Calls may come from several threads (each gets its own detector); ``record`` is
    called once per image, in order, by the loader that owns the cropper.
    """

    def __init__(self, size: int, margin: float, faces: Mapping, profiles: bool = False):
        self.size = size
        self.margin = margin
        self.faces = dict(faces)  # a FacesConfig section: detector, align, thresholds
        self.profiles = profiles  # where the detector finds none, try the profile cascade, and mirrored
        self._local = threading.local()
        self.found = 0
        self.missed: list[str] = []

    @property
    def detector(self):
        if not hasattr(self._local, "detector"):
            self._local.detector = build_detector(self.faces)
        return self._local.detector

    @property
    def profile_detector(self) -> HaarDetector:
        if not hasattr(self._local, "profile"):
            self._local.profile = HaarDetector(
                "haarcascade_profileface.xml",
                min_size=self.faces["min_size"],
                max_side=self.faces["max_side"],
            )
        return self._local.profile

    def find(self, grey: np.ndarray) -> Face | None:
        """The largest face, or None."""
        if faces := self.detector.detect(grey):
            return faces[0]
        if self.profiles:
            if faces := self.profile_detector.detect(grey):
                return faces[0]
            if faces := self.profile_detector.detect(grey[:, ::-1].copy()):
                x, y, w, h = faces[0].box
                return Face(np.array([grey.shape[1] - x - w, y, w, h]))
        return None

    def __call__(self, grey: np.ndarray) -> tuple[np.ndarray, bool]:
        """The face crop and True, or the central square and False where no face was found."""
        face = self.find(grey)
        if face is not None:
            return face_crop(grey, face, self.size, self.margin, self.faces["align"]), True
        return crop(grey, centre_square(grey.shape), self.size), False

    def record(self, name: str, found: bool) -> None:
        if found:
            self.found += 1
        else:
            self.missed.append(name)

    def summary(self) -> dict:
        """The report's ``face_crop`` entry."""
        return {
            "detector": describe(self.faces) + (" + haarcascade_profileface.xml" if self.profiles else ""),
            "margin": self.margin,
            "faces_found": self.found,
            "no_face_fallback": len(self.missed),  # cropped to the central square instead
            "no_face_files": self.missed,
        }


def crop_settings(data: Mapping) -> dict:
    """What a full-frame dataset's crops depend on, from its config section (part of its cache key)."""
    return {"face_margin": data["face_margin"], "faces": dict(data["faces"])}


def dataset_cropper(size: int, data: Mapping, profiles: bool = False) -> FaceCropper:
    """The cropper of a full-frame dataset, from its config section."""
    return FaceCropper(size, data["face_margin"], data["faces"], profiles)
