"""Distillation (``loss.distill_from=CKPT``): soft targets from a stronger fer model.

The teacher (a checkpoint of ``fer.train`` with the same classes, any backbone and input size) scores
every training face once, un-augmented, through its own preprocessing and test-time augmentation
(its run's ``tta``), at temperature
``loss.distill_temperature``. The probabilities are cached under ``paths.cache_dir`` (keyed by the
checkpoint file, the temperature and the training split's files), and each training face's target
becomes ``(1 - w) * its label + w * the teacher's probabilities`` (``w = loss.distill_weight``): the
soft-target cross-entropy the run already minimises for FER+ votes and mixup. Augmented copies of a
face keep its teacher's answer for the clean face.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from fer.data.arrays import FaceArrays, FaceDataset
from fer.data.cache import DAMAGE, write_optional
from fer.data.pipeline import SoftTargets
from fer.data.transforms import eval_transform
from fer.models.class_rows import rows_by_name
from fer.models.tta import predict
from fer.run.checkpoint import load_classifier

log = logging.getLogger(__name__)


def cache_key(ckpt: Path, temperature: float, arrays: FaceArrays) -> str:
    stat = ckpt.stat()
    digest = hashlib.sha256(f"{ckpt.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{temperature}".encode())
    digest.update("\n".join(arrays.files).encode("utf-8", "surrogateescape"))
    digest.update(arrays.images.tobytes())
    return digest.hexdigest()[:20]


@torch.inference_mode()
def teacher_probabilities(
    ckpt: Path, arrays: FaceArrays, classes: list[str], temperature: float
) -> np.ndarray:
    """The teacher's probabilities ``(N, len(classes))`` for ``arrays``, columns in ``classes`` order."""
    model, checkpoint = load_classifier(ckpt)
    picks = rows_by_name(model.classes, classes)
    if None in picks or len(model.classes) != len(classes):
        raise ValueError(
            f"loss.distill_from={ckpt}: the teacher's classes {model.classes} are not this run's {classes}"
        )
    model.eval()
    size = checkpoint["hyper_parameters"]["backbone"]["input_size"]
    faces = FaceDataset(arrays, eval_transform(size, arrays.images.shape[1]))
    tta = checkpoint["hyper_parameters"]["tta"]  # the teacher answers as it was tested
    logits = torch.cat([predict(model, x, tta) for x, _ in DataLoader(faces, batch_size=256)])
    return (logits[:, picks] / temperature).softmax(-1).numpy().astype(np.float32)


def cached(path: Path) -> np.ndarray | None:
    """The cached probabilities, or None where there are none or the file is damaged (computed again)."""
    if not path.is_file():
        return None
    try:
        return np.load(path, allow_pickle=False)
    except DAMAGE as err:
        log.warning("teacher cache %s is damaged (%s: %s); computing it again", path, type(err).__name__, err)
        return None


def teacher_targets(loss: Mapping, cache_dir: str | None) -> SoftTargets | None:
    """The pipeline's soft-target step for ``loss.distill_from`` (None without a teacher): the
    training split's targets mixed with the teacher's probabilities, and the report for metrics.json."""
    if loss["distill_from"] is None:
        return None
    ckpt = Path(loss["distill_from"]).expanduser()
    if not ckpt.is_file():
        raise FileNotFoundError(
            f"loss.distill_from={ckpt}: no such checkpoint (expected a .ckpt of fer.train)"
        )
    temperature, weight = loss["distill_temperature"], loss["distill_weight"]

    def mix(train: FaceArrays, classes: list[str]) -> tuple[np.ndarray, dict]:
        path = (
            Path(cache_dir).expanduser() / f"teacher-{cache_key(ckpt, temperature, train)}.npy"
            if cache_dir
            else None
        )
        teacher, source = (cached(path), f"cache {path}") if path is not None else (None, "")
        if teacher is None:
            teacher, source = teacher_probabilities(ckpt, train, classes, temperature), "computed"
            if path is not None:
                write_optional(path, lambda f: np.save(f, teacher), "teacher cache")
        k = len(classes)
        labels = train.targets if train.targets is not None else np.eye(k, dtype=np.float32)[train.labels]
        agreement = float((teacher.argmax(1) == train.labels).mean())
        log.info(
            "distillation from %s (%s): teacher agrees with %.4f of the training labels",
            ckpt,
            source,
            agreement,
        )
        report = {
            "teacher": str(ckpt.resolve()),
            "weight": weight,
            "temperature": temperature,
            "agreement": agreement,
        }
        return ((1 - weight) * labels + weight * teacher).astype(np.float32), report

    return mix
