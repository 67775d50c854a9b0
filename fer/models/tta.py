"""Test-time augmentation: average the class probabilities of transformed copies.

``flip`` adds the mirror image (faces are near-symmetric; training flips them too).
``shift`` adds the face moved by ``shift`` of the side (3 px at 48) up, down, left and
right, edges replicated as in training's affine jitter, and the mirror of each: ten
views at the input's own scale. ``ten_crop`` takes the four corner and the central
crops of ``crop`` of the side, resized back to the input size, and the mirror of each:
ten views. Augmented predictions are returned as log-probabilities, so argmax and
cross-entropy still apply.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

MODES = ("none", "flip", "shift", "ten_crop")


def translate(x: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """``x`` moved ``dy`` pixels down and ``dx`` right; the uncovered edge repeats the border pixels."""
    h, w = x.shape[-2:]
    rows = (torch.arange(h, device=x.device) - dy).clamp(0, h - 1)
    cols = (torch.arange(w, device=x.device) - dx).clamp(0, w - 1)
    return x[..., rows, :][..., cols]


def with_mirrors(images: list[torch.Tensor]) -> list[torch.Tensor]:
    """``images`` followed by the mirror image of each."""
    return images + [image.flip(-1) for image in images]


def views(x: torch.Tensor, mode: str, crop: float = 0.9, shift: float = 1 / 16) -> list[torch.Tensor]:
    """The transformed copies of a batch ``(B, C, H, W)`` that ``mode`` averages over."""
    if mode == "none":
        return [x]
    if mode == "flip":
        return with_mirrors([x])
    if mode == "shift":
        d = max(1, round(x.shape[-1] * shift))
        moved = [x] + [translate(x, dy, dx) for dy, dx in ((d, 0), (-d, 0), (0, d), (0, -d))]
        return with_mirrors(moved)
    if mode == "ten_crop":
        h, w = x.shape[-2:]
        ch, cw = round(h * crop), round(w * crop)
        tops = [0, 0, h - ch, h - ch, (h - ch) // 2]
        lefts = [0, w - cw, 0, w - cw, (w - cw) // 2]
        crops = [x[..., t : t + ch, left : left + cw].float() for t, left in zip(tops, lefts)]
        crops = [F.interpolate(c, size=(h, w), mode="bilinear", align_corners=False) for c in crops]
        if x.dtype == torch.uint8:
            crops = [c.round().clamp(0, 255).to(torch.uint8) for c in crops]
        return with_mirrors(crops)
    raise ValueError(f"tta={mode!r}: expected one of {MODES}")


def predict(model: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, mode: str) -> torch.Tensor:
    """Logits for ``none``; log of the mean softmax over the views otherwise."""
    if mode == "none":
        return model(x)
    probs = torch.stack([model(v).softmax(-1) for v in views(x, mode)]).mean(0)
    return probs.clamp_min(1e-12).log()
