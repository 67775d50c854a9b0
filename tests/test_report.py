"""python -m fer.report over finished runs: table, charts, confusion grid, curves, one HTML file."""

import base64
import csv
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from fer.report import COLUMNS, report
from fer.run.config import compose_config
from fer.train import train

ROOT = Path(__file__).parents[1]


@pytest.fixture(scope="module")
def sweep(tmp_path_factory) -> Path:
    """Two finished runs in one folder, as a multirun leaves them."""
    root = tmp_path_factory.mktemp("sweep")
    for i, backbone in enumerate(["shallow_cnn", "resnet18"]):
        train(
            compose_config(
                "train",
                [
                    "debug=fast",
                    f"backbone={backbone}",
                    "backbone.pretrained=false",
                    "trainer.max_epochs=2",
                    "logger=none",
                    "callbacks.progress=plain",
                ],
                root / f"{i}_{backbone}",
            )
        )
    (root / "unfinished").mkdir()  # a crashed job: no metrics.json, not a run
    return root


def test_report_over_a_sweep(sweep, tmp_path):
    result = report([sweep], tmp_path / "out")
    out = tmp_path / "out"
    assert [Path(r).name for r in result["runs"]] == ["0_shallow_cnn", "1_resnet18"]
    with open(out / "report.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["model"] for r in rows] == ["fer_shallow_cnn", "resnet18"] and list(rows[0]) == COLUMNS
    for r, run in zip(rows, ["0_shallow_cnn", "1_resnet18"]):
        metrics = (sweep / run / "metrics.json").read_text()
        assert float(r["accuracy"]) == pytest.approx(100 * json.loads(metrics)["test/acc"], abs=0.006)
        assert (
            float(r["parameters (M)"]) > 0
            and float(r["images/s"]) > 0
            and r["epochs"] == "2"
            and r["dataset"] == "synthetic"
        )
    markdown = (out / "report.md").read_text().splitlines()
    assert markdown[0].startswith("| run | model |") and markdown[4] == ""
    assert markdown[7].startswith("| recipe | runs |") and len(markdown) == 11  # runs without a config: alone
    page = (out / "report.html").read_text()
    assert page.count("<table>") == 2 and page.count("<tr>") == 3 + 3
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert len(images) == 3 and all(base64.b64decode(i).startswith(b"\x89PNG") for i in images)
    assert "http" not in page.replace("http-equiv", "")  # self-contained


def test_runs_that_differ_only_in_the_seed_are_pooled_into_one_recipe(sweep, tmp_path):
    """Three copies of a finished run with hand-written configs and accuracies: two of one recipe
    (seed and logger differ, and the dataset's root is written absolute in one and relative to the
    run's starting folder in the other), one with another learning rate."""
    settings = [(1, "csv", 0.001, 0.70), (2, "none", 0.001, 0.74), (1, "csv", 0.01, 0.60)]
    for i, (seed, logger, lr, acc) in enumerate(settings):
        run = tmp_path / "runs" / f"r{i}"
        shutil.copytree(sweep / "0_shallow_cnn", run)
        metrics = json.loads((run / "metrics.json").read_text())
        metrics |= {"seed": seed, "test/acc": acc, "test/macro_f1": acc - 0.1}
        (run / "metrics.json").write_text(json.dumps(metrics))
        (run / ".hydra").mkdir()
        root = "../fer2013" if i == 1 else "/data/fer2013"  # run 1 started in /data/work
        config = f"seed: {seed}\nlogger: {logger}\noptim:\n  lr: {lr}\n  name: adamw\ndata:\n  root: {root}\n"
        (run / ".hydra" / "config.yaml").write_text(config)
        (run / ".hydra" / "hydra.yaml").write_text("hydra:\n  runtime:\n    cwd: /data/work\n")
        given = ["experiment=x", f"data.root={root}", f"seed={seed}", f"logger={logger}"]
        given += [f"optim.lr={lr}"] * (lr == 0.01)
        (run / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(given))
    result = report([tmp_path / "runs"], tmp_path / "out")
    seeds = result["seeds"]
    assert [(s["recipe"], s["runs"], s["seeds"]) for s in seeds] == [
        ("the shared overrides", 2, "1 2"),
        ("optim.lr=0.01", 1, "1"),
    ]
    assert result["common"] == ["experiment=x", "data.root=/data/fer2013"]
    assert seeds[0]["accuracy"] == 72.0 and seeds[0]["accuracy std"] == pytest.approx(2.83, abs=0.01)
    assert seeds[0]["macro-F1"] == 62.0 and seeds[1]["accuracy std"] is None
    with open(tmp_path / "out" / "seeds.csv", newline="") as f:
        assert [r["accuracy"] for r in csv.DictReader(f)] == ["72.0", "60.0"]


def test_report_cli_and_errors(sweep, tmp_path):
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "fer.report",
            str(sweep / "0_shallow_cnn"),
            str(sweep / "1_resnet18"),
            "--out",
            str(tmp_path / "r"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert "wrote" in done.stdout and (tmp_path / "r" / "report.html").is_file()
    with pytest.raises(FileNotFoundError, match="no finished run"):
        report([sweep / "unfinished"], tmp_path / "x")
    with pytest.raises(FileNotFoundError, match="no such folder"):
        report([tmp_path / "nowhere"], tmp_path / "x")


@pytest.mark.skipif(
    not (shutil.which("chromium") or shutil.which("chromium-browser")),
    reason="headless Chromium is not installed",
)
def test_report_html_renders_in_headless_chromium(sweep, tmp_path):
    report([sweep], tmp_path / "out")
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    shot = tmp_path / "shot.png"
    subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            f"--screenshot={shot}",
            "--window-size=1280,2400",
            (tmp_path / "out" / "report.html").as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    from PIL import Image

    image = Image.open(shot).convert("L")
    assert image.size == (1280, 2400)
    assert (
        len(set(image.resize((64, 120)).getdata())) > 20
    )  # table and charts drew something, not a blank page
