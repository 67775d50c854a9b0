"""Datasets: each family's loader subclasses FERDataModule (fer/data/datamodule.py)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from hydra.utils import instantiate

from fer.data.datamodule import FERDataModule


def build_datamodule(data: Mapping, input_size: int, augment: Sequence, seed: int) -> FERDataModule:
    """A DataModule from a ``data`` config section (its ``_target_`` names the class)."""
    return instantiate(dict(data), input_size=input_size, augment=list(augment), seed=seed, _recursive_=False)
