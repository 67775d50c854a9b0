"""Albumentations pipelines for training and evaluation, built from config.

The ``augment`` config group lists albumentations transforms (``_target_`` + args);
augmentation runs at the stored resolution, then one resize to the backbone's input
size, so a 224-pixel backbone pays for the resize only once per image.
"""

from __future__ import annotations

from collections.abc import Sequence

import albumentations as A
import cv2
from hydra.utils import instantiate


def _resize(size: int, native: int) -> list:
    if size == native:
        return []
    interpolation = cv2.INTER_AREA if size < native else cv2.INTER_LINEAR
    return [A.Resize(size, size, interpolation=interpolation)]


def train_transform(augment: Sequence, size: int, native: int = 48) -> A.Compose:
    """The configured augmentations, then the resize to ``size``."""
    return A.Compose([instantiate(t) for t in augment] + _resize(size, native))


def eval_transform(size: int, native: int = 48) -> A.Compose | None:
    """Evaluation only resizes; ``None`` when nothing is to be done."""
    steps = _resize(size, native)
    return A.Compose(steps) if steps else None
