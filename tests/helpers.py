"""What several test modules share: real-data lookup, fixtures written in the datasets' own formats,
composed backbone sections, and running a command as a user would. No test module imports another."""

import csv
import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from fer.data.datamodule import FERDataModule
from fer.data.pipeline import Splits, build_splits
from fer.data.registry import make_source
from fer.data.source import Decoded
from fer.run.config import BackboneConfig, typed

ROOT = Path(__file__).parents[1]


SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def shared_data(name: str) -> Path:
    """A real dataset copy in ../shared/data, or skip the test with the reason."""
    path = SHARED_DATA / name
    if not path.exists():
        pytest.skip(f"real data {path} is absent (it is present in CI)")
    return path


def splits_of(name: str, seed: int = 0, cache_dir: str | None = None, **section) -> Splits:
    """The splits of dataset ``name`` with ``section``'s data keys, as fer.train builds them."""
    return build_splits({"name": name, **section}, seed, cache_dir)


def decoded_of(name: str, **section) -> Decoded:
    """Dataset ``name`` read with ``section``'s data keys (no cache): its arrays, skipped items and facts."""
    return make_source({"name": name, **section}).read(None)


def datamodule_of(
    name: str, *, input_size: int | None = None, batch_size: int = 64, augment=(), seed: int = 0, **section
) -> FERDataModule:
    """The DataModule over ``splits_of(name, seed, **section)``, loading in the main process."""
    splits = splits_of(name, seed, **section)
    return FERDataModule(splits, input_size=input_size, augment=augment, batch_size=batch_size, seed=seed)


def face(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (48, 48), dtype=np.uint8)


def fer_rows(n: int = 21) -> list[tuple[int, np.ndarray, str]]:
    usages = ["Training"] * 14 + ["PublicTest"] * 3 + ["PrivateTest"] * 4
    return [(i % 7, face(i), usages[i % len(usages)]) for i in range(n)]


def write_fer2013_csv(path: Path, rows: list[tuple[int, np.ndarray, str]], icml: bool = False) -> Path:
    opener = gzip.open(path, "wt", newline="") if path.suffix == ".gz" else open(path, "w", newline="")
    with opener as f:
        writer = csv.writer(f)
        writer.writerow(["emotion", " Usage", " pixels"] if icml else ["emotion", "pixels", "Usage"])
        for emotion, image, usage in rows:
            pixels = " ".join(map(str, image.ravel()))
            writer.writerow([emotion, usage, pixels] if icml else [emotion, pixels, usage])
    return path


def snapshot(root: Path) -> dict:
    return {str(p): (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*")}


def write_ckplus48(root: Path, subjects: int = 12) -> None:
    folders = ["anger", "contempt", "disgust", "fear", "happy", "sadness", "surprise"]
    for s in range(subjects):
        for seq in range(2):
            folder = folders[(s + seq) % 7]
            (root / folder).mkdir(parents=True, exist_ok=True)
            for frame in range(3):
                cv2.imwrite(
                    str(root / folder / f"S{100 + s:03d}_{seq + 1:03d}_{frame + 10:08d}.png"),
                    face(s * 100 + seq * 10 + frame),
                )


def backbone_config(option: str, **overrides) -> dict:
    """A ``conf/backbone`` option as composed: its YAML choices over the schema's defaults."""
    cfg = yaml.safe_load((Path(__file__).parents[1] / "conf" / "backbone" / f"{option}.yaml").read_text())
    del cfg["defaults"]
    if option == "timm":
        cfg["name"] = "test_efficientnet"  # timm's tiny test model
    return typed(BackboneConfig, {**cfg, **overrides})


RUN_FILES = [
    "confusion_matrix.png",
    "learning_curves.png",
    "metrics.json",
    "checkpoints/best.ckpt",
    "checkpoints/last.ckpt",
    "data_report.json",
    "history.csv",
]


METRIC_KEYS = [
    "test/acc",
    "test/macro_f1",
    "test/per_class_recall",
    "test/confusion_matrix",
    "classes",
    "dataset",
    "backbone",
    "seed",
    "epochs",
    "train_seconds",
]


def check_run_dir(run_dir: Path) -> dict:
    for name in RUN_FILES:
        assert (run_dir / name).is_file(), f"{run_dir} lacks {name}"
    metrics = json.loads((run_dir / "metrics.json").read_text())
    for key in METRIC_KEYS:
        assert key in metrics, key
    classes = metrics["classes"]
    matrix = metrics["test/confusion_matrix"]
    assert len(matrix) == len(classes) and all(len(row) == len(classes) for row in matrix)
    assert set(metrics["test/per_class_recall"]) == set(classes)
    diagonal = sum(matrix[i][i] for i in range(len(classes)))
    assert metrics["test/acc"] == pytest.approx(diagonal / sum(map(sum, matrix)), abs=1e-6)
    return metrics


def run_cli(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    """``python -m <args>`` as a user runs it (no HYDRA_FULL_ERROR: errors read as a user sees them)."""
    env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"} | {"PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )
