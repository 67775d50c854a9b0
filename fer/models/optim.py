"""Optimizer and learning-rate schedule from the ``optim`` and ``finetune`` configs.

Parameter groups are made once, up front, one per backbone stage (timm's coarse
``group_matcher``, stem first, head last), each with its own learning rate:
``lr * finetune.lr_decay ** (stages above it)``. Staged unfreezing only flips
``requires_grad`` later, so the optimizer and schedule never change mid-run. Norm
weights and biases get no weight decay. Schedules are stateless functions of the step.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch
from torch import nn

from fer.models.stages import stage_groups


def param_groups(backbone: nn.Module, lr: float, weight_decay: float, lr_decay: float) -> list[dict]:
    """One decayed and one undecayed group per stage, named ``stage<i>``/``stage<i>_no_wd``."""
    params = dict(backbone.named_parameters())
    stages = stage_groups(backbone)
    out = []
    for i, names in enumerate(stages):
        scale = lr_decay ** (len(stages) - 1 - i)
        decay = [params[n] for n in names if params[n].ndim > 1]
        no_decay = [params[n] for n in names if params[n].ndim <= 1]
        for suffix, group, wd in (("", decay, weight_decay), ("_no_wd", no_decay, 0.0)):
            if group:
                out.append(
                    {
                        "name": f"stage{i}{suffix}",
                        "params": group,
                        "lr": lr * scale,
                        "weight_decay": wd,
                        "stage": i,
                    }
                )
    return out


def build_optimizer(groups: list[dict], cfg: Mapping) -> torch.optim.Optimizer:
    name = cfg["name"]
    if name == "adamw":
        return torch.optim.AdamW(groups, lr=cfg["lr"], betas=tuple(cfg["betas"]), fused=cfg["fused"] or None)
    if name == "sgd":
        return torch.optim.SGD(groups, lr=cfg["lr"], momentum=cfg["momentum"], nesterov=cfg["nesterov"])
    raise ValueError(f"optim.name={name!r}: expected adamw or sgd")


def warmup_cosine(step: int, total: int, warmup: int, min_ratio: float) -> float:
    """Learning-rate factor: linear warm-up to 1, then cosine decay to ``min_ratio``."""
    if step < warmup:
        return (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


def build_scheduler(
    optimizer: torch.optim.Optimizer, cfg: Mapping, total_steps: int, steps_per_epoch: int
) -> dict | None:
    """A Lightning ``lr_scheduler`` dict for ``cfg['scheduler']`` (cosine, plateau or constant)."""
    kind = cfg["scheduler"]
    if kind == "constant":
        return None
    if kind == "cosine":
        warmup = int(cfg["warmup_epochs"] * steps_per_epoch)
        fn = lambda step: warmup_cosine(step, total_steps, warmup, cfg["min_lr_ratio"])  # noqa: E731
        return {"scheduler": torch.optim.lr_scheduler.LambdaLR(optimizer, fn), "interval": "step"}
    if kind == "plateau":
        plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, mode="max", factor=cfg["plateau_factor"], patience=cfg["plateau_patience"]
        )
        return {"scheduler": plateau, "interval": "epoch", "monitor": "val/acc"}
    raise ValueError(f"optim.scheduler={kind!r}: expected cosine, plateau or constant")
