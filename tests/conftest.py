"""Shared fixtures. The environment is made offline before anything imports timm or wandb."""

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["WANDB_MODE"] = "offline"
os.environ["WANDB_SILENT"] = "true"

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
from hydra import compose, initialize_config_module  # noqa: E402

from fer.config import CONF_MODULE  # noqa: E402

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def compose_config(name: str, overrides: list[str], output_dir: Path):
    """A composed config as fer.train/fer.eval would see it, writing into ``output_dir``."""
    with initialize_config_module(config_module=CONF_MODULE, version_base="1.3"):
        return compose(config_name=name, overrides=[*overrides, f"paths.output_dir={output_dir}"])


@pytest.fixture
def train_config(tmp_path):
    """``train_config(*overrides)``: the train config on the tiny synthetic set (debug=fast)."""
    counter = iter(range(1000))

    def make(*overrides: str):
        return compose_config(
            "train", ["debug=fast", "callbacks.progress=plain", *overrides], tmp_path / f"run{next(counter)}"
        )

    return make


def shared_data(name: str) -> Path:
    """A real dataset copy in ../shared/data, or skip the test with the reason."""
    path = SHARED_DATA / name
    if not path.exists():
        pytest.skip(f"real data {path} is absent (it is present in CI)")
    return path
