"""The device-side data path (``augment=device``): a split as one tensor on the training device.

FER faces are tiny (all of FER2013 is 83 MB as uint8), so a split is copied to the device once;
each batch is indexed there and augmented there, every sample with its own random parameters, in
one batched call of kornia's augmentation module, then resized to the backbone's input size. No
loader workers, no host-to-device copy per batch: on a GPU the input pipeline stops being the
limit, and on a CPU the augmentation runs in the training process instead of in worker
processes that compete with it for the same cores. Under DDP each process takes its own share
of the shuffled index (``rank::world_size``); the data itself is not split.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from hydra.utils import instantiate
from torch import nn

from fer.data.arrays import FaceArrays


def device_augmentation(transforms: Sequence) -> nn.Sequential:
    """The ``augment`` config's kornia transforms (``_target_`` + args), applied in order to a batch."""
    return nn.Sequential(*(instantiate(t) for t in transforms))


class DeviceLoader:
    """Batches ``(float images (B, 1, size, size) in [0, 1], targets)`` of one split, built on the device
    that ``device()`` names when an epoch starts."""

    def __init__(
        self,
        arrays: FaceArrays,
        batch_size: int,
        size: int,
        device: Callable[[], torch.device],
        *,
        shuffle: bool = False,
        augment: nn.Module | None = None,
        seed: int = 0,
        shard: Callable[[], tuple[int, int]] = lambda: (0, 1),
    ):
        self.arrays = arrays
        self.batch_size = batch_size
        self.size = size
        self.device = device
        self.shuffle = shuffle
        self.augment = augment
        self.seed = seed
        self.shard = shard
        self.epoch = 0  # reseeds the shuffle of each pass
        self.images: torch.Tensor | None = None  # (N, 1, S, S) uint8 on the device, made at the first pass
        self.targets: torch.Tensor | None = None

    def order(self) -> torch.Tensor:
        """This process's share of the index for the coming pass."""
        n = len(self.arrays.images)
        if self.shuffle:
            order = torch.randperm(n, generator=torch.Generator().manual_seed(self.seed + self.epoch))
        else:
            order = torch.arange(n)
        rank, world = self.shard()
        return order[rank::world]

    def __len__(self) -> int:
        rank, world = self.shard()
        count = len(range(rank, len(self.arrays.images), world))
        return (
            count // self.batch_size
            if self.shuffle and count >= self.batch_size
            else -(-count // self.batch_size)
        )

    def to_device(self, device: torch.device) -> None:
        if self.images is None or self.images.device != device:
            self.images = torch.from_numpy(self.arrays.images).unsqueeze(1).to(device)
            targets = self.arrays.targets if self.arrays.targets is not None else self.arrays.labels
            self.targets = torch.from_numpy(targets).to(device)

    @torch.no_grad()
    def batch(self, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.images[index].float().div_(255.0)
        if self.augment is not None:
            x = self.augment(x).clamp_(0.0, 1.0)
        if x.shape[-1] != self.size:
            x = F.interpolate(
                x, size=(self.size, self.size), mode="bilinear", antialias=True, align_corners=False
            )
        return x, self.targets[index]

    def __iter__(self):
        device = self.device()
        self.to_device(device)
        order = self.order().to(device)
        self.epoch += 1
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            yield self.batch(order[start : start + self.batch_size])
