"""Lightning loggers from the ``logger`` config group, W&B offline unless set up online."""

from __future__ import annotations

import netrc
import os
from pathlib import Path

from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf


def wandb_is_logged_in() -> bool:
    """True when W&B credentials exist (an API key in the environment or ~/.netrc)."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    try:
        hosts = netrc.netrc().hosts
    except (FileNotFoundError, netrc.NetrcParseError):
        return False
    return any("wandb" in host for host in hosts)


def build_loggers(cfg: DictConfig | None) -> list:
    loggers = []
    for name, spec in (cfg or {}).items():
        spec = OmegaConf.to_container(spec, resolve=True)
        if spec["_target_"].endswith("WandbLogger"):
            if spec.get("offline") is None:
                spec["offline"] = os.environ.get("WANDB_MODE") == "offline" or not wandb_is_logged_in()
            Path(spec["save_dir"]).mkdir(parents=True, exist_ok=True)
        loggers.append(instantiate(spec))
    return loggers


def finish_wandb() -> None:
    """End the W&B run, so the next job of a multirun starts its own."""
    import sys

    if "wandb" in sys.modules:
        import wandb

        if wandb.run is not None:
            wandb.finish()
