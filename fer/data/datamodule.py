"""The one LightningDataModule: :class:`Splits` (fer/data/pipeline.py) in batches.

It owns batching only: the torch datasets and their transforms, the worker loaders, the device
path (batches built and augmented on the training device, fer/data/device.py) and the DDP
samplers. What the splits hold was decided before it was built, and it never changes them.
"""

from __future__ import annotations

from collections.abc import Sequence

import lightning as L
import torch
from lightning.pytorch.overrides.distributed import UnrepeatedDistributedSampler
from torch.utils.data import ConcatDataset, DataLoader, Dataset

from fer.data.arrays import FaceDataset
from fer.data.device import DeviceLoader, device_augmentation
from fer.data.pipeline import SPLITS, Splits
from fer.data.transforms import eval_transform, train_transform


class FERDataModule(L.LightningDataModule):
    """``splits`` in batches of ``batch_size`` at ``input_size`` (None: the stored size), training
    batches augmented by ``augment`` (albumentations specs; kornia ones where ``on_device``)."""

    def __init__(
        self,
        splits: Splits,
        *,
        input_size: int | None = None,
        augment: Sequence = (),
        batch_size: int = 64,
        num_workers: int = 0,
        on_device: bool = False,
        seed: int = 0,
    ):
        super().__init__()
        self.splits = splits
        self.native_size = int(splits.arrays["train"].images.shape[1])
        self.input_size = self.native_size if input_size is None else input_size
        self.augment = list(augment)
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.on_device = on_device
        self.seed = seed
        self._device_loaders: dict[str, DeviceLoader] = {}

    def dataset(self, split: str, augment: bool | None = None) -> Dataset:
        """The torch Dataset of one split (``all``: every split, never augmented); training augments
        unless told otherwise."""
        if split == "all":
            return ConcatDataset([self.dataset(s, augment=False) for s in SPLITS])
        augment = split == "train" if augment is None else augment
        if augment:
            transform = train_transform(self.augment, self.input_size, self.native_size)
        else:
            transform = eval_transform(self.input_size, self.native_size)
        return FaceDataset(self.splits.arrays[split], transform)

    def loader(self, split: str) -> DataLoader | DeviceLoader:
        """The evaluation loader of any split, or ``all`` (every image, in split order)."""
        return self._loader(split, shuffle=False)

    def train_dataloader(self) -> DataLoader | DeviceLoader:
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader | DeviceLoader:
        return self._loader("val", shuffle=False)

    def test_dataloader(self) -> DataLoader | DeviceLoader:
        return self._loader("test", shuffle=False)

    def _loader(self, split: str, shuffle: bool) -> DataLoader | DeviceLoader:
        if self.on_device:
            if split not in self._device_loaders:
                self._device_loaders[split] = DeviceLoader(
                    self.splits.arrays[split],
                    self.batch_size,
                    self.input_size,
                    device=lambda: self.trainer.strategy.root_device if self.trainer else torch.device("cpu"),
                    shuffle=shuffle,
                    augment=device_augmentation(self.augment) if shuffle else None,
                    seed=self.seed,
                    shard=lambda: (
                        (self.trainer.global_rank, self.trainer.world_size) if self.trainer else (0, 1)
                    ),
                )
            return self._device_loaders[split]
        dataset = self.dataset(split)
        return DataLoader(
            dataset,
            batch_size=self.batch_size,
            shuffle=shuffle,
            sampler=None if shuffle else self._unrepeated_sampler(dataset),
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
            pin_memory=torch.cuda.is_available(),
            drop_last=shuffle and len(dataset) > self.batch_size,
        )

    def _unrepeated_sampler(self, dataset: Dataset) -> UnrepeatedDistributedSampler | None:
        """Under DDP, each validation and test image goes to exactly one process: Lightning's default
        sampler repeats a few images to even out the shares, and they would be counted twice."""
        trainer = self.trainer
        if trainer is None or trainer.world_size == 1:
            return None
        return UnrepeatedDistributedSampler(
            dataset, num_replicas=trainer.world_size, rank=trainer.global_rank, shuffle=False
        )
