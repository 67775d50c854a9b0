"""The source paper's CNN baseline, registered with timm as ``fer_shallow_cnn``.

Conv-BN-ReLU blocks with max-pooling and a dense head, trained from scratch on 48x48
grey faces. It implements timm's model contract (``forward_features``,
``forward_head(pre_logits=)``, ``get_classifier``, ``reset_classifier``,
``group_matcher``, ``pretrained_cfg``) so the LightningModule, staged unfreezing and
export treat it like any timm backbone.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from timm.models import build_model_with_cfg, generate_default_cfgs, register_model
from torch import nn


def _block(cin: int, cout: int, convs: int, drop: float) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(convs):
        layers += [
            nn.Conv2d(cin if i == 0 else cout, cout, 3, padding=1, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
        ]
    layers += [nn.MaxPool2d(2), nn.Dropout2d(drop)]
    return nn.Sequential(*layers)


class ShallowCNN(nn.Module):
    def __init__(
        self,
        num_classes: int = 7,
        in_chans: int = 1,
        widths: Sequence[int] = (
            32,
            64,
            128,
            256,
        ),  # channels of the conv blocks (each halves the resolution)
        convs_per_block: int = 1,  # conv-BN-ReLU layers per block
        hidden: int = 256,  # width of the dense layer before the classifier
        drop_rate: float = 0.0,  # dropout before the classifier (backbone.drop_rate sets it)
        block_drop: float = 0.0,  # channel dropout after each block (slows early training)
    ):
        super().__init__()
        self.num_classes = num_classes
        self.in_chans = in_chans
        self.drop_rate = drop_rate
        self.stem = nn.Sequential(
            nn.Conv2d(in_chans, widths[0], 3, padding=1, bias=False),
            nn.BatchNorm2d(widths[0]),
            nn.ReLU(inplace=True),
        )
        chans = [widths[0], *widths]
        self.blocks = nn.Sequential(
            *[_block(chans[i], chans[i + 1], convs_per_block, block_drop) for i in range(len(widths))]
        )
        self.num_features = widths[-1]
        self.head_hidden_size = hidden
        self.global_pool = nn.AdaptiveAvgPool2d(1)
        self.pre_logits = nn.Sequential(
            nn.Flatten(1), nn.Linear(widths[-1], hidden), nn.BatchNorm1d(hidden), nn.ReLU(inplace=True)
        )
        self.head_drop = nn.Dropout(drop_rate)
        self.classifier = nn.Linear(hidden, num_classes) if num_classes > 0 else nn.Identity()

    @torch.jit.ignore
    def group_matcher(self, coarse: bool = False) -> dict:
        return dict(stem=r"^stem", blocks=r"^blocks\.(\d+)")

    @torch.jit.ignore
    def get_classifier(self) -> nn.Module:
        return self.classifier

    def reset_classifier(self, num_classes: int, global_pool: str | None = None) -> None:
        self.num_classes = num_classes
        self.classifier = nn.Linear(self.head_hidden_size, num_classes) if num_classes > 0 else nn.Identity()

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(self.stem(x))

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = self.pre_logits(self.global_pool(x))
        return x if pre_logits else self.classifier(self.head_drop(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))


default_cfgs = generate_default_cfgs(
    {
        "fer_shallow_cnn": {
            "input_size": (1, 48, 48),
            "mean": (0.5,),
            "std": (0.25,),
            "num_classes": 7,
            "first_conv": "stem.0",
            "classifier": "classifier",
            "license": "mit",
        }
    }
)


@register_model
def fer_shallow_cnn(pretrained: bool = False, **kwargs) -> ShallowCNN:
    return build_model_with_cfg(ShallowCNN, "fer_shallow_cnn", pretrained, **kwargs)
