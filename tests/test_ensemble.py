"""fer.ensemble: members of different backbones and input sizes, averaged on the same images."""

import json
from pathlib import Path

import pytest

from fer.ensemble import ensemble
from fer.train import train
from tests.conftest import compose_config

COMMON = ["debug=fast", "logger=none", "callbacks.progress=plain"]


@pytest.fixture(scope="module")
def members(tmp_path_factory) -> list[Path]:
    """The shallow CNN at 48 px and pretrained EfficientNet-Lite0 at 64 px, one synthetic epoch each."""
    root = tmp_path_factory.mktemp("members")
    runs = []
    for name in ("shallow_cnn", "efficientnet_lite0"):
        train(compose_config("train", [*COMMON, f"backbone={name}"], root / name))
        runs.append(root / name)
    return runs


def test_members_of_other_sizes_are_averaged_on_the_same_images(members, tmp_path):
    ckpts = [str(run / "checkpoints" / "best.ckpt") for run in members]
    cfg = compose_config("ensemble", [f"ckpt=[{','.join(ckpts)}]", f"output={tmp_path}"], tmp_path)
    metrics = ensemble(cfg)
    assert metrics["images"] == 70 and sum(map(sum, metrics["test/confusion_matrix"])) == 70
    for member, run in zip(metrics["members"], members):  # each member's score, as its own run tested it
        own = json.loads((run / "metrics.json").read_text())
        assert member["test/acc"] == pytest.approx(own["test/acc"], abs=1e-6)
    written = json.loads((tmp_path / "metrics.json").read_text())
    assert written["test/acc"] == metrics["test/acc"] and (tmp_path / "confusion_matrix.png").is_file()


def test_members_must_answer_for_the_same_classes(members, tmp_path):
    other = tmp_path / "three"
    train(compose_config("train", [*COMMON, "backbone=shallow_cnn", "data.classes=[happy,sad,angry]"], other))
    ckpts = [str(members[0] / "checkpoints" / "best.ckpt"), str(other / "checkpoints" / "best.ckpt")]
    with pytest.raises(ValueError, match="same classes and images"):
        ensemble(
            compose_config(
                "ensemble", [f"ckpt=[{','.join(ckpts)}]", f"output={tmp_path / 'e'}"], tmp_path / "e"
            )
        )
    with pytest.raises(ValueError, match="at least two"):
        ensemble(
            compose_config("ensemble", [f"ckpt=[{ckpts[0]}]", f"output={tmp_path / 'f'}"], tmp_path / "f")
        )
