"""What each job of a Hydra multirun ended with, and mean ± std over folds and seeds.

``SweepRecorder`` is a Hydra callback (``conf/hydra/default.yaml``). After every job:
- a job that raised leaves ``failed.json`` (error and traceback) in its folder; the
  other jobs still run, and the multirun exits non-zero at the end (Hydra's basic
  launcher); Optuna marks the trial failed;
- the sweep folder gets ``sweep.csv``: every job, its overrides, status and metrics;
- and ``aggregate.csv`` / ``aggregate.md``: finished jobs that differ only in
  ``data.fold`` or ``seed`` form one group, with the mean, standard deviation and
  count of every test metric (a k-fold run's result).

The files are rewritten after each job, so a sweep stopped half-way still has them.
``python -m fer.run.sweep SWEEP_DIR`` rewrites them, e.g. once SLURM jobs have finished.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import traceback
from pathlib import Path

import numpy as np
import yaml
from hydra.core.utils import JobReturn, JobStatus
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig

from fer.run.atomic import atomic_write_text

GROUPED_OVER = ("data.fold=", "seed=")  # overrides that make repeats of one experiment


class SweepRecorder(Callback):
    def on_job_end(self, config: DictConfig, job_return: JobReturn, **kwargs) -> None:
        if job_return.status == JobStatus.FAILED:
            try:
                _ = job_return.return_value  # re-raises the job's exception
            except Exception as error:  # noqa: BLE001  (the job's own exception, re-raised by Hydra)
                record_failure(Path(config.hydra.runtime.output_dir), error)
        if config.hydra.mode == RunMode.MULTIRUN:
            summarise(Path(config.hydra.sweep.dir))


def record_failure(job_dir: Path, error: BaseException) -> None:
    if (job_dir / "metrics.json").exists():  # a finished run refused to be overwritten: leave it as it is
        return
    job_dir.mkdir(parents=True, exist_ok=True)
    failure = {
        "error": f"{type(error).__name__}: {error}",
        "traceback": "".join(traceback.format_exception(error)),
    }
    (job_dir / "failed.json").write_text(json.dumps(failure, indent=2))


def job_metrics(metrics: dict) -> dict[str, float]:
    """A finished run's numbers: test metrics (per-class recall flattened), best validation score, time."""
    values = {
        k: float(v)
        for k, v in metrics.items()
        if k.startswith(("test/", "best/")) and isinstance(v, (int, float))
    }
    values.update({f"test/recall/{c}": float(v) for c, v in metrics.get("test/per_class_recall", {}).items()})
    if metrics.get("train_seconds") is not None:
        values["train_seconds"] = float(metrics["train_seconds"])
    return values


def jobs(sweep_dir: Path) -> list[dict]:
    """Every job folder of a sweep (it holds ``.hydra/overrides.yaml``), in job-number order."""
    found = []
    for overrides_file in sweep_dir.glob("*/.hydra/overrides.yaml"):
        job_dir = overrides_file.parent.parent
        job = {
            "job": job_dir.name,
            "overrides": yaml.safe_load(overrides_file.read_text()) or [],
            "metrics": {},
            "error": "",
        }
        if (job_dir / "metrics.json").is_file():
            job["status"] = "finished"
            job["metrics"] = job_metrics(json.loads((job_dir / "metrics.json").read_text()))
        elif (job_dir / "failed.json").is_file():
            job["status"] = "failed"
            job["error"] = json.loads((job_dir / "failed.json").read_text())["error"]
        else:
            job["status"] = "unfinished"
        found.append(job)
    return sorted(
        found,
        key=lambda j: (
            int(j["job"].split("_")[0]) if j["job"].split("_")[0].isdigit() else 1 << 30,
            j["job"],
        ),
    )


def aggregate(finished: list[dict]) -> list[dict]:
    """Groups of jobs equal but for fold and seed: mean, std (ddof 1) and n of each metric."""
    groups: dict[str, list[dict]] = {}
    for job in finished:
        key = " ".join(o for o in job["overrides"] if not o.startswith(GROUPED_OVER)) or "(no overrides)"
        groups.setdefault(key, []).append(job)
    rows = []
    for key, members in groups.items():
        names = sorted({m for job in members for m in job["metrics"]})
        row = {"group": key, "n": len(members), "jobs": " ".join(j["job"] for j in members)}
        for name in names:
            values = np.array([job["metrics"][name] for job in members if name in job["metrics"]])
            row[f"{name} mean"] = float(values.mean())
            row[f"{name} std"] = float(values.std(ddof=1)) if len(values) > 1 else float("nan")
        rows.append(row)
    return rows


def _csv_text(rows: list[dict]) -> str:
    columns = list(dict.fromkeys(k for row in rows for k in row))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns)
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def aggregate_markdown(rows: list[dict]) -> str:
    """The test metrics and the checkpoint monitor's best value (best/val/acc, best/val/loss, ...)."""
    best = sorted(
        {
            k.removesuffix(" mean")
            for row in rows
            for k in row
            if k.startswith("best/") and k.endswith(" mean")
        }
    )
    metrics = ["test/acc", "test/macro_f1", "test/loss", *best]
    lines = ["| group | n | " + " | ".join(metrics) + " |", "|---|---|" + "---|" * len(metrics)]
    for row in rows:
        cells = []
        for name in metrics:
            mean, std = row.get(f"{name} mean"), row.get(f"{name} std")
            cells.append("" if mean is None else f"{mean:.4f}" + ("" if np.isnan(std) else f" ± {std:.4f}"))
        lines.append(f"| {row['group']} | {row['n']} | " + " | ".join(cells) + " |")
    return (
        "\n".join(lines)
        + "\n\nmean ± sample standard deviation over the group's jobs (folds or seeds); aggregate.csv has "
        "every metric.\n"
    )


def summarise(sweep_dir: Path) -> list[dict]:
    """Write sweep.csv, aggregate.csv and aggregate.md in ``sweep_dir``; return the aggregate rows."""
    found = jobs(sweep_dir)
    if not found:
        raise FileNotFoundError(
            f"{sweep_dir}: no job folders (expected <job>/.hydra/overrides.yaml, as a Hydra multirun writes)"
        )
    table = [
        {
            "job": j["job"],
            "status": j["status"],
            "overrides": " ".join(j["overrides"]),
            **j["metrics"],
            "error": j["error"],
        }
        for j in found
    ]
    atomic_write_text(sweep_dir / "sweep.csv", _csv_text(table))
    rows = aggregate([j for j in found if j["status"] == "finished"])
    if rows:
        atomic_write_text(sweep_dir / "aggregate.csv", _csv_text(rows))
        atomic_write_text(sweep_dir / "aggregate.md", aggregate_markdown(rows))
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m fer.run.sweep",
        description="Rewrite a sweep's sweep.csv and aggregate (mean ± std over folds and seeds).",
    )
    parser.add_argument("sweep_dir", type=Path, help="a multirun folder (logs/<task>/multiruns/<time>)")
    args = parser.parse_args(argv)
    rows = summarise(args.sweep_dir)
    print((args.sweep_dir / "sweep.csv").read_text())
    if rows:
        print(aggregate_markdown(rows))


if __name__ == "__main__":
    main()
