"""Decode once: a dataset's arrays are cached as one .npz keyed by its source files.

The key hashes every source file's relative path, size and modification time, every folder
below the root (strict mode judges folders too: an empty or unknown class folder), and the
loader's own settings, so the cache is rebuilt when any of them changes. The cache lives
under ``paths.cache_dir`` (never under ``data.root``, which is not written).

The cache is optional. Writes go through :mod:`fer.run.atomic` (a temporary file of their own,
flushed and renamed into place), so concurrent runs never collide; a cache folder that cannot be
written, or a cached file that cannot be read, is reported once and bypassed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import numpy as np

from fer.data.arrays import FaceArrays
from fer.run.atomic import atomic_write

log = logging.getLogger(__name__)
FORMAT = 1  # bump when the cached layout changes
DAMAGE = (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile)  # what reading a damaged file raises


def source_key(root: Path, files: list[Path], settings: dict, folders: bool) -> str:
    """A hash of the files (relative path, size, mtime), the folders below ``root`` (where the
    dataset is a folder: ``folders``) and the settings.

    Names are hashed as bytes: a file name that is not valid text still has a key.
    """
    digest = hashlib.sha256(json.dumps({"format": FORMAT, **settings}, sort_keys=True, default=str).encode())
    for path in files:
        stat = path.stat()
        name = path.relative_to(root) if path.is_relative_to(root) else path.resolve()
        digest.update(os.fsencode(name) + f"\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    below = sorted(p.relative_to(root) for p in root.rglob("*") if p.is_dir()) if folders else []
    for folder in below:
        digest.update(b"dir\0" + os.fsencode(folder) + b"\n")
    return digest.hexdigest()[:24]


def write_optional(path: Path, write: Callable[[BinaryIO], object], what: str) -> bool:
    """:func:`fer.run.atomic.atomic_write` for a file that only saves time (a cache): False, with a warning
    naming ``what``, where it cannot be written."""
    try:
        atomic_write(path, write)
    except OSError as err:
        log.warning("%s %s not written (%s); going on without it", what, path, err)
        return False
    return True


def save_cached(path: Path, arrays: FaceArrays, skipped: list[dict], extra: dict) -> bool:
    """Write the cache file; False (with a warning) where the cache folder cannot be written."""
    return write_optional(path, lambda f: _write(f, arrays, skipped, extra), "dataset cache")


def _write(f: BinaryIO, arrays: FaceArrays, skipped: list[dict], extra: dict) -> None:
    meta = {"classes": arrays.classes, "skipped": skipped, "extra": extra}
    fields = {
        "images": arrays.images,
        "labels": arrays.labels,
        "splits": arrays.splits,
        "files": np.array(arrays.files),
        "meta": np.array(json.dumps(meta)),
    }
    if arrays.subjects is not None:
        fields["subjects"] = arrays.subjects
    if arrays.targets is not None:
        fields["targets"] = arrays.targets
    np.savez(f, **fields)


def load_cached(path: Path) -> tuple[FaceArrays, list[dict], dict] | None:
    """The cached arrays, or None where there is no cache file or it cannot be read (then it is rebuilt)."""
    if not path.is_file():
        return None
    try:
        return _read(path)
    except DAMAGE as err:
        log.warning(
            "dataset cache %s is damaged (%s: %s); decoding the source again", path, type(err).__name__, err
        )
        return None


def _read(path: Path) -> tuple[FaceArrays, list[dict], dict]:
    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(str(z["meta"]))
        arrays = FaceArrays(
            images=z["images"],
            labels=z["labels"],
            classes=meta["classes"],
            splits=z["splits"],
            files=z["files"].tolist(),
            subjects=z["subjects"] if "subjects" in z else None,
            targets=z["targets"] if "targets" in z else None,
        )
    log.info("loaded cached arrays %s", path)
    return arrays, meta["skipped"], meta["extra"]
