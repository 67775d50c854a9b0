"""PathNet (Fernando et al. 2017, arXiv 1701.08734) for faces, registered with timm as ``fer_pathnet``.

``layers`` layers of ``modules`` modules each; a path (its genotype, ``path``: ``layers x per_layer``
module indices) uses at most ``per_layer`` modules of each layer, whose outputs are summed; a
readout over the pooled last layer (a dense layer, then the classifier) is the task's head. The
modules are conv blocks on the face, or, with ``base`` (a fer checkpoint), small conv blocks over
the frozen feature map of that run's network: the meta-transfer setting of Nguyen et al. (2018,
arXiv 1805.09946).

Which path trains when is decided by evolution (:mod:`fer.callbacks.pathnet_evolution`). When a task
ends, :meth:`PathNet.next_task` freezes the modules of its best path (their weights never change
again), re-initialises every other module and records the path in
``task_paths``: a checkpoint holds the frozen set and each finished task's path.
"""

from __future__ import annotations

from collections.abc import Sequence

import timm
import torch
from timm.models import build_model_with_cfg, generate_default_cfgs, register_model
from torch import nn

import fer.models.shallow_cnn  # noqa: F401  (a base may be the shallow CNN: registers it with timm)
from fer.models.dense_head import DenseHead
from fer.run.checkpoint_file import read_checkpoint

GROUPS = 8  # group-norm groups per module layer (fewer where a module has fewer channels)


def _module(cin: int, cout: int, convs: int, pool: bool) -> nn.Sequential:
    """Conv-GroupNorm-ReLU layers (and 2x2 max-pooling). Group norm, not batch norm: a module is shared by
    paths that feed it different inputs, and running statistics would fit only the path trained last."""
    layers: list[nn.Module] = []
    for i in range(convs):
        conv = nn.Conv2d(cin if i == 0 else cout, cout, 3, padding=1, bias=False)
        layers += [conv, nn.GroupNorm(min(GROUPS, cout), cout), nn.ReLU()]
    return nn.Sequential(*layers, nn.MaxPool2d(2)) if pool else nn.Sequential(*layers)


def _reset(module: nn.Module) -> None:
    for m in module.modules():
        if hasattr(m, "reset_parameters"):
            m.reset_parameters()


def base_network(path: str) -> tuple[nn.Module, dict]:
    """The network of a fer checkpoint without its classifier, and its input settings."""
    checkpoint = read_checkpoint(path, "backbone.kwargs.base")
    backbone = checkpoint["hyper_parameters"]["backbone"]
    net = timm.create_model(
        backbone["name"], pretrained=False, num_classes=0, in_chans=backbone["in_chans"], **backbone["kwargs"]
    )
    prefix = "net.backbone."
    state = {k[len(prefix) :]: v for k, v in checkpoint["state_dict"].items() if k.startswith(prefix)}
    own = net.state_dict()
    missing = [k for k in own if k not in state]
    if missing:
        raise ValueError(f"backbone.kwargs.base={path}: the checkpoint lacks {missing[:5]}")
    net.load_state_dict({k: v for k, v in state.items() if k in own})
    return net, backbone


class PathNet(DenseHead):
    def __init__(
        self,
        num_classes: int = 7,
        in_chans: int = 1,
        layers: int = 4,  # L: layers of modules
        modules: int = 10,  # M: modules per layer
        per_layer: int = 3,  # N: at most this many modules of a layer on one path
        widths: Sequence[int] = (16, 32, 128, 256),  # output channels of each layer's modules
        convs: int = 1,  # conv-BN-ReLU layers per module
        pool: bool = True,  # 2x2 max-pooling after each module (conv blocks on the face)
        base: str | None = None,  # a fer checkpoint whose frozen network's feature map the modules read
        hidden: int = 256,  # width of a dense layer of the task's readout before its classifier (0 = none)
        drop_rate: float = 0.0,  # dropout before the readout
    ):
        super().__init__()
        if len(widths) != layers:
            raise ValueError(f"PathNet: widths {list(widths)} must give one width per layer ({layers})")
        if not 1 <= per_layer <= modules:
            raise ValueError(f"PathNet: per_layer={per_layer} must be between 1 and modules={modules}")
        self.in_chans = in_chans
        self.num_layers, self.num_modules, self.per_layer = layers, modules, per_layer
        self.drop_rate = drop_rate
        self.base = None
        cin = in_chans
        if base is not None:
            self.base, settings = base_network(base)
            if settings["in_chans"] != in_chans:
                raise ValueError(
                    f"PathNet: base {base} takes in_chans={settings['in_chans']}, "
                    f"backbone.in_chans is {in_chans}"
                )
            self.base_input = settings
            self.base.requires_grad_(False)
            cin = self.base.num_features
        chans = [cin, *widths]
        self.layers = nn.ModuleList(
            nn.ModuleList(_module(cin, cout, convs, pool) for _ in range(modules))
            for cin, cout in zip(chans, chans[1:])
        )
        self.register_buffer("path", torch.arange(per_layer).repeat(layers, 1))  # the path forward uses
        self.register_buffer("frozen", torch.zeros(layers, modules, dtype=torch.bool))
        self.register_buffer("task_paths", torch.zeros(0, layers, per_layer, dtype=torch.long))
        self.register_load_state_dict_post_hook(lambda module, keys: module.apply_frozen())
        self.init_head(widths[-1], hidden, num_classes, drop_rate)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        key = prefix + "task_paths"  # grows by one path per finished task
        if key in state_dict:
            self.task_paths = torch.empty_like(state_dict[key])
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    # -- paths ---------------------------------------------------------------------------
    def modules_of(self, path: torch.Tensor) -> list[list[int]]:
        """The distinct modules of each layer that ``path`` uses."""
        return [sorted(set(row)) for row in path.tolist()]

    def frozen_per_layer(self) -> list[list[int]]:
        """The frozen modules of each layer."""
        return [[m for m, frozen in enumerate(row) if frozen] for row in self.frozen.tolist()]

    def apply_frozen(self) -> None:
        """Frozen modules and the base get no gradients and stay in eval mode (statistics kept)."""
        for layer, row in zip(self.layers, self.frozen.tolist()):
            for module, frozen in zip(layer, row):
                module.requires_grad_(not frozen)
        self.train(self.training)

    def train(self, mode: bool = True) -> PathNet:
        super().train(mode)
        if self.base is not None:
            self.base.eval()
        for layer, row in zip(self.layers, self.frozen.tolist()):
            for module, frozen in zip(layer, row):
                if frozen:
                    module.eval()
        return self

    @torch.no_grad()
    def next_task(self) -> None:
        """End the task whose best path is ``path``: freeze its modules, re-initialise the others."""
        for i, modules in enumerate(self.modules_of(self.path)):
            self.frozen[i, modules] = True
        self.task_paths = torch.cat([self.task_paths, self.path[None].clone()])
        for layer, row in zip(self.layers, self.frozen.tolist()):
            for module, frozen in zip(layer, row):
                if not frozen:
                    _reset(module)
        self.apply_frozen()

    @torch.no_grad()
    def calibrate(self, batches) -> list[torch.Tensor]:
        """Set the readout's batch-norm statistics from ``batches`` (normalised inputs) seen through
        ``path``: every path trains the readout, so its running statistics fit none in particular.
        Returns each batch's pooled features, which ``forward_head`` takes as they are."""
        was_training = self.training
        self.eval()
        pooled = [self.global_pool(self.forward_features(x)) for x in batches]
        if len(self.pre_logits) > 1:  # a dense layer with its batch norm
            hidden = self.pre_logits[1](torch.cat(pooled).flatten(1))
            self.pre_logits[2].running_mean.copy_(hidden.mean(0))
            self.pre_logits[2].running_var.copy_(hidden.var(0))
        self.train(was_training)
        return pooled

    # -- timm's model contract ------------------------------------------------------------
    @torch.jit.ignore
    def group_matcher(self, coarse: bool = False) -> dict:
        return dict(stem=r"^(?:base|layers\.0)\.", blocks=r"^layers\.(\d+)")

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        if self.base is not None:
            x = self.base.forward_features(x)
        for layer, modules in zip(self.layers, self.modules_of(self.path)):
            x = sum(layer[m](x) for m in modules)
        return x


default_cfgs = generate_default_cfgs(
    {
        "fer_pathnet": {
            "input_size": (1, 48, 48),
            "mean": (0.5,),
            "std": (0.25,),
            "num_classes": 7,
            "first_conv": "layers.0",
            "classifier": "classifier",
            "license": "mit",
        }
    }
)


@register_model
def fer_pathnet(pretrained: bool = False, **kwargs) -> PathNet:
    model = build_model_with_cfg(PathNet, "fer_pathnet", pretrained, **kwargs)
    if model.base is not None:  # the base network's own input normalisation
        model.pretrained_cfg = {
            **model.pretrained_cfg,
            "mean": tuple(model.base_input["mean"] or model.base.pretrained_cfg["mean"]),
            "std": tuple(model.base_input["std"] or model.base.pretrained_cfg["std"]),
        }
    return model
