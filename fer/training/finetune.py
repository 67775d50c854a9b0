"""Which parameters train when: the fine-tuning strategies, one class each behind :class:`Strategy`.

``finetune=full|frozen|staged|evolve`` picks a conf/finetune option, whose ``_target_`` names the class
(:func:`build_strategy`); a new strategy is a subclass and a YAML file.

- :class:`Full`: every parameter from the first step.
- :class:`Frozen`: a linear probe. Only the new head trains; the backbone stays in eval mode
  and its pooled features are computed once and cached (:mod:`fer.data.feature_cache`),
  so epochs after the first cost only the head.
- :class:`Staged`: the pipeline of Akhand et al. (2021). The new head alone trains for
  ``head_epochs``; then the backbone's stages (timm's coarse groups) are unfrozen from
  the top, one more every ``unfreeze_every`` epochs, each stage with its own learning rate
  ``lr * lr_decay ** depth`` (set up once in :func:`fer.models.optim.param_groups`).
- :class:`Evolve`: PathNet (``backbone=pathnet``). Paths through its modules compete in binary
  tournaments (:class:`fer.callbacks.pathnet_evolution.Evolution`), scored on a fitness split held out of
  the training split (:meth:`Strategy.held_out`); modules frozen by an earlier task never train.

The trainable set is a pure function of the strategy and the epoch (:meth:`Strategy.unfrozen`), so a
resumed run gets the same set back. Frozen stages keep their weights and their BatchNorm running
statistics bit-identical (:class:`fer.callbacks.unfreezing.Unfreezing`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import lightning as L
import torch
from hydra.utils import get_class

from fer.callbacks.pathnet_evolution import Evolution
from fer.callbacks.unfreezing import Unfreezing
from fer.data.datamodule import FERDataModule
from fer.data.feature_cache import FeatureDataModule
from fer.models.backbones import EmotionNet
from fer.models.pathnet import PathNet

FITNESS_SPLIT = "fitness"  # evolve: the slice of the training split that scores paths


@dataclass
class FinetunePlan:
    callbacks: list[L.Callback] = field(default_factory=list)  # added to the run's own
    datamodule: L.LightningDataModule | None = None  # what the trainer fits on


class Strategy:
    """A fine-tuning strategy, built from its ``finetune`` section (fer/run/config.py FinetuneConfig)."""

    name = "base"  # what reports call it

    def __init__(self, cfg: Mapping):
        self.cfg = dict(cfg)

    def held_out(self) -> tuple[str, float] | None:
        """A split the strategy holds out of the training split (the pipeline's ``hold_out`` step)."""
        return None

    def unfrozen(self, epoch: int, num_stages: int) -> int:
        """How many backbone stages, counted from the top, train in ``epoch`` (0-based)."""
        raise NotImplementedError

    def check(self, net: EmotionNet) -> None:
        """Refuse a network the strategy cannot train: PathNet trains by evolution only."""
        if isinstance(net.backbone, PathNet):
            raise ValueError(
                f"finetune={self.name} with backbone PathNet: PathNet trains by evolution "
                "(backbone=pathnet finetune=evolve)"
            )

    def plan(self, datamodule: FERDataModule, net: EmotionNet, run_dir: Path, seed: int) -> FinetunePlan:
        """The callbacks and the data the strategy trains with (checked against ``net`` first)."""
        self.check(net)
        return FinetunePlan([Unfreezing(self)], datamodule)


class Full(Strategy):
    name = "full"

    def unfrozen(self, epoch: int, num_stages: int) -> int:
        return num_stages

    def plan(self, datamodule: FERDataModule, net: EmotionNet, run_dir: Path, seed: int) -> FinetunePlan:
        self.check(net)
        return FinetunePlan([], datamodule)  # nothing is ever frozen: no unfreezing callback


class Frozen(Strategy):
    name = "frozen"

    def unfrozen(self, epoch: int, num_stages: int) -> int:
        return 0

    def plan(self, datamodule: FERDataModule, net: EmotionNet, run_dir: Path, seed: int) -> FinetunePlan:
        self.check(net)
        return FinetunePlan([Unfreezing(self)], FeatureDataModule(datamodule, net))


class Staged(Strategy):
    name = "staged"

    def unfrozen(self, epoch: int, num_stages: int) -> int:
        head_epochs = self.cfg["head_epochs"]
        if epoch < head_epochs:
            return 0
        return min(num_stages, 1 + (epoch - head_epochs) // self.cfg["unfreeze_every"])


class Evolve(Strategy):
    name = "evolve"

    def held_out(self) -> tuple[str, float]:
        return FITNESS_SPLIT, self.cfg["fitness_fraction"]

    def unfrozen(self, epoch: int, num_stages: int) -> int:
        return num_stages  # which modules train is the path's choice (fer/models/pathnet.py)

    def check(self, net: EmotionNet) -> None:
        if not isinstance(net.backbone, PathNet):
            raise ValueError(
                f"finetune=evolve with backbone {type(net.backbone).__name__}: only PathNet trains by "
                "evolution (backbone=pathnet finetune=evolve)"
            )

    def plan(self, datamodule: FERDataModule, net: EmotionNet, run_dir: Path, seed: int) -> FinetunePlan:
        self.check(net)
        faces = datamodule.dataset(FITNESS_SPLIT, augment=False)
        images = torch.stack([faces[i][0] for i in range(len(faces))])
        fitness = (images, torch.from_numpy(datamodule.splits.arrays[FITNESS_SPLIT].labels))
        return FinetunePlan([Evolution(self.cfg, fitness, run_dir, seed)], datamodule)


def build_strategy(cfg: Mapping) -> Strategy:
    """The strategy class that ``cfg["_target_"]`` names, built from ``cfg``."""
    cls = get_class(cfg["_target_"])
    if not (isinstance(cls, type) and issubclass(cls, Strategy)):
        raise ValueError(
            f"finetune._target_={cfg['_target_']!r}: expected a fer.training.finetune.Strategy class"
        )
    return cls(cfg)
