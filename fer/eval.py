"""``python -m fer.eval ckpt=PATH``: re-evaluate a checkpoint, writing the same
``metrics.json`` and ``confusion_matrix.png`` as training, in a new run directory.
``split=val`` evaluates on the validation split instead (FER2013: PublicTest), where
choices such as ``tta`` are made before reporting on the test split.

The model, its classes, its input size and (unless ``data=NAME`` is given) its dataset
all come from the checkpoint (:mod:`fer.checkpoint`).
"""

from __future__ import annotations

import logging
from pathlib import Path

import hydra
import lightning as L
from omegaconf import DictConfig, OmegaConf

from fer.callbacks import show_bar
from fer.callbacks.progress import PlainProgress
from fer.callbacks.run_report import RunReport
from fer.checkpoint import checkpoint_datamodule, load_classifier
from fer.config import CONF_PATH
from fer.loggers import build_loggers, finish_wandb

log = logging.getLogger(__name__)
SPLITS = ("test", "val")


def evaluate(cfg: DictConfig) -> dict:
    if cfg.split not in SPLITS:
        raise ValueError(f"split={cfg.split!r}: expected one of {SPLITS}")
    model, checkpoint = load_classifier(cfg.ckpt)
    if cfg.get("tta"):
        model.hparams.tta = cfg.tta
    hparams = checkpoint["hyper_parameters"]
    run_dir = Path(cfg.paths.output_dir)
    data = OmegaConf.to_container(cfg.data, resolve=True) if cfg.get("data") else None
    datamodule = checkpoint_datamodule(hparams, data, cfg.seed, cfg.paths.cache_dir)
    datamodule.setup()
    meta = {
        "dataset": datamodule.name,
        "checkpoint": str(Path(cfg.ckpt).resolve()),
        "split": cfg.split,
        "tta": model.hparams.tta,
    }
    report = RunReport.from_record(run_dir, checkpoint["callbacks"]["RunReport"], meta)
    loggers = build_loggers(cfg.get("logger"), cfg.task_name)
    trainer = L.Trainer(
        **OmegaConf.to_container(cfg.trainer, resolve=True),
        logger=loggers or False,
        callbacks=[report] + ([] if show_bar("auto") else [PlainProgress()]),
        enable_progress_bar=show_bar("auto"),
        default_root_dir=run_dir,
    )
    try:
        if cfg.split == "test":
            trainer.test(model, datamodule=datamodule)
        else:  # model selection (e.g. choosing tta) belongs on the validation split
            trainer.test(model, dataloaders=datamodule.val_dataloader())
    finally:
        finish_wandb()
    return {**report.metrics, "run_dir": str(run_dir)}


@hydra.main(version_base="1.3", config_path=CONF_PATH, config_name="eval")
def main(cfg: DictConfig) -> None:
    metrics = evaluate(cfg)
    log.info("test/acc %.4f  run directory: %s", metrics["test/acc"], metrics["run_dir"])


if __name__ == "__main__":
    main()
