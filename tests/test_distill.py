"""Distillation: a teacher's soft targets, computed once, cached, mixed with the labels."""

import json
from pathlib import Path

import numpy as np
import pytest

from fer.config import compose_config
from fer.data.synthetic import SyntheticDataModule
from fer.distill import distill, teacher_probabilities
from fer.train import train

FAST = ["debug=fast", "backbone=shallow_cnn", "logger=none", "callbacks.progress=plain"]


@pytest.fixture(scope="module")
def teacher(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("teacher")
    train(compose_config("train", FAST, root / "run"))
    return root / "run" / "checkpoints" / "best.ckpt"


def synthetic(**kwargs) -> SyntheticDataModule:
    dm = SyntheticDataModule(num_train=140, num_val=70, num_test=70, num_workers=0, _target_="", **kwargs)
    dm.setup()
    return dm


def test_targets_mix_the_labels_with_the_teachers_probabilities(teacher, tmp_path):
    dm = synthetic()
    labels = dm.data["train"].labels.copy()
    loss = {"distill_from": str(teacher), "distill_weight": 0.3, "distill_temperature": 2.0}
    report = distill(loss, dm, str(tmp_path / "cache"))
    expected = teacher_probabilities(teacher, dm.data["train"], dm.classes, 2.0)
    targets = dm.data["train"].targets
    assert np.allclose(targets, 0.7 * np.eye(7)[labels] + 0.3 * expected, atol=1e-6)
    assert np.allclose(targets.sum(1), 1.0, atol=1e-5)
    assert report["agreement"] == pytest.approx(float((expected.argmax(1) == labels).mean()))
    cached = list((tmp_path / "cache").glob("teacher-*.npy"))
    assert len(cached) == 1 and np.allclose(np.load(cached[0]), expected)
    again = synthetic()
    distill(loss, again, str(tmp_path / "cache"))  # from the cache this time
    assert np.array_equal(again.data["train"].targets, targets)


def test_a_teacher_of_other_classes_is_refused(teacher):
    dm = synthetic(classes=["happy", "sad"])
    with pytest.raises(ValueError, match="teacher's classes"):
        distill({"distill_from": str(teacher), "distill_weight": 0.5, "distill_temperature": 1.0}, dm, None)


def test_a_distilled_run_records_its_teacher(teacher, tmp_path):
    metrics = train(compose_config("train", [*FAST, f"loss.distill_from={teacher}"], tmp_path / "run"))
    record = json.loads((Path(metrics["run_dir"]) / "metrics.json").read_text())["distillation"]
    assert record["teacher"] == str(teacher.resolve()) and record["weight"] == 0.5
