"""Where FER2013's faces have their five landmarks: the template that aligned crops are placed by.

Runs the CNN detector on FER2013 training faces (each 48x48 face enlarged four times and set on a
grey border, so that the detector sees a whole face) and prints the median position of each
landmark as a fraction of the face's side, made left-right symmetric (the mirrored template
averaged with itself), in the form ``fer/faces/align.py`` holds it.

    python experiments/face_template.py [--root ../shared/data/fer2013] [--count 1500]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from fer.faces.mtcnn import MTCNNDetector

ZOOM, BORDER = 4, 96  # enlargement of a 48-px face and the grey border around it, in enlarged pixels


def landmarks(detector: MTCNNDetector, face: np.ndarray) -> np.ndarray | None:
    """The five landmarks of the detected face as fractions of the 48-px side, or None."""
    big = cv2.resize(face, None, fx=ZOOM, fy=ZOOM, interpolation=cv2.INTER_CUBIC)
    framed = cv2.copyMakeBorder(big, BORDER, BORDER, BORDER, BORDER, cv2.BORDER_CONSTANT, value=128)
    found = detector.detect(framed)
    if not found:
        return None
    return (found[0].landmarks - BORDER) / (ZOOM * face.shape[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--root", type=Path, default=Path("../shared/data/fer2013"), help="FER2013 image folders"
    )
    parser.add_argument("--count", type=int, default=1500, help="training faces sampled (seeded)")
    args = parser.parse_args()
    files = sorted((args.root / "train").glob("*/*.jpg"))
    if not files:
        raise SystemExit(f"no FER2013 training images under {args.root / 'train'}")
    chosen = np.random.default_rng(0).choice(len(files), min(args.count, len(files)), replace=False)
    detector = MTCNNDetector(min_confidence=0.95, min_size=0.2, max_side=1000)
    points = [
        p
        for i in chosen
        if (p := landmarks(detector, cv2.imread(str(files[i]), cv2.IMREAD_GRAYSCALE))) is not None
    ]
    points = np.stack(points)
    median = np.median(points, 0)
    mirrored = median[[1, 0, 2, 4, 3]] * [-1, 1] + [1, 0]  # left and right swapped, x reflected
    template = (median + mirrored) / 2
    print(f"faces with landmarks: {len(points)} of {len(chosen)} sampled FER2013 training faces")
    print("median (x, y) as fractions of the side, before symmetrising:", np.round(median, 4).tolist())
    print(
        "spread (interquartile range, mean over points):",
        np.round(np.subtract(*np.percentile(points, [75, 25], 0)).mean(0), 4).tolist(),
    )
    print("TEMPLATE = np.array(" + str(np.round(template, 4).tolist()) + ")")


if __name__ == "__main__":
    main()
