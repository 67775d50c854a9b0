"""The figures a run leaves on disk: confusion matrix, learning curves and sample test predictions."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def annotate_cells(ax, values: np.ndarray, fmt: str, threshold: float, fontsize: float = 10) -> None:
    """Each cell's value written on a heat-map, white on the dark cells (above ``threshold``)."""
    for (i, j), value in np.ndenumerate(values):
        color = "white" if value > threshold else "black"
        ax.text(j, i, format(value, fmt), ha="center", va="center", fontsize=fontsize, color=color)


def _matrix_panel(ax, values: np.ndarray, classes: Sequence[str], title: str, fmt: str) -> None:
    ax.imshow(values, cmap="Blues", vmin=0, vmax=values.max() if values.max() > 0 else 1)
    ticks = np.arange(len(classes))
    ax.set_xticks(ticks, classes, rotation=45, ha="right")
    ax.set_yticks(ticks, classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    annotate_cells(ax, values, fmt, values.max() / 2 if values.max() > 0 else 1, fontsize=8)


def plot_confusion_matrix(
    matrix: Sequence[Sequence[int]], classes: Sequence[str], path: str | Path, title: str = ""
) -> None:
    """Counts and row-normalised (recall) panels side by side, rows = true class."""
    counts = np.asarray(matrix, dtype=np.int64)
    rows = counts.sum(1, keepdims=True)
    normalised = np.divide(counts, rows, out=np.zeros(counts.shape), where=rows > 0)
    side = 2.5 + 0.55 * len(classes)
    fig, axes = plt.subplots(1, 2, figsize=(2 * side, side))
    _matrix_panel(axes[0], counts, classes, "counts", "d")
    _matrix_panel(axes[1], normalised, classes, "row-normalised (recall)", ".2f")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_learning_curves(history: Sequence[dict], path: str | Path, title: str = "") -> None:
    """Loss and accuracy per epoch, train and val."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    epochs = [h["epoch"] for h in history]
    for ax, metric in zip(axes, ("loss", "acc")):
        for split, style in (("train", "-o"), ("val", "-s")):
            values = [h.get(f"{split}/{metric}") for h in history]
            if any(v is not None for v in values):
                ax.plot(
                    epochs, [np.nan if v is None else v for v in values], style, label=split, markersize=3
                )
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
        ax.legend()
    axes[0].set_title("loss")
    axes[1].set_title("accuracy")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_samples(samples: dict[str, Sequence[dict]], path: str | Path, title: str = "") -> None:
    """Test faces, wrong predictions first, each titled ``true -> predicted (confidence)``."""
    faces = [(s, kind) for kind in ("wrong", "right") for s in samples.get(kind, [])]
    if not faces:
        return
    cols = 8
    rows = -(-len(faces) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(1.6 * cols, 1.9 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, (s, kind) in zip(axes.flat, faces):
        ax.imshow(s["image"], cmap="gray", vmin=0, vmax=255)
        ax.set_title(
            f"{s['true']} -> {s['predicted']}\n({s['confidence']:.2f})",
            fontsize=7,
            color="tab:red" if kind == "wrong" else "tab:green",
        )
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_path(paths: Sequence[Sequence[Sequence[int]]], modules: int, path: str | Path) -> None:
    """PathNet's L x M grid once per task (``paths``: each task's modules per layer, this run's last):
    the task's path filled, modules frozen by an earlier task hatched."""
    layers = len(paths[0])
    fig, axes = plt.subplots(1, len(paths), figsize=(0.45 * modules * len(paths) + 1, 0.5 * layers + 1.2))
    for task, (ax, used) in enumerate(zip(np.atleast_1d(axes), paths)):
        for i in range(layers):
            for m in range(modules):
                earlier = any(m in p[i] for p in paths[:task])
                ax.add_patch(
                    plt.Rectangle(
                        (m, i),
                        0.9,
                        0.9,
                        facecolor="tab:blue" if m in used[i] else "white",
                        edgecolor="black",
                        hatch="//" if earlier else None,
                    )
                )
        ax.set_xlim(-0.1, modules)
        ax.set_ylim(layers, -0.1)
        ax.set_xticks(np.arange(modules) + 0.45, range(modules), fontsize=7)
        ax.set_yticks(np.arange(layers) + 0.45, [f"layer {i}" for i in range(layers)], fontsize=7)
        ax.set_aspect("equal")
        ax.set_title(f"task {task}" + (" (this run)" if task == len(paths) - 1 else ""), fontsize=9)
    fig.suptitle("filled: the task's path; hatched: frozen by an earlier task", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
