"""The datasets by name (``data.name``, the options of conf/data/): the one list of them.

A class is imported when its dataset is used, so a run on FER2013 never imports the video readers.
This module imports nothing of fer's, so fer/run/config.py reads the names from here.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import import_module

DATASETS = {  # name -> "module:class" of its fer.data.source.Source
    "synthetic": "fer.data.synthetic:SyntheticSource",
    "fer2013": "fer.data.fer2013:FER2013Source",
    "fer2013_clean": "fer.data.fer2013_clean:FER2013CleanSource",
    "ferplus": "fer.data.ferplus:FERPlusSource",
    "ckplus": "fer.data.ckplus:CKPlusSource",
    "kdef": "fer.data.kdef:KDEFSource",
    "jaffe": "fer.data.jaffe:JAFFESource",
    "savee": "fer.data.savee:SAVEESource",
    "enterface": "fer.data.enterface:ENTERFACESource",
}


def source_class(name: str) -> type:
    """The Source class of dataset ``name``; an unknown name is refused with the choices."""
    if name not in DATASETS:
        raise ValueError(f"data.name={name!r}: expected one of {', '.join(DATASETS)}")
    module, cls = DATASETS[name].split(":")
    return getattr(import_module(module), cls)


def make_source(section: Mapping):
    """The Source of a ``data`` config section (its ``name`` picks the class, which checks the rest)."""
    return source_class(section.get("name"))(section)


def name_of_target(target: str) -> str | None:
    """The dataset a ``data._target_`` of a checkpoint written before ``data.name`` named (a DataModule
    class, ``fer.data.<module>.<Name>DataModule``); None for anything else."""
    old = {
        path.replace(":", ".").removesuffix("Source") + "DataModule": name for name, path in DATASETS.items()
    }
    return old.get(target)
