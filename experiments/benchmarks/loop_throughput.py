"""Training throughput: the Lightning loop of fer.train against a plain PyTorch loop.

Same model (EmotionNet as built from conf/backbone/<name>.yaml), optimizer (AdamW),
batch size, in-memory synthetic data and DataLoader; both time the same steps after a
warm-up, data loading included. Prints images/s for each and their ratio.

    python experiments/benchmarks/loop_throughput.py [--backbone shallow_cnn] [--batch-size 64] [--steps 150]
        [--widths 16 64 128 256]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import lightning as L  # noqa: E402
import torch  # noqa: E402
from hydra import compose, initialize_config_module  # noqa: E402
from omegaconf import OmegaConf  # noqa: E402

from fer.data.datamodule import FERDataModule  # noqa: E402
from fer.data.pipeline import build_splits  # noqa: E402
from fer.models.classifier import EmotionClassifier  # noqa: E402
from fer.run.config import CONF_MODULE  # noqa: E402


class StepTimer(L.Callback):
    """Wall time from the start of batch ``warmup`` to the end of batch ``warmup + steps - 1``."""

    def __init__(self, warmup: int, steps: int):
        self.warmup, self.steps, self.seconds = warmup, steps, 0.0

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if trainer.global_step == self.warmup:
            self.start = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if trainer.global_step == self.warmup + self.steps:
            self.seconds = time.perf_counter() - self.start


def timing_trainer(args, timer: StepTimer, **kwargs) -> L.Trainer:
    """A Trainer that runs ``args.warmup + args.steps`` training steps and nothing else."""
    return L.Trainer(
        max_steps=args.warmup + args.steps,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        limit_val_batches=0,
        callbacks=[timer],
        **kwargs,
    )


def backbone_config(args) -> dict:
    """The composed ``backbone=<args.backbone>`` section, with --widths applied."""
    overrides = [f"backbone={args.backbone}"]
    if args.widths:
        overrides.append(f"+backbone.kwargs.widths={args.widths}")
    with initialize_config_module(config_module=CONF_MODULE, version_base="1.3"):
        cfg = compose(config_name="train", overrides=overrides)
    return OmegaConf.to_container(cfg.backbone, resolve=True)


def make_module(args, backbone: dict) -> EmotionClassifier:
    return EmotionClassifier(
        classes=[str(i) for i in range(7)],
        backbone={**backbone, "pretrained": False},
        optim={"scheduler": "constant"},
        finetune={},
        loss={},
        channels_last=args.channels_last,
        tta="none",
    )


def lightning_loop(args, backbone: dict, datamodule) -> float:
    timer = StepTimer(args.warmup, args.steps)
    trainer = timing_trainer(args, timer, accelerator="cpu")
    trainer.fit(make_module(args, backbone), train_dataloaders=datamodule.train_dataloader())
    return args.steps * args.batch_size / timer.seconds


def plain_loop(args, backbone: dict, datamodule) -> float:
    module = make_module(args, backbone)
    optimizer = torch.optim.AdamW(
        module.net.parameters(),
        lr=module.hparams.optim["lr"],
        weight_decay=module.hparams.optim["weight_decay"],
    )
    module.train()
    step, start = 0, 0.0
    while True:
        for x, y in datamodule.train_dataloader():
            if step == args.warmup:
                start = time.perf_counter()
            loss = torch.nn.functional.cross_entropy(module(x), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            step += 1
            if step == args.warmup + args.steps:
                return args.steps * args.batch_size / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backbone", default="shallow_cnn", help="a conf/backbone option")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=150, help="timed steps per measurement")
    parser.add_argument("--warmup", type=int, default=10, help="untimed steps first")
    parser.add_argument("--repeats", type=int, default=3, help="alternating measurements of each loop")
    parser.add_argument("--num-workers", type=int, default=2)
    parser.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument(
        "--widths", type=int, nargs="+", help="shallow_cnn block widths (backbone.kwargs.widths)"
    )
    args = parser.parse_args()

    backbone = backbone_config(args)
    num = (args.warmup + args.steps + 1) * args.batch_size
    datamodule = FERDataModule(
        build_splits({"name": "synthetic", "num_train": num, "num_val": 7, "num_test": 7}, 0, None),
        batch_size=args.batch_size,
        num_workers=args.num_workers,
        input_size=backbone["input_size"],
    )
    print(
        f"backbone={args.backbone} widths={args.widths} batch={args.batch_size} steps={args.steps} "
        f"workers={args.num_workers} threads={torch.get_num_threads()} channels_last={args.channels_last}"
    )
    rates = {"lightning": [], "plain": []}
    for r in range(args.repeats):
        torch.manual_seed(r)
        rates["plain"].append(plain_loop(args, backbone, datamodule))
        torch.manual_seed(r)
        rates["lightning"].append(lightning_loop(args, backbone, datamodule))
        print(
            f"  repeat {r + 1}: plain {rates['plain'][-1]:.0f} img/s, lightning {rates['lightning'][-1]:.0f} "
            "img/s",
            flush=True,
        )
    plain, lightning = statistics.median(rates["plain"]), statistics.median(rates["lightning"])
    print(f"plain PyTorch loop: {plain:.0f} images/s (median of {args.repeats})")
    print(f"Lightning loop:     {lightning:.0f} images/s (median of {args.repeats})")
    print(f"Lightning/plain:    {lightning / plain:.3f}")


if __name__ == "__main__":
    main()
