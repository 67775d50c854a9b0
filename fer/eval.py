"""``python -m fer.eval ckpt=PATH``: re-evaluate a checkpoint, writing the same
``metrics.json`` and ``confusion_matrix.png`` as training, in a new run directory.
``split=val`` evaluates on the validation split instead (FER2013: PublicTest), where
choices such as ``tta`` are made before reporting on the test split; ``split=all`` scores
every image of the dataset (another dataset's, with ``data=NAME data.root=PATH``).

The model, its classes, its input size and (unless ``data=NAME`` is given) its dataset
all come from the checkpoint (:mod:`fer.run.checkpoint`); :mod:`fer.run.evaluation` scores it.
"""

from __future__ import annotations

import logging

import hydra
from omegaconf import DictConfig, OmegaConf

from fer.run.cli import command
from fer.run.config import CONF_PATH, EvalConfig
from fer.run.evaluation import evaluate_checkpoint
from fer.run.loggers import build_loggers, finish_wandb

log = logging.getLogger(__name__)


def evaluate(cfg: DictConfig) -> dict:
    data = OmegaConf.to_container(cfg.data, resolve=True) if cfg.get("data") else None
    try:
        return evaluate_checkpoint(
            cfg.ckpt,
            cfg.paths.output_dir,
            cfg.split,
            data=data,
            tta=cfg.get("tta"),
            prior=cfg.prior,
            seed=cfg.seed,
            cache_dir=cfg.paths.cache_dir,
            trainer=OmegaConf.to_container(cfg.trainer, resolve=True),
            loggers=build_loggers(cfg.get("logger"), cfg.task_name),
        )
    finally:
        finish_wandb()


@hydra.main(version_base="1.3", config_path=CONF_PATH, config_name="eval")
def main(cfg: DictConfig) -> None:
    with command(cfg, EvalConfig):
        metrics = evaluate(cfg)
    log.info(
        "accuracy on %s %.4f  run directory: %s", metrics["split"], metrics["test/acc"], metrics["run_dir"]
    )


if __name__ == "__main__":
    main()
