"""Test-time augmentation for the fold models of a k-fold multirun, chosen on the validation folds.

For each fold's ``best.ckpt`` under the sweep folder, every TTA mode is scored on that fold's
validation and test splits (rebuilt from the checkpoint, same seed). Prints each mode's mean
validation accuracy and mean ± sample std of test accuracy over the folds; choose the mode by the
validation column, report its test figure.

    python experiments/fold_tta.py logs/ckplus_10fold/multiruns/<time> [--modes none flip shift]
"""

from __future__ import annotations

import argparse
import os
import statistics
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402

from fer.checkpoint import checkpoint_datamodule, load_classifier  # noqa: E402
from fer.models.tta import MODES, predict  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("sweep", type=Path, help="a multirun folder holding <job>/checkpoints/best.ckpt")
    parser.add_argument("--modes", nargs="+", default=["none", "flip", "shift"], choices=MODES)
    parser.add_argument("--seed", type=int, default=42, help="the seed the folds were drawn with")
    args = parser.parse_args()
    scores = {mode: {"val": [], "test": []} for mode in args.modes}
    checkpoints = sorted(args.sweep.glob("*/checkpoints/best.ckpt"))
    for ckpt in checkpoints:
        model, checkpoint = load_classifier(ckpt)
        model.eval()
        datamodule = checkpoint_datamodule(checkpoint["hyper_parameters"], None, args.seed, None)
        datamodule.setup()
        for split in ("val", "test"):
            arrays = datamodule.data[split]
            x, y = torch.from_numpy(arrays.images).unsqueeze(1), torch.from_numpy(arrays.labels)
            with torch.inference_mode():
                for mode in args.modes:
                    scores[mode][split].append(float((predict(model, x, mode).argmax(1) == y).float().mean()))
    print(f"{len(checkpoints)} folds of {args.sweep}")
    for mode, s in scores.items():
        test = [100 * v for v in s["test"]]
        print(
            f"tta={mode:<6} val {100 * statistics.mean(s['val']):.2f}%  "
            f"test {statistics.mean(test):.2f} ± {statistics.stdev(test):.2f}%"
        )


if __name__ == "__main__":
    main()
