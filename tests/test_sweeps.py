"""Experiment management: failed jobs, k-fold aggregates, Optuna, submitit, DDP, reproducibility."""

import csv
import json
from pathlib import Path

import pytest
import yaml

from fer.run.sweep import aggregate, aggregate_markdown
from fer.train import train
from tests.helpers import check_run_dir, run_cli, write_ckplus48


def sweep_dir(tmp_path: Path, task: str = "train") -> Path:
    sweeps = list((tmp_path / "logs" / task / "multiruns").iterdir())
    assert len(sweeps) == 1, sweeps
    return sweeps[0]


def sweep_rows(sweep: Path) -> list[dict]:
    with open(sweep / "sweep.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_a_failed_job_is_recorded_and_the_others_finish(tmp_path):
    done = run_cli(["fer.train", "-m", "debug=fast", "backbone=shallow_cnn", "optim.lr=-1,0.001"], tmp_path)
    assert done.returncode != 0  # the multirun reports the failure ...
    sweep = sweep_dir(tmp_path)
    failed = json.loads((sweep / "0_shallow_cnn" / "failed.json").read_text())
    assert "optim.lr=-1.0: expected > 0" in failed["error"] and "Traceback" in failed["traceback"]
    check_run_dir(sweep / "1_shallow_cnn")  # ... after running the job that came after it
    rows = sweep_rows(sweep)
    assert [(r["job"], r["status"]) for r in rows] == [
        ("0_shallow_cnn", "failed"),
        ("1_shallow_cnn", "finished"),
    ]
    assert float(rows[1]["test/acc"]) > 0 and "optim.lr=-1.0" in rows[0]["error"]


def test_aggregate_groups_over_folds_and_seeds_only():
    def job(name, overrides, acc):
        return {"job": name, "overrides": overrides, "metrics": {"test/acc": acc}}

    rows = aggregate(
        [
            job("0", ["backbone=a", "data.fold=0"], 0.5),
            job("1", ["backbone=a", "data.fold=1"], 0.7),
            job("2", ["backbone=a", "data.fold=2", "seed=3"], 0.9),
            job("3", ["backbone=b", "data.fold=0"], 0.4),
        ]
    )
    by_group = {r["group"]: r for r in rows}
    assert by_group["backbone=a"]["n"] == 3 and by_group["backbone=a"]["test/acc mean"] == pytest.approx(0.7)
    assert by_group["backbone=a"]["test/acc std"] == pytest.approx(0.2)  # sample std of 0.5, 0.7, 0.9
    assert by_group["backbone=b"]["n"] == 1


def test_aggregate_table_shows_the_monitor_each_group_used():
    """One group checkpointed on val/loss, one on val/acc: both best values get a column."""
    rows = aggregate(
        [
            {
                "job": "0",
                "overrides": ["m=loss", "data.fold=0"],
                "metrics": {"test/acc": 0.9, "best/val/loss": 0.2},
            },
            {
                "job": "1",
                "overrides": ["m=loss", "data.fold=1"],
                "metrics": {"test/acc": 0.8, "best/val/loss": 0.4},
            },
            {
                "job": "2",
                "overrides": ["m=acc", "data.fold=0"],
                "metrics": {"test/acc": 0.7, "best/val/acc": 0.75},
            },
        ]
    )
    header, _, loss_row, acc_row = (
        [c.strip() for c in line.split("|")[1:-1]] for line in aggregate_markdown(rows).splitlines()[:4]
    )
    assert header[-2:] == ["best/val/acc", "best/val/loss"]
    assert loss_row[-2:] == ["", "0.3000 ± 0.1414"] and acc_row[-2:] == ["0.7500", ""]


def test_kfold_preset_runs_every_fold_and_aggregates(tmp_path):
    root = tmp_path / "ckplus48"
    write_ckplus48(root, subjects=10)
    args = [
        "fer.train",
        "-m",
        "experiment=ckplus_5fold",
        f"data.root={root}",
        f"paths.cache_dir={tmp_path / 'cache'}",
        "data.num_workers=0",
        "backbone=shallow_cnn",
        "trainer.max_epochs=1",
        "callbacks.progress=plain",
    ]
    done = run_cli(args, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    sweep = sweep_dir(tmp_path, "ckplus_5fold")
    rows = sweep_rows(sweep)
    assert [r["status"] for r in rows] == ["finished"] * 5
    test_subjects = []
    for r in rows:
        metrics = check_run_dir(sweep / r["job"])
        test_subjects.append(metrics["test_split"])
    with open(sweep / "aggregate.csv", newline="") as f:
        (group,) = list(csv.DictReader(f))
    accuracies = [float(r["test/acc"]) for r in rows]
    assert int(group["n"]) == 5
    assert float(group["test/acc mean"]) == pytest.approx(sum(accuracies) / 5)
    assert "test/macro_f1 std" in group and "±" in (sweep / "aggregate.md").read_text()
    assert len(set(test_subjects)) == 5  # each job tested a different fold


@pytest.mark.slow  # 17 s: an Optuna study of trainings; left out of the default run (pytest -m slow)
def test_optuna_search_runs_its_trials(tmp_path):
    args = [
        "fer.train",
        "hparams_search=recipe_optuna",
        "debug=fast",
        "backbone=shallow_cnn",
        "hydra.sweeper.n_trials=3",
        "hydra.sweeper.sampler.n_startup_trials=2",
    ]
    done = run_cli(args, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    sweep = sweep_dir(tmp_path)
    rows = sweep_rows(sweep)
    assert [r["status"] for r in rows] == ["finished"] * 3
    lrs = {o for r in rows for o in r["overrides"].split() if o.startswith("optim.lr=")}
    assert len(lrs) == 3  # three different suggestions
    best = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    assert best["best_value"] == pytest.approx(max(float(r["best/val/acc"]) for r in rows))


@pytest.mark.slow  # 28 s: two local submitit jobs; the default suite keeps under 10 minutes (pytest -m slow)
def test_submitit_local_launcher_runs_the_sweep(tmp_path):
    done = run_cli(
        [
            "fer.train",
            "-m",
            "hydra/launcher=local",
            "debug=fast",
            "backbone=shallow_cnn,resnet18",
            "backbone.pretrained=false",
        ],
        tmp_path,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    sweep = sweep_dir(tmp_path)
    assert {r["job"]: r["status"] for r in sweep_rows(sweep)} == {
        "0_shallow_cnn": "finished",
        "1_resnet18": "finished",
    }
    assert list((sweep / ".submitit").rglob("*_result.pkl"))  # the jobs went through submitit


@pytest.mark.slow  # 29 s: two DDP processes, then an evaluation; left out of the default run (pytest -m slow)
def test_ddp_on_two_cpu_processes_matches_one_process(tmp_path):
    run = tmp_path / "ddp_run"
    # 70 test faces, 16 per batch: the two processes get uneven shares (35 each: 3 batches, the last short)
    args = [
        "fer.train",
        "trainer=ddp",
        "trainer.accelerator=cpu",
        "trainer.sync_batchnorm=false",
        "debug=fast",
        "backbone=shallow_cnn",
        "data.batch_size=16",
        f"hydra.run.dir={run}",
    ]
    done = run_cli(args, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Starting with 2 processes" in done.stdout + done.stderr
    metrics = check_run_dir(run)
    assert sum(map(sum, metrics["test/confusion_matrix"])) == 70  # each test face counted once
    evaluated = run_cli(
        ["fer.eval", f"ckpt={run / 'checkpoints' / 'best.ckpt'}", f"hydra.run.dir={tmp_path / 'eval'}"],
        tmp_path,
    )
    assert evaluated.returncode == 0, evaluated.stderr[-3000:]
    single = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert single["test/confusion_matrix"] == metrics["test/confusion_matrix"]
    assert single["test/acc"] == pytest.approx(metrics["test/acc"])


def test_deterministic_runs_give_the_same_metrics_and_record_provenance(train_config):
    runs = [
        train(
            train_config(
                "trainer.deterministic=true",
                "trainer.max_epochs=2",
                "backbone=resnet18",
                "backbone.pretrained=false",
            )
        )
        for _ in range(2)
    ]
    saved = [check_run_dir(Path(r["run_dir"])) for r in runs]
    assert saved[0]["test/confusion_matrix"] == saved[1]["test/confusion_matrix"]
    assert saved[0]["test/loss"] == saved[1]["test/loss"]
    histories = [Path(r["run_dir"], "history.csv").read_text() for r in runs]
    assert histories[0] == histories[1]  # every epoch's losses and accuracies, to the last digit
    record = json.loads(Path(runs[0]["run_dir"], "provenance.json").read_text())
    assert (
        len(record["git"]["commit"]) == 40 and record["packages"]["torch"] and record["packages"]["lightning"]
    )
    assert record == saved[0]["provenance"] == saved[1]["provenance"]  # same data hash for the same data
    assert len(record["data_report_sha256"]) == 64
