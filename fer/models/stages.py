"""A backbone's stages: timm's coarse parameter groups (``group_matcher``), stem first and classifier
last. Which of them train in an epoch is the fine-tuning strategy's (fer/training/finetune.py), and
:class:`fer.callbacks.unfreezing.Unfreezing` applies it.
"""

from __future__ import annotations

from timm.models import group_parameters
from torch import nn


def stage_groups(model: nn.Module) -> list[list[str]]:
    """Parameter names of a timm backbone per stage, stem first and classifier last."""
    groups = group_parameters(model, model.group_matcher(coarse=True))
    return [
        names
        for _, names in sorted(
            groups.items(), key=lambda kv: kv[0] if isinstance(kv[0], (int, float)) else -1
        )
    ]


def head_names(backbone: nn.Module) -> set[str]:
    """Names of the new classifier's parameters."""
    head = set(map(id, backbone.get_classifier().parameters()))
    return {n for n, p in backbone.named_parameters() if id(p) in head}


def body_stages(backbone: nn.Module) -> list[list[str]]:
    """Parameter names per stage below the head, stem first (the head's names removed)."""
    head = head_names(backbone)
    stages = [[n for n in names if n not in head] for names in stage_groups(backbone)]
    return [names for names in stages if names]


def frozen_modules(backbone: nn.Module, frozen: set[str]) -> list[nn.Module]:
    """The modules all of whose own parameters are frozen (they are kept in eval mode)."""
    out = []
    for name, module in backbone.named_modules():
        own = [f"{name}.{p}" if name else p for p, _ in module.named_parameters(recurse=False)]
        has_stats = any(b is not None for b in module.buffers(recurse=False))
        if has_stats and own and all(p in frozen for p in own):
            out.append(module)
    return out
