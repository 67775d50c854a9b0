"""Decode once: a dataset's arrays are cached as one .npz keyed by its source files.

The key hashes every source file's relative path, size and modification time together
with the loader's own settings, so the cache is rebuilt when any file changes. The
cache lives under ``data.cache_dir`` (never under ``data.root``, which is not written).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

import numpy as np

from fer.data.arrays import FaceArrays

log = logging.getLogger(__name__)
FORMAT = 1  # bump when the cached layout changes


def source_key(root: Path, files: list[Path], settings: dict) -> str:
    """A hash of the files (relative path, size, mtime) and the decoding settings."""
    digest = hashlib.sha256(json.dumps({"format": FORMAT, **settings}, sort_keys=True, default=str).encode())
    for path in files:
        stat = path.stat()
        name = path.relative_to(root) if path.is_relative_to(root) else path.resolve()
        digest.update(f"{name}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:24]


def save_cached(path: Path, arrays: FaceArrays, skipped: list[dict], extra: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
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
    np.savez(tmp, **fields)
    os.replace(tmp, path)  # atomic: a crash never leaves a half-written cache behind


def load_cached(path: Path) -> tuple[FaceArrays, list[dict], dict] | None:
    if not path.is_file():
        return None
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
