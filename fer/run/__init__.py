"""What a run is made of and leaves behind: its config (config.py), the command line around it
(cli.py), checkpoints and how they are read (checkpoint.py, checkpoint_file.py), whole-file writes
(atomic.py), run folders (folders.py), provenance, loggers, sweeps, plots, and a checkpoint scored
again (evaluation.py)."""
