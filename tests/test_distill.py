"""Distillation: a teacher's soft targets, computed once, cached, mixed with the labels."""

import json
from pathlib import Path

import numpy as np
import pytest

from fer.data.pipeline import Splits, build_splits
from fer.run.config import compose_config
from fer.train import train
from fer.training.distill import teacher_probabilities, teacher_targets

FAST = ["debug=fast", "backbone=shallow_cnn", "logger=none", "callbacks.progress=plain"]


@pytest.fixture(scope="module")
def teacher(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("teacher")
    train(compose_config("train", FAST, root / "run"))
    return root / "run" / "checkpoints" / "best.ckpt"


def synthetic(loss: dict | None = None, cache_dir=None, **section) -> Splits:
    targets = None if loss is None else teacher_targets(loss, cache_dir)
    data = {"name": "synthetic", "num_train": 140, "num_val": 70, "num_test": 70, **section}
    return build_splits(data, 0, None, soft_targets=targets)


def test_targets_mix_the_labels_with_the_teachers_probabilities(teacher, tmp_path):
    labels = synthetic().arrays["train"].labels
    loss = {"distill_from": str(teacher), "distill_weight": 0.3, "distill_temperature": 2.0}
    dm = synthetic(loss, str(tmp_path / "cache"))
    report = dm.report["distillation"]
    expected = teacher_probabilities(teacher, dm.arrays["train"], dm.classes, 2.0)
    targets = dm.arrays["train"].targets
    assert np.allclose(targets, 0.7 * np.eye(7)[labels] + 0.3 * expected, atol=1e-6)
    assert np.allclose(targets.sum(1), 1.0, atol=1e-5)
    assert report["agreement"] == pytest.approx(float((expected.argmax(1) == labels).mean()))
    cached = list((tmp_path / "cache").glob("teacher-*.npy"))
    assert len(cached) == 1 and np.allclose(np.load(cached[0]), expected)
    again = synthetic(loss, str(tmp_path / "cache"))  # from the cache this time
    assert np.array_equal(again.arrays["train"].targets, targets)


def test_a_teacher_of_other_classes_is_refused(teacher):
    loss = {"distill_from": str(teacher), "distill_weight": 0.5, "distill_temperature": 1.0}
    with pytest.raises(ValueError, match="teacher's classes"):
        synthetic(loss, classes=["happy", "sad"])


def test_a_distilled_run_records_its_teacher(teacher, tmp_path):
    metrics = train(compose_config("train", [*FAST, f"loss.distill_from={teacher}"], tmp_path / "run"))
    record = json.loads((Path(metrics["run_dir"]) / "metrics.json").read_text())["distillation"]
    assert record["teacher"] == str(teacher.resolve()) and record["weight"] == 0.5
