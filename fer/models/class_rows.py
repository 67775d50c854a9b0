"""A classifier head's rows, one per class, matched by emotion name across datasets.

A run started from another dataset's model keeps the rows of the classes both datasets share
and starts the others at zero; a model evaluated on another dataset keeps only the rows of the
classes that dataset has. Names are matched through the emotion vocabulary (fer/data/labels.py:
``anger``/``angry``, ``sadness``/``sad``, ...).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from fer.data.labels import canonical


def linear_head(backbone: nn.Module) -> nn.Linear:
    """The backbone's classifier, which must be one linear layer (every timm backbone's is)."""
    head = backbone.get_classifier()
    if not isinstance(head, nn.Linear):
        raise TypeError(
            f"the classifier of {type(backbone).__name__} is {type(head).__name__}, not a linear layer"
        )
    return head


def rows_by_name(source: Sequence[str], target: Sequence[str]) -> list[int | None]:
    """For each target class, its row among the source classes (None where the source lacks it)."""
    index = {canonical(c): i for i, c in enumerate(source)}
    return [index.get(canonical(c)) for c in target]


@torch.no_grad()
def rows(
    weight: torch.Tensor, bias: torch.Tensor, picks: list[int | None]
) -> tuple[torch.Tensor, torch.Tensor]:
    """The head's rows in ``picks`` order; a row picked as None is zero (a new class)."""
    new_weight = torch.zeros(len(picks), weight.shape[1], dtype=weight.dtype)
    new_bias = torch.zeros(len(picks), dtype=bias.dtype)
    for i, row in enumerate(picks):
        if row is not None:
            new_weight[i], new_bias[i] = weight[row], bias[row]
    return new_weight, new_bias
