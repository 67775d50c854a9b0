"""The one way files are written whole: into a temporary file beside the target (same filesystem), flushed
to disk, renamed over it, and the rename itself made durable. A kill at any moment leaves the old file or
the new one, never a part of one, and concurrent writers (parallel sweep jobs, runs sharing a cache) never
see each other's halves. Checkpoints, dataset and teacher caches, sweep summaries and run records
(metrics.json, data_report.json, provenance.json, splits.csv) all go through :func:`atomic_write`.

A writer that is killed leaves its temporary file, ``.<name>.<pid>_<thread>.partial``; :func:`remove_partials`
clears those whose process is gone.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

log = logging.getLogger(__name__)
PARTIAL_SUFFIX = ".partial"  # a file being written: .<name>.<pid>_<thread>.partial, beside its target


def partial_path(path: Path) -> Path:
    """This writer's own temporary file for ``path``: process and thread in its name."""
    return path.with_name(f".{path.name}.{os.getpid()}_{threading.get_ident()}{PARTIAL_SUFFIX}")


def atomic_write(
    path: str | Path, write: Callable[[BinaryIO], object], before_replace: Callable[[], object] | None = None
) -> None:
    """``write`` the file's bytes into a binary file object; ``path`` then holds all of them or its old
    content. OSError (a full disk, a read-only folder) reaches the caller, with no temporary file left.
    ``before_replace`` runs once the new bytes are on disk, just before they replace the old file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = partial_path(path)
    try:
        with open(partial, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        if before_replace is not None:
            before_replace()
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    fsync_folder(path.parent)


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write(path, lambda f: f.write(text.encode("utf-8")))


def fsync_folder(folder: Path) -> None:
    """Make the renames in ``folder`` durable."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def remove_partials(folder: Path) -> list[Path]:
    """Delete the temporary files that killed writers left in ``folder``; returns them."""
    left = [p for p in folder.glob(f".*{PARTIAL_SUFFIX}") if not _alive(p)] if folder.is_dir() else []
    for p in left:
        p.unlink(missing_ok=True)
        log.warning("removed %s, left by a writer that was killed", p)
    return left


def _alive(partial: Path) -> bool:
    """Whether the process writing ``partial`` (its pid is in the name) still runs."""
    try:
        pid = int(partial.name.rsplit(".", 2)[-2].split("_")[0])
    except ValueError:
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True
