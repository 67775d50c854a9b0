"""What a dataset is: its files, how they decode, its config schema, its subjects.

A dataset family subclasses :class:`Source`, names itself in :mod:`fer.data.registry`, and says
which files make it up (``source_files``) and how to decode them into :class:`FaceArrays`
(``decode``); :meth:`Source.read` caches the decoded arrays under ``paths.cache_dir``. Everything
after decoding (cleaning, classes, protocols, batching) is the same for every dataset
(:mod:`fer.data.pipeline`, :mod:`fer.data.datamodule`). Nothing is ever written under ``data.root``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from fer.data.arrays import FaceArrays
from fer.data.cache import load_cached, save_cached, source_key
from fer.data.decode import DataError, Problems
from fer.run.config import DataConfig, typed


@dataclass(frozen=True)
class Decoded:
    """A source read once: its arrays (every class, every image), the items it skipped and the
    facts it found (face-detection counts, missing photos ...), both for the data report."""

    arrays: FaceArrays
    skipped: list[dict]
    facts: dict


class Source:
    """A dataset family. Built from its ``data`` section, checked against ``schema`` (fer/run/config.py:
    defaults filled in, unknown keys refused)."""

    name = "base"
    schema: type = DataConfig  # the dataclass of this dataset's config section
    expected = "the dataset's files"  # what data.root should hold, for error messages
    own_splits = "train/val/test"  # the source's split names, for the protocol note of reports
    accepts_file = False  # whether data.root may be a single file (a CSV) rather than a folder

    def __init__(self, section: Mapping):
        self.cfg = typed(self.schema, dict(section), "data.")  # dict(): interpolations resolved in place
        self.root = self.cfg["root"]
        self.image_size = self.cfg["image_size"]
        self.strict = self.cfg["strict"]
        self.facts: dict = {}  # what decode() found, for the report

    # -- what a file-based dataset implements -------------------------------------------
    def source_files(self, root: Path) -> list[Path]:
        """Every file the dataset is decoded from (their sizes and times key the cache)."""
        raise NotImplementedError

    def decode(self, root: Path, files: list[Path], problems: Problems) -> FaceArrays:
        """Decode ``files`` into arrays; bad items go to ``problems``, facts to ``self.facts``."""
        raise NotImplementedError

    def decode_settings(self) -> dict:
        """Settings that change the decoded arrays (part of the cache key)."""
        return {"image_size": self.image_size, "strict": self.strict}

    def cleans(self) -> bool:
        """Whether the pipeline applies :func:`fer.data.cleaning.clean` (``data.clean``)."""
        return self.cfg["clean"]

    def default_classes(self) -> list[str] | None:
        """The classes used when ``data.classes`` is null (None: all the dataset's)."""
        return None

    def groups(self, files: list[str]) -> list[str] | None:
        """The group of each image whose predictions a test also pools (a video's clip); None where
        images stand alone."""
        return None

    # -- shared machinery ---------------------------------------------------------------
    def resolve_root(self) -> Path:
        if self.root is None:
            raise DataError(f"data.root is not set: point it at {self.expected}")
        root = Path(self.root).expanduser()
        if not root.exists():
            raise DataError(f"data.root={root} does not exist (expected {self.expected})")
        if root.is_file() and not self.accepts_file:
            raise DataError(f"data.root={root} is a file; expected a folder: {self.expected}")
        return root

    def read(self, cache_dir: str | None) -> Decoded:
        """The decoded arrays, from the cache when the source files are unchanged, else decoded afresh."""
        root = self.resolve_root()
        files = self.source_files(root)
        if not files:
            raise DataError(f"data.root={root} holds no files of this dataset (expected {self.expected})")
        base = root if root.is_dir() else root.parent
        # the key keeps the class names the DataModules had, so caches written before stay valid
        settings = {"loader": type(self).__name__.replace("Source", "DataModule"), **self.decode_settings()}
        key = source_key(base, files, settings, root.is_dir())
        path = Path(cache_dir).expanduser() / f"{self.name}-{key}.npz" if cache_dir else None
        if path is not None and (hit := load_cached(path)) is not None:
            return Decoded(*hit)
        problems = Problems(self.strict)
        arrays = self.decode(root, files, problems)
        if len(arrays.images) == 0:
            raise DataError(
                f"data.root={root}: no image could be loaded ({len(problems.skipped)} skipped; expected "
                f"{self.expected})"
            )
        if path is not None:
            save_cached(path, arrays, problems.skipped, self.facts)
        return Decoded(arrays, problems.skipped, self.facts)
