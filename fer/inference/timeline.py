"""Per video, each tracked face's emotion probabilities over time: ``<video>_timeline.csv`` (one
row per face per classified frame) and ``<video>_timeline.png`` (one panel per face). A face's
lines break where it was missing from classified frames: no line is drawn through a gap."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

MAX_PANELS = 12  # the longest tracks are drawn; the CSV has them all


class Timelines:
    def __init__(self, folder: Path, classes: list[str]):
        self.folder = folder
        self.classes = classes
        self.rows: dict[str, list[dict]] = {}  # video -> rows, in frame order
        self.classified: dict[str, list[int]] = {}  # video -> every classified frame, face or not

    def add(self, source: str, fps: float | None, index: int, results: list[dict]) -> None:
        self.classified.setdefault(source, []).append(index)
        for r in results:
            if r["track"] is None:
                continue
            self.rows.setdefault(source, []).append(
                {
                    "frame": r["frame"],
                    "seconds": round(r["frame"] / fps, 3) if fps else "",
                    "track": r["track"],
                    "label": r["label"],
                    **r["probabilities"],
                }
            )

    def write(self) -> list[Path]:
        """The CSV and PNG of every video that had a face; their paths."""
        written = []
        for source, rows in self.rows.items():
            stem = self.folder / f"{Path(source).stem}_timeline"
            with open(stem.with_suffix(".csv"), "w", newline="") as f:
                writer = csv.DictWriter(f, ["frame", "seconds", "track", "label", *self.classes])
                writer.writeheader()
                writer.writerows(rows)
            self.plot(rows, self.classified[source], stem.with_suffix(".png"), Path(source).name)
            written += [stem.with_suffix(".csv"), stem.with_suffix(".png")]
        return written

    def plot(self, rows: list[dict], classified: list[int], path: Path, title: str) -> None:
        tracks: dict[int, list[dict]] = {}
        for row in rows:
            tracks.setdefault(row["track"], []).append(row)
        shown = sorted(tracks, key=lambda t: -len(tracks[t]))[:MAX_PANELS]
        seconds = all(row["seconds"] != "" for row in rows)
        fig, axes = plt.subplots(len(shown), 1, figsize=(10, 2.2 * len(shown)), sharex=True, squeeze=False)
        position = {frame: i for i, frame in enumerate(classified)}
        for ax, track in zip(axes[:, 0], sorted(shown)):
            points = with_gaps(tracks[track], position)
            x = [row["seconds"] if seconds else row["frame"] for row in points]
            for c in self.classes:
                ax.plot(x, [row[c] for row in points], label=c, lw=1.2)
            ax.set_ylim(0, 1)
            ax.set_ylabel(f"face {track}")
            ax.grid(alpha=0.3)
        axes[0, 0].legend(loc="upper right", ncol=min(len(self.classes), 7), fontsize=7)
        axes[0, 0].set_title(f"{title}: emotion probabilities per tracked face")
        axes[-1, 0].set_xlabel("seconds" if seconds else "frame")
        fig.tight_layout()
        fig.savefig(path, dpi=100)
        plt.close(fig)


def with_gaps(rows: list[dict], position: dict[int, int]) -> list[dict]:
    """A track's rows with a NaN row wherever classified frames passed without it (matplotlib breaks
    the line there)."""
    out: list[dict] = []
    for row in rows:
        if out and position[row["frame"]] - position[out[-1]["frame"]] > 1:
            out.append({k: (v if k in ("frame", "seconds") else math.nan) for k, v in row.items()})
        out.append(row)
    return out
