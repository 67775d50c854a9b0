"""The linear probe's data: pooled backbone features, computed once per split.

For ``finetune=frozen`` the backbone never changes, so its features for the training
and validation images are computed on first use (without augmentation: a cached
feature cannot be re-augmented) and every epoch after that trains the head alone on
them. Testing still runs the whole network on images, as a deployed model would.
"""

from __future__ import annotations

import lightning as L
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from fer.data.datamodule import FERDataModule


@torch.no_grad()
def compute_features(net: nn.Module, loader: DataLoader) -> TensorDataset:
    """``(features (N, D), targets)`` of every batch of ``loader``, the network in eval mode."""
    was_training = net.training
    net.eval()
    device = next(net.parameters()).device
    features, targets = [], []
    for x, target in loader:
        features.append(net.features(x.to(device)).float().cpu())
        targets.append(target if torch.is_tensor(target) else torch.as_tensor(target))
    net.train(was_training)
    return TensorDataset(torch.cat(features), torch.cat(targets))


class FeatureDataModule(L.LightningDataModule):
    """Wraps a dataset's DataModule: train/val batches are cached features, test batches images.

    ``net`` is the model's network: anything with ``features(images) -> (B, D)`` (EmotionNet)."""

    def __init__(self, images: FERDataModule, net: nn.Module):
        super().__init__()
        self.images = images
        self.net = net
        self.cache: dict[str, TensorDataset] = {}

    def features(self, split: str) -> TensorDataset:
        if split not in self.cache:
            loader = DataLoader(
                self.images.dataset(split, augment=False), batch_size=256, num_workers=self.images.num_workers
            )
            self.cache[split] = compute_features(self.net, loader)
        return self.cache[split]

    def train_dataloader(self) -> DataLoader:
        return DataLoader(self.features("train"), batch_size=self.images.batch_size, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.features("val"), batch_size=self.images.batch_size)

    def test_dataloader(self) -> DataLoader:
        return self.images.test_dataloader()
