"""The configuration's one contract: where the YAML tree is, and the typed schema of every section.

Each dataclass below holds its section's defaults, one per field with its comment; a YAML
option (``conf/<group>/<option>.yaml``) names its schema in its defaults list and sets only
what it chooses. Hydra composes the YAML onto the schema, so a misspelt key or a value of
the wrong type stops the command with the key's name. Code that is handed a section by hand
(tests, old checkpoints) goes through :func:`typed`, which fills the same defaults and
refuses the same mistakes.
"""

from __future__ import annotations

import dataclasses
import difflib
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig, ListConfig, OmegaConf

from fer.data.registry import DATASETS

CONF_PATH = "pkg://fer.conf"  # the YAML tree, installed as the package fer.conf (pyproject.toml)
CONF_MODULE = "fer.conf"
TTA_MODES = ("none", "flip", "shift", "ten_crop")  # fer/models/tta.py
PRIORS = ("train", "uniform")  # class priors an evaluation assumes: EmotionClassifier.assume_uniform_prior


class ConfigValueError(ValueError):
    """A config value outside what its key accepts; the message names the key and what it accepts."""


def choice(default: Any, *options: Any) -> Any:
    """A field whose value must be one of ``options`` (null passes where the field is Optional)."""
    return field(default=default, metadata={"choices": options})


def bounded(default: Any, low=None, high=None, *, open_low=False, open_high=False) -> Any:
    """A numeric field within [low, high] (either None: unbounded on that side); ``open_low`` and
    ``open_high`` exclude the bound itself."""
    return field(default=default, metadata={"range": (low, high, open_low, open_high)})


def renamed(new: str) -> Any:
    """A key that was renamed: it stays in the schema so that Hydra accepts it, and setting it stops with
    an error naming ``new`` (README, "Renamed keys")."""
    return field(default=None, metadata={"renamed": new})


def out_of_range(value: float, low, high, open_low: bool, open_high: bool) -> str | None:
    """What ``value`` should have been, or None where it is in range."""
    if value != value:  # NaN
        return "a number"
    too_low = low is not None and (value <= low if open_low else value < low)
    too_high = high is not None and (value >= high if open_high else value > high)
    if not (too_low or too_high):
        return None
    left = "" if low is None else f"{'>' if open_low else '>='} {low}"
    right = "" if high is None else f"{'<' if open_high else '<='} {high}"
    return " and ".join(p for p in (left, right) if p)


def check(schema: type, values: Mapping, prefix: str = "") -> None:
    """Every value of ``values`` against its field's declared choices and range, nested sections
    included, then the schema's own cross-key ``rules``. A key the schema lacks (added with ``+``), or
    the first value out of bounds, raises :class:`ConfigValueError` naming the key."""
    hints = typing.get_type_hints(schema)
    names = [f.name for f in dataclasses.fields(schema)]
    for key in values:
        if key not in names:
            close = difflib.get_close_matches(str(key), names, n=1)
            hint = f"; did you mean {prefix}{close[0]}?" if close else f"; expected one of {', '.join(names)}"
            raise ConfigValueError(f"{prefix}{key} is not a key here{hint}")
    for f in dataclasses.fields(schema):
        if f.name not in values or values[f.name] is None:
            continue
        value, key = values[f.name], f"{prefix}{f.name}"
        if "renamed" in f.metadata:
            raise ConfigValueError(f"{key} was renamed: use {f.metadata['renamed']}")
        kind = hints[f.name]
        if dataclasses.is_dataclass(kind) and isinstance(value, Mapping):
            check(kind, value, f"{key}.")
        if "choices" in f.metadata and value not in f.metadata["choices"]:
            options = ", ".join(str(o) for o in f.metadata["choices"])
            raise ConfigValueError(f"{key}={value!r}: expected one of {options}")
        if "range" in f.metadata:
            for item in value if isinstance(value, (list, tuple, ListConfig)) else [value]:
                if (wanted := out_of_range(item, *f.metadata["range"])) is not None:
                    raise ConfigValueError(f"{key}={value!r}: expected {wanted}")
    for rule in getattr(schema, "rules", ()):
        if (problem := rule(values)) is not None:
            raise ConfigValueError(f"{prefix}{problem}")


def pathnet_depth(kwargs: Mapping, input_size: int) -> str | None:
    """What is wrong with a PathNet's depth (backbone.kwargs), or None: at least one layer, one width
    per layer, and on the face (no base network) a 2x2 pooling per layer that the input can afford."""
    layers, widths = kwargs.get("layers"), kwargs.get("widths")
    if layers is None or widths is None:
        return None
    if layers < 1:
        return f"kwargs.layers={layers}: expected >= 1"
    if len(widths) != layers:
        return f"kwargs.widths={list(widths)}: expected one width per layer (kwargs.layers={layers})"
    if kwargs.get("pool", True) and kwargs.get("base") is None and input_size < 2**layers:
        return (
            f"kwargs.layers={layers}: each layer halves the face, and input_size={input_size} affords "
            f"at most {max(0, input_size.bit_length() - 1)} layers"
        )
    return None


DATA_OPTIONS = tuple(DATASETS)  # the options of conf/data (tests/test_configs.py checks the list)


@dataclass
class DataConfig:
    """``data``: what every dataset takes (conf/data/)."""

    name: str = MISSING  # the dataset: one of fer/data/registry.py DATASETS (the options of conf/data/)
    _target_: Optional[str] = renamed("data.name (a dataset of fer/data/registry.py)")  # renamed: data.name
    root: Optional[str] = None  # where the dataset's files are (never written)
    # null = all the dataset's classes; or a list selecting and ordering them
    classes: Optional[list[str]] = None
    # official (the dataset's own split) | kfold (grouped by subject) | kfold_images (random folds over
    # images, subjects ignored: for image-level published figures) | loso (leave one subject out)
    protocol: str = choice("official", "official", "kfold", "kfold_images", "loso")
    num_folds: int = bounded(10, 2)  # folds of protocol=kfold and kfold_images
    fold: int = bounded(0, 0)  # which fold (or, for loso, which subject) is the test split
    # share of train (or of the training subjects) held out for validation; 0 = none: every non-test
    # image trains and the last epoch is kept (a refit, once the recipe was chosen with validation)
    val_fraction: float = bounded(0.1, 0, 1, open_high=True)
    # share held out for test where the source has no split at all
    test_fraction: float = bounded(0.2, 0, 1, open_low=True, open_high=True)
    split_seed: Optional[int] = None  # seeds the splits (null = the run seed); fixed: seeds vary, folds stay
    strict: bool = False  # true = stop at the first bad item; false = skip it and list it in the report
    # true = drop constant images, conflicting-label duplicate groups and duplicate copies
    clean: bool = False
    image_size: int = bounded(48, 8)  # side of the stored square grey images (FER2013's native size)
    batch_size: int = bounded(64, 1)  # images per training step
    num_workers: int = bounded(2, 0)  # dataloader worker processes (0 = load in the main process)

    rules = (
        lambda v: (
            f"fold={v['fold']}: expected < data.num_folds ({v['num_folds']})"
            if v.get("protocol") in ("kfold", "kfold_images") and v.get("fold", 0) >= v.get("num_folds", 10)
            else None
        ),
        lambda v: (
            f"val_fraction={v['val_fraction']} and test_fraction={v['test_fraction']}: together below 1"
            if v.get("val_fraction", 0.1) + v.get("test_fraction", 0.2) >= 1
            else None
        ),
    )


@dataclass
class SyntheticDataConfig(DataConfig):
    num_train: int = bounded(4900, 1)  # training images (balanced over the 7 FER2013 classes)
    num_val: int = bounded(700, 0)  # validation images
    num_test: int = bounded(1400, 1)  # test images
    data_seed: int = 0  # draws the same faces for the same seed on every machine


@dataclass
class FERPlusDataConfig(DataConfig):
    # path to fer2013new.csv (null = beside fer2013.csv or the three folders; with the folders it audits them)
    votes: Optional[str] = None
    # training labels: majority | plurality | probability | crossentropy (val and test: majority)
    label_scheme: str = choice("majority", "majority", "plurality", "probability", "crossentropy")


@dataclass
class FacesConfig:
    """``faces``: how faces are found and cropped, alike for full-frame datasets and for prediction."""

    # cnn (MTCNN, five landmarks; weights in the mtcnn wheel) | haar (OpenCV's cascade)
    detector: str = choice("cnn", "cnn", "haar")
    align: bool = True  # cnn: eyes levelled and the crop placed from the landmarks as FER2013 frames faces
    min_confidence: float = bounded(0.9, 0, 1)  # cnn: faces the last stage scores below this are dropped
    # smallest face side, as a fraction of the frame's shorter side
    min_size: float = bounded(0.08, 0, 1, open_low=True)
    max_side: int = bounded(480, 32)  # frames are scaled to this longer side for detection


@dataclass
class FullFrameDataConfig(DataConfig):
    """Datasets of whole photos, whose faces are detected and cropped."""

    # box crops (haar, or align off): the box grown by this fraction of its side per edge
    face_margin: float = bounded(0.15, 0, 1)
    faces: FacesConfig = field(default_factory=FacesConfig)  # detector and alignment


@dataclass
class CKPlusDataConfig(FullFrameDataConfig):
    # original release: last frames of each labelled sequence taken as its emotion
    peak_frames: int = bounded(3, 1)
    neutral_first_frame: bool = False  # original release: also take each sequence's first frame as neutral


@dataclass
class KDEFDataConfig(FullFrameDataConfig):
    angles: list[str] = field(default_factory=lambda: ["S"])  # poses to keep: any of FL HL S HR FR
    sessions: list[str] = field(default_factory=lambda: ["A", "B"])  # photo sessions to keep: A, B or both


@dataclass
class VideoDataConfig(FullFrameDataConfig):
    """Datasets of video clips: frames sampled per clip, faces detected and cropped."""

    frames_per_clip: int = bounded(5, 1)  # frames taken per clip, evenly spaced over its length


@dataclass
class BackboneConfig:
    """``backbone``: the network, its input and its weights (conf/backbone/)."""

    name: str = MISSING  # timm model name (fer_shallow_cnn is registered by fer.models.shallow_cnn)
    pretrained: bool = True  # ImageNet weights (from `weights`, else timm's hub); false = from scratch
    # null (timm's hub) | pkg:NAME (a weights package) | PATH (.pth/.safetensors)
    weights: Optional[str] = None
    # 3 = grey repeated to RGB (exact pretrained stem); 1 = summed stem kernels
    in_chans: int = choice(3, 1, 3)
    input_size: int = bounded(64, 16)  # stored faces are resized to this
    mean: Optional[list[float]] = None  # input mean (null = the timm model's pretrained_cfg)
    std: Optional[list[float]] = None  # input standard deviation (null = the timm model's pretrained_cfg)
    drop_rate: float = bounded(0.2, 0, 1, open_high=True)  # dropout before the classifier
    zero_head: bool = True  # a new classifier starts at zero: uniform first predictions
    kwargs: dict[str, Any] = field(default_factory=dict)  # extra arguments to timm.create_model

    rules = (
        lambda v: (
            pathnet_depth(v.get("kwargs") or {}, v.get("input_size", 64))
            if v.get("name") == "fer_pathnet"
            else None
        ),
    )


@dataclass
class FinetuneConfig:
    """``finetune``: which parameters train when (conf/finetune/, fer/training/finetune.py)."""

    # the strategy class (fer/training/finetune.py): conf/finetune/ options full | frozen (linear probe
    # on cached features) | staged (Akhand et al. 2021) | evolve (PathNet) name one each
    _target_: str = "fer.training.finetune.Full"
    # renamed: finetune=<option>
    strategy: Optional[str] = renamed("finetune=full|frozen|staged|evolve (its _target_ names the class)")
    # lr factor per stage below the head (1 = one lr for all)
    lr_decay: float = bounded(1.0, 0, 1, open_low=True)
    head_epochs: int = bounded(2, 0)  # staged: epochs that train the new head alone
    unfreeze_every: int = bounded(1, 1)  # staged: epochs between unfreezing one stage and the next one down
    population: int = bounded(64, 2)  # evolve: paths in the population (Fernando et al. 2017)
    # evolve: T, batches each path of a tournament trains before it is scored
    tournament_steps: int = bounded(50, 1)
    # evolve: tournaments before the run stops (null = trainer.max_epochs)
    generations: Optional[int] = bounded(None, 1)
    # evolve: share of each training class held out to score paths
    fitness_fraction: float = bounded(0.1, 0, 1, open_low=True, open_high=True)


def finetune_section(values: Mapping) -> dict:
    """A ``finetune`` section. One saved in a checkpoint before ``_target_`` named the class names
    its strategy by ``strategy``: full, frozen, staged or evolve (fer/training/finetune.py)."""
    values = dict(values)
    if values.get("strategy") is not None and "_target_" not in values:
        values["_target_"] = f"fer.training.finetune.{values.pop('strategy').capitalize()}"
    return values


@dataclass
class OptimConfig:
    """``optim``: optimizer and learning-rate schedule (conf/optim/)."""

    name: str = choice("adamw", "adamw", "sgd")  # adamw | sgd
    lr: float = bounded(0.001, 0, open_low=True)  # peak learning rate (of the head, when lr_decay < 1)
    weight_decay: float = bounded(0.05, 0)  # decoupled (AdamW) or L2 (SGD) decay; norms and biases get none
    betas: list[float] = field(default_factory=lambda: [0.9, 0.999])  # adamw: moment decay rates, in [0, 1)
    momentum: float = bounded(0.9, 0, 1, open_high=True)  # sgd: heavy-ball momentum
    nesterov: bool = True  # sgd: Nesterov's look-ahead variant
    fused: bool = False  # adamw: torch's fused kernel (one launch per step on a GPU)
    scheduler: str = choice("cosine", "cosine", "plateau", "constant")  # cosine | plateau | constant
    warmup_epochs: float = bounded(1.0, 0)  # cosine: linear warm-up length
    min_lr_ratio: float = bounded(0.01, 0, 1)  # cosine: final lr as a fraction of the peak
    # plateau: lr multiplier when val/acc stalls
    plateau_factor: float = bounded(0.5, 0, 1, open_low=True, open_high=True)
    plateau_patience: int = bounded(3, 0)  # plateau: epochs without improvement before that

    rules = (
        lambda v: (
            f"betas={list(v['betas'])}: expected two values, each >= 0 and < 1"
            if "betas" in v and (len(v["betas"]) != 2 or not all(0 <= b < 1 for b in v["betas"]))
            else None
        ),
    )


@dataclass
class LossConfig:
    """``loss``: the training objective."""

    label_smoothing: float = bounded(0.0, 0, 1, open_high=True)  # cross-entropy label smoothing (0 = none)
    mixup: float = bounded(0.0, 0)  # mixup Beta(alpha, alpha) parameter (0 = off)
    # CutMix Beta(alpha, alpha) parameter (0 = off; with mixup, one of the two per batch)
    cutmix: float = bounded(0.0, 0)
    # none | balanced (weights N / (K * count) from the training split)
    class_weights: str = choice("none", "none", "balanced")
    # a stronger fer checkpoint (same classes) whose soft targets are mixed in (fer/training/distill.py)
    distill_from: Optional[str] = None
    distill_weight: float = bounded(0.5, 0, 1)  # share of the teacher's probabilities in each training target
    # the teacher's softmax temperature (above 1: softer targets)
    distill_temperature: float = bounded(1.0, 0, open_low=True)


@dataclass
class AugmentConfig:
    """``augment``: training augmentations (conf/augment/)."""

    # albumentations transforms (_target_ + args), in order; kornia.augmentation ones when device is true
    transforms: list[Any] = field(default_factory=list)
    device: bool = False  # true: batches built and augmented on the training device (fer/data/device.py)


@dataclass
class PathsConfig:
    """``paths``: where things are (conf/paths/default.yaml chooses them)."""

    data_dir: str = MISSING  # parent folder of downloaded datasets
    log_dir: str = MISSING  # every run directory is created under here
    output_dir: str = MISSING  # this run's directory
    cache_dir: Optional[str] = MISSING  # decoded-dataset caches (null = no cache)


@dataclass
class TrainConfig:
    """``python -m fer.train`` (conf/train.yaml)."""

    task_name: str = "train"  # names the log folder: logs/<task_name>/...
    seed: int = 42  # seeds torch, numpy, python and dataloader workers
    # a checkpoint to continue (with hydra.run.dir=<its run dir> it finishes there)
    resume: Optional[str] = None
    # a fer checkpoint whose network starts this run; shared classes' rows carried by name
    # (fer/training/transfer.py)
    init_from: Optional[str] = None
    test: bool = True  # evaluate the best checkpoint on the test split after training
    channels_last: bool = True  # NHWC memory layout: faster convolutions on CPU and tensor cores
    compile: bool = False  # torch.compile the network (first_step_seconds in metrics.json includes compiling)
    # test-time augmentation: none | flip | shift | ten_crop (fer/models/tta.py)
    tta: str = choice("none", *TTA_MODES)
    tags: list[str] = field(default_factory=list)  # free-form labels, passed to W&B
    optimized_metric: str = "best/val/acc"  # what a sweeper (Optuna) gets back from each job: a metrics key
    loss: LossConfig = field(default_factory=LossConfig)  # the training objective
    data: Any = MISSING  # the dataset (its own schema comes with its option)
    backbone: BackboneConfig = MISSING  # the network
    finetune: FinetuneConfig = MISSING  # which parameters train when
    optim: OptimConfig = MISSING  # optimizer and schedule
    augment: AugmentConfig = MISSING  # training augmentations
    trainer: dict[str, Any] = MISSING  # lightning.Trainer arguments (Lightning names a wrong one)
    logger: Optional[dict[str, Any]] = None  # Lightning loggers by name
    # what runs alongside training: progress, then one entry per callback (_target_ + arguments, or null)
    callbacks: dict[str, Any] = MISSING
    paths: PathsConfig = MISSING  # data, log and cache folders

    rules = (lambda v: plateau_without_validation(v.get("optim"), v.get("data")),)


def plateau_without_validation(optim: Any, data: Any) -> str | None:
    """The plateau schedule watches val/acc, which a run without a validation split never has."""
    if not (isinstance(optim, Mapping) and isinstance(data, Mapping)):
        return None
    if optim.get("scheduler") == "plateau" and data.get("val_fraction") == 0:
        return (
            "optim.scheduler=plateau watches val/acc, and data.val_fraction=0 leaves no validation split: "
            "use cosine or constant"
        )
    return None


@dataclass
class EvalConfig:
    """``python -m fer.eval`` (conf/eval.yaml)."""

    task_name: str = "eval"  # names the log folder: logs/eval/...
    ckpt: str = MISSING  # a .ckpt written by fer.train
    # test | val (choose settings such as tta on val, report on test) | all (every image)
    split: str = choice("test", "test", "val", "all")
    tta: Optional[str] = choice(None, *TTA_MODES)  # null = the run's own; or none | flip | shift | ten_crop
    prior: str = choice("train", *PRIORS)  # train = as trained | uniform = every class equally likely
    seed: int = 42  # seeds evaluation-time randomness (none by default)
    data: Any = None  # null = the dataset stored in the checkpoint
    trainer: dict[str, Any] = MISSING  # lightning.Trainer arguments
    logger: Optional[dict[str, Any]] = None  # Lightning loggers by name
    paths: PathsConfig = MISSING  # log and cache folders


@dataclass
class CrossdataConfig:
    """``python -m fer.crossdata`` (conf/crossdata.yaml)."""

    ckpt: list[str] = MISSING  # source checkpoints written by fer.train
    targets: list[str] = MISSING  # target datasets: conf/data option names
    # data.root per target; null = the data option's own default root (under paths.data_dir)
    roots: dict[str, Optional[str]] = field(default_factory=lambda: dict.fromkeys(DATA_OPTIONS))
    tta: Optional[str] = choice(None, *TTA_MODES)  # null = each run's own; or none | flip | shift | ten_crop
    prior: str = choice("train", *PRIORS)  # train = as trained | uniform = every class equally likely
    seed: int = 42  # seeds the targets' split protocols
    output: str = MISSING  # the matrix files and one evaluation folder per cell
    trainer: dict[str, Any] = MISSING  # lightning.Trainer arguments
    paths: PathsConfig = MISSING  # data, log and cache folders


@dataclass
class EnsembleConfig:
    """``python -m fer.ensemble`` (conf/ensemble.yaml)."""

    ckpt: list[str] = MISSING  # the members: checkpoints written by fer.train (same classes where scored)
    split: str = choice("test", "test", "val", "all")  # test | val (choose members and tta on val) | all
    # null = each member's own; or none | flip | shift | ten_crop
    tta: Optional[str] = choice(None, *TTA_MODES)
    prior: str = choice("train", *PRIORS)  # train = as trained | uniform = every class equally likely
    seed: int = 42  # seeds the dataset's split protocol (as in training)
    # null = the dataset stored in the checkpoints; a dataset given here is scored on the classes
    # every member shares with it (members trained on other datasets and class lists may join)
    data: Any = None
    output: str = MISSING  # metrics.json and confusion_matrix.png
    paths: PathsConfig = MISSING  # log and cache folders


@dataclass
class PredictConfig:
    """``python -m fer.predict`` (conf/predict.yaml)."""

    task_name: str = "predict"  # names the output folder: logs/predict/...
    ckpt: str = MISSING  # a .ckpt from fer.train, or a .onnx from fer.export (run by ONNX Runtime)
    input: str = MISSING  # a photo, a folder of photos and videos, a video file, or webcam
    output: str = MISSING  # predictions.jsonl, summary.json and annotated copies go here
    annotate: bool = False  # also write the photos (.jpg) and videos (.mp4) with boxes and labels
    annotated_fps: float = bounded(25.0, 0, open_low=True)  # frame rate of annotated videos
    every: int = bounded(1, 1)  # video: classify every N-th frame (the others are skipped undecoded)
    batch_size: int = bounded(32, 1)  # faces classified per forward pass
    device: str = choice("cpu", "cpu", "cuda")  # cpu | cuda (checkpoints only)
    faces: FacesConfig = field(default_factory=FacesConfig)  # detector and alignment (as for datasets)
    # box crops: growth per edge (null = the training data's)
    face_margin: Optional[float] = bounded(None, 0, 1)
    # video: each tracked face's probabilities averaged over its last N frames (1 = off)
    smooth: int = bounded(1, 1)
    # video, cnn: whole-frame search every N frames, between them only around the faces
    search_every: int = bounded(1, 1)
    print: bool = True  # also print each JSON line to stdout
    paths: PathsConfig = MISSING  # log folder


@dataclass
class ExportConfig:
    """``python -m fer.export`` (conf/export.yaml)."""

    ckpt: str = MISSING  # a .ckpt written by fer.train
    format: str = choice("onnx", "onnx", "torchscript")  # onnx | torchscript
    output: Optional[str] = None  # file to write (null = beside the checkpoint, .onnx or .torchscript.pt)
    opset: int = bounded(17, 7)  # ONNX operator set version


# the attribution methods of fer/attribution/methods.py (tests/test_attribution.py checks the list)
ATTRIBUTION_METHODS = ("gradcam", "integrated_gradients", "saliency", "occlusion")


def known_methods(values: Mapping) -> str | None:
    unknown = [m for m in values.get("candidates") or () if m not in ATTRIBUTION_METHODS]
    if unknown:
        names = ", ".join(ATTRIBUTION_METHODS)
        return f"candidates={list(values['candidates'])}: {unknown} unknown (choices: {names})"
    return None


def one_model_for_photos(values: Mapping) -> str | None:
    ckpt = values.get("ckpt")
    if values.get("input") is not None and isinstance(ckpt, (list, tuple, ListConfig)) and len(ckpt) != 1:
        return f"ckpt: photos (input=) are explained by one model, {len(ckpt)} given (compare with split=)"
    return None


@dataclass
class ExplainConfig:
    """``python -m fer.explain`` (conf/explain.yaml)."""

    rules = (known_methods, one_model_for_photos)
    task_name: str = "explain"  # names the output folder: logs/explain/...
    # a .ckpt written by fer.train, or a list '[A,B]': the models side by side on the same faces
    ckpt: Any = MISSING
    input: Optional[str] = None  # a photo or a folder of photos: explain each face for its predicted class
    faces: FacesConfig = field(default_factory=FacesConfig)  # photo mode: detector and alignment
    # or train | val | test: regions, faithfulness and per-class maps over that split (true class)
    split: Optional[str] = choice(None, "train", "val", "test")
    # gradcam | integrated_gradients | saliency | occlusion, or auto: the candidate with the lowest
    # deletion area relative to random maps' on the val split
    method: str = choice("gradcam", "auto", *ATTRIBUTION_METHODS)
    # split mode: the methods measured by deletion and insertion (and the ones auto chooses among)
    candidates: list[str] = field(default_factory=lambda: list(ATTRIBUTION_METHODS))
    faithfulness: bool = True  # split mode: deletion and insertion curves of candidates and references
    steps: int = bounded(20, 2)  # points of each deletion and insertion curve after the first
    layer: Optional[str] = None  # Grad-CAM's module of the backbone (null = last stage at >= 1/16 resolution)
    max_images: int = bounded(2000, 1)  # split mode: at most this many faces, a seeded random sample
    choice_images: int = bounded(500, 1)  # method=auto: faces of the val split the method is chosen on
    # split mode: deletion and insertion on the first this many sampled faces (regions: on all of them)
    faithfulness_images: int = bounded(500, 1)
    batch_size: int = bounded(64, 1)  # faces per attribution pass
    seed: int = 42  # seeds the sample, the random maps and the dataset's split protocol
    output: str = MISSING  # figures, tables (csv and markdown), explain.json and per-face pictures
    wandb: bool = False  # also log the figures and tables to W&B (offline unless logged in)
    wandb_project: str = "fer"  # W&B project for those figures
    data: Any = None  # null = each checkpoint's own dataset (split mode)
    paths: PathsConfig = MISSING  # data, log and cache folders


@dataclass
class InspectDataConfig:
    """``python -m fer.data`` (conf/inspect_data.yaml)."""

    seed: int = 42  # seeds the split protocols
    data: Any = MISSING  # which dataset
    paths: PathsConfig = MISSING  # data and cache folders


SCHEMAS = {  # ConfigStore name -> schema; a YAML option names its schema in its defaults list
    "train_schema": TrainConfig,
    "eval_schema": EvalConfig,
    "predict_schema": PredictConfig,
    "crossdata_schema": CrossdataConfig,
    "ensemble_schema": EnsembleConfig,
    "export_schema": ExportConfig,
    "explain_schema": ExplainConfig,
    "inspect_data_schema": InspectDataConfig,
    "schema/data/base": DataConfig,
    "schema/data/synthetic": SyntheticDataConfig,
    "schema/data/ferplus": FERPlusDataConfig,
    "schema/data/full_frame": FullFrameDataConfig,
    "schema/data/ckplus": CKPlusDataConfig,
    "schema/data/kdef": KDEFDataConfig,
    "schema/data/video": VideoDataConfig,
    "schema/backbone": BackboneConfig,
    "schema/finetune": FinetuneConfig,
    "schema/optim": OptimConfig,
    "schema/augment": AugmentConfig,
    "schema/paths": PathsConfig,
}


def register() -> None:
    """Put every schema in Hydra's ConfigStore (done on import: entry points and tests import this module)."""
    store = ConfigStore.instance()
    for path, node in SCHEMAS.items():
        group, _, name = path.rpartition("/")
        store.store(group=group or None, name=name, node=node)


def compose_config(name: str, overrides: list[str], output_dir: str | Path | None = None) -> DictConfig:
    """A command's config (``conf/<name>.yaml``) composed with ``overrides`` as its entry point would see
    it, for code that calls a command's function in-process (tests, experiments/); ``output_dir`` stands in
    for the run folder Hydra makes."""
    from hydra import compose, initialize_config_module

    extra = [] if output_dir is None else [f"paths.output_dir={output_dir}"]
    with initialize_config_module(config_module=CONF_MODULE, version_base="1.3"):
        return compose(config_name=name, overrides=[*overrides, *extra])


def typed(schema: type, values: Mapping | DictConfig | None = None, prefix: str = "") -> dict:
    """``values`` checked against ``schema``, as plain containers with its defaults filled in.

    An unknown key, a value of the wrong type or out of bounds raises, naming the key (after ``prefix``).
    """
    node = OmegaConf.merge(OmegaConf.structured(schema), values or {})
    plain = OmegaConf.to_container(node, resolve=True)
    check(schema, plain, prefix)
    return plain


register()
