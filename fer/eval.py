"""``python -m fer.eval ckpt=PATH``: re-evaluate a checkpoint, writing the same
``metrics.json`` and ``confusion_matrix.png`` as training, in a new run directory.
``split=val`` evaluates on the validation split instead (FER2013: PublicTest), where
choices such as ``tta`` are made before reporting on the test split.

The model, its classes, its input size and (unless ``data=NAME`` is given) its dataset
all come from the checkpoint.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import hydra
import lightning as L
import torch
from omegaconf import DictConfig, OmegaConf

from fer.callbacks import show_bar
from fer.callbacks.progress import PlainProgress
from fer.callbacks.run_report import RunReport
from fer.data import FERDataModule, build_datamodule
from fer.loggers import build_loggers, finish_wandb
from fer.models.classifier import EmotionClassifier
from fer.train import CONF_DIR

log = logging.getLogger(__name__)


def load_classifier(path: str | Path) -> tuple[EmotionClassifier, dict]:
    """The model of a checkpoint (no pretrained-weight download) and the raw checkpoint."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"ckpt={path}: no such checkpoint file (expected a .ckpt written by fer.train)")
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    if "hyper_parameters" not in checkpoint or "classes" not in checkpoint["hyper_parameters"]:
        raise ValueError(f"ckpt={path}: not a fer checkpoint (no classes among its hyperparameters)")
    model = EmotionClassifier.load_from_checkpoint(path, map_location="cpu", load_weights=False, weights_only=True)
    return model, checkpoint


def checkpoint_datamodule(cfg: DictConfig, hparams: dict) -> FERDataModule:
    """The checkpoint's dataset (or ``cfg.data`` when given) over its classes, at its input size, not augmented."""
    data_cfg = OmegaConf.to_container(cfg.data, resolve=True) if cfg.get("data") else dict(hparams["data"])
    data_cfg["classes"] = list(hparams["classes"])
    return build_datamodule(data_cfg, hparams["backbone"]["input_size"], [], cfg.seed)


def evaluate(cfg: DictConfig) -> dict:
    model, checkpoint = load_classifier(cfg.ckpt)
    if cfg.get("tta"):
        model.hparams.tta = cfg.tta
    hparams = checkpoint["hyper_parameters"]
    run_dir = Path(cfg.paths.output_dir)
    datamodule = checkpoint_datamodule(cfg, hparams)
    if cfg.split not in ("test", "val"):
        raise ValueError(f"split={cfg.split!r}: expected test or val")
    report = RunReport(run_dir, {"dataset": None, "backbone": hparams["backbone"]["name"], "seed": None, "checkpoint": str(Path(cfg.ckpt).resolve()), "split": cfg.split, "tta": model.hparams.tta})
    report.load_state_dict(checkpoint["callbacks"]["RunReport"])
    datamodule.setup()
    report.meta["dataset"] = datamodule.name
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
    metrics = json.loads((run_dir / "metrics.json").read_text())
    metrics["run_dir"] = str(run_dir)
    return metrics


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="eval")
def main(cfg: DictConfig) -> None:
    metrics = evaluate(cfg)
    log.info("test/acc %.4f  run directory: %s", metrics["test/acc"], metrics["run_dir"])


if __name__ == "__main__":
    main()
