"""``python -m fer.explain ckpt=PATH input=IMAGE|DIR``, or ``ckpt=PATH split=test``, or
``'ckpt=[A,B,...]' split=test``: which face regions drive decisions, with maps that are checked.

Methods (``method=``, computed with Captum; fer/attribution/methods.py): ``gradcam`` (``layer=`` picks
its depth), ``integrated_gradients``, ``saliency``, ``occlusion``; ``auto`` takes the candidate whose
deletion area, relative to random maps', is lowest on the validation split.

- ``input=``: every face found in the photos (as ``fer.predict`` crops them) is explained for its
  predicted class; ``overlays.png`` shows them in a grid, with the label and its probability.
- ``split=``: on a seeded sample of the split's faces, shared by every model given, each face explained
  for its true class: deletion and insertion curves of every candidate method against random maps and a
  centre prior (``faithfulness_<split>.csv/png``), the share of positive attribution mass in each face
  region per emotion next to the region's share of the area (``regions_<split>.csv``), per-class mean
  maps with the region outlines (``class_maps_<split>.png``), and both tables in ``summary.md``.
With ``wandb=true`` the figures and tables also go to a W&B run (offline unless logged in).
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
from omegaconf import DictConfig, ListConfig, OmegaConf

from fer.attribution import figures, methods, study, tables
from fer.data.labels import canonical
from fer.inference.frames import Tally, frames
from fer.inference.runtime import Predictor, TorchModel
from fer.run.atomic import atomic_write_text
from fer.run.cli import command
from fer.run.config import CONF_PATH, ExplainConfig
from fer.run.loggers import wandb_is_logged_in

log = logging.getLogger(__name__)


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


def checkpoints(cfg: DictConfig) -> list[str]:
    """``ckpt=A`` or ``'ckpt=[A,B,...]'`` as a list of paths."""
    value = cfg.ckpt
    paths = list(value) if isinstance(value, (list, ListConfig)) else [value]
    if not paths or not all(isinstance(p, str) and p for p in paths):
        raise ValueError(f"ckpt={value!r}: expected a checkpoint path or a list of them, '[A,B]'")
    return paths


def explain_photos(runtime: TorchModel, method, cfg: DictConfig, out: Path) -> dict:
    """The map of every face found in the photos, for its predicted class."""
    predictor = Predictor(runtime, cfg.faces, runtime.meta["face_margin"])
    model = runtime.module
    tally, tiles, results = Tally(), [], []
    for frame in frames(str(cfg.input), 1, tally):
        found, crops = predictor.faces(frame)
        if not crops:
            tally.add(without_face=1)
            continue
        faces = np.stack(crops)[:, None]
        probs = runtime.probabilities(faces)
        labels = probs.argmax(1)
        x = torch.from_numpy(faces).float().div_(255.0)
        maps = study.unit_peak(method(x, torch.as_tensor(labels)).numpy())
        for k, (face, m, label, p, box) in enumerate(zip(faces[:, 0], maps, labels, probs, found)):
            name = f"{Path(frame.source).stem}_{k}"
            picture = captioned(overlay(face, m), f"{model.classes[label]} {p[label]:.2f}")
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


def faithfulness_report(
    subjects, faces, measured: list[str], cfg: DictConfig, out: Path
) -> tuple[list[dict], list[dict]]:
    """Deletion and insertion of every measured method on ``faces``, per model: the table (also written
    as CSV, with the curves' figure) and each model's maps per method."""
    rows, curves, maps = [], {}, []
    for subject, x, targets in zip(subjects, faces.x, faces.targets):
        found_rows, curves[subject.name], found_maps = study.measure(
            subject, x, targets, measured, cfg.get("layer"), cfg.steps, cfg.batch_size, cfg.seed
        )
        rows += found_rows
        maps.append(found_maps)
    tables.write_csv(out / f"faithfulness_{faces.split}.csv", rows)
    figures.plot_curves(
        curves,
        out / f"faithfulness_{faces.split}.png",
        f"{faces.split}: {len(faces.emotions)} faces; p(true class) as pixels are removed or revealed",
    )
    return rows, maps


def explain_split(cfg: DictConfig, ckpts: list[str], out: Path) -> dict:
    """Faithfulness, region shares and per-class mean maps over a split, for one model or several."""
    data = OmegaConf.to_container(cfg.data, resolve=True) if cfg.get("data") else None
    subjects = study.load(ckpts, data, cfg.seed, cfg.paths.cache_dir)
    candidates = list(dict.fromkeys(cfg.candidates))
    result = {
        "models": [
            {"name": s.name, "ckpt": s.ckpt, "dataset": s.datamodule.splits.name, "input_size": s.input_size}
            for s in subjects
        ]
    }
    method = cfg.method
    if method == "auto":
        val = study.shared_faces(subjects, "val", cfg.choice_images, cfg.seed)
        val_rows, _ = faithfulness_report(subjects, val, candidates, cfg, out)
        method = study.chosen_method(val_rows, candidates)
        result["chosen_on_val"] = {"method": method, "faces": len(val.emotions), "faithfulness": val_rows}
    faces = study.shared_faces(subjects, cfg.split, cfg.max_images, cfg.seed)
    measured = list(dict.fromkeys([*candidates, method]))
    tested = faces.head(cfg.faithfulness_images)
    rows, measured_maps = (
        faithfulness_report(subjects, tested, measured, cfg, out) if cfg.faithfulness else ([], [])
    )
    maps = []
    for i, (subject, entry, x, targets) in enumerate(zip(subjects, result["models"], faces.x, faces.targets)):
        built = methods.build(method, subject.net, cfg.get("layer"))
        entry["resolution"] = built.resolution(subject.input_size)
        done = measured_maps[i][method] if measured_maps else x[:0, 0]  # the faithfulness faces' maps
        rest = study.maps_of(built, x[len(done) :], targets[len(done) :], cfg.batch_size)
        maps.append(torch.cat([done, rest]).numpy())
    order = list(dict.fromkeys(e for e in map(canonical, subjects[0].classes) if e in faces.emotions))
    region_rows, panels = [], {}
    for subject, entry, x, targets, found in zip(subjects, result["models"], faces.x, faces.targets, maps):
        entry["accuracy"] = study.accuracy(subject, x, targets, cfg.batch_size)
        region_rows += study.region_rows(subject, found, faces.emotions)
        mean_faces, mean_maps, counts = panels[subject.name] = study.class_means(
            x, found, faces.emotions, order
        )
        np.savez_compressed(
            out / f"class_maps_{cfg.split}_{subject.name.replace('/', '_')}.npz",
            maps=mean_maps,
            faces=mean_faces,
            counts=counts,
            emotions=np.array(order),
        )
    tables.write_csv(out / f"regions_{cfg.split}.csv", region_rows)
    figures.plot_class_maps(
        panels,
        order,
        out / f"class_maps_{cfg.split}.png",
        f"{method}: mean positive map per true emotion ({cfg.split}, {len(faces.emotions)} faces)",
    )
    chosen_rows = result.get("chosen_on_val", {}).get("faithfulness", [])
    summary = tables.summary(cfg.split, len(faces.emotions), method, chosen_rows, rows, region_rows)
    atomic_write_text(out / "summary.md", summary)
    return {
        **result,
        "split": cfg.split,
        "method": method,
        "faces": len(faces.emotions),
        "faithfulness_faces": len(tested.emotions) if rows else 0,
        "left_out": faces.left_out,
        "per_class": {e: faces.emotions.count(e) for e in order},
        "faithfulness": rows,
        "regions": region_rows,
    }


def explain(cfg: DictConfig) -> dict:
    if (cfg.get("input") is None) == (cfg.get("split") is None):
        raise ValueError(
            "give exactly one of input=IMAGE|DIR (faces in photos) or split=train|val|test (per-class maps)"
        )
    out = Path(cfg.output)
    out.mkdir(parents=True, exist_ok=True)
    ckpts = checkpoints(cfg)
    if cfg.get("split") is not None:
        result = explain_split(cfg, ckpts, out)
    else:
        if cfg.method == "auto":
            raise ValueError("method=auto chooses on a split's faces; with input= name a method")
        runtime = TorchModel.from_checkpoint(ckpts[0])
        method = methods.build(cfg.method, runtime.module.net, cfg.get("layer"))
        result = {
            "method": cfg.method,
            "resolution": method.resolution(runtime.input_size),
            **explain_photos(runtime, method, cfg, out),
        }
    result = {"checkpoint": ckpts, **result}
    atomic_write_text(out / "explain.json", json.dumps(result, indent=2))
    if cfg.wandb:
        log_to_wandb(out, cfg, result)
    return result


def log_to_wandb(out: Path, cfg: DictConfig, result: dict) -> None:
    """The figures and tables as a W&B run: offline (in ``out/wandb``) unless logged in."""
    import wandb

    mode = os.environ.get("WANDB_MODE") or ("online" if wandb_is_logged_in() else "offline")
    run = wandb.init(
        project=cfg.wandb_project,
        job_type="explain",
        dir=str(out),
        mode=mode,
        config={"ckpt": result["checkpoint"], "method": result["method"], "split": cfg.get("split")},
    )
    logged = {p.stem: wandb.Image(str(p)) for p in out.glob("*.png") if "_" in p.stem or p.stem == "overlays"}
    for key in ("faithfulness", "regions"):
        if result.get(key):
            rows = result[key]
            logged[f"{key}_table"] = wandb.Table(columns=list(rows[0]), data=[list(r.values()) for r in rows])
    run.log(logged)
    run.finish()


@hydra.main(version_base="1.3", config_path=CONF_PATH, config_name="explain")
def main(cfg: DictConfig) -> None:
    with command(cfg, ExplainConfig):
        result = explain(cfg)
    log.info("method %s; wrote %s", result["method"], cfg.output)


if __name__ == "__main__":
    main()
