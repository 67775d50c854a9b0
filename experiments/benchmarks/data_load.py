"""Cold and warm load times of FER2013: from 35,887 JPEGs and from a 35,887-row CSV.

Cold = decode the source and write the cache; warm = read the cache (source unchanged).
The CSV is built from the image folder first (the full Kaggle CSV is not shipped), in
the original ``emotion,pixels,Usage`` format.

    python experiments/benchmarks/data_load.py [--root ../shared/data/fer2013]
"""

from __future__ import annotations

import argparse
import csv
import tempfile
import time
from pathlib import Path

from fer.data.registry import make_source

USAGE = {"train": "Training", "val": "PublicTest", "test": "PrivateTest"}


def timed_load(root: Path, cache_dir: Path) -> tuple[float, int]:
    start = time.perf_counter()
    arrays = make_source({"name": "fer2013", "root": str(root)}).read(str(cache_dir)).arrays
    return time.perf_counter() - start, len(arrays.images)


def write_csv(arrays, path: Path) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["emotion", "pixels", "Usage"])
        for image, label, split in zip(arrays.images, arrays.labels, arrays.splits):
            writer.writerow([int(label), " ".join(map(str, image.ravel().tolist())), USAGE[str(split)]])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--root",
        default=str(Path(__file__).resolve().parents[3] / "shared" / "data" / "fer2013"),
        help="FER2013 image folders (train/, test/)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        cold, n = timed_load(Path(args.root), tmp / "cache-images")
        warm, _ = timed_load(Path(args.root), tmp / "cache-images")
        print(f"images ({n} JPEGs): cold {cold:.2f} s, warm {warm:.2f} s")
        table = tmp / "fer2013.csv"
        write_csv(
            make_source({"name": "fer2013", "root": args.root}).read(str(tmp / "cache-images")).arrays, table
        )
        cold, n = timed_load(table, tmp / "cache-csv")
        warm, _ = timed_load(table, tmp / "cache-csv")
        print(f"csv ({n} rows, {table.stat().st_size / 1e6:.0f} MB): cold {cold:.2f} s, warm {warm:.2f} s")


if __name__ == "__main__":
    main()
