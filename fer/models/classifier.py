"""``EmotionClassifier``: the one LightningModule, for every backbone.

Hyperparameters are plain dicts and lists (the composed config sections), so
checkpoints reload with torch's default ``weights_only=True`` and ``fer.eval`` can
rebuild the run's model and data from the checkpoint alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import lightning as L
import torch
import torch.nn.functional as F
from torch import nn
from torchmetrics.classification import (
    MulticlassAccuracy,
    MulticlassConfusionMatrix,
    MulticlassF1Score,
    MulticlassRecall,
)

from fer.models.backbones import build_backbone
from fer.models.class_rows import linear_head, rows, rows_by_name
from fer.models.mixing import mix
from fer.models.optim import build_optimizer, build_scheduler, param_groups
from fer.models.tta import MODES, predict
from fer.run.config import BackboneConfig, FinetuneConfig, LossConfig, OptimConfig, finetune_section, typed

SAMPLES_PER_KIND = 24  # test faces kept for the sample-predictions table: this many right, this many wrong


@dataclass
class TestResults:
    """What a test pass found beyond the logged scalars, for :class:`fer.callbacks.run_record.RunRecord`."""

    per_class_recall: dict[str, float]
    confusion_matrix: list[list[int]]  # rows: true class, columns: predicted
    samples: dict[str, list[dict]] = field(
        default_factory=lambda: {"wrong": [], "right": []}
    )  # faces, right and wrong


def class_weights(kind: str, counts: Sequence[int] | None, num_classes: int) -> torch.Tensor | None:
    """``balanced``: weights ``N / (K * count)`` from the training split's class counts."""
    if kind == "none":
        return None
    if kind != "balanced":
        raise ValueError(f"loss.class_weights={kind!r}: expected none or balanced")
    if counts is None or len(counts) != num_classes:
        raise ValueError("loss.class_weights=balanced needs the training split's class counts")
    counts_t = torch.tensor(counts, dtype=torch.float32).clamp_min(1)
    return counts_t.sum() / (num_classes * counts_t)


class EmotionClassifier(L.LightningModule):
    """Sections (``backbone``, ``optim``, ``finetune``, ``loss``) are checked against their schemas
    and saved complete, so a checkpoint holds every setting its model was trained with."""

    def __init__(
        self,
        classes: Sequence[str],
        backbone: Mapping,
        optim: Mapping,
        finetune: Mapping,
        loss: Mapping,
        *,
        channels_last: bool,
        tta: str,
        data: Mapping | None = None,
        class_counts: Sequence[int] | None = None,
        load_weights: bool = True,
    ):
        super().__init__()
        self.save_hyperparameters(
            {
                "classes": list(classes),
                "backbone": typed(BackboneConfig, backbone, "backbone."),
                "optim": typed(OptimConfig, optim, "optim."),
                "finetune": typed(FinetuneConfig, finetune_section(finetune), "finetune."),
                "loss": typed(LossConfig, loss, "loss."),
                "channels_last": channels_last,
                "tta": tta,
                "data": None if data is None else dict(data),
                "class_counts": None if class_counts is None else list(class_counts),
            }
        )
        self.classes = list(classes)
        self.net, self.weights_loaded = build_backbone(
            self.hparams.backbone, len(self.classes), load_weights=load_weights
        )
        if channels_last:
            self.net = self.net.to(memory_format=torch.channels_last)
        k = len(self.classes)
        self.make_metrics(k)
        self.test_results: TestResults | None = None
        self.test_samples: dict[str, list] = {"wrong": [], "right": []}
        if tta not in MODES:
            raise ValueError(f"tta={tta!r}: expected one of {MODES}")
        self.register_buffer(
            "class_weights",
            class_weights(self.hparams.loss["class_weights"], class_counts, k),
            persistent=False,
        )

    def make_metrics(self, k: int) -> None:
        self.train_acc = MulticlassAccuracy(k, average="micro")
        self.val_acc = MulticlassAccuracy(k, average="micro")
        self.val_f1 = MulticlassF1Score(k, average="macro")
        self.test_acc = MulticlassAccuracy(k, average="micro")
        self.test_f1 = MulticlassF1Score(k, average="macro")
        self.test_recall = MulticlassRecall(k, average=None)
        self.test_confusion = MulticlassConfusionMatrix(k)

    def keep_classes(self, classes: Sequence[str]) -> None:
        """Answer among ``classes`` only (some of the model's, any order): the head keeps their rows.

        How a model is scored on another dataset: on the classes both share, never mapping one
        class onto another."""
        head = linear_head(self.net.backbone)
        picks = rows_by_name(self.classes, classes)
        if None in picks:
            missing = [c for c, row in zip(classes, picks) if row is None]
            raise ValueError(f"the model has no class {missing} (its classes: {self.classes})")
        weight, bias = rows(head.weight, head.bias, picks)
        head.weight, head.bias = nn.Parameter(weight), nn.Parameter(bias)
        head.out_features = len(picks)
        self.classes = list(classes)
        self.hparams.classes = list(classes)
        self.make_metrics(len(classes))

    def assume_uniform_prior(self) -> None:
        """Answer as if every class were equally common (logit adjustment, Menon et al. 2021): each
        class's logit loses the log of its share of the training split. For a target whose classes
        are balanced by design (KDEF, JAFFE) when the training set's are not (FER2013, FER+). Call it
        before :meth:`keep_classes`: the counts follow the classes the model was trained on."""
        counts = self.hparams.class_counts
        if counts is None or len(counts) != len(self.classes):
            raise ValueError(
                f"prior=uniform needs the training split's count of each of {self.classes}; "
                f"the checkpoint holds {counts}"
            )
        head = linear_head(self.net.backbone)
        share = torch.tensor(counts, dtype=head.bias.dtype, device=head.bias.device).clamp_min(1)
        with torch.no_grad():
            head.bias -= (share / share.sum()).log()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits from images ``(B, 1, H, W)``, or from cached pooled features ``(B, D)`` (linear probe)."""
        if x.ndim == 2:
            return self.net.classify(x)
        if self.hparams.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return self.net(x)

    def loss(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Cross-entropy on hard labels or soft targets (FER+ votes, mixup), optionally class-weighted."""
        return F.cross_entropy(
            logits, target, weight=self.class_weights, label_smoothing=self.hparams.loss["label_smoothing"]
        )

    @staticmethod
    def hard(target: torch.Tensor) -> torch.Tensor:
        return target.argmax(1) if target.is_floating_point() else target

    def training_step(self, batch, batch_idx):
        x, target = batch
        cfg = self.hparams.loss
        mixed = target
        if x.ndim == 4:  # images (cached linear-probe features are not mixed)
            x, mixed = mix(x, target, len(self.classes), cfg["mixup"], cfg["cutmix"])
        logits = self(x)
        loss = self.loss(logits, mixed)
        self.train_acc(logits, self.hard(mixed))
        self.log("train/loss", loss, on_step=False, on_epoch=True, prog_bar=True, sync_dist=True)
        self.log("train/acc", self.train_acc, on_step=False, on_epoch=True, prog_bar=True)
        return loss

    def validation_step(self, batch, batch_idx):
        x, target = batch
        logits = self(x)
        y = self.hard(target)
        self.val_acc(logits, y)
        self.val_f1(logits, y)
        self.log("val/loss", self.loss(logits, target), on_epoch=True, prog_bar=True, sync_dist=True)
        self.log("val/acc", self.val_acc, on_epoch=True, prog_bar=True)
        self.log("val/macro_f1", self.val_f1, on_epoch=True)

    def test_step(self, batch, batch_idx):
        x, target = batch
        logits = predict(self, x, self.hparams.tta)
        y = self.hard(target)
        for metric in (self.test_acc, self.test_f1, self.test_recall, self.test_confusion):
            metric.update(logits, y)
        self.log("test/loss", self.loss(logits, target), on_epoch=True, sync_dist=True)
        self.keep_samples(x, y, logits)
        return logits.softmax(-1).cpu(), y.cpu()  # for callbacks that pool test images (ClipAccuracy)

    def on_test_epoch_start(self) -> None:
        self.test_samples = {"wrong": [], "right": []}

    def keep_samples(self, x: torch.Tensor, y: torch.Tensor, logits: torch.Tensor) -> None:
        """The first test faces this process sees, right and wrong, for the sample-predictions table."""
        if x.dim() != 4 or all(len(kept) >= SAMPLES_PER_KIND for kept in self.test_samples.values()):
            return
        confidence, predicted = logits.softmax(-1).max(-1)
        images = x[:, 0] if x.dtype == torch.uint8 else (x[:, 0].clamp(0, 1) * 255).to(torch.uint8)
        for i in range(len(y)):
            kept = self.test_samples["right" if predicted[i] == y[i] else "wrong"]
            if len(kept) < SAMPLES_PER_KIND:
                kept.append(
                    {
                        "image": images[i].cpu().numpy(),
                        "true": self.classes[y[i]],
                        "predicted": self.classes[predicted[i]],
                        "confidence": float(confidence[i]),
                    }
                )

    def on_test_epoch_end(self) -> None:
        self.log("test/acc", self.test_acc.compute(), sync_dist=True)
        self.log("test/macro_f1", self.test_f1.compute(), sync_dist=True)
        recall = self.test_recall.compute().tolist()
        self.test_results = TestResults(
            dict(zip(self.classes, recall)), self.test_confusion.compute().tolist(), self.test_samples
        )
        for metric in (self.test_acc, self.test_f1, self.test_recall, self.test_confusion):
            metric.reset()

    def configure_optimizers(self):
        cfg = self.hparams.optim
        groups = param_groups(
            self.net.backbone, cfg["lr"], cfg["weight_decay"], self.hparams.finetune["lr_decay"]
        )
        optimizer = build_optimizer(groups, cfg)
        total = int(self.trainer.estimated_stepping_batches)
        per_epoch = max(1, total // max(1, self.trainer.max_epochs or 1))
        scheduler = build_scheduler(optimizer, cfg, total, per_epoch)
        return optimizer if scheduler is None else {"optimizer": optimizer, "lr_scheduler": scheduler}
