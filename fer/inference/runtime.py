"""A trained model ready for inference, from a checkpoint or from an exported ONNX file,
and the face pipeline in front of it.

Both models give the same interface: ``classes``, ``image_size`` (the stored face size the
model was trained on), ``input_size`` and ``probabilities(faces)`` for a uint8 batch
``(B, 1, input_size, input_size)``. The ONNX file carries that preprocessing in its
metadata (written by :mod:`fer.export`), so it needs no checkpoint. :class:`Predictor`
detects, crops and classifies the faces of frames with either.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path

import cv2
import numpy as np
import torch

from fer.data.transforms import eval_transform
from fer.faces.box import Face
from fer.faces.cropper import face_crop
from fer.faces.detector import build_detector
from fer.faces.track import Smoother, Tracker
from fer.inference.frames import Frame, Tally, frames
from fer.inference.onnx_session import cpu_session
from fer.run.checkpoint import load_classifier, preprocessing

METADATA_KEY = "fer"  # ONNX metadata_props key holding the preprocessing as JSON


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
        module, checkpoint = load_classifier(path)
        return cls(module, checkpoint["hyper_parameters"], device)

    def probabilities(self, faces: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            x = torch.from_numpy(np.ascontiguousarray(faces)).to(self.device)
            return self.module(x).softmax(-1).float().cpu().numpy()


def check_metadata(text: str, inputs: list, outputs: list, path: str | Path) -> dict:
    """fer's metadata of an ONNX file, checked against itself and the model's input and output shapes."""
    try:
        meta = json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: fer metadata is not JSON ({err})") from err
    problems = []
    classes = meta.get("classes") if isinstance(meta, dict) else None
    if not (isinstance(classes, list) and classes and all(isinstance(c, str) for c in classes)):
        problems.append(f"classes={classes!r} (expected a list of class names)")
    for key, low, high in (("image_size", 8, 1024), ("input_size", 8, 2048), ("in_chans", 1, 3)):
        value = meta.get(key) if isinstance(meta, dict) else None
        if not (isinstance(value, int) and low <= value <= high):
            problems.append(f"{key}={value!r} (expected a whole number in {low}..{high})")
    margin = meta.get("face_margin") if isinstance(meta, dict) else None
    if not (isinstance(margin, (int, float)) and 0 <= margin <= 1):
        problems.append(f"face_margin={margin!r} (expected a fraction in 0..1)")
    if not problems:
        side = inputs[-1] if len(inputs) == 4 else None
        if isinstance(side, int) and side != meta["input_size"]:
            problems.append(f"input_size={meta['input_size']} but the model takes {side}x{side} faces")
        if isinstance(outputs[-1], int) and outputs[-1] != len(classes):
            problems.append(f"{len(classes)} classes but the model gives {outputs[-1]} outputs")
    if problems:
        raise ValueError(f"{path}: fer metadata does not describe this model: {'; '.join(problems)}")
    return meta


class OnnxModel:
    def __init__(self, path: str | Path, threads: int = 0):
        try:
            self.session = cpu_session(str(path), threads)
        except Exception as err:  # onnxruntime raises its own types for files that are not models
            raise ValueError(f"{path}: not a readable ONNX model ({err})") from err
        props = self.session.get_modelmeta().custom_metadata_map
        if METADATA_KEY not in props:
            raise ValueError(
                f"{path}: an ONNX file without fer's preprocessing metadata (export it with python -m "
                "fer.export)"
            )
        outputs = self.session.get_outputs()[0].shape
        self.meta = check_metadata(props[METADATA_KEY], self.session.get_inputs()[0].shape, outputs, path)
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
        raise FileNotFoundError(
            f"ckpt={path}: no such file (expected a .ckpt from fer.train or a .onnx from fer.export)"
        )
    return OnnxModel(path) if path.suffix == ".onnx" else TorchModel.from_checkpoint(path, device)


class Predictor:
    """Detect, crop and classify faces with a checkpoint's (or an exported model's) own preprocessing.

    In a video, faces are tracked from frame to frame (``track`` in each result) and, with
    ``smooth`` > 1, each track's probabilities are averaged over its last ``smooth`` frames.
    With ``search_every`` > 1 the CNN detector searches the whole frame only on every
    ``search_every``-th classified frame (and whenever no face is being followed); on the
    others it looks again only where the faces were (:meth:`MTCNNDetector.detect`'s ``around``).
    """

    def __init__(self, model, faces: Mapping, margin: float, smooth: int = 1, search_every: int = 1):
        self.model = model
        self.faces_cfg = dict(faces)  # a FacesConfig section
        self.detector = build_detector(self.faces_cfg)
        self.margin = margin
        self.smooth = smooth
        self.search_every = search_every if getattr(self.detector, "follows", False) else 1
        self.resize = eval_transform(model.input_size, model.image_size)
        self.video(None)

    def video(self, source: str | None) -> None:
        """Start following the faces of another video."""
        self._source, self._tracker, self._smoother = source, Tracker(), Smoother(self.smooth)
        self._seen = 0  # frames of this video classified so far
        self._last: list[np.ndarray] = []  # the face boxes of its previous frame
        self._since_search = 0  # frames since the last full search

    def faces(
        self, frame: Frame, around: list[np.ndarray] | None = None
    ) -> tuple[list[Face], list[np.ndarray]]:
        """The frame's faces (all of them, or those ``around`` earlier boxes), each as the model's input."""
        grey = frame.image if frame.image.ndim == 2 else cv2.cvtColor(frame.image, cv2.COLOR_BGR2GRAY)
        # detected on grey, as the datasets detect: the same faces, the same crops
        found = self.detector.detect(grey) if around is None else self.detector.detect(grey, around)
        crops = []
        for face in found:
            crop = face_crop(grey, face, self.model.image_size, self.margin, self.faces_cfg["align"])
            crops.append(crop if self.resize is None else self.resize(image=crop)["image"])
        return found, crops

    def frame_faces(self, frame: Frame) -> tuple[list[Face], list[int | None], list[np.ndarray]]:
        """A frame's faces, their track ids (None in a photo) and crops."""
        if frame.fps is None and frame.source != "webcam":
            found, crops = self.faces(frame)
            return found, [None] * len(found), crops
        if frame.source != self._source:
            self.video(frame.source)
        follow = bool(self._last) and self._since_search + 1 < self.search_every
        found, crops = self.faces(frame, self._last if follow else None)
        self._since_search = self._since_search + 1 if follow else 0
        self._last = [f.box for f in found]
        self._seen += 1
        return found, self._tracker.update(self._last, self._seen), crops

    def run(
        self, source: str, every: int, batch_size: int, tally: Tally
    ) -> Iterator[tuple[Frame, list[dict]]]:
        """``(frame, results)`` per frame, faces classified in batches across frames."""
        pending: list[tuple[Frame, list[Face], list[int | None], list[np.ndarray]]] = []
        queued = 0
        for frame in frames(source, every, tally):
            tally.add(frames=1)
            found, tracks, crops = self.frame_faces(frame)
            if not found:
                tally.add(without_face=1)
            pending.append((frame, found, tracks, crops))
            queued += len(crops)
            if queued >= batch_size:
                yield from self._flush(pending, tally)
                pending, queued = [], 0
        yield from self._flush(pending, tally)

    def _flush(self, pending, tally: Tally) -> Iterator[tuple[Frame, list[dict]]]:
        crops = [c for *_, cs in pending for c in cs]
        probs = (
            self.model.probabilities(np.stack(crops)[:, None])
            if crops
            else np.zeros((0, len(self.model.classes)))
        )
        tally.add(faces=len(crops))
        at = 0
        for frame, found, tracks, cs in pending:
            results = []
            for face, track, p in zip(found, tracks, probs[at : at + len(cs)]):
                if track is not None and self.smooth > 1:
                    p = self._smoother(track, p)
                results.append(result(frame, face, track, self.model.classes, p))
            at += len(cs)
            yield frame, results


def result(frame: Frame, face: Face, track: int | None, classes: list[str], p: np.ndarray) -> dict:
    """One face's JSON line."""
    line = {
        "source": frame.source,
        "frame": frame.index,
        "track": track,
        "box": [int(round(v)) for v in face.box],
        "label": classes[int(p.argmax())],
        "probabilities": {c: round(float(v), 5) for c, v in zip(classes, p)},
    }
    if face.score is not None:
        line["detector_score"] = round(face.score, 4)
    if face.landmarks is not None:
        line["landmarks"] = [[round(float(x), 1), round(float(y), 1)] for x, y in face.landmarks]
    return line
