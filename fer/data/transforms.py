"""Albumentations pipelines for training and evaluation, built from config.

The ``augment`` config group lists albumentations transforms (``_target_`` + args);
augmentation runs at the stored resolution, then one resize to the backbone's input
size, so a 224-pixel backbone pays for the resize only once per image.
"""

from __future__ import annotations

from collections.abc import Sequence

import albumentations as A
import cv2
import numpy as np
from hydra.utils import instantiate


class PadCrop(A.ImageOnlyTransform):
    """Pad each edge by ``pad`` of the side (reflected), then crop back at a random position:
    a random shift of up to ``pad`` of the side, whatever the stored size (4 px at 48)."""

    def __init__(self, pad: float = 1 / 12, p: float = 1.0):
        super().__init__(p=p)
        self.pad = pad

    def get_params_dependent_on_data(self, params: dict, data: dict) -> dict:
        px = max(1, round(min(params["shape"][:2]) * self.pad))
        return {"px": px, "top": self.py_random.randint(0, 2 * px), "left": self.py_random.randint(0, 2 * px)}

    def apply(self, img: np.ndarray, px: int = 0, top: int = 0, left: int = 0, **params) -> np.ndarray:
        padded = cv2.copyMakeBorder(img, px, px, px, px, cv2.BORDER_REFLECT_101)
        return padded[top : top + img.shape[0], left : left + img.shape[1]]

    def get_transform_init_args_names(self) -> tuple[str, ...]:
        return ("pad",)


def _resize(size: int, native: int) -> list:
    if size == native:
        return []
    interpolation = cv2.INTER_AREA if size < native else cv2.INTER_LINEAR
    return [A.Resize(size, size, interpolation=interpolation)]


def train_transform(augment: Sequence, size: int, native: int) -> A.Compose:
    """The configured augmentations at the stored size ``native``, then the resize to ``size``."""
    return A.Compose([instantiate(t) for t in augment] + _resize(size, native))


def eval_transform(size: int, native: int) -> A.Compose | None:
    """Evaluation only resizes; ``None`` when nothing is to be done."""
    steps = _resize(size, native)
    return A.Compose(steps) if steps else None
