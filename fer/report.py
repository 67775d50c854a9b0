"""``python -m fer.report DIR... [--out DIR]``: compare finished runs.

Each DIR is a run directory (it holds ``metrics.json``) or any folder above run
directories (a sweep, a task's ``runs/``): every finished run below it is taken. The
output folder receives
- ``report.csv`` and ``report.md``: one row per run in the shape of the source paper's
  comparison table (model, dataset, accuracy) plus macro-F1, parameters, training
  time, training images per second, test set, strategy, seed;
- ``seeds.csv`` and a second table in ``report.md``: runs whose composed configs differ only in
  ``seed`` pooled into one recipe, with mean ± sample standard deviation of accuracy and macro-F1;
- ``accuracy.png``: test accuracy and macro-F1 by run;
- ``confusion_matrices.png``: the runs' row-normalised confusion matrices in a grid;
- ``learning_curves.png``: every run's validation accuracy and loss, overlaid;
- ``report.html``: all of it in one self-contained file (pictures embedded).
"""

from __future__ import annotations

import argparse
import base64
import csv
import html
import json
import math
import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import yaml  # noqa: E402

from fer.run.plots import annotate_cells  # noqa: E402

COLUMNS = [
    "run",
    "model",
    "pretrained",
    "strategy",
    "dataset",
    "test set",
    "accuracy",
    "macro-F1",
    "parameters (M)",
    "train time (min)",
    "images/s",
    "epochs",
    "input",
    "tta",
    "seed",
]


SEED_COLUMNS = ["recipe", "runs", "seeds", "accuracy", "accuracy std", "macro-F1", "macro-F1 std"]
# keys that do not change what a run learns (where its logs go, how progress shows), left out of
# the recipe together with the seed that the recipe's runs are pooled over
NOT_RECIPE = ("seed", "logger", "callbacks.progress", "task_name", "tags")
PATH_KEYS = ("data.root", "data.votes", "init_from")  # may be given relative to where the run started


def find_runs(folders: list[Path]) -> list[Path]:
    """Run directories (with a metrics.json) at or below ``folders``, in path order, no repeats."""
    runs: list[Path] = []
    for folder in folders:
        if not folder.exists():
            raise FileNotFoundError(
                f"{folder}: no such folder (expected a run directory or a folder of runs)"
            )
        found = (
            [folder]
            if (folder / "metrics.json").is_file()
            else sorted(p.parent for p in folder.rglob("metrics.json"))
        )
        runs += [r for r in found if r not in runs]
    return runs


def _history(run: Path) -> list[dict]:
    path = run / "history.csv"
    if not path.is_file():
        return []
    with open(path, newline="") as f:
        return [
            {k: float(v) if v not in ("", None) else math.nan for k, v in row.items()}
            for row in csv.DictReader(f)
        ]


def _config(run: Path) -> dict:
    """The run's composed config (``.hydra/config.yaml``), where Hydra saved one."""
    path = run / ".hydra" / "config.yaml"
    return yaml.safe_load(path.read_text()) if path.is_file() else {}


def row(run: Path, base: Path) -> dict:
    """One table row from a run directory's metrics.json (and its data report and config)."""
    m = json.loads((run / "metrics.json").read_text())
    cfg = _config(run)
    seconds = m.get("train_seconds")
    images = m.get("train_images")
    if images is None and (run / "data_report.json").is_file():
        images = sum(json.loads((run / "data_report.json").read_text())["splits"]["train"].values())
    seen = m.get("train_images_seen") or (images * m["epochs"] if images else None)  # older runs: full epochs
    speed = seen / seconds if seen and seconds else None
    try:
        name = str(run.relative_to(base))
    except ValueError:
        name = run.name
    return {
        "run": name,
        "model": m.get("backbone"),
        "pretrained": m.get("pretrained", bool(m.get("weights"))),
        "strategy": m.get("strategy", cfg.get("finetune", {}).get("strategy")),
        "dataset": m.get("dataset"),
        "test set": m.get("test_split", ""),
        "accuracy": round(100 * m["test/acc"], 2),
        "macro-F1": round(100 * m["test/macro_f1"], 2),
        "parameters (M)": None if m.get("num_params") is None else round(m["num_params"] / 1e6, 2),
        "train time (min)": None if seconds is None else round(seconds / 60, 1),
        "images/s": None if speed is None else round(speed),
        "epochs": m.get("epochs"),
        "input": m.get("input_size", cfg.get("backbone", {}).get("input_size")),
        "tta": m.get("tta", cfg.get("tta")),
        "seed": m.get("seed"),
    }


def _flat(tree: dict, prefix: str = "") -> dict[str, str]:
    """Dotted keys to values (as YAML text) of a nested config."""
    flat: dict[str, str] = {}
    for key, value in tree.items():
        if isinstance(value, dict) and value:
            flat |= _flat(value, f"{prefix}{key}.")
        else:
            text = yaml.safe_dump(value, default_flow_style=True)
            flat[f"{prefix}{key}"] = text.strip().removesuffix("...").strip()  # a scalar's end mark
    return flat


def _started_in(run: Path) -> str | None:
    """The folder the run was started from (Hydra's ``runtime.cwd``), where Hydra saved it."""
    path = run / ".hydra" / "hydra.yaml"
    hydra = (yaml.safe_load(path.read_text()) or {}).get("hydra", {}) if path.is_file() else {}
    return hydra.get("runtime", {}).get("cwd")


def _absolute(value, cwd: str | None):
    """A path given relative to the run's starting folder, made absolute, so that ``../data`` and
    ``/work/data`` name one dataset."""
    if not isinstance(value, str) or os.path.isabs(value) or not cwd:
        return value
    return os.path.normpath(os.path.join(cwd, value))


def _recipe(run: Path) -> dict[str, str] | None:
    """The run's composed config without the seed and the keys in ``NOT_RECIPE``, its paths made
    absolute; None without one."""
    cfg = _config(run)
    if not cfg:
        return None
    cwd = _started_in(run)
    for key in PATH_KEYS:
        *parents, leaf = key.split(".")
        section = cfg
        for part in parents:
            section = section.get(part) if isinstance(section, dict) else None
        if isinstance(section, dict) and leaf in section:
            section[leaf] = _absolute(section[leaf], cwd)
    return {
        k: v for k, v in _flat(cfg).items() if not any(k == n or k.startswith(n + ".") for n in NOT_RECIPE)
    }


def _overrides(run: Path) -> list[str]:
    """The command-line overrides the run was started with (``.hydra/overrides.yaml``), less those
    of keys in ``NOT_RECIPE`` and Hydra's own; paths made absolute."""
    path = run / ".hydra" / "overrides.yaml"
    given = yaml.safe_load(path.read_text()) if path.is_file() else []
    keys = [o.split("=", 1)[0].lstrip("+~") for o in given]
    cwd = _started_in(run)
    return [
        f"{o.split('=', 1)[0]}={_absolute(o.split('=', 1)[1], cwd)}" if k in PATH_KEYS and "=" in o else o
        for o, k in zip(given, keys)
        if k not in NOT_RECIPE and not k.startswith("hydra.")
    ]


def seed_rows(runs: list[Path], rows: list[dict]) -> tuple[list[dict], list[str]]:
    """One row per recipe: the runs whose configs differ only in the seed, pooled; and the overrides
    every recipe shares. A recipe is named by the overrides of its first run that not every recipe
    shares (``the shared overrides`` where it has none of its own); a run without a saved config
    stays alone, named by its folder."""
    groups: dict[tuple, list[int]] = {}
    for i, recipe in enumerate(_recipe(run) for run in runs):
        key = ("run", i) if recipe is None else ("recipe", tuple(sorted(recipe.items())))
        groups.setdefault(key, []).append(i)
    given = {key: _overrides(runs[members[0]]) for key, members in groups.items() if key[0] == "recipe"}
    shared = set.intersection(*map(set, given.values())) if given else set()
    table = []
    for key, members in groups.items():
        if key[0] == "run":
            name = rows[members[0]]["run"]
        else:
            name = " ".join(o for o in given[key] if o not in shared) or "the shared overrides"
        accuracy = np.array([rows[i]["accuracy"] for i in members], float)
        f1 = np.array([rows[i]["macro-F1"] for i in members], float)
        spread = len(members) > 1
        table.append(
            {
                "recipe": name,
                "runs": len(members),
                "seeds": " ".join(str(rows[i]["seed"]) for i in members),
                "accuracy": round(float(accuracy.mean()), 2),
                "accuracy std": round(float(accuracy.std(ddof=1)), 2) if spread else None,
                "macro-F1": round(float(f1.mean()), 2),
                "macro-F1 std": round(float(f1.std(ddof=1)), 2) if spread else None,
            }
        )
    common = [o for o in next(iter(given.values()), []) if o in shared]
    return table, common


def _markdown(rows: list[dict], columns: list[str] = COLUMNS) -> str:
    cells = [[("" if r[c] is None else str(r[c])) for c in columns] for r in rows]
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(c) + " |" for c in cells]
    return "\n".join(lines) + "\n"


def plot_bars(rows: list[dict], path: Path) -> None:
    labels = [r["run"] for r in rows]
    x = np.arange(len(rows))
    fig, ax = plt.subplots(figsize=(max(6, 1.2 * len(rows) + 2), 4.5))
    ax.bar(x - 0.2, [r["accuracy"] for r in rows], 0.4, label="accuracy")
    ax.bar(x + 0.2, [r["macro-F1"] for r in rows], 0.4, label="macro-F1")
    for i, r in enumerate(rows):
        ax.text(i - 0.2, r["accuracy"] + 0.5, f"{r['accuracy']:.1f}", ha="center", fontsize=8)
    ax.set_xticks(x, labels, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("% on the test split")
    ax.set_ylim(0, 100)
    ax.legend()
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_confusions(runs: list[Path], rows: list[dict], path: Path) -> None:
    cols = min(3, len(runs))
    grid = math.ceil(len(runs) / cols)
    fig, axes = plt.subplots(grid, cols, figsize=(4.6 * cols, 4.4 * grid), squeeze=False)
    for ax in axes.ravel()[len(runs) :]:
        ax.axis("off")
    for ax, run, r in zip(axes.ravel(), runs, rows):
        m = json.loads((run / "metrics.json").read_text())
        counts = np.asarray(m["test/confusion_matrix"], float)
        norm = counts / np.maximum(counts.sum(1, keepdims=True), 1)
        classes = m["classes"]
        ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
        annotate_cells(ax, norm, ".2f", 0.5, fontsize=6)
        ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right", fontsize=7)
        ax.set_yticks(range(len(classes)), classes, fontsize=7)
        ax.set_title(f"{r['run']}\n{r['accuracy']:.1f}%", fontsize=8)
    fig.supxlabel("predicted")
    fig.supylabel("true")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_curves(runs: list[Path], rows: list[dict], path: Path) -> None:
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    for run, r in zip(runs, rows):
        history = _history(run)
        if not history:
            continue
        epochs = [h["epoch"] for h in history]
        for ax, key in zip(axes, ("val/acc", "val/loss")):
            ax.plot(epochs, [h.get(key, math.nan) for h in history], "-o", markersize=3, label=r["run"])
    for ax, title in zip(axes, ("validation accuracy", "validation loss")):
        ax.set_title(title)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _embed(path: Path) -> str:
    return (
        f'<img alt="{path.stem}" src="data:image/png;base64,{base64.b64encode(path.read_bytes()).decode()}">'
    )


def _html_table(rows: list[dict], columns: list[str]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join(
        "<tr>"
        + "".join(f"<td>{html.escape('' if r[c] is None else str(r[c]))}</td>" for c in columns)
        + "</tr>"
        for r in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def write_html(rows: list[dict], seeds: list[dict], out: Path) -> Path:
    page = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>fer report</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse;font-size:13px}}
td,th{{border:1px solid #ccc;padding:4px 8px;text-align:right}}
td:first-child,th:first-child{{text-align:left}}img{{max-width:100%}}</style>
</head><body>
<h1>fer report: {len(rows)} runs</h1>
<h2>Runs</h2>{_html_table(rows, COLUMNS)}
<h2>Runs pooled by recipe (configs equal but for the seed)</h2>{_html_table(seeds, SEED_COLUMNS)}
<h2>Accuracy</h2>{_embed(out / "accuracy.png")}
<h2>Confusion matrices (row-normalised)</h2>{_embed(out / "confusion_matrices.png")}
<h2>Learning curves</h2>{_embed(out / "learning_curves.png")}
</body></html>
"""
    path = out / "report.html"
    path.write_text(page)
    return path


def report(folders: list[str | Path], out: str | Path) -> dict:
    """Write the comparison of every run under ``folders`` into ``out``; returns the rows."""
    folders = [Path(f) for f in folders]
    runs = find_runs(folders)
    if not runs:
        raise FileNotFoundError(
            f"no finished run (a folder with metrics.json) under {[str(f) for f in folders]}"
        )
    base = folders[0] if len(folders) == 1 and folders[0] not in runs else Path.cwd()
    rows = [row(r, base) for r in runs]
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    seeds, common = seed_rows(runs, rows)
    for name, table, columns in (("report.csv", rows, COLUMNS), ("seeds.csv", seeds, SEED_COLUMNS)):
        with open(out / name, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=columns)
            writer.writeheader()
            writer.writerows(table)
    pooled = "Runs pooled by recipe (configs equal but for the seed); std: sample standard deviation"
    pooled += f". Shared overrides: {' '.join(common) or 'none'}"
    (out / "report.md").write_text(_markdown(rows) + f"\n{pooled}\n\n" + _markdown(seeds, SEED_COLUMNS))
    plot_bars(rows, out / "accuracy.png")
    plot_confusions(runs, rows, out / "confusion_matrices.png")
    plot_curves(runs, rows, out / "learning_curves.png")
    write_html(rows, seeds, out)
    return {"runs": [str(r) for r in runs], "rows": rows, "seeds": seeds, "common": common, "out": str(out)}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m fer.report", description="Compare finished fer runs.")
    parser.add_argument(
        "folders", nargs="+", type=Path, help="run directories, or folders holding them (a sweep)"
    )
    parser.add_argument("--out", type=Path, help="where to write the report (default: <first folder>/report)")
    args = parser.parse_args()
    result = report(args.folders, args.out or args.folders[0] / "report")
    print(_markdown(result["rows"]))
    print(f"shared overrides: {' '.join(result['common']) or 'none'}")
    print(_markdown(result["seeds"], SEED_COLUMNS))
    print(f"wrote {result['out']}/report.html, report.csv, report.md and the figures")


if __name__ == "__main__":
    main()
