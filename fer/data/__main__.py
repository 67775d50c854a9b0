"""``python -m fer.data data=NAME data.root=PATH [data.protocol=... data.fold=...]``:
print the dataset report (the same one training saves in its run directory)."""

from __future__ import annotations

import json

import hydra
from omegaconf import DictConfig

from fer.data.pipeline import build_splits
from fer.run.cli import command
from fer.run.config import CONF_PATH, InspectDataConfig


@hydra.main(version_base="1.3", config_path=CONF_PATH, config_name="inspect_data")
def main(cfg: DictConfig) -> None:
    with command(cfg, InspectDataConfig):
        print(json.dumps(build_splits(cfg.data, cfg.seed, cfg.paths.cache_dir).report, indent=2))


if __name__ == "__main__":
    main()
