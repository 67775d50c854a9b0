"""Starting a run from another fer run (``init_from=<run>/checkpoints/best.ckpt``).

The network's weights carry over (the checkpoint's saved weights: the moving average where the
run kept one); so do the classifier rows of the classes both datasets share, matched by name
(fer/models/class_rows.py); the rows of new classes start at zero (uniform predictions among them),
and the source's other classes are dropped. A checkpoint of another architecture, input size
or input channels is refused, naming both. A PathNet checkpoint starts a new task: its best
path's modules are frozen and the others re-initialised (fer/models/pathnet.py). Chains
(FER2013 -> FER+ -> CK+) are repeated runs with ``init_from``; the strategy (``finetune=``) and
the rest of the recipe are this run's own.
"""

from __future__ import annotations

import logging
from pathlib import Path

from fer.models.class_rows import linear_head, rows, rows_by_name
from fer.models.classifier import EmotionClassifier
from fer.models.pathnet import PathNet
from fer.models.stages import head_names
from fer.run.checkpoint import read

log = logging.getLogger(__name__)
MUST_MATCH = ("name", "input_size", "in_chans", "kwargs")  # backbone keys that make the same network


def init_from(model: EmotionClassifier, path: str | Path) -> dict:
    """Load a fer checkpoint's weights into ``model``; returns the report for metrics.json ``weights``."""
    checkpoint = read(path, "init_from")
    source = checkpoint["hyper_parameters"]
    mine, theirs = model.hparams.backbone, source["backbone"]
    for key in MUST_MATCH:
        if mine[key] != theirs.get(key):
            raise ValueError(
                f"init_from={path}: its backbone.{key} is {theirs.get(key)!r}, this run's is {mine[key]!r}; "
                "a run starts from a checkpoint of the same network and input"
            )
    prefix = "net.backbone."
    state = {k[len(prefix) :]: v for k, v in checkpoint["state_dict"].items() if k.startswith(prefix)}
    backbone = model.net.backbone
    linear_head(backbone)  # rows can be carried by class only for a linear classifier
    weight_name, bias_name = sorted(head_names(backbone), key=lambda n: not n.endswith("weight"))
    picks = rows_by_name(source["classes"], model.classes)
    state[weight_name], state[bias_name] = rows(state[weight_name], state[bias_name], picks)
    own = backbone.state_dict()
    wrong = [k for k in state if k in own and state[k].shape != own[k].shape]
    if wrong:
        raise ValueError(f"init_from={path}: tensors of another shape for {wrong[:5]}")
    result = backbone.load_state_dict(state, strict=False)
    if result.missing_keys or result.unexpected_keys:  # the same network: every tensor, nothing else
        raise ValueError(
            f"init_from={path}: not the same network's weights: missing {sorted(result.missing_keys)[:10]}, "
            f"unexpected {sorted(result.unexpected_keys)[:10]}"
        )
    carried = [c for c, row in zip(model.classes, picks) if row is not None]
    report = {
        "source": f"init_from:{Path(path).resolve()}",
        "missing": sorted(result.missing_keys),
        "unexpected": sorted(result.unexpected_keys),
        "classes": {
            "carried": carried,
            "new": [c for c, row in zip(model.classes, picks) if row is None],
            "dropped": [
                c
                for c, row in zip(source["classes"], rows_by_name(model.classes, source["classes"]))
                if row is None
            ],
        },
    }
    log.info("init_from %s: classes carried %s, new %s, dropped %s", path, *report["classes"].values())
    if isinstance(backbone, PathNet):  # a new task: the source task's best path is frozen
        backbone.next_task()
        report["pathnet"] = {
            "tasks_before": len(backbone.task_paths),
            "frozen_modules": backbone.frozen_per_layer(),
        }
        frozen = report["pathnet"]["frozen_modules"]
        log.info("init_from %s: frozen PathNet modules per layer %s", path, frozen)
    return report
