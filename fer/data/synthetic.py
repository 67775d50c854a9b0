"""``data=synthetic``: the embedded default dataset of drawn faces (see synthetic_faces)."""

from __future__ import annotations

import numpy as np

from fer.data.arrays import FaceArrays
from fer.data.datamodule import FERDataModule
from fer.data.synthetic_faces import synthetic_faces
from fer.labels import FER2013_CLASSES


class SyntheticDataModule(FERDataModule):
    name = "synthetic"

    def __init__(self, *, num_train: int = 5600, num_val: int = 700, num_test: int = 1400, data_seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.sizes = {"train": num_train, "val": num_val, "test": num_test}
        self.data_seed = data_seed

    def load(self) -> FaceArrays:
        """Drawn, not read: nothing to cache."""
        images, labels, splits, offset = [], [], [], 0
        for split, num in self.sizes.items():
            x, y = synthetic_faces(num, self.data_seed, offset)
            images.append(x)
            labels.append(y)
            splits += [split] * num
            offset += num
        return FaceArrays(
            images=np.concatenate(images),
            labels=np.concatenate(labels),
            classes=list(FER2013_CLASSES),
            splits=np.array(splits),
            files=[f"synthetic/{i:06d}" for i in range(offset)],
        )
