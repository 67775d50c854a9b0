"""``python -m fer.predict ckpt=PATH input=IMAGE|DIR|VIDEO|webcam``: emotions of every face.

Each frame (a photo, or every ``every``-th frame of a video or the webcam) goes through
the face detector of :mod:`fer.faces`; each face is cropped exactly as the training
data was (square box grown by the margin, grey, resized to the stored size, then to
the model's input size) and faces are classified in batches. One JSON line per face
goes to ``output/predictions.jsonl`` (and stdout): source, frame, box, label and the
probability of every class. A picture with no face yields no line; an unreadable file
is reported and skipped. With ``annotate=true`` the photos and videos are written
again with boxes and labels drawn on them. The model is a checkpoint or an ONNX file
written by ``fer.export``.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import hydra
import numpy as np
from omegaconf import DictConfig

from fer.data.decode import IMAGE_SUFFIXES
from fer.data.transforms import eval_transform
from fer.faces import FaceDetector, crop, square
from fer.models.runtime import load
from fer.train import CONF_DIR

log = logging.getLogger(__name__)
VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg"}


@dataclass
class Frame:
    source: str
    index: int  # frame number in a video, 0 for a photo
    image: np.ndarray  # BGR or grey, as read


@dataclass
class Tally:
    frames: int = 0
    faces: int = 0
    without_face: int = 0
    unreadable: list[dict] = field(default_factory=list)
    seconds: float = 0.0


def frames(source: str, every: int, tally: Tally) -> Iterator[Frame]:
    """Frames of a photo, a folder of photos (sorted), a video file, or ``webcam`` (device 0)."""
    if source == "webcam" or source.isdigit():
        yield from video_frames(0 if source == "webcam" else int(source), "webcam", every, tally)
        return
    path = Path(source).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"input={source}: no such file or folder (expected a photo, a folder of photos, a video or 'webcam')")
    files = sorted(p for p in path.iterdir() if p.is_file()) if path.is_dir() else [path]
    for file in files:
        suffix = file.suffix.lower()
        if suffix in VIDEO_SUFFIXES:
            yield from video_frames(str(file), str(file), every, tally)
        elif suffix in IMAGE_SUFFIXES:
            image = cv2.imread(str(file), cv2.IMREAD_COLOR)
            if image is None:
                tally.unreadable.append({"file": str(file), "reason": "not a readable image"})
                continue
            yield Frame(str(file), 0, image)
        elif not path.is_dir():
            tally.unreadable.append({"file": str(file), "reason": f"unknown suffix {suffix!r}: expected an image {sorted(IMAGE_SUFFIXES)} or a video {sorted(VIDEO_SUFFIXES)}"})


def video_frames(device_or_file: str | int, name: str, every: int, tally: Tally) -> Iterator[Frame]:
    capture = cv2.VideoCapture(device_or_file)
    if not capture.isOpened():
        tally.unreadable.append({"file": name, "reason": "cannot open the video"})
        return
    index = 0
    try:
        while True:
            if index % every:
                if not capture.grab():  # skipped frames are not decoded
                    break
            else:
                ok, image = capture.read()
                if not ok:
                    break
                yield Frame(name, index, image)
            index += 1
    finally:
        capture.release()


class Predictor:
    """Detect, crop and classify faces with a checkpoint's (or an exported model's) own preprocessing."""

    def __init__(self, model, detector: FaceDetector, margin: float):
        self.model = model
        self.detector = detector
        self.margin = margin
        self.resize = eval_transform(model.input_size, model.image_size)

    def faces(self, frame: Frame) -> tuple[np.ndarray, list[np.ndarray]]:
        """Boxes (x, y, w, h) of the frame's faces, and each face as the model's uint8 input."""
        grey = frame.image if frame.image.ndim == 2 else cv2.cvtColor(frame.image, cv2.COLOR_BGR2GRAY)
        boxes = self.detector.detect(grey)
        crops = []
        for box in boxes:
            face = crop(grey, square(box, self.margin, grey.shape), self.model.image_size)
            crops.append(face if self.resize is None else self.resize(image=face)["image"])
        return boxes, crops

    def run(self, source: str, every: int, batch_size: int, tally: Tally) -> Iterator[tuple[Frame, list[dict]]]:
        """``(frame, results)`` per frame, faces classified in batches across frames."""
        pending: list[tuple[Frame, np.ndarray, list[np.ndarray]]] = []
        queued = 0
        for frame in frames(source, every, tally):
            tally.frames += 1
            boxes, crops = self.faces(frame)
            if not len(boxes):
                tally.without_face += 1
            pending.append((frame, boxes, crops))
            queued += len(crops)
            if queued >= batch_size:
                yield from self._flush(pending, tally)
                pending, queued = [], 0
        yield from self._flush(pending, tally)

    def _flush(self, pending, tally: Tally) -> Iterator[tuple[Frame, list[dict]]]:
        crops = [c for _, _, cs in pending for c in cs]
        probs = self.model.probabilities(np.stack(crops)[:, None]) if crops else np.zeros((0, len(self.model.classes)))
        tally.faces += len(crops)
        at = 0
        for frame, boxes, cs in pending:
            results = []
            for box, p in zip(boxes, probs[at : at + len(cs)]):
                results.append({
                    "source": frame.source,
                    "frame": frame.index,
                    "box": [int(v) for v in box],
                    "label": self.model.classes[int(p.argmax())],
                    "probabilities": {c: round(float(v), 5) for c, v in zip(self.model.classes, p)},
                })
            at += len(cs)
            yield frame, results


def annotate(image: np.ndarray, results: list[dict]) -> np.ndarray:
    """A copy of the frame with each face's box and label drawn on it."""
    out = image.copy() if image.ndim == 3 else cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    thickness = max(1, round(max(out.shape[:2]) / 400))
    for r in results:
        x, y, w, h = r["box"]
        cv2.rectangle(out, (x, y), (x + w, y + h), (0, 220, 0), thickness)
        text = f"{r['label']} {r['probabilities'][r['label']]:.2f}"
        scale = max(0.4, w / 220)
        (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
        top = max(th + 4, y)
        cv2.rectangle(out, (x, top - th - 4), (x + tw + 4, top), (0, 220, 0), -1)
        cv2.putText(out, text, (x + 2, top - 3), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), thickness, cv2.LINE_AA)
    return out


class AnnotatedWriter:
    """Annotated photos as ``<name>.jpg`` and videos as ``<name>.mp4`` under ``folder``."""

    def __init__(self, folder: Path, fps: float):
        self.folder = folder
        self.fps = fps
        self.videos: dict[str, cv2.VideoWriter] = {}

    def write(self, frame: Frame, results: list[dict], is_video: bool) -> None:
        image = annotate(frame.image, results)
        name = Path(frame.source).stem
        if not is_video:
            cv2.imwrite(str(self.folder / f"{name}.jpg"), image)
            return
        if frame.source not in self.videos:
            self.videos[frame.source] = cv2.VideoWriter(str(self.folder / f"{name}.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), self.fps, image.shape[1::-1])
        self.videos[frame.source].write(image)

    def close(self) -> None:
        for writer in self.videos.values():
            writer.release()


def predict(cfg: DictConfig) -> dict:
    model = load(cfg.ckpt, device=cfg.device)
    margin = model.meta["face_margin"] if cfg.face_margin is None else cfg.face_margin
    predictor = Predictor(model, FaceDetector(min_face=cfg.min_face, max_side=cfg.detect_max_side), margin)
    out_dir = Path(cfg.output)
    out_dir.mkdir(parents=True, exist_ok=True)
    lines_path = out_dir / "predictions.jsonl"
    if lines_path.exists():
        raise FileExistsError(f"{lines_path} exists: choose another output=")
    writer = AnnotatedWriter(out_dir, cfg.annotated_fps) if cfg.annotate else None
    tally = Tally()
    start = time.perf_counter()
    with open(lines_path, "w") as lines:
        for frame, results in predictor.run(str(cfg.input), cfg.every, cfg.batch_size, tally):
            for r in results:
                line = json.dumps(r)
                lines.write(line + "\n")
                if cfg.print:
                    print(line)
            if writer is not None:
                writer.write(frame, results, is_video=Path(frame.source).suffix.lower() in VIDEO_SUFFIXES or frame.source == "webcam")
    if writer is not None:
        writer.close()
    tally.seconds = time.perf_counter() - start
    summary = {
        "input": str(cfg.input),
        "frames": tally.frames,
        "faces": tally.faces,
        "frames_without_face": tally.without_face,
        "unreadable": tally.unreadable,
        "seconds": round(tally.seconds, 3),
        "frames_per_second": round(tally.frames / tally.seconds, 2) if tally.seconds else None,
        "predictions": str(lines_path),
    }
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="predict")
def main(cfg: DictConfig) -> None:
    summary = predict(cfg)
    print(json.dumps({k: v for k, v in summary.items() if k != "unreadable"} | {"unreadable": len(summary["unreadable"])}), file=sys.stderr)
    for item in summary["unreadable"]:
        log.warning("skipped %s: %s", item["file"], item["reason"])


if __name__ == "__main__":
    main()
