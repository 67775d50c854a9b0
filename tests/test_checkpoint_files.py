"""One reader for every file given as a fer checkpoint: a named error for anything else, and never the
advice to load with weights_only=False (which would run the file's code)."""

import pickle

import cv2
import numpy as np
import pytest
import torch

from fer.models.pathnet import base_network
from fer.run.checkpoint import read, resume_checkpoint
from fer.run.checkpoint_file import NotACheckpoint, read_checkpoint
from fer.training.transfer import init_from
from tests.helpers import run_cli


class Payload:
    def __reduce__(self):  # would run code if unpickled
        return (print, ("ran",))


def make(kind: str, path):
    if kind == "text":
        path.write_text("hello\n")
    elif kind == "image":
        cv2.imwrite(str(path), np.zeros((8, 8), np.uint8))
    elif kind == "torchscript":
        torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), str(path))
    elif kind == "onnx":
        torch.onnx.export(torch.nn.Linear(2, 2), (torch.zeros(1, 2),), str(path), dynamo=False)
    elif kind == "state_dict":
        torch.save(torch.nn.Linear(2, 2).state_dict(), path)
    elif kind == "pickle":
        path.write_bytes(pickle.dumps(Payload()))
    elif kind == "empty":
        path.write_bytes(b"")
    return path


CASES = {
    "text": "a text file",
    "image": "a PNG image",
    "torchscript": "a TorchScript archive",
    "onnx": "an ONNX model",
    "state_dict": "a bare state dict of tensors",
    "pickle": "a pickle",
    "empty": "an empty file",
}


@pytest.mark.parametrize("kind", list(CASES))
def test_every_reader_names_what_the_file_is(kind, tmp_path, capsys):
    path = make(kind, tmp_path / {"image": "x.png", "onnx": "x.onnx"}.get(kind, "x.ckpt"))
    for call, key in (
        (lambda: read(path), "ckpt"),
        (lambda: init_from(None, path), "init_from"),
        (lambda: base_network(str(path)), "backbone.kwargs.base"),
        (lambda: resume_checkpoint(str(path)), "resume"),
    ):
        with pytest.raises(NotACheckpoint) as caught:
            call()
        message = str(caught.value)
        assert message.startswith(f"{key}={path}") and CASES[kind] in message, message
        assert "weights_only" not in message and "checkpoints/best.ckpt" in message
        assert caught.value.__cause__ is None  # torch's own advice is not chained in
    assert "ran" not in capsys.readouterr().out


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="init_from=.*no such file"):
        read_checkpoint(tmp_path / "nothing.ckpt", "init_from")


def test_a_command_prints_the_message_alone(tmp_path):
    """fer.eval for all: fer/run/cli.py wraps every command alike; the readers above raise the same error."""
    path = make("text", tmp_path / "notes.ckpt")
    done = run_cli(["fer.eval", f"ckpt={path}"], tmp_path)
    assert done.returncode == 1, done.stderr[-2000:]
    assert f"ckpt={path}: this is a text file, not a fer checkpoint" in done.stderr
    assert "Traceback" not in done.stderr and "weights_only" not in done.stderr
