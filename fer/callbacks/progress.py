"""``PlainProgress``: one log line per epoch, for output that is not a terminal."""

from __future__ import annotations

import time

import lightning as L

from fer.callbacks.run_record import EPOCH_KEYS


class PlainProgress(L.Callback):
    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self._start = time.perf_counter()

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        if not trainer.is_global_zero:
            return
        metrics = trainer.callback_metrics
        values = "  ".join(f"{k} {float(metrics[k]):.4f}" for k in EPOCH_KEYS if k in metrics)
        print(
            f"epoch {trainer.current_epoch + 1}/{trainer.max_epochs}  {values}  "
            f"({time.perf_counter() - self._start:.1f}s)",
            flush=True,
        )

    def on_test_end(self, trainer, pl_module) -> None:
        if trainer.is_global_zero:
            metrics = trainer.callback_metrics
            print(
                "  ".join(f"{k} {float(v):.4f}" for k, v in sorted(metrics.items()) if k.startswith("test/")),
                flush=True,
            )
