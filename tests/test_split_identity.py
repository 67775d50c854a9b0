"""Splits belong to the checkpoint: commands that rebuild a run's data rebuild its test split, or stop."""

import json

import pytest

from fer.ensemble import ensemble
from fer.run.checkpoint import SplitMismatch, read
from fer.run.config import compose_config
from fer.run.evaluation import evaluate_checkpoint
from fer.train import train
from tests.helpers import write_ckplus48


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two CK+48 fold-0 runs whose folds were drawn by their seeds (42 and 7; no data.split_seed)."""
    root = tmp_path_factory.mktemp("ck")
    write_ckplus48(root / "data")
    common = [
        "trainer.max_epochs=1",
        "data=ckplus",
        f"data.root={root / 'data'}",
        "data.protocol=kfold",
        "data.num_folds=3",
        "data.num_workers=0",
        "backbone=shallow_cnn",
        "logger=none",
        "callbacks.progress=plain",
    ]
    for seed in (42, 7):
        train(compose_config("train", [*common, f"seed={seed}"], root / f"seed{seed}"))
    return root


def own(run) -> dict:
    return json.loads((run / "metrics.json").read_text())


def score(ckpt, out, seed=42, data=None, split="test"):
    return evaluate_checkpoint(
        ckpt,
        out,
        split,
        data=data,
        tta=None,
        prior="train",
        seed=seed,
        cache_dir=None,
        trainer={"accelerator": "cpu"},
        loggers=[],
    )


def test_eval_scores_the_runs_own_test_fold_whatever_its_seed(runs, tmp_path):
    assert own(runs / "seed7")["test_digest"] != own(runs / "seed42")["test_digest"]  # other folds
    ckpt = runs / "seed7" / "checkpoints" / "best.ckpt"
    metrics = score(ckpt, tmp_path / "eval", seed=42)
    assert metrics["test/acc"] == pytest.approx(own(runs / "seed7")["test/acc"], abs=1e-6)
    assert metrics["test_digest"] == own(runs / "seed7")["test_digest"]
    assert metrics["test_images"] == own(runs / "seed7")["test_images"]


def test_another_fold_of_the_runs_own_dataset_is_refused_naming_the_key(runs, tmp_path):
    ckpt = runs / "seed7" / "checkpoints" / "best.ckpt"
    data = read(ckpt)["hyper_parameters"]["data"] | {"fold": 1}
    with pytest.raises(SplitMismatch, match=r"data.fold=1 \(the run: 0\)"):
        score(ckpt, tmp_path / "eval", data=data)
    assert not (tmp_path / "eval" / "metrics.json").exists()


def test_an_ensemble_refuses_members_tested_on_other_images(runs, tmp_path):
    ckpts = ",".join(str(runs / f"seed{s}" / "checkpoints" / "best.ckpt") for s in (42, 7))
    cfg = compose_config("ensemble", [f"ckpt=[{ckpts}]", f"output={tmp_path}"], tmp_path)
    with pytest.raises(ValueError, match="tested on different images"):
        ensemble(cfg)
    with pytest.raises(ValueError, match="split='train'"):
        ensemble(
            compose_config("ensemble", [f"ckpt=[{ckpts}]", "split=train", f"output={tmp_path}"], tmp_path)
        )


def test_eval_on_another_dataset_records_its_own_split_not_the_runs(runs, tmp_path):
    ckpt = runs / "seed42" / "checkpoints" / "best.ckpt"
    small = ["data=synthetic", "data.num_train=7", "data.num_val=7", "data.num_test=21"]
    data = compose_config("inspect_data", small, tmp_path).data
    metrics = score(ckpt, tmp_path / "eval", data=data, split="all")
    assert metrics["dataset"] == "synthetic" and metrics["test_split"].startswith("every image")
    assert metrics["test_images"] == sum(map(sum, metrics["test/confusion_matrix"]))
    assert "train_images" not in metrics and metrics["trained"]["dataset"] == "ckplus"
    assert metrics["trained"]["train_images"] == own(runs / "seed42")["train_images"]
