"""Building a backbone by name and wrapping it with its own input normalisation.

Every backbone is a timm model (the shallow CNN is registered with timm too). The
wrapper, :class:`EmotionNet`, takes the grey batch the data pipeline produces (uint8
or float in [0, 1], one channel), repeats it to three channels when the backbone was
built for RGB (exact pretrained semantics), and normalises with the backbone's
pretrained mean/std (averaged over RGB for one-channel stems, as timm sums the stem
kernels). Exported models carry the same preprocessing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import timm
import torch
from torch import nn

import fer.models.pathnet  # noqa: F401  (registers fer_pathnet with timm)
import fer.models.shallow_cnn  # noqa: F401  (registers fer_shallow_cnn with timm)
from fer.models.weights import load_pretrained
from fer.run.config import BackboneConfig, typed


class EmotionNet(nn.Module):
    def __init__(self, backbone: nn.Module, in_chans: int, mean: Sequence[float], std: Sequence[float]):
        super().__init__()
        self.backbone = backbone
        self.in_chans = in_chans
        mean = torch.tensor(mean, dtype=torch.float32)
        std = torch.tensor(std, dtype=torch.float32)
        if in_chans == 1:
            mean, std = mean.mean(0, keepdim=True), std.mean(0, keepdim=True)
        elif len(mean) == 1:
            mean, std = mean.repeat(in_chans), std.repeat(in_chans)
        self.register_buffer("mean", mean.view(1, -1, 1, 1), persistent=False)
        self.register_buffer("std", std.view(1, -1, 1, 1), persistent=False)

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """Grey uint8 / [0, 1] float ``(B, 1, H, W)`` -> the backbone's normalised input."""
        if x.dtype == torch.uint8:
            x = x.float().div_(255.0)
        if x.shape[1] != self.in_chans:
            x = x.expand(-1, self.in_chans, -1, -1)
        return (x - self.mean) / self.std

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.backbone.forward_features(self.normalize(x))

    def forward_head(self, features: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        return self.backbone.forward_head(features, pre_logits=pre_logits)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled features ``(B, D)``: everything but the classifier."""
        return self.backbone.forward_head(self.forward_features(x), pre_logits=True)

    def classify(self, features: torch.Tensor) -> torch.Tensor:
        """Logits from pooled features: ``classify(features(x)) == forward(x)``."""
        return self.backbone.get_classifier()(features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.backbone(self.normalize(x))


def zero_new_head(backbone: nn.Module, missing: list[str]) -> None:
    """Start a head the weights did not provide (all of it, from random init) at zero:
    uniform predictions, small first gradients.

    timm's TensorFlow-style head init gives large first logits on EfficientNet features,
    a large first loss and large early updates to the pretrained layers (measured in
    experiments/RESULTS.md, run 6).
    """
    head = backbone.get_classifier()
    names = {
        n
        for n, p in backbone.named_parameters()
        if p is getattr(head, "weight", None) or p is getattr(head, "bias", None)
    }
    if isinstance(head, nn.Linear) and names and names <= set(missing):
        nn.init.zeros_(head.weight)
        nn.init.zeros_(head.bias)


def build_backbone(
    cfg: Mapping, num_classes: int, load_weights: bool = True
) -> tuple[EmotionNet, dict | None]:
    """The ``backbone`` config (checked against its schema) -> (EmotionNet, weights report or None).

    Weights load when ``pretrained`` is true (from ``weights``, else timm's hub) or when
    ``weights`` names a file. ``load_weights=False`` builds the architecture only, as
    when a checkpoint's own weights will be loaded over it. ``mean``/``std`` default to
    the timm model's pretrained config.
    """
    cfg = typed(BackboneConfig, cfg, "backbone.")
    backbone = timm.create_model(
        cfg["name"],
        pretrained=False,
        num_classes=num_classes,
        in_chans=cfg["in_chans"],
        drop_rate=cfg["drop_rate"],
        **dict(cfg["kwargs"]),
    )
    weights = cfg["weights"]
    is_file = bool(weights) and not str(weights).startswith("pkg:")
    report = None
    if load_weights and (cfg["pretrained"] or is_file):
        report = load_pretrained(backbone, cfg["name"], weights)
    if load_weights and cfg["zero_head"]:  # new: what the weights lacked, or every layer from random init
        zero_new_head(
            backbone, report["missing"] if report else [name for name, _ in backbone.named_parameters()]
        )
    mean = cfg["mean"] or backbone.pretrained_cfg["mean"]
    std = cfg["std"] or backbone.pretrained_cfg["std"]
    return EmotionNet(backbone, cfg["in_chans"], mean, std), report
