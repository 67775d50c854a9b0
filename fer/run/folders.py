"""Run directories are never reused: a run into a folder that holds a finished run is refused
before anything is written there.

Hydra saves ``.hydra/config.yaml`` and ``overrides.yaml`` and opens the job's log file before
it calls the task function, so :func:`fer.train.train`'s own check would come too late to
keep the folder intact; :class:`RefuseFinishedRuns` (conf/hydra/default.yaml) checks first.
"""

from __future__ import annotations

from pathlib import Path

from hydra.experimental.callback import Callback
from omegaconf import DictConfig


class FinishedRunError(FileExistsError):
    """The run directory already holds a finished run."""


def refuse_finished(run_dir: str | Path) -> None:
    if (Path(run_dir) / "metrics.json").exists():
        raise FinishedRunError(
            f"{run_dir} already holds a finished run (metrics.json); choose another hydra.run.dir, "
            "or resume an unfinished one with resume=<run>/checkpoints/last.ckpt"
        )


class RefuseFinishedRuns(Callback):
    """Stops the command with the error (Hydra turns a callback's exceptions into warnings, not exits)."""

    def on_run_start(self, config: DictConfig, **kwargs) -> None:
        self._refuse([Path(config.hydra.run.dir)])

    def on_multirun_start(self, config: DictConfig, **kwargs) -> None:
        sweep = Path(config.hydra.sweep.dir)
        self._refuse(sorted(sweep.iterdir()) if sweep.is_dir() else [])

    @staticmethod
    def _refuse(folders: list[Path]) -> None:
        try:
            for folder in folders:
                refuse_finished(folder)
        except FinishedRunError as err:
            raise SystemExit(f"Error: {err}") from err
