"""Test-time augmentation: average the class probabilities of transformed copies.

``flip`` adds the mirror image (faces are near-symmetric; training flips them too).
``ten_crop`` takes the four corner and the central crops of ``crop`` of the side,
resized back to the input size, and the mirror of each: ten views. Augmented
predictions are returned as log-probabilities, so argmax and cross-entropy still apply.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

MODES = ("none", "flip", "ten_crop")


def views(x: torch.Tensor, mode: str, crop: float = 0.9) -> list[torch.Tensor]:
    """The transformed copies of a batch ``(B, C, H, W)`` that ``mode`` averages over."""
    if mode == "none":
        return [x]
    if mode == "flip":
        return [x, x.flip(-1)]
    if mode == "ten_crop":
        h, w = x.shape[-2:]
        ch, cw = round(h * crop), round(w * crop)
        tops = [0, 0, h - ch, h - ch, (h - ch) // 2]
        lefts = [0, w - cw, 0, w - cw, (w - cw) // 2]
        crops = [x[..., t : t + ch, left : left + cw].float() for t, left in zip(tops, lefts)]
        crops = [F.interpolate(c, size=(h, w), mode="bilinear", align_corners=False) for c in crops]
        if x.dtype == torch.uint8:
            crops = [c.round().clamp(0, 255).to(torch.uint8) for c in crops]
        return crops + [c.flip(-1) for c in crops]
    raise ValueError(f"tta={mode!r}: expected one of {MODES}")


def predict(model: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, mode: str) -> torch.Tensor:
    """Logits for ``none``; log of the mean softmax over the views otherwise."""
    if mode == "none":
        return model(x)
    probs = torch.stack([model(v).softmax(-1) for v in views(x, mode)]).mean(0)
    return probs.clamp_min(1e-12).log()
