"""Callbacks: the ``callbacks`` config's entries (conf/callbacks/) and what every run has
(:mod:`fer.callbacks.compose`): checkpoints, weight averaging (``ema``), PathNet's tournaments
(``pathnet_evolution``), staged unfreezing, the run's record (``run_record``), clip accuracy."""
