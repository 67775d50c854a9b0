"""``data=synthetic``: the embedded default dataset of drawn faces (see synthetic_faces)."""

from __future__ import annotations

import numpy as np

from fer.data.arrays import FaceArrays
from fer.data.folders import Resize
from fer.data.labels import FER2013_CLASSES
from fer.data.source import Decoded, Source
from fer.data.synthetic_faces import synthetic_faces
from fer.run.config import SyntheticDataConfig


class SyntheticSource(Source):
    name = "synthetic"
    schema = SyntheticDataConfig

    def __init__(self, section):
        super().__init__(section)
        self.sizes = {
            "train": self.cfg["num_train"],
            "val": self.cfg["num_val"],
            "test": self.cfg["num_test"],
        }
        self.data_seed = self.cfg["data_seed"]

    def read(self, cache_dir: str | None) -> Decoded:
        """Drawn, not read: nothing to cache."""
        images, labels, splits, offset = [], [], [], 0
        for split, num in self.sizes.items():
            x, y = synthetic_faces(num, self.data_seed, offset)
            images.append(x)
            labels.append(y)
            splits += [split] * num
            offset += num
        images = np.concatenate(images)
        if images.shape[1] != self.image_size:  # drawn at 48 px
            images = np.stack([Resize(self.image_size)(image)[0] for image in images])
        arrays = FaceArrays(
            images=images,
            labels=np.concatenate(labels),
            classes=list(FER2013_CLASSES),
            splits=np.array(splits),
            files=[f"synthetic/{i:06d}" for i in range(offset)],
        )
        return Decoded(arrays, [], {})
