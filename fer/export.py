"""``python -m fer.export ckpt=PATH format=onnx|torchscript``: a deployable model file.

The exported network takes a uint8 grey batch ``(B, 1, S, S)`` (B dynamic, S the
model's input size) and returns logits; scaling, channel repetition and the
backbone's mean/std normalisation are inside it. The preprocessing a caller still
does (face crop to ``image_size``, resize to ``input_size``) and the class names are
stored with the model: ONNX metadata under the key ``fer``, a ``fer.json`` extra file
in the TorchScript archive. ``fer.predict`` runs the ONNX file with ONNX Runtime.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import hydra
import torch
from omegaconf import DictConfig

from fer.inference.runtime import METADATA_KEY
from fer.run.checkpoint import load_classifier, preprocessing
from fer.run.cli import command
from fer.run.config import CONF_PATH, ExportConfig

log = logging.getLogger(__name__)
FORMATS = ("onnx", "torchscript")


class Exportable(torch.nn.Module):
    """The classifier's network on uint8 input, without Lightning."""

    def __init__(self, net: torch.nn.Module):
        super().__init__()
        self.net = net

    def forward(self, faces: torch.Tensor) -> torch.Tensor:
        return self.net(faces)


def export(ckpt: str | Path, fmt: str, output: str | Path | None = None, opset: int = 17) -> Path:
    """Write the model of ``ckpt`` as ``fmt``; returns the file written (never overwrites)."""
    if fmt not in FORMATS:
        raise ValueError(f"format={fmt!r}: expected one of {FORMATS}")
    module, checkpoint = load_classifier(ckpt)
    meta = preprocessing(checkpoint["hyper_parameters"])
    path = Path(output) if output else Path(ckpt).with_suffix(".onnx" if fmt == "onnx" else ".torchscript.pt")
    if path.exists():
        raise FileExistsError(f"{path} exists: choose another output=")
    model = Exportable(module.net).eval()
    size = meta["input_size"]
    example = torch.randint(0, 256, (2, 1, size, size), dtype=torch.uint8)
    if fmt == "onnx":
        import onnx

        torch.onnx.export(
            model,
            (example,),
            str(path),
            input_names=["faces"],
            output_names=["logits"],
            dynamic_axes={"faces": {0: "batch"}, "logits": {0: "batch"}},
            opset_version=opset,
            dynamo=False,
        )
        proto = onnx.load(str(path))
        onnx.helper.set_model_props(proto, {METADATA_KEY: json.dumps(meta)})
        onnx.checker.check_model(proto)
        onnx.save(proto, str(path))
    else:
        traced = torch.jit.trace(model, example)
        torch.jit.save(traced, str(path), _extra_files={"fer.json": json.dumps(meta)})
    return path


@hydra.main(version_base="1.3", config_path=CONF_PATH, config_name="export")
def main(cfg: DictConfig) -> None:
    with command(cfg, ExportConfig):
        path = export(cfg.ckpt, cfg.format, cfg.output, cfg.opset)
    log.info("wrote %s", path)


if __name__ == "__main__":
    main()
