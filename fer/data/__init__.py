"""Datasets: each family's loader subclasses FERDataModule (fer/data/datamodule.py)."""
