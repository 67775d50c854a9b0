"""``python -m fer.train``: compose the config, then ``train(cfg)``.

``train`` is a plain function (tests, sweeps and Optuna call it in-process): it builds
the data, model, loggers and callbacks, fits, tests the best checkpoint, and returns
the run's metrics (also written to ``<run dir>/metrics.json``).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import hydra
import lightning as L
import numpy as np
from lightning.pytorch.utilities import rank_zero_only
from omegaconf import DictConfig, OmegaConf

from fer import finetune
from fer.atomic import atomic_write_text, remove_partials
from fer.callbacks import build_callbacks, show_bar
from fer.callbacks.run_report import RunReport
from fer.checkpoint import AtomicCheckpointIO, read, resume_checkpoint, run_record
from fer.cli import command
from fer.config import CONF_PATH, TrainConfig, check
from fer.data.datamodule import build_datamodule
from fer.distill import distill
from fer.loggers import build_loggers, finish_wandb
from fer.models.classifier import EmotionClassifier
from fer.provenance import provenance
from fer.run_dirs import refuse_finished
from fer.transfer import init_from

log = logging.getLogger(__name__)


def plain(section: DictConfig) -> dict:
    """A config section as plain containers (checkpoint-safe hyperparameters)."""
    return OmegaConf.to_container(section, resolve=True)


def started_from(resume: str, init: str | None) -> dict | None:
    """The weights record of the run being resumed; ``init_from``, where given, must be the one it
    started from (resuming continues those weights, whatever init_from says)."""
    first = run_record(read(resume, "resume"))
    source = first.get("weights_source", "random initialisation")
    if init is not None and source != f"init_from:{Path(init).resolve()}":
        raise ValueError(
            f"init_from={init}: the run in {resume} started from {source}, and resume= continues its "
            "weights; drop init_from to resume it, or start a new run folder to begin from init_from"
        )
    return None if source == "random initialisation" else {"source": source, "resumed_from": resume}


def train(cfg: DictConfig) -> dict:
    check(TrainConfig, cfg)  # before anything loads (in-process callers too)
    run_dir = Path(cfg.paths.output_dir)
    refuse_finished(run_dir)  # in-process callers; the command line refused it before Hydra wrote anything
    resume = resume_checkpoint(cfg.get("resume"))
    L.seed_everything(cfg.seed, workers=True)

    datamodule = build_datamodule(
        cfg.data,
        cfg.backbone.input_size,
        cfg.augment.transforms,
        cfg.seed,
        cfg.paths.cache_dir,
        on_device=cfg.augment.device,
    )
    datamodule.setup()
    finetune.prepare(cfg.finetune, datamodule, cfg.seed)
    distillation = distill(cfg.loss, datamodule, cfg.paths.cache_dir)
    data_report = datamodule.report()
    record = provenance(data_report)
    if rank_zero_only.rank == 0:  # DDP: every process runs this function; one writes the files
        run_dir.mkdir(parents=True, exist_ok=True)
        # resumed in its own folder: the first start's records stay, this start's go beside them
        suffix = "_resumed" if resume and (run_dir / "provenance.json").exists() else ""
        atomic_write_text(run_dir / f"data_report{suffix}.json", json.dumps(data_report, indent=2))
        atomic_write_text(run_dir / f"provenance{suffix}.json", json.dumps(record, indent=2))
        datamodule.save_splits(run_dir / f"splits{suffix}.csv")

    model = EmotionClassifier(
        classes=datamodule.classes,
        backbone=plain(cfg.backbone),
        optim=plain(cfg.optim),
        finetune=plain(cfg.finetune),
        loss=plain(cfg.loss),
        data=plain(cfg.data),
        channels_last=cfg.channels_last,
        tta=cfg.tta,
        class_counts=np.bincount(datamodule.data["train"].labels, minlength=len(datamodule.classes)).tolist(),
        load_weights=cfg.init_from is None,  # another run's weights replace ImageNet's
    )
    model.test_groups = datamodule.groups("test")  # video: clip accuracy beside frame accuracy
    if resume is not None:  # the weights continue the first start's: its record says where they came from
        model.weights_report = started_from(resume, cfg.init_from)
    elif cfg.init_from is not None:
        model.weights_report = init_from(model, cfg.init_from)
    if cfg.compile:
        model.net.compile()  # in place: the checkpoint's parameter names stay the same
    weights_source = model.weights_report["source"] if model.weights_report else "random initialisation"
    log.info("weights of %s: %s", cfg.backbone.name, weights_source)
    meta = {
        "dataset": datamodule.name,
        "backbone": cfg.backbone.name,
        "seed": cfg.seed,
        "pretrained": bool(model.weights_report),
        "weights_source": weights_source,
        "strategy": cfg.finetune.strategy,
        "input_size": cfg.backbone.input_size,
        "num_params": sum(p.numel() for p in model.net.parameters()),
        "train_images": len(datamodule.data["train"].labels),
        "test_split": data_report["protocol"]["note"],
        "test_digest": data_report["test_digest"],
        "test_images": len(datamodule.data["test"].labels),
        "tta": cfg.tta,
        "distillation": distillation,
        "provenance": record,
    }
    loggers = build_loggers(cfg.get("logger"), cfg.task_name)
    for logger in loggers:
        logger.log_hyperparams(plain(cfg))
    validates = datamodule.validates
    if not validates and cfg.optim.scheduler == "plateau":
        raise ValueError(
            "optim.scheduler=plateau watches val/acc, and data.val_fraction=0 leaves no validation split: "
            "use cosine or constant"
        )
    callbacks = build_callbacks(cfg.callbacks, run_dir, meta, with_loggers=bool(loggers), validates=validates)
    report = next(c for c in callbacks if isinstance(c, RunReport))
    strategy = finetune.plan(model.hparams.finetune, datamodule, model.net, run_dir, cfg.seed)
    skip_validation = {} if validates else {"limit_val_batches": 0, "num_sanity_val_steps": 0}
    trainer = L.Trainer(
        **(plain(cfg.trainer) | skip_validation),
        logger=loggers or False,
        callbacks=callbacks + strategy.callbacks,
        plugins=[AtomicCheckpointIO()],
        enable_progress_bar=show_bar(cfg.callbacks.progress),
        default_root_dir=run_dir,
    )
    remove_partials(run_dir / "checkpoints")  # what a killed start was writing
    try:
        # weights_only whatever TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD says: a checkpoint never runs code
        trainer.fit(model, datamodule=strategy.datamodule, ckpt_path=resume, weights_only=True)
        metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
        if cfg.test:
            ckpt = "best" if trainer.checkpoint_callback.best_model_path else None
            trainer.test(model, datamodule=strategy.datamodule, ckpt_path=ckpt, weights_only=True)
            metrics = dict(report.metrics)
    finally:
        finish_wandb()
    metrics["run_dir"] = str(run_dir)
    return metrics


@hydra.main(version_base="1.3", config_path=CONF_PATH, config_name="train")
def main(cfg: DictConfig) -> float | None:
    with command(cfg, TrainConfig):
        metrics = train(cfg)
    log.info("run directory: %s", metrics["run_dir"])
    value = metrics.get(cfg.optimized_metric)  # what a sweeper maximises
    return None if value is None else float(value)


if __name__ == "__main__":
    main()
