"""experiments/benchmarks/gpu_suite.sh end to end on a CPU (FER_SUITE_SMOKE=1: synthetic faces, tiny
steps): the throughput table, the preset's three seeds side by side, the seed study on validation
and test, and what comes back in $OUT."""

import json
import os
import subprocess
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]


@pytest.mark.slow
def test_the_gpu_suite_runs_its_three_steps_on_a_cpu(tmp_path):
    out = tmp_path / "out"
    env = os.environ | {"FER_SUITE_SMOKE": "1", "OUT": str(out), "FER_SUITE_WORK": str(tmp_path / "work")}
    done = subprocess.run(
        ["bash", "experiments/benchmarks/gpu_suite.sh"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    log = (out / "suite.log").read_text()
    assert "trained: 3 of 3" in log and "ensemble of 3" in log
    throughput = json.loads((out / "throughput.json").read_text())
    assert [r["model"] for r in throughput["rows"]] == ["shallow_cnn @48", "experiment=fer2013_gpu_sota"]
    assert all(r["device"] > 0 for r in throughput["rows"]) and throughput["rows"][0]["worker"] > 0
    study = json.loads((out / "seed_study.json").read_text())
    assert len(study["runs"]) == 3 and len(study["single"]["test_acc"]) == 3
    assert set(study["val_acc"]) == {"none", "flip", "shift", "ten_crop"}
    assert study["single"]["tta"] in study["val_acc"] and 0 <= study["ensemble"]["test_acc"] <= 1
    with tarfile.open(out / "runs.tar.gz") as runs:
        names = runs.getnames()
    assert {f"runs/seed{s}/history.csv" for s in (1, 2, 3)} <= set(names)
