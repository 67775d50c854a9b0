"""Which parameters train when: ``finetune=full|frozen|staged``, and what each needs from a run.

- ``full``: every parameter from the first step.
- ``frozen``: a linear probe. Only the new head trains; the backbone stays in eval mode
  and its pooled features are computed once and cached (:mod:`fer.data.features`),
  so epochs after the first cost only the head.
- ``staged``: the pipeline of Akhand et al. (2021). The new head alone trains for
  ``head_epochs``; then the backbone's stages (timm's coarse groups) are unfrozen from
  the top, one more every ``unfreeze_every`` epochs (:func:`fer.models.stages.unfrozen_count`),
  each stage with its own learning rate ``lr * lr_decay ** depth`` (set up once in
  :func:`fer.models.optim.param_groups`).

Frozen stages keep their weights and their BatchNorm running statistics bit-identical
(:class:`fer.callbacks.unfreezing.Unfreezing`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import lightning as L

from fer.callbacks.unfreezing import Unfreezing
from fer.data.datamodule import FERDataModule
from fer.data.features import FeatureDataModule
from fer.models.backbones import EmotionNet
from fer.models.stages import STRATEGIES


@dataclass
class FinetunePlan:
    callbacks: list[L.Callback] = field(default_factory=list)  # added to the run's own
    datamodule: L.LightningDataModule | None = None  # what the trainer fits on


def plan(cfg: Mapping, datamodule: FERDataModule, net: EmotionNet) -> FinetunePlan:
    """The callbacks and the data that the strategy ``cfg['strategy']`` trains with."""
    strategy = cfg["strategy"]
    if strategy not in STRATEGIES:
        raise ValueError(f"finetune.strategy={strategy!r}: expected one of {STRATEGIES}")
    if strategy == "full":
        return FinetunePlan([], datamodule)
    fit_data = FeatureDataModule(datamodule, net) if strategy == "frozen" else datamodule
    return FinetunePlan([Unfreezing(cfg)], fit_data)
