"""A trained model ready for inference, from a checkpoint or from an exported ONNX file.

Both give the same interface: ``classes``, ``image_size`` (the stored face size the
model was trained on), ``input_size`` and ``probabilities(faces)`` for a uint8 batch
``(B, 1, input_size, input_size)``. The ONNX file carries that preprocessing in its
metadata (written by :mod:`fer.export`), so it needs no checkpoint.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

METADATA_KEY = "fer"  # ONNX metadata_props key holding the preprocessing as JSON


def preprocessing(hparams: dict) -> dict:
    """What a deployed model needs to prepare a face, from a checkpoint's hyperparameters."""
    backbone = hparams["backbone"]
    data = hparams.get("data") or {}
    return {
        "classes": list(hparams["classes"]),
        "image_size": int(data.get("image_size", 48)),
        "face_margin": float(data.get("face_margin", 0.15)),
        "input_size": int(backbone["input_size"]),
        "in_chans": int(backbone["in_chans"]),
        "input": "uint8 grey (B, 1, input_size, input_size); the model scales, repeats channels and normalises",
        "mean": list(backbone.get("mean") or []),
        "std": list(backbone.get("std") or []),
        "backbone": backbone["name"],
    }


class TorchModel:
    def __init__(self, module: torch.nn.Module, hparams: dict, device: str = "cpu"):
        self.module = module.eval().to(device)
        self.device = device
        self.meta = preprocessing(hparams)
        self.classes = self.meta["classes"]
        self.image_size = self.meta["image_size"]
        self.input_size = self.meta["input_size"]

    @classmethod
    def from_checkpoint(cls, path: str | Path, device: str = "cpu") -> TorchModel:
        from fer.eval import load_classifier

        module, checkpoint = load_classifier(path)
        return cls(module, checkpoint["hyper_parameters"], device)

    def probabilities(self, faces: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            x = torch.from_numpy(np.ascontiguousarray(faces)).to(self.device)
            return self.module(x).softmax(-1).float().cpu().numpy()


class OnnxModel:
    def __init__(self, path: str | Path, threads: int = 0):
        import onnxruntime as ort

        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        props = self.session.get_modelmeta().custom_metadata_map
        if METADATA_KEY not in props:
            raise ValueError(f"{path}: an ONNX file without fer's preprocessing metadata (export it with python -m fer.export)")
        self.meta = json.loads(props[METADATA_KEY])
        self.classes = self.meta["classes"]
        self.image_size = self.meta["image_size"]
        self.input_size = self.meta["input_size"]
        self.input_name = self.session.get_inputs()[0].name

    def logits(self, faces: np.ndarray) -> np.ndarray:
        return self.session.run(None, {self.input_name: np.ascontiguousarray(faces, dtype=np.uint8)})[0]

    def probabilities(self, faces: np.ndarray) -> np.ndarray:
        logits = self.logits(faces)
        e = np.exp(logits - logits.max(-1, keepdims=True))
        return e / e.sum(-1, keepdims=True)


def load(path: str | Path, device: str = "cpu") -> TorchModel | OnnxModel:
    """A ``.onnx`` file through ONNX Runtime, anything else as a fer checkpoint through torch."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"ckpt={path}: no such file (expected a .ckpt from fer.train or a .onnx from fer.export)")
    return OnnxModel(path) if path.suffix == ".onnx" else TorchModel.from_checkpoint(path, device)
