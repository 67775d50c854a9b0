"""``Unfreezing``: applies a fine-tuning strategy's trainable set at every epoch start.

Frozen stages keep their weights and their BatchNorm running statistics bit-identical:
their parameters get no gradient (so the optimizer skips them, weight decay included)
and their norm layers are held in eval mode.
"""

from __future__ import annotations

import lightning as L
from torch import nn

from fer.models.stages import body_stages, frozen_modules, head_names


class Unfreezing(L.Callback):
    """``strategy``: anything with ``unfrozen(epoch, num_stages)`` (a fer.training.finetune.Strategy)."""

    def __init__(self, strategy):
        self.strategy = strategy
        self.unfrozen = -1
        self._frozen_modules: list[nn.Module] = []

    def apply(self, backbone: nn.Module, epoch: int) -> int:
        stages = body_stages(backbone)
        count = self.strategy.unfrozen(epoch, len(stages))
        trainable = head_names(backbone) | {n for names in stages[len(stages) - count :] for n in names}
        for name, param in backbone.named_parameters():
            param.requires_grad_(name in trainable)
        self._frozen_modules = frozen_modules(
            backbone, {n for n, _ in backbone.named_parameters()} - trainable
        )
        self.unfrozen = count
        return count

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.apply(pl_module.net.backbone, trainer.current_epoch)
        pl_module.log("finetune/unfrozen_stages", float(self.unfrozen), on_epoch=True)

    def on_train_batch_start(
        self, trainer: L.Trainer, pl_module: L.LightningModule, batch, batch_idx: int
    ) -> None:
        for (
            module
        ) in self._frozen_modules:  # Lightning puts the whole model back in train mode after validation
            module.eval()
