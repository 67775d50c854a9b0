"""The face detector a ``faces`` config section asks for (fer/run/config.py FacesConfig)."""

from __future__ import annotations

from collections.abc import Mapping

from fer.faces.haar import HaarDetector
from fer.faces.mtcnn import MTCNNDetector

DETECTORS = ("cnn", "haar")


def build_detector(faces: Mapping) -> HaarDetector | MTCNNDetector:
    kind = faces["detector"]
    if kind == "cnn":
        return MTCNNDetector(faces["min_confidence"], faces["min_size"], faces["max_side"])
    if kind == "haar":
        return HaarDetector(min_size=faces["min_size"], max_side=faces["max_side"])
    raise ValueError(f"faces.detector={kind!r}: expected one of {', '.join(DETECTORS)}")


def describe(faces: Mapping) -> str:
    """How faces are found and cropped, in words, for reports."""
    if faces["detector"] == "haar":
        return "opencv haar cascade, box crop"
    return "mtcnn (weights of the mtcnn wheel), " + (
        "aligned on five landmarks" if faces["align"] else "box crop"
    )
