"""Compare two folders written by exactness.sh: test/acc, test/loss and history.csv of each run,
digit for digit.

    python experiments/benchmarks/exactness_compare.py BEFORE AFTER

Prints one row per run (both accuracies and losses, and whether history.csv is byte-identical)
and exits 1 when any run differs or is missing.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

RUNS = ("main_job", "fer2013_cnn_3ep", "ckplus_fold0_init", "pathnet_2ep", "distill_2ep")


def measured(run: Path) -> tuple[float, float, bytes] | None:
    if not (run / "metrics.json").exists():
        return None
    metrics = json.loads((run / "metrics.json").read_text())
    return metrics["test/acc"], metrics["test/loss"], (run / "history.csv").read_bytes()


def main(before: Path, after: Path) -> int:
    failures = 0
    print(f"{'run':<20} {'acc before':>12} {'acc after':>12} {'loss before':>14} {'loss after':>14}  history")
    for name in RUNS:
        a, b = measured(before / name), measured(after / name)
        if a is None or b is None:
            print(f"{name:<20} missing in {before if a is None else after}")
            failures += 1
            continue
        same = a == b
        failures += not same
        history = "identical" if a[2] == b[2] else "DIFFERS"
        print(f"{name:<20} {a[0]:>12.8f} {b[0]:>12.8f} {a[1]:>14.8f} {b[1]:>14.8f}  {history}")
    print("all five identical" if failures == 0 else f"{failures} run(s) differ or are missing")
    return int(failures > 0)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(main(Path(sys.argv[1]), Path(sys.argv[2])))
