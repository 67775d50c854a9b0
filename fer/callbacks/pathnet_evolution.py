"""``Evolution``: PathNet's binary tournament (Fernando et al. 2017) inside Lightning's training loop.

A population of ``population`` random genotypes (paths) is drawn. A tournament takes two at random;
each trains for ``tournament_steps`` batches (the path the network uses is set before every batch),
then is scored on the fitness split: images held out of the TRAINING split (never validation or
test). The loser's genotype is overwritten by the winner's, each gene then mutated with probability
1/(L*N) by an integer in [-2, 2], modulo M. After ``generations`` tournaments the run stops.

Validation, and so ``best.ckpt`` and the test, use the population's fittest path. The readout's
batch-norm statistics are computed on the fitness split for the path being scored or validated
(:meth:`fer.models.pathnet.PathNet.calibrate`). The population, the scores and the tournament's
position travel in checkpoints: a killed run resumes where its last epoch ended. When fitting ends,
the best checkpoint's path is drawn (``pathnet/path.png``) and the tournaments are listed
(``pathnet/evolution.csv``) in the run folder.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Mapping
from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.loggers import WandbLogger

from fer.models.pathnet import PathNet
from fer.run.plots import plot_path

HISTORY_FIELDS = ["generation", "step", "winner", "winner_fitness", "loser", "loser_fitness"]  # evolution.csv


def mutate(genotype: torch.Tensor, modules: int, generator: torch.Generator) -> torch.Tensor:
    """A copy of ``genotype`` (L x N), each gene shifted with probability 1/(L*N) by an integer
    in [-2, 2], modulo ``modules``."""
    rate = 1.0 / genotype.numel()
    hit = torch.rand(genotype.shape, generator=generator) < rate
    delta = torch.randint(-2, 3, genotype.shape, generator=generator)
    return (genotype + hit * delta) % modules


class Evolution(L.Callback):
    def __init__(self, cfg: Mapping, fitness: tuple[torch.Tensor, torch.Tensor], run_dir: Path, seed: int):
        self.size = cfg["population"]
        self.steps = cfg["tournament_steps"]
        self.generations = cfg["generations"]
        self.images, self.labels = fitness  # the fitness split: uint8 faces at input size, labels
        self.run_dir = Path(run_dir)
        self.seed = seed
        self.generator = torch.Generator()
        self.population: torch.Tensor | None = None  # (P, L, N) module indices
        self.fitness = torch.full((self.size,), math.nan)  # last score of each member (nan: not scored)
        self.pair = [0, 1]  # the two members of the running tournament
        self.phase = 0  # which of the two is training
        self.step = 0  # batches it has trained so far
        self.generation = 0  # tournaments finished
        self.history: list[dict] = []  # one row per tournament

    @staticmethod
    def pathnet(pl_module: L.LightningModule) -> PathNet:
        return pl_module.net.backbone

    def draw_pair(self) -> None:
        self.pair = torch.randperm(self.size, generator=self.generator)[:2].tolist()
        self.phase = self.step = 0

    def best(self) -> int:
        """The member with the highest score (the first of the running tournament before any)."""
        if torch.isnan(self.fitness).all():
            return self.pair[0]
        return int(torch.nan_to_num(self.fitness, nan=-1.0).argmax())

    def batches(self, batch_size: int = 256) -> list[torch.Tensor]:
        return [self.images[i : i + batch_size] for i in range(0, len(self.images), batch_size)]

    @torch.no_grad()
    def use(self, pl_module: L.LightningModule, member: int) -> list[torch.Tensor]:
        """Set ``member``'s path, with the readout's statistics computed on the fitness split through it;
        returns the fitness split's pooled features on that path."""
        net = self.pathnet(pl_module)
        net.path.copy_(self.population[member])
        return net.calibrate([pl_module.net.normalize(x.to(pl_module.device)) for x in self.batches()])

    @torch.no_grad()
    def score(self, pl_module: L.LightningModule, member: int) -> float:
        """Accuracy of ``member``'s path on the fitness split (one pass: the calibration's features)."""
        pooled = self.use(pl_module, member)
        net = self.pathnet(pl_module)
        was_training = net.training
        net.eval()
        right = sum(
            int((net.forward_head(p).argmax(1).cpu() == y).sum())
            for p, y in zip(pooled, self.labels.split(256))
        )
        net.train(was_training)
        return right / len(self.labels)

    def on_fit_start(self, trainer, pl_module) -> None:
        net = self.pathnet(pl_module)
        if self.population is None:  # a new population per task, not a replay of the last task's
            self.generator.manual_seed(self.seed * 1000 + len(net.task_paths))
            shape = (self.size, net.num_layers, net.per_layer)
            self.population = torch.randint(0, net.num_modules, shape, generator=self.generator)
            self.draw_pair()

    def on_train_start(self, trainer, pl_module) -> None:
        """Refuse a run too short for one tournament (two paths, tournament_steps batches each)."""
        batches = trainer.num_training_batches * trainer.max_epochs
        if batches < 2 * self.steps and self.generation == 0:
            per_epoch = trainer.num_training_batches
            raise ValueError(
                f"finetune.tournament_steps={self.steps}: one tournament trains two paths for that many "
                f"batches each ({2 * self.steps}), and this run has {batches} ({per_epoch} per epoch x "
                f"{trainer.max_epochs} epochs): lower tournament_steps or raise trainer.max_epochs"
            )

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self.pathnet(pl_module).path.copy_(self.population[self.pair[self.phase]])

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.step += 1
        if self.step < self.steps:
            return
        member = self.pair[self.phase]
        self.fitness[member] = self.score(pl_module, member)
        self.phase, self.step = self.phase + 1, 0
        if self.phase < 2:
            return
        a, b = self.pair
        winner, loser = (a, b) if self.fitness[a] >= self.fitness[b] else (b, a)
        modules = self.pathnet(pl_module).num_modules
        self.population[loser] = mutate(self.population[winner], modules, self.generator)
        self.history.append(
            {
                "generation": self.generation,
                "step": trainer.global_step,
                "winner": winner,
                "winner_fitness": float(self.fitness[winner]),
                "loser": loser,
                "loser_fitness": float(self.fitness[loser]),
            }
        )
        self.fitness[loser] = math.nan
        self.generation += 1
        pl_module.log("evolution/fitness", float(self.fitness[winner]), on_step=False, on_epoch=True)
        pl_module.log(
            "evolution/generation", float(self.generation), on_step=False, on_epoch=True, reduce_fx="max"
        )
        if self.generations is not None and self.generation >= self.generations:
            trainer.should_stop = True
        self.draw_pair()

    def on_validation_start(self, trainer, pl_module) -> None:
        if self.population is not None:
            self.use(pl_module, self.best())

    def on_fit_end(self, trainer, pl_module) -> None:
        if trainer.global_rank != 0:
            return
        out = self.run_dir / "pathnet"
        out.mkdir(parents=True, exist_ok=True)
        with open(out / "evolution.csv", "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=HISTORY_FIELDS)
            writer.writeheader()
            writer.writerows(self.history)
        net = self.pathnet(pl_module)
        best_path = trainer.checkpoint_callback.best_model_path if trainer.checkpoint_callback else ""
        path = net.path
        if best_path:
            state = torch.load(best_path, map_location="cpu", weights_only=True)["state_dict"]
            path = state["net.backbone.path"]
        task = len(net.task_paths)
        record = {
            "task": task,
            "best_path": net.modules_of(path),
            "frozen": net.frozen_per_layer(),
            "earlier_tasks": [net.modules_of(p) for p in net.task_paths],
            "generations": self.generation,
        }
        (out / "path.json").write_text(json.dumps(record, indent=2))
        figure = out / "path.png"
        plot_path([*record["earlier_tasks"], record["best_path"]], net.num_modules, figure)
        for logger in trainer.loggers:
            if isinstance(logger, WandbLogger):
                logger.log_image("pathnet/path", [str(figure)])

    def state_dict(self) -> dict:
        return {
            "population": self.population,
            "fitness": self.fitness,
            "pair": list(self.pair),
            "phase": self.phase,
            "step": self.step,
            "generation": self.generation,
            "history": self.history,
            "generator": self.generator.get_state(),
        }

    def load_state_dict(self, state: dict) -> None:
        self.population, self.fitness = state["population"], state["fitness"]
        self.pair, self.phase, self.step = list(state["pair"]), state["phase"], state["step"]
        self.generation, self.history = state["generation"], list(state["history"])
        self.generator.set_state(state["generator"])
