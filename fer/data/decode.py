"""Reading image files into grey uint8 arrays, and what to do with the ones that fail.

A loader meets bad input in two ways: an item (a corrupt image, a short CSV row, a
file in an unknown class folder) or the whole source (a missing root, an empty
folder). Items go through :class:`Problems`: with ``strict`` they raise an error that
names the file and what was expected, otherwise they are skipped and listed in the
dataset report. Whole-source problems always raise :class:`DataError`.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from PIL import Image

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff"}


class DataError(ValueError):
    """The dataset at data.root is not what the loader expects."""


class Problems:
    """Collects skipped items, or raises on the first one when ``strict``."""

    def __init__(self, strict: bool):
        self.strict = strict
        self.skipped: list[dict] = []

    def skip(self, file: str | Path, reason: str) -> None:
        if self.strict:
            raise DataError(
                f"{file}: {reason} (data.strict=true; set data.strict=false to skip such items and list them "
                "in the report)"
            )
        self.skipped.append({"file": str(file), "reason": reason})


def read_grey(path: Path) -> np.ndarray | None:
    """A file as a 2-D uint8 grey image, or None if it cannot be decoded.

    OpenCV reads JPEG/PNG fast; Pillow covers what it refuses (palette TIFFs, as in JAFFE).
    """
    image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if image is not None:
        return image
    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("L"), dtype=np.uint8)
    except Exception:  # Pillow raises many types for unreadable files
        return None


def list_images(folder: Path) -> list[Path]:
    """Image files directly in ``folder`` (any suffix case), sorted by name."""
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
