"""Does alignment help the classifier? A FER2013-trained model scored on real full-frame faces
cropped three ways: Haar box, CNN box, CNN aligned on its landmarks.

Two sets: the KDEF sample photos as they are (upright, frontal), and the same photos each
turned by a seeded random angle in [-30, 30] degrees about the centre (on a canvas large
enough that nothing is cut off, edges replicated), the tilt a webcam or a phone photo gives.
Every face is scored with ``fer.eval ... split=all`` on the classes the model and KDEF share.

    python experiments/alignment_gain.py --ckpt RUN/checkpoints/best.ckpt [--kdef ../shared/data/kdef_sample]
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("WANDB_MODE", "disabled")

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from fer.run.config import compose_config  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]

PIPELINES = {  # name -> data.faces settings that differ from FacesConfig's defaults
    "haar box": {"detector": "haar"},
    "cnn box": {"detector": "cnn", "align": False},
    "cnn aligned": {"detector": "cnn", "align": True},
}


def tilt(source: Path, target: Path, seed: int) -> list[float]:
    """Each photo of ``source`` turned by a random angle into ``target``; the angles."""
    rng = np.random.default_rng(seed)
    target.mkdir(parents=True)
    angles = []
    for photo in sorted(source.glob("*.jpg")):
        image = cv2.imread(str(photo))
        h, w = image.shape[:2]
        image = cv2.copyMakeBorder(image, h // 4, h // 4, w // 4, w // 4, cv2.BORDER_REPLICATE)
        angle = float(rng.uniform(-30, 30))
        centre = (image.shape[1] / 2, image.shape[0] / 2)
        turned = cv2.warpAffine(
            image,
            cv2.getRotationMatrix2D(centre, angle, 1.0),
            image.shape[1::-1],
            borderMode=cv2.BORDER_REPLICATE,
        )
        cv2.imwrite(str(target / photo.name), turned, [cv2.IMWRITE_JPEG_QUALITY, 95])
        angles.append(angle)
    return angles


def score(ckpt: Path, root: Path, faces: dict, out: Path) -> dict:
    from fer.eval import evaluate

    overrides = [f"data.faces.{key}={str(value).lower()}" for key, value in faces.items()]
    cfg = compose_config(
        "eval",
        [f"ckpt={ckpt}", "data=kdef", f"data.root={root}", "split=all", "logger=none", "paths.cache_dir=null",
         *overrides],
        out,
    )  # fmt: skip
    return evaluate(cfg)


def faces_found(root: Path, faces: dict) -> int:
    """Photos of ``root`` where the pipeline finds a face (the others are cropped to the central square)."""
    from dataclasses import asdict

    from fer.faces.cropper import FaceCropper
    from fer.run.config import FacesConfig

    cropper = FaceCropper(48, 0.15, asdict(FacesConfig()) | faces)
    return sum(cropper(cv2.imread(str(p), cv2.IMREAD_GRAYSCALE))[1] for p in sorted(root.glob("*.jpg")))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ckpt", type=Path, required=True, help="a FER2013-trained fer checkpoint")
    parser.add_argument("--kdef", type=Path, default=ROOT.parent / "shared" / "data" / "kdef_sample")
    parser.add_argument("--seed", type=int, default=0, help="draws the tilts")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        angles = tilt(args.kdef, tmp / "tilted", args.seed)
        print(f"{len(angles)} KDEF photos; tilted set: mean |angle| {np.mean(np.abs(angles)):.1f} degrees")
        rows = []
        for set_name, root in (("upright", args.kdef), ("tilted", tmp / "tilted")):
            for name, faces in PIPELINES.items():
                m = score(args.ckpt, root, faces, tmp / f"{set_name}_{name.replace(' ', '_')}")
                rows.append((set_name, name, m, faces_found(root, faces)))
        print(f"| set | crop | accuracy | macro-F1 | faces found (of {len(angles)}) |")
        print("|---|---|---|---|---|")
        for set_name, name, m, found in rows:
            acc, f1 = 100 * m["test/acc"], 100 * m["test/macro_f1"]
            print(f"| {set_name} | {name} | {acc:.2f}% | {f1:.2f}% | {found} |")


if __name__ == "__main__":
    main()
