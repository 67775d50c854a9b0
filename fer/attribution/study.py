"""Attributions over a split for one model or several side by side: the same faces, the same method.

Each model rebuilds its own run's split (checked as every command checks it, ``fer.run.checkpoint``), or
with ``data=`` that dataset over the classes it shares with the model. The faces studied are those in
every model's split whose emotion every model knows, a seeded sample of them, each shown to each model
at that model's input size. Per model and method, deletion and insertion curves are measured against
random maps and a centre prior on those faces; ``method=auto`` takes the method whose deletion area,
relative to random maps', is lowest on average over the models on the validation split, and the region
table and class maps use it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from fer.attribution import faithfulness, methods, regions
from fer.data.labels import canonical
from fer.data.pipeline import SPLITS
from fer.inference.runtime import TorchModel
from fer.run.checkpoint import own_dataset, read, shared_datamodule


@dataclass(frozen=True)
class Subject:
    """A model under study and its own dataset."""

    name: str  # a short label: the run folder's name
    ckpt: str
    net: nn.Module
    classes: list[str]
    input_size: int
    datamodule: object
    foreign: bool  # shown a dataset it never trained on: every one of its images is unseen


@dataclass(frozen=True)
class Faces:
    """The faces of one split as each model sees them."""

    split: str
    x: list[torch.Tensor]  # per model: float (N, 1, S, S) in [0, 1] at its input size
    targets: list[torch.Tensor]  # per model: the face's class among that model's classes
    emotions: list[str]  # per face: its emotion, canonical name
    left_out: int  # faces of the split whose emotion one of the models lacks, or not in every split

    def head(self, count: int) -> Faces:
        """The first ``count`` faces (the sample is in random order already)."""
        return Faces(
            self.split,
            [x[:count] for x in self.x],
            [t[:count] for t in self.targets],
            self.emotions[:count],
            self.left_out,
        )


def names(ckpts: list[str]) -> list[str]:
    """Labels for the models: the run folder's name (``.../RUN/checkpoints/best.ckpt``), made unique."""
    labels = []
    for ckpt in ckpts:
        path = Path(ckpt)
        run = path.parent.parent.name if path.parent.name == "checkpoints" else path.parent.name
        labels.append(run or path.stem)
    return [
        f"{label}/{Path(c).stem}" if labels.count(label) > 1 else label for label, c in zip(labels, ckpts)
    ]


def load(ckpts: list[str], data: dict | None, seed: int, cache_dir: str | None) -> list[Subject]:
    subjects = []
    for name, ckpt in zip(names(ckpts), ckpts):
        runtime = TorchModel.from_checkpoint(ckpt)
        checkpoint = read(ckpt)
        datamodule, _, _ = shared_datamodule(ckpt, checkpoint, data, seed, cache_dir, "test")
        foreign = not own_dataset(checkpoint, data)
        net = runtime.module.net.eval().requires_grad_(False)
        subjects.append(
            Subject(name, ckpt, net, list(runtime.classes), runtime.input_size, datamodule, foreign)
        )
    return subjects


def places(subject: Subject, splits: tuple[str, ...]) -> dict[str, tuple[str, int]]:
    """Each face of ``splits`` in the subject's data: its key (source file) -> (split, index)."""
    found = {}
    for split in splits:
        arrays = subject.datamodule.splits.arrays[split]
        keys = arrays.files or [f"{split}/{i}" for i in range(len(arrays.labels))]
        found |= {k: (split, i) for i, k in enumerate(keys)}
    return found


def shared_faces(subjects: list[Subject], split: str, count: int, seed: int) -> Faces:
    """A seeded sample of ``count`` faces of ``split`` whose emotion every model knows, and that no model
    trained on: in the split of every model trained on this dataset (the first such model's split gives
    the order), anywhere in it for the others."""
    reference = next((s for s in subjects if not s.foreign), subjects[0])
    arrays = reference.datamodule.splits.arrays[split]
    emotion = {
        k: canonical(arrays.classes[arrays.labels[i]]) for k, (_, i) in places(reference, (split,)).items()
    }
    where = [places(s, SPLITS if s.foreign and s is not reference else (split,)) for s in subjects]
    known = set.intersection(*({canonical(c) for c in s.classes} for s in subjects))
    common = [k for k in emotion if emotion[k] in known and all(k in w for w in where)]
    if not common:
        raise ValueError(
            f"split={split}: no face is in every model's split with an emotion every model knows "
            f"({', '.join(s.name for s in subjects)}); give data=NAME to show them all one dataset"
        )
    chosen = [common[i] for i in np.random.default_rng(seed).permutation(len(common))[:count]]
    emotions = [emotion[k] for k in chosen]
    xs, targets = [], []
    for s, w in zip(subjects, where):
        datasets = {name: s.datamodule.dataset(name, augment=False) for name in {w[k][0] for k in chosen}}
        xs.append(torch.stack([datasets[w[k][0]][w[k][1]][0] for k in chosen]).float().div_(255.0))
        rows = {canonical(c): i for i, c in enumerate(s.classes)}
        targets.append(torch.tensor([rows[e] for e in emotions]))
    return Faces(split, xs, targets, emotions, len(emotion) - len(common))


def maps_of(method, x: torch.Tensor, targets: torch.Tensor, batch: int) -> torch.Tensor:
    parts = [method(x[i : i + batch], targets[i : i + batch]) for i in range(0, len(x), batch)]
    return torch.cat(parts) if parts else x[:, 0]


def measure(
    subject: Subject,
    x: torch.Tensor,
    targets: torch.Tensor,
    measured: list[str],
    layer: str | None,
    steps: int,
    batch: int,
    seed: int,
) -> tuple[list[dict], dict[str, dict], dict[str, torch.Tensor]]:
    """Deletion and insertion curves of every face under each measured method, random maps and the
    centre prior: (table rows, curves per method, each measured method's maps)."""
    n, size = len(x), x.shape[-1]
    built = {name: methods.build(name, subject.net, layer) for name in measured}
    every = {name: maps_of(method, x, targets, batch) for name, method in built.items()}
    every |= {"random": methods.random_maps(n, size, seed), "centre": methods.centre_prior(n, size)}
    found = {}
    for name, m in every.items():
        parts = [
            faithfulness.curves(
                subject.net, x[i : i + batch], targets[i : i + batch], m[i : i + batch], steps, seed
            )
            for i in range(0, n, batch)
        ]
        found[name] = {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
    resolutions = {name: method.resolution(size) for name, method in built.items()}
    maps = {name: every[name] for name in measured}
    return faithfulness_rows(subject.name, found, resolutions), found, maps


def faithfulness_rows(model: str, found: dict[str, dict], resolutions: dict[str, str]) -> list[dict]:
    """One row per method and reference: the mean deletion and insertion areas of the true class's
    probability (± std over faces), the areas of the accuracy curves, and the deletion area relative to
    random maps'."""
    random_deletion = faithfulness.area(found["random"]["deletion"]).mean()
    rows = []
    for name, c in found.items():
        deletion, insertion = faithfulness.area(c["deletion"]), faithfulness.area(c["insertion"])
        rows.append(
            {
                "model": model,
                "method": name,
                "resolution": resolutions.get(name, "reference"),
                "faces": len(deletion),
                "deletion_area": float(deletion.mean()),
                "deletion_std": float(deletion.std(ddof=1)) if len(deletion) > 1 else 0.0,
                "insertion_area": float(insertion.mean()),
                "insertion_std": float(insertion.std(ddof=1)) if len(insertion) > 1 else 0.0,
                "deletion_acc_area": float(faithfulness.area(c["deletion_correct"].mean(0))),
                "insertion_acc_area": float(faithfulness.area(c["insertion_correct"].mean(0))),
                "deletion_vs_random": float(deletion.mean() / random_deletion)
                if random_deletion > 0
                else np.nan,
            }
        )
    return rows


def chosen_method(rows: list[dict], candidates: list[str]) -> str:
    """The candidate whose deletion area relative to random maps' is lowest, averaged over the models."""
    ratio = {m: np.mean([r["deletion_vs_random"] for r in rows if r["method"] == m]) for m in candidates}
    return min(candidates, key=lambda m: ratio[m])


def region_rows(subject: Subject, maps: np.ndarray, emotions: list[str]) -> list[dict]:
    """Per emotion (and over all faces), each region's share of positive mass: mean ± std over faces."""
    shares = regions.mass_shares(maps)
    area = regions.area_shares(maps.shape[-1])
    emotions = np.array(emotions)
    rows = []
    for emotion in [*dict.fromkeys(c for c in map(canonical, subject.classes) if c in set(emotions)), "all"]:
        chosen = shares[emotions == emotion] if emotion != "all" else shares
        chosen = chosen[~np.isnan(chosen).any(1)]
        for r, region in enumerate(regions.REGIONS):
            rows.append(
                {
                    "model": subject.name,
                    "emotion": emotion,
                    "region": region,
                    "faces": len(chosen),
                    "share": float(chosen[:, r].mean()) if len(chosen) else np.nan,
                    "share_std": float(chosen[:, r].std(ddof=1)) if len(chosen) > 1 else np.nan,
                    "area_share": float(area[r]),
                }
            )
    return rows


def unit_peak(maps: np.ndarray) -> np.ndarray:
    """Each map's positive part scaled to a peak of 1."""
    positive = np.clip(maps, 0, None)
    return positive / np.maximum(positive.reshape(len(maps), -1).max(1), 1e-12)[:, None, None]


def class_means(
    x: torch.Tensor, maps: np.ndarray, emotions: list[str], order: list[str]
) -> tuple[np.ndarray, ...]:
    """Per emotion in ``order``: the mean face, the mean map (each face's map scaled to peak 1), the count."""
    emotions = np.array(emotions)
    faces = x[:, 0].numpy()
    scaled = unit_peak(maps)
    mean_faces = np.stack([faces[emotions == e].mean(0) for e in order])
    mean_maps = np.stack([scaled[emotions == e].mean(0) for e in order])
    return mean_faces, mean_maps, np.array([(emotions == e).sum() for e in order])


def accuracy(subject: Subject, x: torch.Tensor, targets: torch.Tensor, batch: int) -> float:
    with torch.no_grad():
        predicted = torch.cat([subject.net(x[i : i + batch]).argmax(1) for i in range(0, len(x), batch)])
    return float((predicted == targets).float().mean())
