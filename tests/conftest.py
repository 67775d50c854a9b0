"""Shared fixtures. The environment is made offline before anything imports timm or wandb."""

import os
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["WANDB_MODE"] = "offline"
os.environ["WANDB_SILENT"] = "true"

import pytest  # noqa: E402

from fer.run.config import compose_config  # noqa: E402


@pytest.fixture
def train_config(tmp_path):
    """``train_config(*overrides)``: the train config on the tiny synthetic set (debug=fast)."""
    counter = iter(range(1000))

    def make(*overrides: str):
        return compose_config(
            "train", ["debug=fast", "callbacks.progress=plain", *overrides], tmp_path / f"run{next(counter)}"
        )

    return make


@pytest.fixture(scope="session")
def checkpoint(tmp_path_factory):
    """A shallow CNN trained for one epoch on the tiny synthetic set (its run folder holds best and last)."""
    from fer.train import train

    root = tmp_path_factory.mktemp("trained")
    cfg = compose_config(
        "train",
        ["debug=fast", "backbone=shallow_cnn", "logger=none", "callbacks.progress=plain"],
        root / "run",
    )
    return Path(train(cfg)["run_dir"]) / "checkpoints" / "best.ckpt"
