"""The package as a user installs it: a wheel in a fresh virtual environment runs from any folder."""

import json
import os
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

ROOT = Path(__file__).parents[1]


def run(args: list, cwd: Path, env: dict | None = None, timeout: int = 600) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, f"{args}\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    return done


def test_a_wheel_installed_in_a_fresh_environment_runs_the_main_job_and_eval(tmp_path):
    # the wheel, built from a copy of the working tree (the build writes build/ and *.egg-info beside it)
    source = tmp_path / "source"
    for name in run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"], ROOT
    ).stdout.splitlines():
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            (source / name).write_bytes((ROOT / name).read_bytes())
    run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            tmp_path / "dist",
            source,
        ],
        tmp_path,
    )
    (wheel,) = (tmp_path / "dist").glob("fer_transfer-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "fer/conf/train.yaml" in names and "fer/conf/backbone/efficientnet_lite0.yaml" in names

    # a fresh environment: the wheel's own files, the dependencies this machine already has
    env_dir = tmp_path / "venv"
    venv.create(env_dir, system_site_packages=True, with_pip=False)
    python = env_dir / "bin" / "python"
    run([sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-deps", wheel], tmp_path)

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {
        "HF_HUB_OFFLINE": "1",
        "WANDB_MODE": "offline",
    }
    where = run(
        [python, "-c", "import fer, fer.conf; print(fer.__file__); print(list(fer.conf.__path__)[0])"],
        elsewhere,
        env,
    ).stdout.split()
    assert all(p.startswith(str(env_dir)) for p in where), where  # the installed copy, not the checkout

    # the main job's code path (pretrained EfficientNet-Lite0 on the synthetic set), a few batches of it
    run(
        [python, "-m", "fer.train", "debug=limit", "hydra.run.dir=run", "callbacks.progress=plain"],
        elsewhere,
        env,
    )
    metrics = json.loads((elsewhere / "run" / "metrics.json").read_text())
    assert (
        metrics["backbone"] == "efficientnet_lite0"
        and metrics["weights"]["source"] == "pkg:efficientnet_lite0"
    )
    run(
        [
            python,
            "-m",
            "fer.eval",
            "ckpt=run/checkpoints/best.ckpt",
            "trainer.limit_test_batches=2",
            "hydra.run.dir=eval",
        ],
        elsewhere,
        env,
    )
    again = json.loads((elsewhere / "eval" / "metrics.json").read_text())
    assert again["test/confusion_matrix"] == metrics["test/confusion_matrix"]
