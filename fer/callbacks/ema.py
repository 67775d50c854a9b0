"""EMA of the weights that stays averaged when a checkpoint is tested after fit.

Lightning's ``EMAWeightAveraging`` saves the average as a checkpoint's ``state_dict`` and the
raw weights as ``current_model_state``. Its ``on_load_checkpoint`` reloads the raw weights
whenever its averaged copy exists, which is right for resuming a fit but not for
``trainer.test(ckpt_path="best")`` after one: that would test the raw weights while
validation, checkpoint selection and ``fer.eval`` all use the average.
"""

from __future__ import annotations

from typing import Any

import lightning as L
from lightning.pytorch.callbacks import EMAWeightAveraging
from lightning.pytorch.trainer.states import TrainerFn


class EMA(EMAWeightAveraging):
    """``EMAWeightAveraging`` that restores the raw weights only when a fit resumes."""

    def __init__(self, decay: float = 0.998, **kwargs):
        if not 0 < decay < 1:
            raise ValueError(f"callbacks.weight_averaging.decay={decay}: expected > 0 and < 1")
        super().__init__(decay=decay, **kwargs)

    def on_load_checkpoint(
        self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        if trainer.state.fn == TrainerFn.FITTING:
            super().on_load_checkpoint(trainer, pl_module, checkpoint)
