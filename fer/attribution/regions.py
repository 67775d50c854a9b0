"""Face regions at a model's input size, placed by the five-landmark template, and the share of a map's
positive mass that falls in each.

Faces from photos are aligned onto ``fer.faces.align.TEMPLATE`` (measured on FER2013's own faces), so
in every dataset the eyes, nose and mouth sit at about these places. Each region is an ellipse scaled
by the template's eye distance ``d``:

- ``eye_brow_left`` / ``eye_brow_right``: the eye on the image's left / right side (the subject's right
  / left) and the brow above it: centred 0.15 d above the eye, half-axes 0.38 d across, 0.32 d high;
- ``nose``: from just below the eyes to just below the tip: centred halfway between the eyes' line and
  the tip, half-axes 0.25 d across, 0.30 d high;
- ``mouth``: centred between the mouth corners, reaching 0.15 d beyond each, 0.26 d high;
- ``rest``: every other pixel of the face crop (cheeks, forehead, chin, jaw and what lies beyond).
"""

from __future__ import annotations

import numpy as np

from fer.faces.align import TEMPLATE

REGIONS = ("eye_brow_left", "eye_brow_right", "nose", "mouth", "rest")


def ellipses() -> dict[str, tuple[float, float, float, float]]:
    """Each named region's ellipse as (centre x, centre y, half-width, half-height), fractions of the side."""
    eye_left, eye_right, nose, mouth_left, mouth_right = TEMPLATE
    d = eye_right[0] - eye_left[0]
    eyes_y = (eye_left[1] + eye_right[1]) / 2
    mouth = (mouth_left + mouth_right) / 2
    return {
        "eye_brow_left": (eye_left[0], eye_left[1] - 0.15 * d, 0.38 * d, 0.32 * d),
        "eye_brow_right": (eye_right[0], eye_right[1] - 0.15 * d, 0.38 * d, 0.32 * d),
        "nose": (nose[0], (eyes_y + nose[1]) / 2 + 0.05 * d, 0.25 * d, 0.30 * d),
        "mouth": (mouth[0], mouth[1], (mouth_right[0] - mouth_left[0]) / 2 + 0.15 * d, 0.26 * d),
    }


def masks(size: int) -> np.ndarray:
    """``(len(REGIONS), size, size)`` boolean masks that split the crop: each pixel in exactly one."""
    centres = (np.arange(size) + 0.5) / size
    x, y = np.meshgrid(centres, centres)
    taken = np.zeros((size, size), bool)
    out = []
    for cx, cy, ax, ay in ellipses().values():
        inside = ((x - cx) / ax) ** 2 + ((y - cy) / ay) ** 2 <= 1
        out.append(inside & ~taken)
        taken |= inside
    out.append(~taken)
    return np.stack(out)


def area_shares(size: int) -> np.ndarray:
    """Each region's share of the crop's area: what a map spread evenly would give it."""
    return masks(size).reshape(len(REGIONS), -1).mean(1)


def mass_shares(maps: np.ndarray) -> np.ndarray:
    """``(N, len(REGIONS))``: the share of each map's positive mass in each region (NaN: a map without
    any)."""
    positive = np.clip(maps, 0, None).reshape(len(maps), -1)
    region = masks(maps.shape[-1]).reshape(len(REGIONS), -1).astype(positive.dtype)
    mass = positive @ region.T
    total = positive.sum(1, keepdims=True)
    return np.divide(mass, total, out=np.full(mass.shape, np.nan), where=total > 0)
