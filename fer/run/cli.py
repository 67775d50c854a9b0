"""What every command does around its work: check the composed config against the command's schema
before anything loads (fer/run/config.py: unknown keys, choices, ranges, rules), and print the failures a
user can fix (a bad value, a missing data root, a refused checkpoint, weights that cannot be had) as
their message alone, exiting with status 1. ``HYDRA_FULL_ERROR=1`` shows the traceback instead, and in
a multirun the error goes to Hydra, which records the failed job and goes on with the others.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from fer.models.weights import WeightsUnavailable
from fer.run.config import check

# what a user can fix from the message alone (ValueError: a bad value or file; OSError: a path)
USER_ERRORS = (ValueError, OSError, WeightsUnavailable)


def _multirun() -> bool:
    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def _remove_empty_run_dir() -> None:
    """A refused command leaves nothing: the folder Hydra made for it goes where it holds only Hydra's own
    files (its config copy and the log), never a folder with anything of a run in it."""
    if not HydraConfig.initialized():
        return
    folder = Path(HydraConfig.get().runtime.output_dir)
    own = {".hydra", f"{HydraConfig.get().job.name}.log"}
    if folder.is_dir() and {p.name for p in folder.iterdir()} <= own:
        shutil.rmtree(folder)


@contextlib.contextmanager
def command(cfg: DictConfig, schema: type) -> Iterator[None]:
    """``with command(cfg, Schema): ...`` around a command's body."""
    try:
        check(schema, cfg)
        yield
    except USER_ERRORS as err:
        if os.environ.get("HYDRA_FULL_ERROR") == "1" or _multirun():
            raise
        _remove_empty_run_dir()
        print(f"error: {err}\n(HYDRA_FULL_ERROR=1 shows where it was raised)", file=sys.stderr)
        sys.exit(1)
