"""``DenseHead``: the readout the shallow CNN and PathNet share, with timm's head contract.

Global average pooling, an optional dense layer (Linear-BatchNorm-ReLU), dropout and the linear
classifier; ``get_classifier``, ``reset_classifier``, ``forward_head(pre_logits=)`` and ``forward``
as timm models have them. A model calls :meth:`init_head` in its constructor and implements
``forward_features``.
"""

from __future__ import annotations

import torch
from torch import nn


class DenseHead(nn.Module):
    def init_head(self, num_features: int, hidden: int, num_classes: int, drop_rate: float) -> None:
        """``hidden=0``: the classifier reads the pooled features directly."""
        self.num_features = num_features
        self.head_hidden_size = hidden or num_features
        self.global_pool = nn.AdaptiveAvgPool2d(1)
        layers = (
            [nn.Linear(num_features, hidden), nn.BatchNorm1d(hidden), nn.ReLU(inplace=True)] if hidden else []
        )
        self.pre_logits = nn.Sequential(nn.Flatten(1), *layers)
        self.head_drop = nn.Dropout(drop_rate)
        self.reset_classifier(num_classes)

    @torch.jit.ignore
    def get_classifier(self) -> nn.Module:
        return self.classifier

    def reset_classifier(self, num_classes: int, global_pool: str | None = None) -> None:
        self.num_classes = num_classes
        self.classifier = nn.Linear(self.head_hidden_size, num_classes) if num_classes > 0 else nn.Identity()

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = self.pre_logits(self.global_pool(x))
        return x if pre_logits else self.classifier(self.head_drop(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))
