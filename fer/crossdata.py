"""``python -m fer.crossdata 'ckpt=[A.ckpt,B.ckpt]' 'targets=[ckplus,kdef,jaffe,fer2013]'``: the
source x target matrix of accuracy and macro-F1.

Each checkpoint (a source) is scored on each target (a conf/data option; its root is
``roots.<target>``, else the option's own default under ``paths.data_dir``): on every image
of the target (``split=all``), on the classes both share (:mod:`fer.run.evaluation`), or on its
test split where the target is the source's own dataset. The output folder gets one
evaluation folder per cell (``<source>__<target>/metrics.json`` ...) and ``matrix.csv``,
``matrix.md``, ``matrix.png`` (heat-maps) and ``report.html``.
"""

from __future__ import annotations

import base64
import csv
import html
import logging
from pathlib import Path

import hydra
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from hydra import compose  # noqa: E402
from omegaconf import DictConfig, OmegaConf  # noqa: E402

from fer.data.decode import DataError  # noqa: E402
from fer.run.checkpoint import dataset_named, own_dataset, read  # noqa: E402
from fer.run.cli import command  # noqa: E402
from fer.run.config import CONF_PATH, DATA_OPTIONS, CrossdataConfig  # noqa: E402
from fer.run.evaluation import evaluate_checkpoint  # noqa: E402
from fer.run.plots import annotate_cells  # noqa: E402

log = logging.getLogger(__name__)
COLUMNS = [
    "source",
    "target",
    "split",
    "images",
    "accuracy",
    "macro_f1",
    "classes",
    "not_learned",
    "not_in_data",
]


def target_section(name: str, root: str | None) -> dict:
    """The composed ``data=<name>`` section, with ``data.root=<root>`` when given."""
    overrides = [f"data={name}"] + ([f"data.root={root}"] if root else [])
    return OmegaConf.to_container(compose(config_name="inspect_data", overrides=overrides).data, resolve=True)


def source_names(ckpts: list[Path]) -> list[str]:
    """A distinct name per checkpoint: its run's folder (``<run>/checkpoints/best.ckpt``), else the file's
    stem; where two would share one, the file's stem is added, then folders above, until none do."""

    def name(ckpt: Path, depth: int) -> str:
        run = ckpt.parent.parent if ckpt.parent.name == "checkpoints" else ckpt.parent
        base = run.name if ckpt.parent.name == "checkpoints" else ckpt.stem
        if depth == 0:
            return base
        above = "/".join(run.parts[-depth:-1]) if depth > 1 else ""
        return "/".join(p for p in (above, f"{base}-{ckpt.stem}") if p)

    resolved = [c.resolve() for c in ckpts]
    if len(set(resolved)) < len(resolved):
        raise ValueError(f"ckpt={[str(c) for c in ckpts]}: a checkpoint is listed twice")
    names = [name(c, 0) for c in resolved]
    for depth in range(1, max(len(c.parts) for c in resolved)):
        clashing = {n for n in names if names.count(n) > 1}
        if not clashing:
            break
        names = [name(c, depth) if n in clashing else n for c, n in zip(resolved, names)]
    return names


def targets(cfg: DictConfig) -> dict[str, dict]:
    """Each target's composed data section, all checked before the first cell is scored: a name that
    is not a conf/data option, or a root that does not exist, stops the command here."""
    unknown = [t for t in cfg.targets if t not in DATA_OPTIONS]
    if unknown:
        raise ValueError(
            f"targets={list(cfg.targets)}: {unknown} not among the datasets {list(DATA_OPTIONS)}"
        )
    sections = {t: target_section(t, cfg.roots.get(t)) for t in cfg.targets}
    for target, section in sections.items():
        root = section.get("root")
        if root is not None and not Path(root).expanduser().exists():
            raise DataError(f"roots.{target}={root} does not exist: set roots.{target}=PATH to the dataset")
    return sections


def crossdata(cfg: DictConfig) -> list[dict]:
    out = Path(cfg.output)
    ckpts = [Path(c) for c in cfg.ckpt]
    names = source_names(ckpts)
    sections = targets(cfg)
    rows = []
    for ckpt, source in zip(ckpts, names):
        checkpoint = read(ckpt)
        own = dataset_named(checkpoint["hyper_parameters"]["data"])
        for target, section in sections.items():
            split = "test" if own_dataset(checkpoint, section) else "all"
            if split == "test":  # the run's own split settings, at the root given here
                section = {**own, "root": section["root"] if cfg.roots.get(target) else own["root"]}
            metrics = evaluate_checkpoint(
                ckpt,
                out / f"{source.replace('/', '__')}__{target}",
                split,
                data=section,
                tta=cfg.tta,
                prior=cfg.prior,
                seed=cfg.seed,
                cache_dir=cfg.paths.cache_dir,
                trainer=OmegaConf.to_container(cfg.trainer, resolve=True),
                loggers=[],
            )
            rows.append(
                {
                    "source": source,
                    "target": target,
                    "split": split,
                    "images": int(np.sum(metrics["test/confusion_matrix"])),
                    "accuracy": round(100 * metrics["test/acc"], 2),
                    "macro_f1": round(100 * metrics["test/macro_f1"], 2),
                    "classes": " ".join(metrics["classes"]),
                    "not_learned": " ".join(metrics["classes_left_out"]["not_learned"]),
                    "not_in_data": " ".join(metrics["classes_left_out"]["not_in_data"]),
                }
            )
            write(rows, out)  # cell by cell: a later failure keeps what was finished
    return rows


def pivot(rows: list[dict], key: str) -> tuple[list[str], list[str], np.ndarray]:
    sources = list(dict.fromkeys(r["source"] for r in rows))
    targets = list(dict.fromkeys(r["target"] for r in rows))
    grid = np.full((len(sources), len(targets)), np.nan)
    for r in rows:
        grid[sources.index(r["source"]), targets.index(r["target"])] = r[key]
    return sources, targets, grid


def markdown(rows: list[dict]) -> str:
    parts = []
    for key, title in (("accuracy", "Accuracy (%)"), ("macro_f1", "Macro-F1 (%)")):
        sources, targets, grid = pivot(rows, key)
        lines = [f"**{title}**, rows: source checkpoint, columns: target dataset", ""]
        lines += ["| source | " + " | ".join(targets) + " |", "|---|" + "---|" * len(targets)]
        lines += [f"| {s} | " + " | ".join(f"{v:.2f}" for v in grid[i]) + " |" for i, s in enumerate(sources)]
        parts.append("\n".join(lines))
    note = "A target that is the source's own dataset is scored on its test split, the others on every image."
    return "\n\n".join(parts) + f"\n\n{note}\n"


def heatmaps(rows: list[dict], path: Path) -> None:
    fig, axes = plt.subplots(1, 2, figsize=(12, 2.4 + 0.8 * len({r["source"] for r in rows})), squeeze=False)
    for ax, (key, title) in zip(axes[0], (("accuracy", "accuracy (%)"), ("macro_f1", "macro-F1 (%)"))):
        sources, targets, grid = pivot(rows, key)
        ax.imshow(grid, cmap="Blues", vmin=0, vmax=100)
        annotate_cells(ax, grid, ".1f", 60)
        ax.set_xticks(range(len(targets)), targets)
        ax.set_yticks(range(len(sources)), sources, fontsize=8)
        ax.set_xlabel("target dataset")
        ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write(rows: list[dict], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "matrix.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    (out / "matrix.md").write_text(markdown(rows))
    heatmaps(rows, out / "matrix.png")
    image = base64.b64encode((out / "matrix.png").read_bytes()).decode()
    head = "".join(f"<th>{html.escape(c)}</th>" for c in COLUMNS)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(r[c]))}</td>" for c in COLUMNS) + "</tr>" for r in rows
    )
    (out / "report.html").write_text(
        '<!doctype html><html><head><meta charset="utf-8"><title>fer cross-dataset matrix</title>'
        "</head><body>"
        f"<h1>Cross-dataset matrix</h1><table border=1><tr>{head}</tr>{body}</table>"
        f'<img alt="matrix" src="data:image/png;base64,{image}"></body></html>\n'
    )


@hydra.main(version_base="1.3", config_path=CONF_PATH, config_name="crossdata")
def main(cfg: DictConfig) -> None:
    with command(cfg, CrossdataConfig):
        rows = crossdata(cfg)
    print(markdown(rows))
    log.info("wrote %s/matrix.csv, matrix.md, matrix.png and report.html", cfg.output)


if __name__ == "__main__":
    main()
