"""Is a map faithful? Deletion and insertion curves (Petsiuk et al. 2018, RISE).

Pixels are ranked by the map, most attributed first (ties in random order). Deletion removes the top
fraction of pixels (each takes the blurred face's value, as in :mod:`fer.attribution.methods`) and
records the target class's probability and whether the model still predicts it; insertion starts from
the blurred face and reveals the top fraction. A faithful map makes the deletion curve fall fast (small
area) and the insertion curve rise fast (large area). Areas are over the fraction of pixels, 0 to 1.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from fer.attribution.methods import blurred

CURVES = ("deletion", "insertion")


def ranks(maps: torch.Tensor, seed: int) -> torch.Tensor:
    """``(N, P)``: each pixel's place in its map's order, 0 = most attributed; ties broken at random."""
    flat = maps.reshape(len(maps), -1)
    shuffle = torch.argsort(torch.rand(flat.shape, generator=torch.Generator().manual_seed(seed)), dim=1)
    by_value = torch.argsort(flat.gather(1, shuffle), dim=1, descending=True, stable=True)
    order = shuffle.gather(1, by_value)
    place = torch.empty_like(order)
    place.scatter_(1, order, torch.arange(order.shape[1]).expand_as(order).contiguous())
    return place


@torch.no_grad()
def curves(
    net: nn.Module, x: torch.Tensor, targets: torch.Tensor, maps: torch.Tensor, steps: int, seed: int = 0
) -> dict[str, np.ndarray]:
    """Per face, the target's probability and correctness at ``steps + 1`` fractions 0, 1/steps, ..., 1:
    ``{"deletion": (N, steps + 1), "deletion_correct": ..., "insertion": ..., "insertion_correct": ...}``."""
    n, pixels = len(x), x.shape[-1] * x.shape[-2]
    fill = blurred(x)
    place = ranks(maps, seed).view(n, 1, 1, *x.shape[-2:])
    counts = torch.round(torch.linspace(0, 1, steps + 1) * pixels).view(1, -1, 1, 1, 1)
    top = place < counts  # (N, steps + 1, 1, S, S): the pixels removed (deletion) or shown (insertion)
    out = {}
    for name in CURVES:
        kept, other = (fill, x) if name == "deletion" else (x, fill)
        variants = torch.where(top, kept[:, None], other[:, None]).flatten(0, 1)
        probs = torch.cat([net(chunk).softmax(-1) for chunk in variants.split(512)]).view(n, steps + 1, -1)
        out[name] = probs.gather(2, targets.view(n, 1, 1).expand(n, steps + 1, 1))[..., 0].numpy()
        out[f"{name}_correct"] = (probs.argmax(2) == targets.view(n, 1)).float().numpy()
    return out


def area(curve: np.ndarray) -> np.ndarray:
    """The area under each row of ``curve`` over the fraction 0..1 (trapezoids)."""
    fractions = np.linspace(0, 1, curve.shape[-1])
    return np.trapezoid(curve, fractions, axis=-1)
