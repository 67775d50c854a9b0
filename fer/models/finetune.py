"""Which parameters train when: ``finetune=full|frozen|staged``.

- ``full``: every parameter from the first step.
- ``frozen``: a linear probe. Only the new head trains; the backbone stays in eval mode
  and its pooled features are computed once and cached (:mod:`fer.models.feature_cache`),
  so epochs after the first cost only the head.
- ``staged``: the pipeline of Akhand et al. (2021). The new head alone trains for
  ``head_epochs``; then the backbone's stages (timm's coarse groups) are unfrozen from
  the top, one more every ``unfreeze_every`` epochs, each stage with its own learning
  rate ``lr * lr_decay ** depth`` (set up once in :func:`fer.models.optim.param_groups`).

Frozen stages keep their weights and their BatchNorm running statistics bit-identical:
their parameters get no gradient (so the optimizer skips them, weight decay included)
and their norm layers are held in eval mode. The trainable set is a function of the
epoch alone, so a run resumed from a checkpoint gets back the same set.
"""

from __future__ import annotations

from collections.abc import Mapping

import lightning as L
from torch import nn

from fer.models.optim import stage_groups

STRATEGIES = ("full", "frozen", "staged")


def head_names(backbone: nn.Module) -> set[str]:
    """Names of the new classifier's parameters."""
    head = set(map(id, backbone.get_classifier().parameters()))
    return {n for n, p in backbone.named_parameters() if id(p) in head}


def body_stages(backbone: nn.Module) -> list[list[str]]:
    """Parameter names per stage below the head, stem first (the head's names removed)."""
    head = head_names(backbone)
    stages = [[n for n in names if n not in head] for names in stage_groups(backbone)]
    return [names for names in stages if names]


def unfrozen_count(cfg: Mapping, epoch: int, num_stages: int) -> int:
    """How many stages, counted from the top, train in ``epoch`` (0-based)."""
    strategy = cfg["strategy"]
    if strategy == "full":
        return num_stages
    if strategy == "frozen":
        return 0
    if strategy == "staged":
        if epoch < cfg["head_epochs"]:
            return 0
        return min(num_stages, 1 + (epoch - cfg["head_epochs"]) // cfg["unfreeze_every"])
    raise ValueError(f"finetune.strategy={strategy!r}: expected one of {STRATEGIES}")


def frozen_modules(backbone: nn.Module, frozen: set[str]) -> list[nn.Module]:
    """The modules all of whose own parameters are frozen (they are kept in eval mode)."""
    out = []
    for name, module in backbone.named_modules():
        own = [f"{name}.{p}" if name else p for p, _ in module.named_parameters(recurse=False)]
        has_stats = any(b is not None for b in module.buffers(recurse=False))
        if has_stats and own and all(p in frozen for p in own):
            out.append(module)
    return out


class Unfreezing(L.Callback):
    """Applies the strategy's trainable set at every epoch start; holds frozen norms in eval mode."""

    def __init__(self, cfg: Mapping):
        self.cfg = dict(cfg)
        self.unfrozen = -1
        self._frozen_modules: list[nn.Module] = []

    def apply(self, backbone: nn.Module, epoch: int) -> int:
        stages = body_stages(backbone)
        count = unfrozen_count(self.cfg, epoch, len(stages))
        trainable = head_names(backbone) | {n for names in stages[len(stages) - count :] for n in names}
        for name, param in backbone.named_parameters():
            param.requires_grad_(name in trainable)
        self._frozen_modules = frozen_modules(backbone, {n for n, _ in backbone.named_parameters()} - trainable)
        self.unfrozen = count
        return count

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.apply(pl_module.net.backbone, trainer.current_epoch)
        pl_module.log("finetune/unfrozen_stages", float(self.unfrozen), on_epoch=True)

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, batch, batch_idx: int) -> None:
        for module in self._frozen_modules:  # Lightning puts the whole model back in train mode after validation
            module.eval()
