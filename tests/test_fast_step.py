"""The options of a fast training step: fused AdamW, torch.compile, the first step's time."""

import math

import pytest
import torch

from fer.models.optim import build_optimizer
from fer.run.checkpoint import read
from fer.run.config import compose_config
from fer.train import train


def run(tmp_path, *overrides):
    cfg = compose_config(
        "train",
        ["debug=fast", "backbone=shallow_cnn", "logger=none", "callbacks.progress=plain", *overrides],
        tmp_path,
    )
    return train(cfg)


def test_fused_adamw_is_built_when_asked():
    params = [{"params": [torch.nn.Parameter(torch.randn(3))]}]
    assert build_optimizer(
        params, {"name": "adamw", "lr": 0.1, "betas": [0.9, 0.999], "fused": True}
    ).defaults["fused"]
    assert not build_optimizer(
        params, {"name": "adamw", "lr": 0.1, "betas": [0.9, 0.999], "fused": False}
    ).defaults["fused"]


def test_a_run_with_fused_adamw_reports_its_first_step(tmp_path):
    metrics = run(tmp_path, "optim.fused=true")
    assert metrics["first_step_seconds"] > 0 and math.isfinite(metrics["test/loss"])


@pytest.mark.slow
def test_a_compiled_network_keeps_its_checkpoint_names(tmp_path):
    metrics = run(tmp_path, "compile=true")
    names = list(read(tmp_path / "checkpoints" / "best.ckpt")["state_dict"])
    assert names and not any("_orig_mod" in n for n in names)
    assert metrics["first_step_seconds"] > 1.0  # compiling happens in the first step
