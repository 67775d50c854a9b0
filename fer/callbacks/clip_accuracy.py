"""``test/clip_acc``: a video's frames vote for its clip (mean probability), beside frame accuracy."""

from __future__ import annotations

from collections.abc import Sequence

import lightning as L
import torch


def group_accuracy(probabilities: torch.Tensor, targets: torch.Tensor, groups: Sequence[str]) -> float:
    """Accuracy over groups of images (a video's clips): each group's mean probabilities against its
    label (a group's images share one)."""
    index = {g: i for i, g in enumerate(dict.fromkeys(groups))}
    ids = torch.tensor([index[g] for g in groups])
    summed = torch.zeros(len(index), probabilities.shape[1]).index_add_(0, ids, probabilities.float())
    labels = torch.zeros(len(index), dtype=torch.long).index_copy_(0, ids, targets)
    return float((summed.argmax(1) == labels).float().mean())


class ClipAccuracy(L.Callback):
    """Pools the test step's ``(probabilities, labels)`` by ``groups``, each test image's clip in the
    order of the test loader."""

    def __init__(self, groups: Sequence[str]):
        self.groups = list(groups)
        self.outputs: list[tuple[torch.Tensor, torch.Tensor]] = []

    def on_test_epoch_start(self, trainer, pl_module) -> None:
        self.outputs = []

    def on_test_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0) -> None:
        self.outputs.append(outputs)

    def on_test_epoch_end(self, trainer, pl_module) -> None:
        probabilities, labels = (torch.cat(t) for t in zip(*self.outputs))
        if len(labels) != len(self.groups):
            raise ValueError(f"{len(self.groups)} test groups for {len(labels)} test images")
        pl_module.log("test/clip_acc", group_accuracy(probabilities, labels, self.groups))
