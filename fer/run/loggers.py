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


def sweep_job() -> tuple[str, str, list[str]] | None:
    """In a Hydra multirun: (sweep folder name, job folder name, the job's overrides); else None."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    if not HydraConfig.initialized() or HydraConfig.get().mode != RunMode.MULTIRUN:
        return None
    hydra_cfg = HydraConfig.get()
    return (
        Path(hydra_cfg.sweep.dir).name,
        Path(hydra_cfg.runtime.output_dir).name,
        list(hydra_cfg.overrides.task),
    )


def build_loggers(
    cfg: DictConfig | None, task_name: str = "train", hyperparameters: dict | None = None
) -> list:
    """The loggers of a ``logger`` config section, each given ``hyperparameters`` (the run's config)."""
    loggers = []
    for spec in (cfg or {}).values():
        spec = OmegaConf.to_container(spec, resolve=True)
        if spec["_target_"].endswith("WandbLogger"):
            spec = wandb_spec(spec, task_name)
        if spec["_target_"].endswith("CSVLogger"):
            spec["version"] = free_csv_version(spec)
        loggers.append(instantiate(spec))
    for logger in loggers:
        if hyperparameters is not None:
            logger.log_hyperparams(hyperparameters)
    return loggers


def wandb_spec(spec: dict, task_name: str) -> dict:
    """Offline unless logged in; in a multirun, one group per sweep, the job's overrides as tags."""
    spec = dict(spec)
    if spec.get("offline") is None:
        spec["offline"] = os.environ.get("WANDB_MODE") == "offline" or not wandb_is_logged_in()
    job = sweep_job()
    if spec.get("group") is None:
        spec["group"] = f"{task_name}/{job[0]}" if job else task_name
    if job:
        spec["name"] = spec.get("name") or job[1]
        spec["tags"] = [
            *spec.get("tags", []),
            *(o for o in job[2] if len(o) <= 64 and not o.startswith(("data.root", "paths."))),
        ]
    Path(spec["save_dir"]).mkdir(parents=True, exist_ok=True)
    return spec


def free_csv_version(spec: dict) -> str:
    """The configured version folder, or ``resumed_N`` beside it when it holds a metrics.csv
    (a resumed run): Lightning's CSV writer deletes an existing file instead of appending."""
    version = str(spec.get("version") or "")
    folder = Path(spec["save_dir"]) / spec.get("name", "lightning_logs")
    candidate, n = version, 1
    while (folder / candidate / "metrics.csv").exists():
        candidate, n = f"resumed_{n}", n + 1
    return candidate


def finish_wandb() -> None:
    """End the W&B run, so the next job of a multirun starts its own."""
    import sys

    if "wandb" in sys.modules:
        import wandb

        if wandb.run is not None:
            wandb.finish()
