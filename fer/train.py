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
from lightning.pytorch.utilities import rank_zero_only
from omegaconf import DictConfig, OmegaConf

from fer.callbacks.compose import build_callbacks, show_bar
from fer.callbacks.run_record import RunRecord
from fer.data.datamodule import FERDataModule
from fer.data.pipeline import Splits, build_splits
from fer.models.classifier import EmotionClassifier
from fer.run.atomic import atomic_write_text, remove_partials
from fer.run.checkpoint import AtomicCheckpointIO, read, resume_checkpoint, run_record
from fer.run.cli import command
from fer.run.config import CONF_PATH, TrainConfig, check
from fer.run.folders import refuse_finished
from fer.run.loggers import build_loggers, finish_wandb
from fer.run.provenance import provenance
from fer.training.distill import teacher_targets
from fer.training.finetune import Strategy, build_strategy
from fer.training.transfer import init_from

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


def starting_weights(model: EmotionClassifier, cfg: DictConfig, resume: str | None) -> dict | None:
    """Where the network's weights start (metrics.json ``weights``): a resumed run's first start, another
    run (``init_from``, loaded here), or what the model loaded itself (ImageNet; None: random)."""
    if resume is not None:
        weights = started_from(resume, cfg.init_from)
    elif cfg.init_from is not None:
        weights = init_from(model, cfg.init_from)
    else:
        weights = model.weights_loaded
    log.info(
        "weights of %s: %s", cfg.backbone.name, weights["source"] if weights else "random initialisation"
    )
    return weights


def write_records(run_dir: Path, splits: Splits, resumed: bool) -> dict:
    """The data report, provenance and splits.csv (a resumed run's beside its first start's, with a
    ``_resumed`` suffix); returns the provenance record."""
    record = provenance(splits.report)
    if rank_zero_only.rank == 0:  # DDP: every process runs train(); one writes the files
        run_dir.mkdir(parents=True, exist_ok=True)
        suffix = "_resumed" if resumed and (run_dir / "provenance.json").exists() else ""
        atomic_write_text(run_dir / f"data_report{suffix}.json", json.dumps(splits.report, indent=2))
        atomic_write_text(run_dir / f"provenance{suffix}.json", json.dumps(record, indent=2))
        splits.save(run_dir / f"splits{suffix}.csv")
    return record


def run_meta(
    cfg: DictConfig,
    splits: Splits,
    model: EmotionClassifier,
    strategy: Strategy,
    weights: dict | None,
    record: dict,
) -> dict:
    """What metrics.json and the checkpoint record about the run besides its scores."""
    return {
        "dataset": splits.name,
        "backbone": cfg.backbone.name,
        "seed": cfg.seed,
        "pretrained": bool(weights),
        "weights_source": weights["source"] if weights else "random initialisation",
        "weights": weights,
        "strategy": strategy.name,
        "input_size": cfg.backbone.input_size,
        "num_params": sum(p.numel() for p in model.net.parameters()),
        "train_images": len(splits.arrays["train"].labels),
        "test_split": splits.report["protocol"]["note"],
        "test_digest": splits.report["test_digest"],
        "test_images": len(splits.arrays["test"].labels),
        "tta": cfg.tta,
        "distillation": splits.report.get("distillation"),
        "provenance": record,
    }


def train(cfg: DictConfig) -> dict:
    check(TrainConfig, cfg)  # before anything loads (in-process callers too)
    run_dir = Path(cfg.paths.output_dir)
    refuse_finished(run_dir)  # in-process callers; the command line refused it before Hydra wrote anything
    resume = resume_checkpoint(cfg.get("resume"))
    L.seed_everything(cfg.seed, workers=True)
    strategy = build_strategy(cfg.finetune)
    splits = build_splits(
        cfg.data,
        cfg.seed,
        cfg.paths.cache_dir,
        hold_out=strategy.held_out(),
        soft_targets=teacher_targets(cfg.loss, cfg.paths.cache_dir),
    )
    record = write_records(run_dir, splits, resumed=resume is not None)
    datamodule = FERDataModule(
        splits,
        input_size=cfg.backbone.input_size,
        augment=cfg.augment.transforms,
        batch_size=cfg.data.batch_size,
        num_workers=cfg.data.num_workers,
        on_device=cfg.augment.device,
        seed=cfg.seed,
    )
    model = EmotionClassifier(
        classes=splits.classes,
        **{k: plain(cfg[k]) for k in ("backbone", "optim", "finetune", "loss", "data")},
        channels_last=cfg.channels_last,
        tta=cfg.tta,
        class_counts=splits.class_counts(),
        load_weights=cfg.init_from is None,  # another run's weights replace ImageNet's
    )
    weights = starting_weights(model, cfg, resume)
    if cfg.compile:
        model.net.compile()  # in place: the checkpoint's parameter names stay the same
    loggers = build_loggers(cfg.get("logger"), cfg.task_name, plain(cfg))
    meta = run_meta(cfg, splits, model, strategy, weights, record)
    callbacks = build_callbacks(cfg.callbacks, run_dir, meta, splits)
    plan = strategy.plan(datamodule, model.net, run_dir, cfg.seed)
    skip_validation = {} if splits.validates else {"limit_val_batches": 0, "num_sanity_val_steps": 0}
    trainer = L.Trainer(
        **(plain(cfg.trainer) | skip_validation),
        logger=loggers or False,
        callbacks=callbacks + plan.callbacks,
        plugins=[AtomicCheckpointIO()],
        enable_progress_bar=show_bar(cfg.callbacks.progress),
        default_root_dir=run_dir,
    )
    return fit_and_test(trainer, model, plan.datamodule, resume, cfg.test) | {"run_dir": str(run_dir)}


def fit_and_test(trainer: L.Trainer, model, datamodule, resume: str | None, test: bool) -> dict:
    """Fit (from ``resume`` where given), then test the best checkpoint; the run's metrics."""
    remove_partials(Path(trainer.default_root_dir) / "checkpoints")  # what a killed start was writing
    report = next(c for c in trainer.callbacks if isinstance(c, RunRecord))
    try:
        # weights_only whatever TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD says: a checkpoint never runs code
        trainer.fit(model, datamodule=datamodule, ckpt_path=resume, weights_only=True)
        metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
        if test:
            ckpt = "best" if trainer.checkpoint_callback.best_model_path else None
            trainer.test(model, datamodule=datamodule, ckpt_path=ckpt, weights_only=True)
            metrics = dict(report.metrics)
    finally:
        finish_wandb()
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
