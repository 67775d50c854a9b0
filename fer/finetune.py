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
- ``evolve``: PathNet (``backbone=pathnet``). Paths through its modules compete in binary
  tournaments (:class:`fer.callbacks.evolution.Evolution`), scored on a fitness split held out of
  the training split (:func:`prepare`); modules frozen by an earlier task never train.

Frozen stages keep their weights and their BatchNorm running statistics bit-identical
(:class:`fer.callbacks.unfreezing.Unfreezing`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import lightning as L
import torch

from fer.callbacks.evolution import Evolution
from fer.callbacks.unfreezing import Unfreezing
from fer.data.datamodule import FERDataModule
from fer.data.features import FeatureDataModule
from fer.models.backbones import EmotionNet
from fer.models.pathnet import PathNet
from fer.models.stages import STRATEGIES

FITNESS_SPLIT = "fitness"  # evolve: the slice of the training split that scores paths


@dataclass
class FinetunePlan:
    callbacks: list[L.Callback] = field(default_factory=list)  # added to the run's own
    datamodule: L.LightningDataModule | None = None  # what the trainer fits on


def prepare(cfg: Mapping, datamodule: FERDataModule, seed: int) -> None:
    """What the strategy takes from the data before the model is built: ``evolve`` holds the
    fitness split out of the training split."""
    if cfg["strategy"] == "evolve":
        datamodule.hold_out(FITNESS_SPLIT, cfg["fitness_fraction"], seed)


def plan(cfg: Mapping, datamodule: FERDataModule, net: EmotionNet, run_dir: Path, seed: int) -> FinetunePlan:
    """The callbacks and the data that the strategy ``cfg['strategy']`` trains with."""
    strategy = cfg["strategy"]
    if strategy not in STRATEGIES:
        raise ValueError(f"finetune.strategy={strategy!r}: expected one of {STRATEGIES}")
    if (strategy == "evolve") != isinstance(net.backbone, PathNet):
        raise ValueError(
            f"finetune.strategy={strategy} with backbone {type(net.backbone).__name__}: PathNet trains by "
            "evolution, and only PathNet does (backbone=pathnet finetune=evolve)"
        )
    if strategy == "full":
        return FinetunePlan([], datamodule)
    if strategy == "evolve":
        faces = datamodule.dataset(FITNESS_SPLIT, augment=False)
        images = torch.stack([faces[i][0] for i in range(len(faces))])
        fitness = (images, torch.from_numpy(datamodule.data[FITNESS_SPLIT].labels))
        return FinetunePlan([Evolution(cfg, fitness, run_dir, seed)], datamodule)
    fit_data = FeatureDataModule(datamodule, net) if strategy == "frozen" else datamodule
    return FinetunePlan([Unfreezing(cfg)], fit_data)
