"""Reading image files into grey uint8 arrays, and what to do with the ones that fail.

A loader meets bad input in two ways: an item (a corrupt image, a short CSV row, a
file in an unknown class folder) or the whole source (a missing root, an empty
folder). Items go through :class:`Problems`: with ``strict`` they raise an error that
names the file and what was expected, otherwise they are skipped and listed in the
dataset report. Whole-source problems always raise :class:`DataError`.
"""

from __future__ import annotations

import io
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
        file = shown(file)
        if self.strict:
            raise DataError(
                f"{file}: {reason} (data.strict=true; set data.strict=false to skip such items and list them "
                "in the report)"
            )
        self.skipped.append({"file": str(file), "reason": reason})


class UnreadableImage(ValueError):
    """A file that is not a whole image; the message says why."""


def shown(path: str | Path) -> str:
    """A file name as text for reports and errors: bytes that are not UTF-8 appear as ``\\xNN``."""
    return str(path).encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def truncation(data: bytes) -> str | None:
    """Why a JPEG or PNG file is cut short, or None. Decoders fill the missing rows with grey."""
    if data[:2] == b"\xff\xd8" and data.rfind(b"\xff\xd9") < data.rfind(b"\xff\xda"):
        return "truncated JPEG: no end-of-image marker after the last scan"
    if data[:8] == b"\x89PNG\r\n\x1a\n" and b"IEND" not in data[-12:]:
        return "truncated PNG: no IEND chunk at the end"
    return None


def read_grey(path: Path) -> np.ndarray:
    """A file as a 2-D uint8 grey image; :class:`UnreadableImage` if it is not a whole image.

    The bytes are read by Python, so any file name works. OpenCV decodes JPEG/PNG fast;
    Pillow covers what it refuses (palette TIFFs, as in JAFFE).
    """
    try:
        data = path.read_bytes()
    except OSError as err:
        raise UnreadableImage(f"cannot be read ({err.strerror})") from err
    if reason := truncation(data):
        raise UnreadableImage(reason)
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE) if data else None
    if image is not None:
        return image
    try:
        with Image.open(io.BytesIO(data)) as im:
            return np.asarray(im.convert("L"), dtype=np.uint8)
    except Exception as err:  # Pillow raises many types for unreadable files
        raise UnreadableImage("not a readable image") from err


def list_images(folder: Path) -> list[Path]:
    """Image files directly in ``folder`` (any suffix case), sorted by name."""
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
