"""Training images/s of the worker path (albumentations in loader workers) against the device path
(augment=device: batches indexed and augmented on the training device), side by side, per model.

Each measurement is the Lightning loop of fer.train on synthetic 48 px faces (or FER2013 with --root),
with the same jitter in both paths (augment=light and augment=device), timed over --steps steps after a
warm-up. On a GPU it also samples the GPU's busy share (NVML, every 0.1 s) over the timed steps. The last
column is the device path's time for one pass over FER2013's 28,709 training faces. ``--preset`` adds a
row for an experiment preset's own network and augmentation (gpu_suite.sh sizes its epochs from it). It
runs on a CPU as well, with smaller figures.

    python experiments/benchmarks/gpu_throughput.py
        [--models shallow_cnn:48 resnet18:48 efficientnet_lite0:224] [--steps 100] [--batch-size 256]
        [--num-workers 8] [--precision bf16-mixed] [--root ../shared/data/fer2013]
        [--preset fer2013_gpu_sota] [--json figures.json]
"""

from __future__ import annotations

import argparse
import json
import os
import threading
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402
from hydra import compose, initialize_config_module  # noqa: E402
from loop_throughput import StepTimer, timing_trainer  # noqa: E402
from omegaconf import OmegaConf  # noqa: E402

from fer.data.datamodule import FERDataModule  # noqa: E402
from fer.data.pipeline import build_splits  # noqa: E402
from fer.models.classifier import EmotionClassifier  # noqa: E402
from fer.run.config import CONF_MODULE  # noqa: E402

PATHS = {"worker": "light", "device": "device"}  # path -> augment option with the same jitter
TRAIN_FACES = 28_709  # FER2013's Training split: the epoch the last column times


def composed(overrides: list[str]) -> dict:
    """The backbone and augment sections of a composed train config."""
    with initialize_config_module(config_module=CONF_MODULE, version_base="1.3"):
        cfg = compose(config_name="train", overrides=overrides)
    return {k: OmegaConf.to_container(cfg[k], resolve=True) for k in ("backbone", "augment")}


class BusyShare(threading.Thread):
    """Mean GPU utilisation (NVML) while running; None on a CPU or without NVML."""

    def __init__(self):
        super().__init__(daemon=True)
        self.samples: list[float] = []
        self.running = True

    def run(self) -> None:
        while self.running:
            try:
                self.samples.append(float(torch.cuda.utilization()))
            except Exception:  # no GPU, or no NVML bindings
                return
            time.sleep(0.1)

    def stop(self) -> float | None:
        self.running = False
        self.join()
        return sum(self.samples) / len(self.samples) if self.samples else None


def measure(args, overrides: list[str]) -> tuple[float, float | None]:
    """Images/s and the GPU's busy share of the network and augmentation that ``overrides`` compose."""
    cfg = composed(overrides)
    size = cfg["backbone"]["input_size"]
    data = (
        {"name": "fer2013", "root": args.root}
        if args.root
        else {"name": "synthetic", "num_train": args.batch_size * 60}
    )
    datamodule = FERDataModule(
        build_splits(data, 0, args.cache_dir),
        input_size=size,
        augment=cfg["augment"]["transforms"],
        batch_size=args.batch_size,
        num_workers=args.num_workers,
        on_device=cfg["augment"]["device"],
    )
    module = EmotionClassifier(
        classes=[str(i) for i in range(7)],
        backbone={**cfg["backbone"], "pretrained": False},
        optim={"scheduler": "constant"},
        finetune={},
        loss={},
        channels_last=True,
        tta="none",
    )
    timer = StepTimer(args.warmup, args.steps)
    busy = BusyShare()
    timer.on_train_start = lambda trainer, pl_module: busy.start()
    timing_trainer(args, timer, precision=args.precision).fit(module, datamodule=datamodule)
    return args.steps * args.batch_size / timer.seconds, busy.stop()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--models", nargs="+", default=["shallow_cnn:48", "resnet18:48", "efficientnet_lite0:224"]
    )
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=100, help="timed steps per measurement")
    parser.add_argument("--warmup", type=int, default=10, help="untimed steps first")
    parser.add_argument("--num-workers", type=int, default=8, help="loader workers of the worker path")
    parser.add_argument(
        "--precision", default="32-true", help="Lightning precision, e.g. bf16-mixed on a GPU"
    )
    parser.add_argument(
        "--preset", help="also an experiment preset's own network and augmentation, e.g. fer2013_gpu_sota"
    )
    parser.add_argument("--json", type=Path, help="write the figures to this file too")
    parser.add_argument("--root", help="FER2013 instead of synthetic faces")
    parser.add_argument("--cache-dir", help="decoded-dataset cache (with --root)")
    args = parser.parse_args()
    where = (
        torch.cuda.get_device_name()
        if torch.cuda.is_available()
        else f"CPU, {torch.get_num_threads()} threads"
    )
    print(
        f"{where}; batch {args.batch_size}, {args.steps} timed steps, "
        f"{args.num_workers} workers (worker path)"
    )
    print(
        f"{'model':<32}{'worker img/s':>14}{'device img/s':>14}{'ratio':>8}"
        f"{'busy (worker/device)':>24}{'FER2013 epoch (device)':>24}"
    )
    rows = []
    for spec in args.models:
        model, size = spec.split(":")
        worker, device = (
            measure(args, [f"backbone={model}", f"backbone.input_size={size}", f"augment={option}"])
            for option in PATHS.values()
        )
        rows.append(report(f"{model} @{size}", worker, device))
    if args.preset:  # its own network and augmentation (augment=device_strong in fer2013_gpu_sota)
        rows.append(report(f"experiment={args.preset}", None, measure(args, [f"experiment={args.preset}"])))
    if args.json:
        args.json.write_text(
            json.dumps({"where": where, "batch_size": args.batch_size, "rows": rows}, indent=2)
        )


def report(name: str, worker: tuple | None, device: tuple) -> dict:
    """Print one row (images/s, GPU busy share, seconds per FER2013 training epoch) and return it."""
    (worker_rate, worker_busy), (device_rate, device_busy) = worker or (None, None), device
    ratio = "-" if worker_rate is None else f"{device_rate / worker_rate:.2f}"
    busy = "n/a"
    if device_busy is not None:
        busy = f"{'-' if worker_busy is None else f'{worker_busy:.0f}%'} / {device_busy:.0f}%"
    print(
        f"{name:<32}{'-' if worker_rate is None else f'{worker_rate:.0f}':>14}{device_rate:>14.0f}{ratio:>8}"
        f"{busy:>24}{TRAIN_FACES / device_rate:>22.1f} s",
        flush=True,
    )
    return {
        "model": name,
        "worker": worker_rate,
        "device": device_rate,
        "busy_worker": worker_busy,
        "busy_device": device_busy,
    }


if __name__ == "__main__":
    main()
