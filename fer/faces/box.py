"""A detected face and the box geometry shared by detection, cropping, tracking and the benchmark."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Face:
    box: np.ndarray  # x, y, w, h in the frame's pixels (floats)
    score: float | None = None  # the detector's confidence (None: Haar gives none)
    # (5, 2) x, y of eye, eye, nose tip, mouth corner, mouth corner (image left to right), or None
    landmarks: np.ndarray | None = None


def square(box: np.ndarray, margin: float, shape: tuple[int, int]) -> tuple[int, int, int, int]:
    """The box grown by ``margin`` of its side on every edge, made square, clipped to the frame."""
    x, y, w, h = (float(v) for v in box)
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


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over union of every x, y, w, h box of ``a`` (N, 4) with every one of ``b`` (M, 4)."""
    a, b = np.asarray(a, np.float64).reshape(-1, 4), np.asarray(b, np.float64).reshape(-1, 4)
    x0 = np.maximum(a[:, None, 0], b[None, :, 0])
    y0 = np.maximum(a[:, None, 1], b[None, :, 1])
    x1 = np.minimum(a[:, None, 0] + a[:, None, 2], b[None, :, 0] + b[None, :, 2])
    y1 = np.minimum(a[:, None, 1] + a[:, None, 3], b[None, :, 1] + b[None, :, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    union = (a[:, 2] * a[:, 3])[:, None] + (b[:, 2] * b[:, 3])[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)
