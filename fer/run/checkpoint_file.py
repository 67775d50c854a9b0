"""The one reader of files given as fer checkpoints (``ckpt=``, ``init_from=``, ``resume=``, PathNet's
``backbone.kwargs.base=``): weights only, never code, and one named error for anything else.

torch's own error for a file that is not a weights-only checkpoint is ``KeyError: 101`` or advice
to reload with ``weights_only=False``, which would run the file's code. :func:`read_checkpoint`
instead says what the file looks like (text, an image, a TorchScript or ONNX export, an archive of
another framework, a plain PyTorch state dict) and what to pass.
"""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path

import torch

EXPECTED = "a .ckpt written by fer.train (<run dir>/checkpoints/best.ckpt or last.ckpt)"
IMAGE_MAGIC = {
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"GIF8": "a GIF image",
    b"BM": "a BMP image",
}


class NotACheckpoint(ValueError):
    """A file given as a fer checkpoint is something else; the message says what and what to pass.
    ``damaged``: it looks like a checkpoint cut short (a full disk, a copy interrupted)."""

    def __init__(self, message: str, damaged: bool = False):
        super().__init__(message)
        self.damaged = damaged


def describe(path: Path) -> str | None:
    """What the file at ``path`` looks like, from its first bytes and, for archives, their contents;
    None for a PyTorch archive (what torch.save writes), which only loading can tell apart."""
    with open(path, "rb") as f:  # the first bytes only: checkpoints run to hundreds of MB
        start = f.read(4096)
    head = start[:64]
    if not head:
        return "an empty file"
    for magic, what in IMAGE_MAGIC.items():
        if head.startswith(magic):
            return what
    if head.startswith(b"\x89HDF"):
        return "an HDF5 file (a Keras or TensorFlow model?)"
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(path) as archive:
                names = archive.namelist()
        except zipfile.BadZipFile:
            return "a damaged zip archive"
        if any("/code/" in n or n.endswith("constants.pkl") for n in names):
            return "a TorchScript archive (from fer.export format=torchscript or torch.jit.save)"
        if any(n.endswith("data.pkl") for n in names):
            return None
        return "a zip archive that is not a PyTorch file"
    if path.suffix.lower() == ".onnx" or head[:1] == b"\x08" and b"onnx" in start.lower():
        return (
            "an ONNX model (from fer.export; fer.predict runs it, other commands need the .ckpt it came from)"
        )
    if head.startswith(b"\x80"):
        return "a pickle (an old-style PyTorch file or another framework's checkpoint)"
    if len(head) >= 8 and head[8:9] == b"{" and int.from_bytes(head[:8], "little") < 100_000_000:
        return "a safetensors file of bare weights (backbone.weights= takes those)"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        return "a binary file of unknown kind"
    return "a text file"


def refuse(key: str, path: Path, what: str) -> NotACheckpoint:
    return NotACheckpoint(
        f"{key}={path}: this is {what}, not a fer checkpoint; pass {EXPECTED}",
        damaged=what.startswith("a damaged"),
    )


def read_checkpoint(path: str | Path, key: str = "ckpt") -> dict:
    """The checkpoint at ``path`` (``key`` names the option it came from), read as weights only;
    :class:`NotACheckpoint` for anything that is not a fer checkpoint, FileNotFoundError for no file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{key}={path}: no such file; expected {EXPECTED}")
    if (what := describe(path)) is not None:  # refused unread: TorchScript would even run as it loads
        raise refuse(key, path, what)
    # torch's messages advise weights_only=False, which would run the file's code: none is passed on
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        what = "a PyTorch archive holding objects other than tensors and plain containers (code would run)"
        raise refuse(key, path, what) from None
    except (RuntimeError, EOFError, ValueError, KeyError, zipfile.BadZipFile):
        raise refuse(key, path, "a damaged PyTorch archive (cut short?)") from None
    if not isinstance(checkpoint, dict):
        raise refuse(key, path, f"a saved {type(checkpoint).__name__}")
    if "hyper_parameters" not in checkpoint or "classes" not in checkpoint["hyper_parameters"]:
        plain = all(isinstance(v, torch.Tensor) for v in checkpoint.values())
        what = "a bare state dict of tensors" if plain else "a checkpoint of another program (no fer classes)"
        raise refuse(key, path, what)
    return checkpoint
