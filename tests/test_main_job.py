"""The README's main job, as it runs: >= 0.90 synthetic test accuracy (about 2.5 min on 2 cores)."""

from pathlib import Path

import pytest

from fer.train import train
from tests.conftest import compose_config


@pytest.mark.slow
def test_main_job_reaches_090_on_synthetic(tmp_path):
    metrics = train(compose_config("train", ["callbacks.progress=plain"], tmp_path))
    assert metrics["test/acc"] >= 0.90 and metrics["epochs"] == 12
    assert Path(metrics["run_dir"], "checkpoints", "best.ckpt").is_file()
