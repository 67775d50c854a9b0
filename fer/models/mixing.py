"""Mixup and CutMix on a training batch, with the matching soft targets.

Each batch draws one mixing weight ``lam ~ Beta(alpha, alpha)`` and pairs every image
with a shuffled partner. With both enabled a batch uses one of the two at random.
Targets become ``lam * one_hot(y) + (1 - lam) * one_hot(y[perm])`` (or the mix of two
soft targets), which the cross-entropy takes as probabilities.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def soft(target: torch.Tensor, num_classes: int) -> torch.Tensor:
    return target.float() if target.is_floating_point() else F.one_hot(target, num_classes).float()


def mix(
    x: torch.Tensor,
    target: torch.Tensor,
    num_classes: int,
    mixup: float,
    cutmix: float,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(mixed images as float in [0, 255] or the input dtype's range, soft targets)``."""
    kinds = [k for k, alpha in (("mixup", mixup), ("cutmix", cutmix)) if alpha > 0]
    if not kinds:
        return x, target
    kind = kinds[int(torch.randint(len(kinds), (1,), generator=generator))]
    alpha = mixup if kind == "mixup" else cutmix
    lam = float(torch.distributions.Beta(alpha, alpha).sample())
    perm = torch.randperm(len(x), generator=generator, device="cpu").to(x.device)
    y = soft(target, num_classes)
    if kind == "mixup":
        mixed = lam * x.float() + (1 - lam) * x[perm].float()
    else:
        h, w = x.shape[-2:]
        ch, cw = int(h * (1 - lam) ** 0.5), int(w * (1 - lam) ** 0.5)
        cy, cx = (
            int(torch.randint(h, (1,), generator=generator)),
            int(torch.randint(w, (1,), generator=generator)),
        )
        y0, y1 = max(cy - ch // 2, 0), min(cy + ch // 2, h)
        x0, x1 = max(cx - cw // 2, 0), min(cx + cw // 2, w)
        mixed = x.clone()
        mixed[..., y0:y1, x0:x1] = x[perm][..., y0:y1, x0:x1]
        lam = 1 - (y1 - y0) * (x1 - x0) / (h * w)  # the area actually pasted
    if x.dtype == torch.uint8:
        mixed = mixed.float().div_(255.0)  # the model takes [0, 1] floats as well as uint8
    return mixed, lam * y + (1 - lam) * y[perm]
