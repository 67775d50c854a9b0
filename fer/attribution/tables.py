"""The tables of an attribution study, as CSV files and as the Markdown that RESULTS.md quotes."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from fer.attribution.regions import REGIONS
from fer.run.atomic import atomic_write_text


def write_csv(path: Path, rows: list[dict]) -> None:
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: f"{v:.4f}" if isinstance(v, float) else v for k, v in row.items()} for row in rows)
    atomic_write_text(path, text.getvalue())


def faithfulness_markdown(rows: list[dict]) -> str:
    """Per model and method: map resolution, deletion and insertion areas (lower, higher are better)."""
    lines = [
        "| model | method | map resolution | faces | deletion area ↓ | vs random | insertion area ↑ "
        "| deletion (accuracy) | insertion (accuracy) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['model']} | {r['method']} | {r['resolution']} | {r['faces']} "
            f"| {r['deletion_area']:.3f} ± {r['deletion_std']:.3f} | {r['deletion_vs_random']:.2f} "
            f"| {r['insertion_area']:.3f} ± {r['insertion_std']:.3f} "
            f"| {r['deletion_acc_area']:.3f} | {r['insertion_acc_area']:.3f} |"
        )
    return "\n".join(lines)


def regions_markdown(rows: list[dict]) -> str:
    """One line per model and emotion: each region's share of positive mass, mean ± std over faces;
    the last line per model gives each region's share of the area."""
    header = "| model | emotion | faces | " + " | ".join(REGIONS) + " |"
    lines = [header, "|---|---|---|" + "---|" * len(REGIONS)]
    grouped: dict[tuple[str, str], dict[str, dict]] = {}
    for r in rows:
        grouped.setdefault((r["model"], r["emotion"]), {})[r["region"]] = r
    for (model, emotion), by_region in grouped.items():
        faces = next(iter(by_region.values()))["faces"]
        cells = [f"{by_region[g]['share']:.2f} ± {by_region[g]['share_std']:.2f}" for g in REGIONS]
        lines.append(f"| {model} | {emotion} | {faces} | " + " | ".join(cells) + " |")
        if emotion == "all":  # each model's last line
            area = [f"{by_region[g]['area_share']:.2f}" for g in REGIONS]
            lines.append(f"| {model} | *area of the crop* | | " + " | ".join(area) + " |")
    return "\n".join(lines)


def summary(
    split: str, faces: int, method: str, choice: list[dict], faithfulness: list[dict], shares: list[dict]
) -> str:
    """The study in Markdown: the choice on val (if made), faithfulness and region shares on ``split``."""
    parts = [f"# Attributions on {split}: {faces} faces, method {method}", ""]
    if choice:
        title = "## Method chosen on val: deletion area relative to random maps', lowest mean over models"
        parts += [title, "", faithfulness_markdown(choice), ""]
    if faithfulness:
        parts += [f"## Faithfulness on {split}", "", faithfulness_markdown(faithfulness), ""]
    parts += [f"## Share of positive mass per region ({method})", "", regions_markdown(shares), ""]
    return "\n".join(parts)
