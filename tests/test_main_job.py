"""The README's main job, as it runs: pretrained EfficientNet-Lite0, >= 0.88 synthetic test accuracy
(about 2 min on 2 cores)."""

from pathlib import Path

import pytest

from fer.run.config import compose_config
from fer.train import train


@pytest.mark.slow
def test_main_job_reaches_088_on_synthetic(tmp_path):
    metrics = train(compose_config("train", ["callbacks.progress=plain"], tmp_path))
    assert metrics["test/acc"] >= 0.88 and metrics["epochs"] == 5
    assert (
        metrics["backbone"] == "efficientnet_lite0"
        and metrics["pretrained"]
        and metrics["weights"]["missing"] == ["classifier.bias", "classifier.weight"]
    )
    assert Path(metrics["run_dir"], "checkpoints", "best.ckpt").is_file()
