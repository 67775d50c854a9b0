"""The LightningDataModule every dataset subclasses.

A file-based subclass says which files make up the dataset (``source_files``) and how
to decode them into :class:`FaceArrays` (``decode``); the base caches the decoded
arrays, selects and orders classes, assigns splits by protocol, builds the transforms
and loaders, and describes all of it in a JSON-able report. Nothing is ever written
under ``data.root``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from pathlib import Path

import lightning as L
import numpy as np
import torch
from hydra.utils import get_class
from lightning.pytorch.overrides.distributed import UnrepeatedDistributedSampler
from torch.utils.data import ConcatDataset, DataLoader, Dataset

from fer.atomic import atomic_write_text
from fer.config import DataConfig, typed
from fer.data.arrays import FaceArrays, FaceDataset
from fer.data.cache import load_cached, save_cached, source_key
from fer.data.cleaning import clean
from fer.data.decode import DataError, Problems
from fer.data.device import DeviceLoader, device_augmentation
from fer.data.splits import assign
from fer.data.summary import duplicates_summary, split_counts, split_digest, subject_overlap
from fer.data.transforms import eval_transform, train_transform
from fer.labels import select_classes

SPLITS = ("train", "val", "test")


def build_datamodule(
    data: Mapping,
    input_size: int | None,
    augment: Sequence,
    seed: int,
    cache_dir: str | None,
    on_device: bool = False,
) -> FERDataModule:
    """A DataModule from a ``data`` config section (its ``_target_`` names the class); the class's own
    errors (a value out of bounds, a missing root) reach the caller as they are."""
    section = dict(data)
    cls = get_class(section.pop("_target_"))
    return cls(
        **section,
        input_size=input_size,
        augment=list(augment),
        seed=seed,
        cache_dir=cache_dir,
        on_device=on_device,
    )


class FERDataModule(L.LightningDataModule):
    """A dataset's DataModule. Keyword arguments are its ``data`` section, checked against ``schema``
    (fer/config.py: defaults filled in, unknown keys refused); the others come from the run."""

    name = "base"
    schema: type = DataConfig  # the dataclass of this dataset's config section
    expected = "the dataset's files"  # what data.root should hold, for error messages
    own_splits = "train/val/test"  # the source's split names, for the protocol note of reports
    accepts_file = False  # whether data.root may be a single file (a CSV) rather than a folder

    def __init__(
        self,
        *,
        input_size: int | None = None,
        augment: Sequence = (),
        seed: int = 0,
        cache_dir: str | None = None,
        on_device: bool = False,
        **section,
    ):
        super().__init__()
        cfg = typed(self.schema, section, "data.")
        self.cfg = cfg
        self.root = cfg["root"]
        self.requested_classes = cfg["classes"]
        self.protocol = {
            k: cfg[k] for k in ("protocol", "num_folds", "fold", "val_fraction", "test_fraction")
        } | {"seed": seed if cfg["split_seed"] is None else cfg["split_seed"]}
        self.strict = cfg["strict"]
        self.clean = cfg["clean"]
        self.image_size = cfg["image_size"]
        self.cache_dir = cache_dir
        self.batch_size = cfg["batch_size"]
        self.num_workers = cfg["num_workers"]
        self.input_size = self.image_size if input_size is None else input_size
        self.augment = list(augment)
        self.on_device = on_device  # batches built and augmented on the training device (fer/data/device.py)
        self._device_loaders: dict[str, DeviceLoader] = {}
        self.seed = seed
        self.classes: list[str] = []
        self.data: dict[str, FaceArrays] = {}
        self.skipped: list[dict] = []
        self.extra: dict = {}  # loader-specific facts for the report (e.g. face detection counts)
        self._report: dict = {}
        self._decoded: FaceArrays | None = None  # load()'s arrays, kept for setup() after select()

    # -- what a file-based dataset implements -------------------------------------------
    def source_files(self, root: Path) -> list[Path]:
        """Every file the dataset is decoded from (their sizes and times key the cache)."""
        raise NotImplementedError

    def decode(self, root: Path, files: list[Path], problems: Problems) -> FaceArrays:
        """Decode ``files`` into arrays; bad items go to ``problems``."""
        raise NotImplementedError

    def decode_settings(self) -> dict:
        """Settings that change the decoded arrays (part of the cache key)."""
        return {"image_size": self.image_size, "strict": self.strict}

    def cleans(self) -> bool:
        """Whether setup applies :func:`fer.data.cleaning.clean` (``data.clean``)."""
        return self.clean

    # -- shared machinery ---------------------------------------------------------------
    def resolve_root(self) -> Path:
        if self.root is None:
            raise DataError(f"data.root is not set: point it at {self.expected}")
        root = Path(self.root).expanduser()
        if not root.exists():
            raise DataError(f"data.root={root} does not exist (expected {self.expected})")
        if root.is_file() and not self.accepts_file:
            raise DataError(f"data.root={root} is a file; expected a folder: {self.expected}")
        return root

    def load(self) -> FaceArrays:
        """Decoded arrays from the cache when the source is unchanged, else decoded afresh."""
        root = self.resolve_root()
        files = self.source_files(root)
        if not files:
            raise DataError(f"data.root={root} holds no files of this dataset (expected {self.expected})")
        base = root if root.is_dir() else root.parent
        key = source_key(
            base, files, {"loader": type(self).__name__, **self.decode_settings()}, root.is_dir()
        )
        path = Path(self.cache_dir).expanduser() / f"{self.name}-{key}.npz" if self.cache_dir else None
        if path is not None and (hit := load_cached(path)) is not None:
            arrays, self.skipped, self.extra = hit
            return arrays
        problems = Problems(self.strict)
        arrays = self.decode(root, files, problems)
        self.skipped = problems.skipped
        if len(arrays.images) == 0:
            raise DataError(
                f"data.root={root}: no image could be loaded ({len(self.skipped)} skipped; expected "
                f"{self.expected})"
            )
        if path is not None:
            save_cached(path, arrays, self.skipped, self.extra)
        return arrays

    def setup(self, stage: str | None = None) -> None:
        if self.data:
            return
        arrays = self._decoded if self._decoded is not None else self.load()
        self._decoded = arrays
        cleaning = None
        if self.cleans():
            arrays, cleaning = clean(arrays)
        self.classes = select_classes(self.requested_classes, arrays.classes)
        arrays = arrays.select_classes(self.classes)
        p = self.protocol
        index, note = assign(
            arrays.labels,
            arrays.splits,
            arrays.subjects,
            p["protocol"],
            p["num_folds"],
            p["fold"],
            p["val_fraction"],
            p["test_fraction"],
            p["seed"],
            self.own_splits,
        )
        # val_fraction 0 asks for no validation split
        empty = [s for s in SPLITS if len(index[s]) == 0 and (s != "val" or p["val_fraction"] > 0)]
        if empty:
            raise DataError(
                f"{self.name}: split(s) {empty} are empty under protocol {p['protocol']}; check data.root, "
                "data.classes and the protocol"
            )
        self.data = {s: arrays.subset(index[s]) for s in SPLITS}
        split_of = np.empty(len(arrays.labels), dtype=object)
        for s in SPLITS:
            split_of[index[s]] = s
        self._report = {
            "dataset": self.name,
            "root": None if self.root is None else str(Path(self.root).expanduser().resolve()),
            "classes": self.classes,
            "num_images": int(sum(len(i) for i in index.values())),
            "splits": split_counts(arrays, index),
            "protocol": {**p, "note": note},
            "test_digest": split_digest(
                self.data["test"].files
            ),  # a checkpoint's test split, checked on reuse
            "num_subjects": None if arrays.subjects is None else int(len(np.unique(arrays.subjects))),
            "subject_overlap": subject_overlap(arrays, index),
            "image_shape": list(arrays.images.shape[1:]),
            "duplicates": duplicates_summary(arrays, split_of),
            "cleaning": cleaning,
            **self.extra,
            "num_skipped": len(self.skipped),
            "skipped": self.skipped,
        }

    def available_classes(self) -> list[str]:
        """The dataset's classes before any selection (decoded, or read from the cache, once)."""
        if self._decoded is None:
            self._decoded = self.load()
        return list(self._decoded.classes)

    def select(self, classes: Sequence[str]) -> None:
        """Use ``classes`` from now on; the next setup() splits again without decoding again."""
        self.requested_classes = list(classes)
        self.data = {}

    def hold_out(self, split: str, fraction: float, seed: int) -> None:
        """Move ``fraction`` of each training class (at least one image) into a split of its own,
        ``split``: data that training never sees but that is not the validation or test split."""
        self.setup()
        train = self.data["train"]
        rng = np.random.default_rng(seed)
        held = []
        for label in np.unique(train.labels):
            members = rng.permutation(np.flatnonzero(train.labels == label))
            held.append(members[: max(1, round(fraction * len(members)))])
        index = {split: np.sort(np.concatenate(held))}
        index["train"] = np.setdiff1d(np.arange(len(train.labels)), index[split])
        self.data |= {name: train.subset(rows) for name, rows in index.items()}
        self._report["splits"] |= split_counts(train, index)
        self._report["protocol"]["held_out"] = f"{split}: {fraction} of each training class (seed {seed})"

    def groups(self, split: str) -> list[str] | None:
        """The group of each image of ``split`` whose predictions a test also pools (a video's clip),
        in the order of its loader; None where images stand alone."""
        return None

    def report(self) -> dict:
        """What was loaded, how it was split, duplicates, and every skipped item."""
        self.setup()
        return self._report

    def save_splits(self, path: Path) -> None:
        """The split of every image (file, split, label), so a run's split can be checked or reused."""
        table = io.StringIO(newline="")
        writer = csv.writer(table)
        writer.writerow(["file", "split", "label"])
        for split, arrays in self.data.items():
            writer.writerows(
                (file, split, self.classes[label]) for file, label in zip(arrays.files, arrays.labels)
            )
        atomic_write_text(path, table.getvalue())

    @property
    def validates(self) -> bool:
        """Whether there is a validation split to score each epoch and choose checkpoints on."""
        self.setup()
        return len(self.data["val"].labels) > 0

    @property
    def native_size(self) -> int:
        return int(self.data["train"].images.shape[1])

    def dataset(self, split: str, augment: bool | None = None) -> Dataset:
        """The torch Dataset of one split (``all``: every split, never augmented); training
        augments unless told otherwise."""
        if split == "all":
            return ConcatDataset([self.dataset(s, augment=False) for s in SPLITS])
        augment = split == "train" if augment is None else augment
        if augment:
            transform = train_transform(self.augment, self.input_size, self.native_size)
        else:
            transform = eval_transform(self.input_size, self.native_size)
        return FaceDataset(self.data[split], transform)

    def loader(self, split: str) -> DataLoader:
        """The evaluation loader of ``test``, ``val`` or ``all`` (every image, in split order)."""
        return self._loader(split, shuffle=False)

    def _loader(self, split: str, shuffle: bool) -> DataLoader | DeviceLoader:
        if self.on_device:
            return self._device_loader(split, shuffle)
        dataset = self.dataset(split)
        sampler = None if shuffle else self._unrepeated_sampler(dataset)
        return DataLoader(
            dataset,
            batch_size=self.batch_size,
            shuffle=shuffle,
            sampler=sampler,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
            pin_memory=torch.cuda.is_available(),
            drop_last=shuffle and len(self.data[split].images) > self.batch_size,
        )

    def _device_loader(self, split: str, shuffle: bool) -> DeviceLoader:
        if split not in self._device_loaders:
            self._device_loaders[split] = DeviceLoader(
                self.data[split],
                self.batch_size,
                self.input_size,
                device=lambda: self.trainer.strategy.root_device if self.trainer else torch.device("cpu"),
                shuffle=shuffle,
                augment=device_augmentation(self.augment) if shuffle else None,
                seed=self.seed,
                shard=lambda: (self.trainer.global_rank, self.trainer.world_size) if self.trainer else (0, 1),
            )
        return self._device_loaders[split]

    def _unrepeated_sampler(self, dataset: Dataset) -> UnrepeatedDistributedSampler | None:
        """Under DDP, each validation and test image goes to exactly one process.

        Lightning's default sampler repeats a few images to even out the shares, and
        they would be counted twice in the metrics.
        """
        trainer = self.trainer
        if trainer is None or trainer.world_size == 1:
            return None
        return UnrepeatedDistributedSampler(
            dataset, num_replicas=trainer.world_size, rank=trainer.global_rank, shuffle=False
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False)
