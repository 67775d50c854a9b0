"""Frames per second of the predict pipeline on a 640x480 video with faces, detection included,
and per-face classification latency for PyTorch eager and ONNX Runtime.

The test video is built from real faces (the KDEF sample photos in ../shared/data)
composited onto plain and noisy backgrounds, one or two faces per frame, moving. The
model is a checkpoint given with --ckpt (default: efficientnet_lite0 trained for one
epoch on the synthetic set, made here: the speed does not depend on the training).

    python experiments/benchmarks/predict_video.py [--ckpt PATH] [--frames 300] [--every 1]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("WANDB_MODE", "disabled")

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from fer.run.config import compose_config  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
KDEF = ROOT.parent / "shared" / "data" / "kdef_sample"


def build_video(path: Path, frames: int, seed: int = 0) -> None:
    """640x480 MJPG frames: one or two real faces (KDEF photos) moving over a background."""
    photos = [cv2.imread(str(p)) for p in sorted(KDEF.glob("*.jpg"))]
    if not photos:
        raise SystemExit(f"no photos in {KDEF}: the benchmark needs the KDEF sample (../shared/data)")
    rng = np.random.default_rng(seed)
    background = cv2.GaussianBlur(rng.integers(0, 255, (480, 640, 3), dtype=np.uint8), (31, 31), 10)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25, (640, 480))
    for i in range(frames):
        frame = background.copy()
        for k in range(1 + (i // 50) % 2):  # alternates one and two faces every 50 frames
            face = cv2.resize(photos[(i // 25 + 7 * k) % len(photos)], (192, 240))
            x = 90 + k * 260 + int(70 * np.sin(i / 20 + k))
            y = 100 + int(60 * np.cos(i / 30 + k))
            frame[y : y + 240, x : x + 192] = face
        writer.write(frame)
    writer.release()


def default_checkpoint(folder: Path) -> Path:
    from fer.train import train

    cfg = compose_config("train", ["debug=fast", "logger=none", "callbacks.progress=plain"], folder / "run")
    return Path(train(cfg)["run_dir"]) / "checkpoints" / "best.ckpt"


def pipeline_fps(model_path: Path, video: Path, out: Path, every: int, overrides: list[str] = ()) -> dict:
    from fer.predict import predict

    return predict(
        compose_config(
            "predict",
            [
                f"ckpt={model_path}",
                f"input={video}",
                f"output={out}",
                "print=false",
                f"every={every}",
                *overrides,
            ],
            out,
        )
    )


def face_latency(model, faces: np.ndarray, repeats: int = 50) -> float:
    """Median milliseconds to classify one face (batch of 1)."""
    model.probabilities(faces[:1])
    times = []
    for i in range(repeats):
        start = time.perf_counter()
        model.probabilities(faces[i % len(faces)][None])
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--ckpt", type=Path, help="a fer checkpoint (default: a lite0 trained here for one epoch)"
    )
    parser.add_argument("--frames", type=int, default=300, help="frames in the test video")
    parser.add_argument("--every", type=int, default=1, help="classify every N-th frame")
    args = parser.parse_args()
    from fer.export import export
    from fer.inference.runtime import OnnxModel, TorchModel

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        ckpt = args.ckpt or default_checkpoint(tmp)
        onnx_path = export(ckpt, "onnx", tmp / "model.onnx")
        video = tmp / "faces.avi"
        build_video(video, args.frames)
        torch_model = TorchModel.from_checkpoint(ckpt)
        print(
            f"model: {torch_model.meta['backbone']} at {torch_model.input_size} px; video: {args.frames} "
            f"frames of 640x480, every {args.every}"
        )
        for name, path in (("pytorch", ckpt), ("onnxruntime", onnx_path)):
            summary = pipeline_fps(path, video, tmp / name, args.every)
            print(
                f"{name:12s} pipeline: {summary['frames_per_second']:.1f} frames/s ({summary['frames']} "
                f"frames, {summary['faces']} faces, {summary['frames_without_face']} without a face)"
            )
        faces = np.random.default_rng(0).integers(
            0, 256, (16, 1, torch_model.input_size, torch_model.input_size), dtype=np.uint8
        )
        print(
            f"per-face latency (batch 1): pytorch {face_latency(torch_model, faces):.2f} ms, onnxruntime "
            f"{face_latency(OnnxModel(onnx_path), faces):.2f} ms"
        )


if __name__ == "__main__":
    main()
