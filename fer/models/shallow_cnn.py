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

from fer.models.dense_head import DenseHead


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


class ShallowCNN(DenseHead):
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
        self.init_head(widths[-1], hidden, num_classes, drop_rate)

    @torch.jit.ignore
    def group_matcher(self, coarse: bool = False) -> dict:
        return dict(stem=r"^stem", blocks=r"^blocks\.(\d+)")

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(self.stem(x))


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
