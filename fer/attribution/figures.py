"""The figures of an attribution study: deletion and insertion curves, and per-class mean maps with the
region outlines."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from fer.attribution import faithfulness, regions  # noqa: E402


def plot_curves(found: dict[str, dict[str, dict]], path: str | Path, title: str) -> None:
    """One row per model, deletion and insertion side by side: the mean probability of the true class
    against the fraction of pixels removed or revealed, each method's area in the legend."""
    fig, axes = plt.subplots(len(found), 2, figsize=(11, 3.6 * len(found)), squeeze=False)
    for row, (model, per_method) in zip(axes, found.items()):
        for ax, curve in zip(row, faithfulness.CURVES):
            for method, c in per_method.items():
                mean = c[curve].mean(0)
                style = "--" if method in ("random", "centre") else "-"
                fractions = np.linspace(0, 1, len(mean))
                ax.plot(fractions, mean, style, label=f"{method} ({faithfulness.area(mean):.3f})")
            ax.set_title(f"{model}: {curve}")
            ax.set_xlabel("fraction of pixels " + ("removed" if curve == "deletion" else "revealed"))
            ax.set_ylabel("p(true class)")
            ax.set_ylim(0, 1)
            ax.legend(fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_class_maps(
    panels: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]],
    emotions: Sequence[str],
    path: str | Path,
    title: str,
) -> None:
    """One row per model, one column per emotion: the mean map over the mean face, region outlines drawn.
    ``panels``: model -> (mean faces, mean maps, counts), each in ``emotions`` order."""
    fig, axes = plt.subplots(
        len(panels), len(emotions), figsize=(1.9 * len(emotions), 2.35 * len(panels)), squeeze=False
    )
    for row, (model, (faces, maps, counts)) in zip(axes, panels.items()):
        outlines = regions.masks(faces.shape[-1])[: len(regions.REGIONS) - 1]
        for ax, face, m, count, emotion in zip(row, faces, maps, counts, emotions):
            ax.imshow(face, cmap="gray", vmin=0, vmax=1)
            ax.imshow(m / max(m.max(), 1e-12), cmap="jet", alpha=0.45, vmin=0, vmax=1)
            for mask in outlines:
                ax.contour(mask.astype(float), levels=[0.5], colors="white", linewidths=0.7)
            ax.set_title(f"{emotion} (n={count})", fontsize=8)
            ax.set_xticks([])
            ax.set_yticks([])
        row[0].set_ylabel(model, fontsize=8)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
