"""Haar against the CNN detector on real faces pasted into real photos, and predict's frames/s.

Faces: the KDEF sample photos and one CK+48 face per subject (../shared/data). Each source
face's reference box is where both detectors agree on the upright source (the mean of their
two boxes; a source where they do not agree is left out and counted). Frames: 640x480 crops
of scikit-image's sample photos that show no person, with 1-3 faces pasted at random sizes
(0.1-0.6 of the frame's height), rotations (+-30 degrees), brightness (x0.6-1.4) and places,
each through a feathered oval so no photo edge shows. A detection is right when it overlaps
a pasted face's box at IoU >= 0.5 (the box rotates with the face but keeps its size).
Landmark error is the CNN's own consistency: its landmarks on the pasted face against its
landmarks on the upright source carried through the same transform, over the eye distance.
Then frames/s of ``fer.predict`` (detection, alignment and classification) on a 640x480 video.

    python experiments/benchmarks/face_detection.py [--frames 300] [--ckpt PATH] [--video-frames 300]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("WANDB_MODE", "disabled")

import cv2  # noqa: E402
import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared" / "data"
BACKGROUNDS = [  # scikit-image's bundled sample photos with no person in them
    "coffee", "chelsea", "rocket", "hubble_deep_field", "immunohistochemistry", "coins", "moon", "page",
    "text", "gravel", "brick", "grass", "horse", "logo", "retina",
]  # fmt: skip

from fer.faces.box import iou  # noqa: E402
from fer.faces.detector import build_detector  # noqa: E402
from fer.run.config import FacesConfig  # noqa: E402


@dataclass
class Source:
    name: str
    image: np.ndarray  # grey
    box: np.ndarray  # reference x, y, w, h
    landmarks: np.ndarray  # the CNN's, on the upright source


def detectors() -> dict:
    return {
        kind: build_detector(asdict(FacesConfig(detector=kind)))  # the defaults predict and datasets use
        for kind in ("haar", "cnn")
    }


def sources(found: dict) -> tuple[list[Source], list[str]]:
    """Source faces with a reference box both detectors agree on; the names left out."""
    files = sorted((SHARED / "kdef_sample").glob("*.jpg"))
    ck = sorted((SHARED / "ckplus48").glob("*/*.png"))
    firsts = {}
    for p in ck:  # one face per subject
        firsts.setdefault(p.name.split("_")[0], p)
    files += list(firsts.values())
    if not files:
        raise SystemExit(f"no faces under {SHARED}: the benchmark needs the KDEF sample and CK+48")
    kept, dropped = [], []
    for path in files:
        grey = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        if grey.shape[0] < 100:  # CK+48: enlarge and frame the tight 48-px crop
            grey = cv2.resize(grey, (192, 192), interpolation=cv2.INTER_CUBIC)
            grey = cv2.copyMakeBorder(grey, 64, 64, 64, 64, cv2.BORDER_REPLICATE)
        haar, cnn = found["haar"].detect(grey), found["cnn"].detect(grey)
        if len(haar) == 1 and len(cnn) == 1 and iou(haar[0].box, cnn[0].box)[0, 0] >= 0.4:
            kept.append(Source(path.name, grey, (haar[0].box + cnn[0].box) / 2, cnn[0].landmarks))
        else:
            dropped.append(path.name)
    return kept, dropped


def backgrounds() -> list[np.ndarray]:
    import skimage.data

    out = []
    for name in BACKGROUNDS:
        image = getattr(skimage.data, name)()
        image = image if image.ndim == 2 else cv2.cvtColor(image[..., :3], cv2.COLOR_RGB2GRAY)
        out.append(cv2.resize(image.astype(np.uint8), (640, 480), interpolation=cv2.INTER_AREA))
    return out


def paste(frame: np.ndarray, source: Source, rng: np.random.Generator, taken: list[np.ndarray]):
    """Paste one face; its box and landmarks in the frame, or None where it found no free place."""
    size = rng.uniform(0.1, 0.6) * frame.shape[0]
    angle = rng.uniform(-30, 30)
    scale = size / source.box[2]
    cx, cy = source.box[:2] + source.box[2:] / 2
    for _ in range(20):
        tx, ty = (
            rng.uniform(size * 0.7, frame.shape[1] - size * 0.7),
            rng.uniform(size * 0.7, frame.shape[0] - size * 0.7),
        )
        box = np.array(
            [
                tx - size / 2,
                ty - size * source.box[3] / source.box[2] / 2,
                size,
                size * source.box[3] / source.box[2],
            ]
        )
        if (
            not taken
            or iou(box, np.array(taken)).max() == 0
            and all(
                abs(tx - (t[0] + t[2] / 2)) > (size + t[2]) * 0.6
                or abs(ty - (t[1] + t[3] / 2)) > (box[3] + t[3]) * 0.6
                for t in taken
            )
        ):
            break
    else:
        return None
    matrix = cv2.getRotationMatrix2D((float(cx), float(cy)), angle, scale)
    matrix[:, 2] += [tx - cx, ty - cy]
    face = cv2.warpAffine(
        source.image, matrix, frame.shape[1::-1], flags=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    )
    mask = np.zeros(source.image.shape, np.float32)
    w, h = source.box[2:]
    cv2.ellipse(mask, (int(cx), int(cy)), (int(w * 0.62), int(h * 0.8)), 0, 0, 360, 1.0, -1)
    mask = cv2.GaussianBlur(mask, (0, 0), max(1.0, w * 0.05))
    mask = cv2.warpAffine(mask, matrix, frame.shape[1::-1])
    gain = rng.uniform(0.6, 1.4)
    face = np.clip(face.astype(np.float32) * gain, 0, 255)
    frame[:] = (frame * (1 - mask) + face * mask).astype(np.uint8)
    landmarks = source.landmarks @ matrix[:, :2].T + matrix[:, 2]
    taken.append(box)
    return box, landmarks


def build_frames(faces: list[Source], count: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    scenes = backgrounds()
    frames = []
    for i in range(count):
        frame = scenes[i % len(scenes)].copy()
        if rng.random() < 0.5:
            frame = frame[:, ::-1].copy()
        taken, truth = [], []
        for _ in range(rng.integers(1, 4)):
            pasted = paste(frame, faces[rng.integers(len(faces))], rng, taken)
            if pasted is not None:
                truth.append(pasted)
        frames.append((frame, truth))
    return frames


def score(detector, frames) -> dict:
    tp = detections = truths = 0
    errors, seconds = [], 0.0
    for frame, truth in frames:
        start = time.perf_counter()
        found = detector.detect(frame)
        seconds += time.perf_counter() - start
        detections += len(found)
        truths += len(truth)
        if not found or not truth:
            continue
        overlap = iou(np.array([t[0] for t in truth]), np.array([f.box for f in found]))
        while overlap.size and overlap.max() >= 0.5:
            t, f = np.unravel_index(int(overlap.argmax()), overlap.shape)
            tp += 1
            if found[f].landmarks is not None:
                points = truth[t][1]
                eyes = np.linalg.norm(points[0] - points[1])
                errors.append(np.linalg.norm(found[f].landmarks - points, axis=1).mean() / eyes)
            overlap[t, :], overlap[:, f] = -1, -1
    return {
        "precision": tp / max(detections, 1),
        "recall": tp / max(truths, 1),
        "faces": truths,
        "detections": detections,
        "landmark_error": float(np.mean(errors)) if errors else None,
        "ms_per_frame": 1000 * seconds / len(frames),
    }


def video_fps(ckpt: Path | None, frames: int) -> None:
    sibling = Path(__file__).with_name("predict_video.py")  # its video and pipeline, loaded by path
    spec = importlib.util.spec_from_file_location("predict_video", sibling)
    video_bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(video_bench)

    from fer.export import export

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        ckpt = ckpt or video_bench.default_checkpoint(tmp)
        models = {"pytorch": ckpt, "onnxruntime": export(ckpt, "onnx", tmp / "model.onnx")}
        video = tmp / "faces.avi"
        video_bench.build_video(video, frames)
        for name, runtime, overrides in (
            ("haar", "pytorch", ["faces.detector=haar"]),
            ("cnn, box crop", "pytorch", ["faces.detector=cnn", "faces.align=false"]),
            ("cnn, aligned", "pytorch", ["faces.detector=cnn", "faces.align=true"]),
            ("cnn, aligned, search_every=3", "pytorch", ["faces.detector=cnn", "search_every=3"]),
            ("haar", "onnxruntime", ["faces.detector=haar"]),
            ("cnn, aligned", "onnxruntime", ["faces.detector=cnn", "faces.align=true"]),
            ("cnn, aligned, search_every=3", "onnxruntime", ["faces.detector=cnn", "search_every=3"]),
        ):
            out = tmp / f"{runtime}_{name.replace(', ', '_').replace('=', '')}"
            summary = video_bench.pipeline_fps(models[runtime], video, out, 1, overrides)
            fps, faces, missed = (
                summary["frames_per_second"],
                summary["faces"],
                summary["frames_without_face"],
            )
            print(
                f"predict {name:28s} {runtime:11s} {fps:5.1f} frames/s ({summary['frames']} frames 640x480, "
                f"{faces} faces classified, {missed} frames without a face)"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=300, help="pasted-face frames")
    parser.add_argument("--ckpt", type=Path, help="the classifier for the video (default: one trained here)")
    parser.add_argument("--video-frames", type=int, default=300, help="frames of the 640x480 video (0: skip)")
    args = parser.parse_args()
    found = detectors()
    faces, dropped = sources(found)
    print(f"source faces: {len(faces)} kept, {len(dropped)} left out where the detectors disagree: {dropped}")
    frames = build_frames(faces, args.frames)
    print(f"{len(frames)} frames of 640x480, {sum(len(t) for _, t in frames)} pasted faces")
    for kind, detector in found.items():
        r = score(detector, frames)
        landmarks = f"{r['landmark_error']:.3f}" if r["landmark_error"] is not None else "-"
        print(
            f"{kind:5s} precision {r['precision']:.3f}  recall {r['recall']:.3f}  ({r['detections']} boxes, "
            f"{r['faces']} faces)  landmark error {landmarks} of the eye distance  "
            f"{r['ms_per_frame']:.1f} ms/frame"
        )
    if args.video_frames:
        video_fps(args.ckpt, args.video_frames)


if __name__ == "__main__":
    main()
