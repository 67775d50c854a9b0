"""The in-memory form every dataset is decoded into, and the torch Dataset over it."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np
import torch
from torch.utils.data import Dataset


@dataclass
class FaceArrays:
    """A whole dataset decoded once: what every loader returns and the cache stores.

    ``labels`` index ``classes``; ``targets`` (optional, ``(N, len(classes))`` float32)
    carries soft labels such as FER+ vote distributions. ``splits`` holds the source's
    own split name per image (``train``/``val``/``test``) or ``""`` where it has none.
    """

    images: np.ndarray  # (N, H, W) uint8 grey
    labels: np.ndarray  # (N,) int64
    classes: list[str]
    splits: np.ndarray  # (N,) str
    files: list[str] = field(default_factory=list)  # source of each image, relative to the root
    subjects: np.ndarray | None = None  # (N,) str, where the dataset names its subjects
    targets: np.ndarray | None = None  # (N, K) float32 soft labels

    def __post_init__(self) -> None:
        n = len(self.images)
        if self.images.dtype != np.uint8 or self.images.ndim != 3:
            raise ValueError(f"images must be (N, H, W) uint8, got {self.images.shape} {self.images.dtype}")
        for name in ("labels", "splits", "subjects", "targets"):
            value = getattr(self, name)
            if value is not None and len(value) != n:
                raise ValueError(f"{name} has {len(value)} entries for {n} images")

    def subset(self, index: np.ndarray) -> FaceArrays:
        """The images at ``index`` (an integer array), every per-image field kept aligned."""
        return FaceArrays(
            images=self.images[index],
            labels=self.labels[index],
            classes=self.classes,
            splits=self.splits[index],
            files=[self.files[i] for i in index] if self.files else [],
            subjects=None if self.subjects is None else self.subjects[index],
            targets=None if self.targets is None else self.targets[index],
        )

    def select_classes(self, classes: list[str]) -> FaceArrays:
        """Keep the images of ``classes`` and renumber labels (and soft-target columns) to that order."""
        if list(classes) == list(self.classes):
            return self
        old = [self.classes.index(c) for c in classes]
        keep = np.flatnonzero(np.isin(self.labels, old))
        out = self.subset(keep)
        lookup = np.full(len(self.classes), -1, np.int64)
        lookup[old] = np.arange(len(classes))
        out.labels = lookup[out.labels]
        out.classes = list(classes)
        if out.targets is not None:
            mass = out.targets[:, old]
            out.targets = (mass / np.maximum(mass.sum(1, keepdims=True), 1e-12)).astype(np.float32)
        return out


class FaceDataset(Dataset):
    """Yields ``(uint8 tensor (1, S, S), target)``; the model scales and normalises.

    Keeping images uint8 until they reach the model quarters the bytes that cross
    worker processes and the host-to-device copy.
    """

    def __init__(self, arrays: FaceArrays, transform=None):
        self.arrays = arrays
        self.transform = transform
        self._seeded_in: int | None = None  # the process whose torch seed the transform follows

    def __len__(self) -> int:
        return len(self.arrays.images)

    def _seed_transform(self) -> None:
        """Albumentations keeps its own random state, blind to ``seed_everything``: derive it
        from torch's seed in this process (the run's seed, or a loader worker's own seed)."""
        if self.transform is not None and self._seeded_in != os.getpid():
            self.transform.set_random_seed(torch.initial_seed() % 2**32)
            self._seeded_in = os.getpid()

    def __getitem__(self, i: int):
        image = self.arrays.images[i]
        if self.transform is not None:
            self._seed_transform()
            image = self.transform(image=image)["image"]
        x = torch.from_numpy(np.ascontiguousarray(image)).unsqueeze(0)
        if self.arrays.targets is not None:
            return x, torch.from_numpy(self.arrays.targets[i])
        return x, int(self.arrays.labels[i])
