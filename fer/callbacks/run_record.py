"""``RunRecord``: the files every run leaves in its directory, and their W&B copies.

It records one row of metrics per epoch (``history.csv``), draws
``learning_curves.png`` when fitting ends, and when testing ends writes
``metrics.json``, ``confusion_matrix.png`` and ``test_samples.png`` (test faces with
their predictions, wrong ones first). Its state (history, training time)
travels in checkpoints, so ``fer.eval`` reports the same fields as the run.
"""

from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path

import lightning as L
from lightning.pytorch.loggers import WandbLogger

from fer.models.classifier import TestResults
from fer.run.atomic import atomic_write_text
from fer.run.plots import plot_confusion_matrix, plot_learning_curves, plot_samples

EPOCH_KEYS = ("train/loss", "train/acc", "val/loss", "val/acc", "val/macro_f1")


RECORD_KEY = "RunReport"  # its state's key in checkpoints: the class's name before it was RunRecord


class RunRecord(L.Callback):
    @property
    def state_key(self) -> str:
        return RECORD_KEY  # checkpoints written before the rename keep their record

    def __init__(self, run_dir: str | Path, meta: dict):
        self.run_dir = Path(run_dir)
        self.meta = dict(meta)
        self.history: list[dict] = []
        self.train_seconds: float | None = None
        self.images_seen = (
            0  # training images actually stepped on, all processes (limit_train_batches counts)
        )
        self.best: dict = {}  # the checkpoint monitor's best value, e.g. {"best/val/acc": 0.91}
        self.metrics: dict = {}  # what the last test wrote to metrics.json
        self._fit_start = 0.0
        # the first training step's seconds (torch.compile's time included)
        self.first_step_seconds: float | None = None
        self._step_start = 0.0

    @classmethod
    def from_record(cls, run_dir: str | Path, record: dict, meta: dict) -> RunRecord:
        """The report of an evaluation: a checkpoint's record (history, time, best score), ``meta`` over
        its own."""
        report = cls(run_dir, {**record["meta"], **meta})
        report.load_state_dict(record)
        return report

    @property
    def title(self) -> str:
        return f"{self.meta.get('backbone')} on {self.meta.get('dataset')}"

    def on_fit_start(self, trainer, pl_module) -> None:
        self._fit_start = time.perf_counter() - (
            self.train_seconds or 0.0
        )  # resumed: count the time already trained

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if self.first_step_seconds is None:
            self._step_start = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if self.first_step_seconds is None:
            self.first_step_seconds = time.perf_counter() - self._step_start
        self.images_seen += int(batch[0].shape[0]) * trainer.world_size

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        metrics = trainer.callback_metrics
        row = {"epoch": trainer.current_epoch + 1}
        row.update({k: float(metrics[k]) for k in EPOCH_KEYS if k in metrics})
        row["lr"] = trainer.optimizers[0].param_groups[-1]["lr"] if trainer.optimizers else None
        self.history.append(row)
        self.train_seconds = time.perf_counter() - self._fit_start  # so far: what a checkpoint records

    def on_fit_end(self, trainer, pl_module) -> None:
        self.train_seconds = time.perf_counter() - self._fit_start
        checkpoint = trainer.checkpoint_callback
        if checkpoint is not None and checkpoint.best_model_score is not None:
            self.best = {f"best/{checkpoint.monitor}": float(checkpoint.best_model_score)}
        if not trainer.is_global_zero or not self.history:
            return
        table = io.StringIO(newline="")
        writer = csv.DictWriter(
            table,
            fieldnames=sorted({k for row in self.history for k in row}, key=lambda k: (k != "epoch", k)),
        )
        writer.writeheader()
        writer.writerows(self.history)
        atomic_write_text(self.run_dir / "history.csv", table.getvalue())
        plot_learning_curves(self.history, self.run_dir / "learning_curves.png", self.title)

    def on_test_end(self, trainer, pl_module) -> None:
        results: TestResults = pl_module.test_results
        scalars = {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("test/")}
        self.metrics = {
            **scalars,
            **self.best,
            "test/per_class_recall": results.per_class_recall,
            "test/confusion_matrix": results.confusion_matrix,
            "classes": pl_module.classes,
            **self.meta,
            "epochs": len(self.history),
            "train_seconds": self.train_seconds,
            "train_images_seen": self.images_seen,
            "first_step_seconds": self.first_step_seconds,
        }
        if not trainer.is_global_zero:
            return
        atomic_write_text(self.run_dir / "metrics.json", json.dumps(self.metrics, indent=2))
        plot_confusion_matrix(
            results.confusion_matrix,
            pl_module.classes,
            self.run_dir / "confusion_matrix.png",
            f"{self.title}: test",
        )
        plot_samples(results.samples, self.run_dir / "test_samples.png", f"{self.title}: test predictions")
        for logger in trainer.loggers:
            if isinstance(logger, WandbLogger):
                _log_to_wandb(logger, self.metrics, results.samples, self.run_dir)

    def state_dict(self) -> dict:
        return {
            "history": self.history,
            "train_seconds": self.train_seconds,
            "images_seen": self.images_seen,
            "best": self.best,
            "meta": self.meta,
        }

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore a checkpoint's record when a run resumes, but not over a live one:
        testing the best checkpoint after fitting must keep the whole run's history."""
        if self.history:
            return
        self.history = list(state_dict["history"])
        self.train_seconds = state_dict["train_seconds"]
        self.images_seen = state_dict.get("images_seen", 0)  # absent from older checkpoints
        self.best = dict(state_dict["best"])


def _log_to_wandb(logger: WandbLogger, report: dict, samples: dict[str, list], run_dir: Path) -> None:
    """Confusion matrix (interactive and as a picture), per-class recall, curves and sample predictions."""
    import wandb

    classes = report["classes"]
    y_true, y_pred = [], []
    for i, row in enumerate(report["test/confusion_matrix"]):
        for j, count in enumerate(row):
            y_true += [i] * count
            y_pred += [j] * count
    recall = wandb.Table(
        columns=["class", "recall"], data=[[c, report["test/per_class_recall"][c]] for c in classes]
    )
    payload = {
        "test/confusion_matrix": wandb.plot.confusion_matrix(
            y_true=y_true, preds=y_pred, class_names=classes
        ),
        "test/confusion_matrix_png": wandb.Image(str(run_dir / "confusion_matrix.png")),
        "test/per_class_recall": wandb.plot.bar(recall, "class", "recall", title="test recall per class"),
    }
    if (run_dir / "learning_curves.png").exists():
        payload["learning_curves"] = wandb.Image(str(run_dir / "learning_curves.png"))
    rows = [
        [wandb.Image(s["image"]), s["true"], s["predicted"], s["confidence"], kind == "right"]
        for kind in ("wrong", "right")
        for s in samples[kind]
    ]
    payload["test/samples"] = wandb.Table(
        columns=["face", "true", "predicted", "confidence", "correct"], data=rows
    )
    logger.experiment.log(payload)
    logger.experiment.summary.update({k: v for k, v in report.items() if isinstance(v, (int, float))})
