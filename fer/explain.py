"""``python -m fer.explain ckpt=PATH input=IMAGE|DIR`` or ``... split=test``: which face regions
drive decisions.

Grad-CAM (computed with Captum's ``LayerGradCam``) weighs a convolutional layer's
activations by the gradient of a class score; upsampled to the face, it shows where
the network looked. The layer is the backbone's last feature stage whose resolution
is at least 1/16 of the input (``layer=NAME`` picks another).

- ``input=``: every face found in the photos (as ``fer.predict`` crops them) is
  explained for its predicted class; ``overlays.png`` shows them in a grid, with
  the label and its probability.
- ``split=``: over a split of the checkpoint's dataset (or ``data=NAME``), the map for
  each image's true class is averaged per class; ``class_saliency.png`` shows the mean
  face and the mean map of every emotion, and ``class_saliency.npz`` holds the maps.
With ``wandb=true`` the figures also go to a W&B run (offline unless logged in).
"""

from __future__ import annotations

import json
import logging
import math
import os
from pathlib import Path

import cv2
import hydra
import numpy as np
import torch
from captum.attr import LayerAttribution, LayerGradCam
from omegaconf import DictConfig, OmegaConf
from torch import nn

from fer.checkpoint import checkpoint_datamodule, read
from fer.cli import command
from fer.config import CONF_PATH, ExplainConfig
from fer.frames import Tally, frames
from fer.loggers import wandb_is_logged_in
from fer.runtime import Predictor, TorchModel

log = logging.getLogger(__name__)


def target_layer(backbone: nn.Module, name: str | None = None) -> tuple[str, nn.Module]:
    """The layer to explain: ``name``, else the last feature stage at >= 1/16 resolution, else the last
    convolution."""
    if name:
        return name, backbone.get_submodule(name)
    info = getattr(backbone, "feature_info", None)
    if info:
        stages = [i for i in info if i["reduction"] <= 16] or list(info)
        chosen = stages[-1]["module"]
        return chosen, backbone.get_submodule(chosen)
    convs = [(n, m) for n, m in backbone.named_modules() if isinstance(m, nn.Conv2d)]
    return convs[-1]


def gradcam(net: nn.Module, layer: nn.Module, faces: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Maps ``(B, S, S)`` in [0, 1] for uint8 faces ``(B, 1, S, S)`` and class indices ``targets``."""
    x = torch.from_numpy(faces).float().div_(255.0)
    cam = LayerGradCam(net, layer).attribute(
        x, target=torch.as_tensor(targets, dtype=torch.long), relu_attributions=True
    )
    cam = LayerAttribution.interpolate(cam.detach(), tuple(faces.shape[-2:]), interpolate_mode="bilinear")[
        :, 0
    ]
    peak = cam.flatten(1).amax(1).clamp_min(1e-12)[:, None, None]
    return (cam / peak).numpy()


def overlay(face: np.ndarray, cam: np.ndarray, size: int = 144) -> np.ndarray:
    """A BGR picture of the face with the map in the JET colour scale over it."""
    grey = cv2.resize(face, (size, size), interpolation=cv2.INTER_LINEAR)
    heat = cv2.applyColorMap(
        cv2.resize((cam * 255).astype(np.uint8), (size, size), interpolation=cv2.INTER_LINEAR),
        cv2.COLORMAP_JET,
    )
    return cv2.addWeighted(cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR), 0.55, heat, 0.45, 0)


def captioned(image: np.ndarray, text: str) -> np.ndarray:
    bar = np.full((22, image.shape[1], 3), 255, np.uint8)
    cv2.putText(bar, text, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    return np.vstack([image, bar])


def grid(tiles: list[np.ndarray], columns: int) -> np.ndarray:
    rows = math.ceil(len(tiles) / columns)
    h, w = tiles[0].shape[:2]
    canvas = np.full((rows * h, columns * w, 3), 255, np.uint8)
    for i, tile in enumerate(tiles):
        r, c = divmod(i, columns)
        canvas[r * h : (r + 1) * h, c * w : (c + 1) * w] = tile
    return canvas


def explain_photos(runtime, layer: nn.Module, cfg: DictConfig, out: Path) -> dict:
    """Grad-CAM of every face found in the photos, for its predicted class."""
    predictor = Predictor(runtime, cfg.faces, runtime.meta["face_margin"])
    model = runtime.module
    tally, tiles, results = Tally(), [], []
    for frame in frames(str(cfg.input), 1, tally):
        found, crops = predictor.faces(frame)
        if not crops:
            tally.without_face += 1
            continue
        faces = np.stack(crops)[:, None]
        probs = runtime.probabilities(faces)
        labels = probs.argmax(1)
        cams = gradcam(model.net, layer, faces, labels)
        for k, (face, cam, label, p, box) in enumerate(zip(faces[:, 0], cams, labels, probs, found)):
            name = f"{Path(frame.source).stem}_{k}"
            picture = captioned(overlay(face, cam), f"{model.classes[label]} {p[label]:.2f}")
            cv2.imwrite(str(out / f"{name}.png"), picture)
            tiles.append(captioned(picture, name[:20]))
            results.append(
                {
                    "source": frame.source,
                    "face": k,
                    "box": [int(round(v)) for v in box.box],
                    "label": model.classes[label],
                    "overlay": f"{name}.png",
                }
            )
    if tiles:
        cv2.imwrite(str(out / "overlays.png"), grid(tiles, min(6, len(tiles))))
    return {"faces": results, "frames_without_face": tally.without_face, "unreadable": tally.unreadable}


def explain_split(model, layer: nn.Module, cfg: DictConfig, out: Path) -> dict:
    """Per-class mean face and mean Grad-CAM (true class) over a split of the dataset."""
    hparams = model.hparams
    data = OmegaConf.to_container(cfg.data, resolve=True) if cfg.get("data") else None
    datamodule = checkpoint_datamodule(cfg.ckpt, read(cfg.ckpt), data, cfg.seed, cfg.paths.cache_dir)
    dataset = datamodule.dataset(cfg.split, augment=False)
    count = min(len(dataset), cfg.max_images)
    index = np.random.default_rng(cfg.seed).permutation(len(dataset))[:count]
    k, size = len(model.classes), hparams["backbone"]["input_size"]
    cam_sum, face_sum, n = np.zeros((k, size, size)), np.zeros((k, size, size)), np.zeros(k)
    for start in range(0, count, cfg.batch_size):
        items = [dataset[i] for i in index[start : start + cfg.batch_size]]
        faces = torch.stack([x for x, _ in items]).numpy()
        labels = np.array([int(t.argmax()) if torch.is_tensor(t) else int(t) for _, t in items])
        cams = gradcam(model.net, layer, faces, labels)
        for c in range(k):
            chosen = labels == c
            cam_sum[c] += cams[chosen].sum(0)
            face_sum[c] += faces[chosen, 0].sum(0)
            n[c] += chosen.sum()
    mean_cam = cam_sum / np.maximum(n, 1)[:, None, None]
    mean_face = face_sum / np.maximum(n, 1)[:, None, None]
    tiles_face = [
        captioned(
            cv2.cvtColor(cv2.resize(f.astype(np.uint8), (144, 144)), cv2.COLOR_GRAY2BGR), f"{c} (n={int(m)})"
        )
        for f, c, m in zip(mean_face, model.classes, n)
    ]
    tiles_cam = [
        captioned(overlay(f.astype(np.uint8), m / max(m.max(), 1e-12)), c)
        for f, m, c in zip(mean_face, mean_cam, model.classes)
    ]
    cv2.imwrite(str(out / "class_saliency.png"), grid(tiles_face + tiles_cam, k))
    np.savez_compressed(
        out / "class_saliency.npz", maps=mean_cam, faces=mean_face, counts=n, classes=np.array(model.classes)
    )
    return {
        "dataset": datamodule.name,
        "split": cfg.split,
        "images": int(count),
        "per_class": dict(zip(model.classes, n.astype(int).tolist())),
    }


def explain(cfg: DictConfig) -> dict:
    if (cfg.get("input") is None) == (cfg.get("split") is None):
        raise ValueError(
            "give exactly one of input=IMAGE|DIR (faces in photos) or split=train|val|test (per-class maps)"
        )
    runtime = TorchModel.from_checkpoint(cfg.ckpt)
    model = runtime.module
    layer_name, layer = target_layer(model.net.backbone, cfg.get("layer"))
    out = Path(cfg.output)
    out.mkdir(parents=True, exist_ok=True)
    result = (
        explain_photos(runtime, layer, cfg, out)
        if cfg.get("input") is not None
        else explain_split(model, layer, cfg, out)
    )
    result = {"checkpoint": str(cfg.ckpt), "layer": layer_name, **result}
    (out / "explain.json").write_text(json.dumps(result, indent=2))
    if cfg.wandb:
        log_to_wandb(out, cfg, layer_name)
    return result


def log_to_wandb(out: Path, cfg: DictConfig, layer_name: str) -> None:
    """The overlay and saliency grids as a W&B run: offline (in ``out/wandb``) unless logged in."""
    import wandb

    mode = os.environ.get("WANDB_MODE") or ("online" if wandb_is_logged_in() else "offline")
    run = wandb.init(
        project=cfg.wandb_project,
        job_type="explain",
        dir=str(out),
        mode=mode,
        config={"ckpt": str(cfg.ckpt), "layer": layer_name},
    )
    run.log(
        {p.stem: wandb.Image(str(p)) for p in out.glob("*.png") if p.stem in ("overlays", "class_saliency")}
    )
    run.finish()


@hydra.main(version_base="1.3", config_path=CONF_PATH, config_name="explain")
def main(cfg: DictConfig) -> None:
    with command(cfg, ExplainConfig):
        result = explain(cfg)
    log.info("layer %s; wrote %s", result["layer"], cfg.output)


if __name__ == "__main__":
    main()
