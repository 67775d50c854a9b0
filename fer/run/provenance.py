"""What a run needs to be reproduced: the code's git commit, the package versions and the data's hash.

Hydra saves the composed config (``.hydra/config.yaml``); this adds ``provenance.json``
beside it, and the same record goes into ``metrics.json``.
"""

from __future__ import annotations

import hashlib
import json
import platform
import subprocess
from importlib import metadata
from pathlib import Path

PACKAGES = (
    "torch",
    "torchvision",
    "lightning",
    "timm",
    "torchmetrics",
    "hydra-core",
    "albumentations",
    "opencv-python-headless",
    "numpy",
    "wandb",
)
ROOT = Path(__file__).resolve().parent.parent


def git_state(root: Path = ROOT) -> dict:
    """The commit the code came from and whether the working tree differed from it."""

    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return out.stdout.strip() if out.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if commit is None:
        return {
            "commit": None,
            "dirty": None,
            "note": f"{root} is not a git checkout (installed from a package?)",
        }
    return {"commit": commit, "dirty": bool(git("status", "--porcelain", "--untracked-files=no"))}


def package_versions() -> dict:
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def data_hash(report: dict) -> str:
    """SHA-256 of the dataset report (classes, split counts, duplicates, skipped files, cleaning).

    The root folder is left out: the same data in another folder hashes the same.
    """
    content = {k: v for k, v in report.items() if k != "root"}
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


def provenance(data_report: dict) -> dict:
    return {"git": git_state(), "packages": package_versions(), "data_report_sha256": data_hash(data_report)}
