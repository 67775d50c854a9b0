"""Callbacks: the ``callbacks`` config's entries (conf/callbacks/) and what every run has
(:mod:`fer.callbacks.compose`). Checkpoints (``checkpoints``), weight averaging (``ema``), PathNet's
tournaments (``evolution``), staged unfreezing (``unfreezing``), the run's records (``run_report``)."""
