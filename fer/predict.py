"""``python -m fer.predict ckpt=PATH input=IMAGE|DIR|VIDEO|webcam``: emotions of every face.

Each frame (a photo, or every ``every``-th frame of a video or the webcam) goes through
the face pipeline of :mod:`fer.faces` (``faces.detector``, ``faces.align``), the one the
full-frame datasets use; faces are classified in batches. One JSON line per face goes to
``output/predictions.jsonl`` (and stdout): source, frame, track id (videos), box,
landmarks, label and the probability of every class. In a video each face keeps its
track id from frame to frame, ``smooth=N`` averages its probabilities over N frames, and
``<video>_timeline.csv``/``.png`` follow every face over time. A picture with no face
yields no line; an unreadable file is reported and skipped. With ``annotate=true`` the
photos and videos are written again with boxes, track ids and labels drawn on them
(``x.png`` as ``x.png.jpg``, ``clip.avi`` as ``clip.avi.mp4``). The
model is a checkpoint or an ONNX file written by ``fer.export``.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path

import cv2
import hydra
import numpy as np
from omegaconf import DictConfig

from fer.inference.frames import VIDEO_SUFFIXES, Frame, Tally
from fer.inference.runtime import Predictor, load
from fer.inference.timeline import Timelines
from fer.run.cli import command
from fer.run.config import CONF_PATH, PredictConfig

log = logging.getLogger(__name__)


def annotate(image: np.ndarray, results: list[dict]) -> np.ndarray:
    """A copy of the frame with each face's box and label drawn on it."""
    out = image.copy() if image.ndim == 3 else cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    thickness = max(1, round(max(out.shape[:2]) / 400))
    for r in results:
        x, y, w, h = r["box"]
        cv2.rectangle(out, (x, y), (x + w, y + h), (0, 220, 0), thickness)
        text = (
            "" if r["track"] is None else f"#{r['track']} "
        ) + f"{r['label']} {r['probabilities'][r['label']]:.2f}"
        scale = max(0.4, w / 220)
        (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
        top = max(th + 4, y)
        cv2.rectangle(out, (x, top - th - 4), (x + tw + 4, top), (0, 220, 0), -1)
        cv2.putText(
            out, text, (x + 2, top - 3), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), thickness, cv2.LINE_AA
        )
    return out


class AnnotatedWriter:
    """Annotated photos as ``<name.ext>.jpg`` and videos as ``<name.ext>.mp4`` under ``folder``: the
    input's own extension stays in the name, so ``x.png`` and ``x.jpg`` never write one file."""

    def __init__(self, folder: Path, fps: float):
        self.folder = folder
        self.fps = fps
        self.videos: dict[str, cv2.VideoWriter] = {}

    def write(self, frame: Frame, results: list[dict], is_video: bool) -> None:
        image = annotate(frame.image, results)
        name = Path(frame.source).name
        if not is_video:
            cv2.imwrite(str(self.folder / f"{name}.jpg"), image)
            return
        if frame.source not in self.videos:
            self.videos[frame.source] = cv2.VideoWriter(
                str(self.folder / f"{name}.mp4"),
                cv2.VideoWriter_fourcc(*"mp4v"),
                self.fps,
                image.shape[1::-1],
            )
        self.videos[frame.source].write(image)

    def close(self) -> None:
        for writer in self.videos.values():
            writer.release()


def predict(cfg: DictConfig) -> dict:
    model = load(cfg.ckpt, device=cfg.device)
    margin = model.meta["face_margin"] if cfg.face_margin is None else cfg.face_margin
    trained_with = model.meta.get("faces")
    if trained_with and dict(trained_with) != dict(cfg.faces):
        log.warning(
            "the model's training faces were cropped with %s; predicting with %s", trained_with, cfg.faces
        )
    predictor = Predictor(model, cfg.faces, margin, cfg.smooth, cfg.search_every)
    out_dir = Path(cfg.output)
    out_dir.mkdir(parents=True, exist_ok=True)
    lines_path = out_dir / "predictions.jsonl"
    if lines_path.exists():
        raise FileExistsError(f"{lines_path} exists: choose another output=")
    writer = AnnotatedWriter(out_dir, cfg.annotated_fps) if cfg.annotate else None
    timelines = Timelines(out_dir, model.classes)
    tally = Tally()
    start = time.perf_counter()
    with open(lines_path, "w") as lines:
        for frame, results in predictor.run(str(cfg.input), cfg.every, cfg.batch_size, tally):
            for r in results:
                line = json.dumps(r)
                lines.write(line + "\n")
                if cfg.print:
                    print(line)
            timelines.add(frame.source, frame.fps, frame.index, results)
            if writer is not None:
                writer.write(
                    frame,
                    results,
                    is_video=Path(frame.source).suffix.lower() in VIDEO_SUFFIXES or frame.source == "webcam",
                )
    if writer is not None:
        writer.close()
    written = timelines.write()
    tally.seconds = time.perf_counter() - start
    summary = {
        "input": str(cfg.input),
        "frames": tally.frames,
        "faces": tally.faces,
        "frames_without_face": tally.without_face,
        "unreadable": tally.unreadable,
        "ended_early": tally.ended_early,
        "seconds": round(tally.seconds, 3),
        "frames_per_second": round(tally.frames / tally.seconds, 2) if tally.seconds else None,
        "predictions": str(lines_path),
        "timelines": [str(p) for p in written],
    }
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary


@hydra.main(version_base="1.3", config_path=CONF_PATH, config_name="predict")
def main(cfg: DictConfig) -> None:
    with command(cfg, PredictConfig):
        summary = predict(cfg)
    print(
        json.dumps(
            {k: v for k, v in summary.items() if k != "unreadable"}
            | {"unreadable": len(summary["unreadable"])}
        ),
        file=sys.stderr,
    )
    for item in summary["unreadable"]:
        log.warning("skipped %s: %s", item["file"], item["reason"])


if __name__ == "__main__":
    main()
