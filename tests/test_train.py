"""The main command end to end on a tiny synthetic set, checkpoints, eval, loggers, multirun."""

import csv
import json
from pathlib import Path

import pytest
import torch

from fer.eval import evaluate
from fer.run.config import compose_config
from fer.train import train
from tests.helpers import check_run_dir, run_cli

ROOT = Path(__file__).parents[1]


def test_train_writes_the_run_directory_and_eval_reproduces_it(train_config, tmp_path):
    cfg = train_config("trainer.max_epochs=2")
    metrics = train(cfg)
    run_dir = Path(metrics["run_dir"])
    saved = check_run_dir(run_dir)
    assert (
        saved["dataset"] == "synthetic" and saved["backbone"] == "efficientnet_lite0" and saved["epochs"] == 2
    )
    assert saved["seed"] == 42 and saved["train_seconds"] > 0
    assert saved["train_images_seen"] == 2 * (140 // 64) * 64  # two epochs of full batches (drop_last)
    assert len(saved["test/confusion_matrix"]) == 7 and sum(map(sum, saved["test/confusion_matrix"])) == 70
    # plain hyperparameters: loads with torch's default weights_only=True
    checkpoint = torch.load(run_dir / "checkpoints" / "best.ckpt", map_location="cpu", weights_only=True)
    assert checkpoint["hyper_parameters"]["classes"][3] == "happy"
    history = (run_dir / "history.csv").read_text().splitlines()
    assert history[0].startswith("epoch") and len(history) == 3

    eval_cfg = compose_config(
        "eval",
        [f"ckpt={run_dir / 'checkpoints' / 'best.ckpt'}", "trainer.accelerator=cpu"],
        tmp_path / "eval",
    )
    again = evaluate(eval_cfg)
    check_run_dir_eval = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert (tmp_path / "eval" / "confusion_matrix.png").is_file()
    assert again["test/acc"] == pytest.approx(saved["test/acc"])
    assert check_run_dir_eval["test/confusion_matrix"] == saved["test/confusion_matrix"]
    assert check_run_dir_eval["epochs"] >= 1 and check_run_dir_eval["checkpoint"].endswith("best.ckpt")


def test_the_run_tests_the_moving_average_it_validated_and_saved(train_config, tmp_path):
    """With EMA, the test after fit scores best.ckpt's averaged weights (as fer.eval does), not the raw."""
    metrics = train(
        train_config(
            "trainer.max_epochs=2", "callbacks/weight_averaging=ema", "callbacks.weight_averaging.decay=0.9"
        )
    )
    best = Path(metrics["run_dir"]) / "checkpoints" / "best.ckpt"
    checkpoint = torch.load(best, map_location="cpu", weights_only=True)
    raw, averaged = checkpoint["current_model_state"], checkpoint["state_dict"]
    assert any(not torch.equal(raw[k], averaged[k]) for k in averaged)  # the two weight sets differ
    again = evaluate(compose_config("eval", [f"ckpt={best}", "trainer.accelerator=cpu"], tmp_path / "eval"))
    assert metrics["test/loss"] == pytest.approx(again["test/loss"], rel=1e-5)
    assert metrics["test/confusion_matrix"] == again["test/confusion_matrix"]


def test_without_a_validation_split_the_last_epoch_is_tested(train_config):
    """data.val_fraction=0 (a refit): no validation pass, best.ckpt is the last epoch, and what
    would watch validation is refused."""
    refit = ["backbone=shallow_cnn", "data.protocol=kfold", "data.num_folds=2", "data.val_fraction=0"]
    cfg = train_config(*refit, "trainer.max_epochs=2", "callbacks.checkpoint.mode=min")  # as ckplus_10fold
    metrics = check_run_dir(Path(train(cfg)["run_dir"]))
    run_dir = Path(cfg.paths.output_dir)
    best, last = (
        torch.load(run_dir / "checkpoints" / f"{n}.ckpt", weights_only=True) for n in ("best", "last")
    )
    assert best["epoch"] == last["epoch"] == 1
    assert all(torch.equal(best["state_dict"][k], v) for k, v in last["state_dict"].items())
    assert [(k, v) for k, v in metrics.items() if k.startswith("best/")] == [("best/epoch", 1.0)]
    with open(run_dir / "history.csv") as f:
        header = next(csv.reader(f))
    assert "train/loss" in header and not [k for k in header if k.startswith("val/")]
    with pytest.raises(ValueError, match="early_stopping.*val_fraction=0"):
        train(train_config(*refit, "callbacks=early_stopping"))
    with pytest.raises(ValueError, match="plateau.*val_fraction=0"):
        train(train_config(*refit, "optim.scheduler=plateau"))


def test_a_finished_run_is_never_overwritten(train_config):
    cfg = train_config()
    train(cfg)
    before = (Path(cfg.paths.output_dir) / "metrics.json").read_text()
    with pytest.raises(FileExistsError, match="already holds a finished run"):
        train(cfg)
    assert (Path(cfg.paths.output_dir) / "metrics.json").read_text() == before


def test_resume_finishes_an_interrupted_run_in_its_folder(train_config):
    first = train_config("trainer.max_epochs=1", "test=false")
    run_dir = Path(first.paths.output_dir)
    train(first)
    provenance = (run_dir / "provenance.json").read_text()
    first_csv = (run_dir / "csv" / "metrics.csv").read_text()
    assert not (run_dir / "metrics.json").exists()

    resume = [f"resume={run_dir / 'checkpoints' / 'last.ckpt'}", "trainer.max_epochs=2"]
    resumed = compose_config("train", ["debug=fast", "callbacks.progress=plain", *resume], run_dir)
    metrics = check_run_dir(Path(train(resumed)["run_dir"]))
    assert (
        metrics["epochs"] == 2 and metrics["train_images_seen"] == 2 * (140 // 64) * 64
    )  # both starts counted
    assert [row.split(",")[0] for row in (run_dir / "history.csv").read_text().splitlines()[1:]] == ["1", "2"]
    assert (run_dir / "provenance.json").read_text() == provenance and (
        run_dir / "provenance_resumed.json"
    ).is_file()
    assert (
        run_dir / "csv" / "metrics.csv"
    ).read_text() == first_csv  # Lightning would delete it: the resumed start logs beside it
    assert "val/acc" in (run_dir / "csv" / "resumed_1" / "metrics.csv").read_text()


def test_resume_names_a_missing_checkpoint(train_config, tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.ckpt"):
        train(train_config(f"resume={tmp_path / 'nope.ckpt'}"))


def test_eval_names_a_missing_checkpoint(tmp_path):
    cfg = compose_config("eval", [f"ckpt={tmp_path / 'nope.ckpt'}"], tmp_path / "eval")
    with pytest.raises(FileNotFoundError, match="nope.ckpt"):
        evaluate(cfg)


@pytest.mark.parametrize("logger", ["csv", "tensorboard", "wandb", "none"])
def test_each_logger_runs(train_config, logger):
    cfg = train_config(f"logger={logger}")
    run_dir = Path(train(cfg)["run_dir"])
    check_run_dir(run_dir)
    if logger in ("csv", "tensorboard", "wandb"):
        assert (run_dir / "csv" / "metrics.csv").is_file()
    if logger == "tensorboard":
        assert list((run_dir / "tensorboard").glob("events.out.tfevents.*"))
    if logger == "wandb":
        import wandb

        offline_runs = list((run_dir / "wandb").glob("offline-run-*"))
        assert len(offline_runs) == 1 and list(offline_runs[0].glob("*.wandb"))
        assert wandb.run is None  # finished, so the next job starts its own run
        (table,) = offline_runs[0].rglob("samples_*.table.json")  # sample predictions with their faces
        rows = json.loads(table.read_text())
        assert (
            rows["columns"] == ["face", "true", "predicted", "confidence", "correct"]
            and len(rows["data"]) > 0
        )
        assert {row[4] for row in rows["data"]} == {True, False}  # right and wrong predictions
        assert (run_dir / "test_samples.png").is_file()


def test_debug_limit_runs_a_few_batches_of_each_split(train_config):
    metrics = train(train_config("debug=limit", "backbone=shallow_cnn"))
    assert metrics["epochs"] == 2 and metrics["train_images_seen"] == 2 * 4 * 64
    # it replaces debug=fast (one debug option at a time): two test batches of the full synthetic set
    assert sum(map(sum, metrics["test/confusion_matrix"])) == 2 * 64
    assert Path(metrics["run_dir"], "checkpoints", "last.ckpt").is_file()


def test_debug_overfit_drives_the_training_loss_down(train_config):
    """What debug=overfit promises: two fixed batches memorised, or the model or loss is broken."""
    metrics = train(train_config("debug=overfit", "backbone=shallow_cnn"))
    with open(Path(metrics["run_dir"], "history.csv"), newline="") as f:
        history = list(csv.DictReader(f))
    first, last = float(history[0]["train/loss"]), float(history[-1]["train/loss"])
    assert len(history) == 20 and last < 0.2 * first and float(history[-1]["train/acc"]) >= 0.95


def test_cli_multirun_leaves_one_complete_run_per_job_and_eval_cli(tmp_path):
    done = run_cli(
        [
            "fer.train",
            "-m",
            "backbone=shallow_cnn,resnet18",
            "backbone.pretrained=false",
            "debug=fast",
            "logger=wandb",
        ],
        tmp_path,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    sweeps = list((tmp_path / "logs" / "train" / "multiruns").iterdir())
    assert len(sweeps) == 1
    jobs = sorted(p for p in sweeps[0].iterdir() if p.is_dir())
    assert [p.name for p in jobs] == ["0_shallow_cnn", "1_resnet18"]
    runs = {check_run_dir(job)["backbone"] for job in jobs}
    assert runs == {"fer_shallow_cnn", "resnet18"}
    # each job wrote its own W&B run, in the sweep's group, tagged with its overrides
    for job, tag in zip(jobs, [b"backbone=shallow_cnn", b"backbone=resnet18"]):
        (run_file,) = (job / "wandb").glob("offline-run-*/*.wandb")
        record = run_file.read_bytes()
        assert f"train/{sweeps[0].name}".encode() in record and tag in record
    # not a terminal: plain lines, no progress bar
    assert "epoch 1/1" in done.stdout

    ckpt = jobs[1] / "checkpoints" / "best.ckpt"
    evaluated = run_cli(["fer.eval", f"ckpt={ckpt}"], tmp_path)
    assert evaluated.returncode == 0, evaluated.stderr[-3000:]
    eval_runs = list((tmp_path / "logs" / "eval" / "runs").iterdir())
    again = json.loads((eval_runs[0] / "metrics.json").read_text())
    assert again["test/acc"] == pytest.approx(json.loads((jobs[1] / "metrics.json").read_text())["test/acc"])


def test_a_loss_that_turns_nan_stops_the_run_naming_the_epoch(train_config):
    from fer.callbacks.finite_loss import NonFiniteLoss

    cfg = train_config("backbone=shallow_cnn", "optim.lr=1e30", "optim.warmup_epochs=0", "logger=none")
    with pytest.raises(NonFiniteLoss, match=r"training loss was (nan|inf) in epoch 1"):
        train(cfg)
    assert not (Path(cfg.paths.output_dir) / "metrics.json").exists()
