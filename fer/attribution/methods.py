"""Attribution methods behind one name each (``method=``), all computed with Captum, and the two
reference maps they are tested against.

A method maps a batch of faces (float ``(B, 1, S, S)`` in [0, 1], as ``EmotionNet`` takes them) and
their target classes to signed maps ``(B, S, S)`` at the input's size; positive values speak for the
target. ``resolution`` says which grid the map really resolves: Grad-CAM's is its layer's (upsampled
to the face), occlusion's is its window stride, the gradient methods' is the input's.

Removing a pixel means one thing everywhere (occlusion's fill, integrated gradients' baseline and the
deletion test of :mod:`fer.attribution.faithfulness`): the pixel takes the value of the same face
blurred (:func:`blurred`), a face with its features smoothed away rather than a black hole that no
training face had.
"""

from __future__ import annotations

import math

import torch
from captum import attr
from torch import nn
from torchvision.transforms.functional import gaussian_blur


def blurred(x: torch.Tensor) -> torch.Tensor:
    """The faces with their features smoothed away: a Gaussian blur of sigma 1/12 of the side."""
    sigma = x.shape[-1] / 12
    kernel = 2 * math.ceil(3 * sigma) + 1
    return gaussian_blur(x, [kernel, kernel], [sigma, sigma])


def target_layer(backbone: nn.Module, name: str | None = None) -> tuple[str, nn.Module]:
    """Grad-CAM's layer: ``name``, else the last feature stage at >= 1/16 resolution, else the last
    convolution."""
    if name:
        try:
            return name, backbone.get_submodule(name)
        except AttributeError:
            raise ValueError(f"layer={name}: {type(backbone).__name__} has no module of that name") from None
    info = getattr(backbone, "feature_info", None)
    if info:
        stages = [i for i in info if i["reduction"] <= 16] or list(info)
        chosen = stages[-1]["module"]
        return chosen, backbone.get_submodule(chosen)
    convs = [(n, m) for n, m in backbone.named_modules() if isinstance(m, nn.Conv2d)]
    return convs[-1]


class GradCam:
    """Grad-CAM (Selvaraju et al. 2017): a layer's activations weighed by the pooled gradient of the
    class score, rectified and upsampled bilinearly to the face."""

    name = "gradcam"

    def __init__(self, net: nn.Module, layer: str | None = None):
        self.net = net
        self.layer_name, self.layer = target_layer(net.backbone, layer)

    def __call__(self, x: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        cam = attr.LayerGradCam(self.net, self.layer).attribute(x, target=targets, relu_attributions=True)
        return attr.LayerAttribution.interpolate(
            cam.detach(), tuple(x.shape[-2:]), interpolate_mode="bilinear"
        )[:, 0]

    def resolution(self, size: int) -> str:
        shapes = []
        handle = self.layer.register_forward_hook(lambda m, i, o: shapes.append(tuple(o.shape[-2:])))
        with torch.no_grad():
            self.net(torch.zeros(1, 1, size, size))
        handle.remove()
        h, w = shapes[0]
        return f"{h}x{w} (layer {self.layer_name}), upsampled to {size}x{size}"


class Integrated:
    """Integrated gradients (Sundararajan et al. 2017) from the blurred face to the face, 32 steps."""

    name = "integrated_gradients"

    def __init__(self, net: nn.Module, layer: str | None = None, steps: int = 32):
        self.method = attr.IntegratedGradients(net)
        self.steps = steps

    def __call__(self, x: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        maps = self.method.attribute(
            x, baselines=blurred(x), target=targets, n_steps=self.steps, internal_batch_size=len(x) * 8
        )
        return maps.detach()[:, 0]

    def resolution(self, size: int) -> str:
        return f"{size}x{size} (the input)"


class Gradient:
    """Saliency (Simonyan et al. 2014): the magnitude of the class score's gradient at each pixel."""

    name = "saliency"

    def __init__(self, net: nn.Module, layer: str | None = None):
        self.method = attr.Saliency(net)

    def __call__(self, x: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return self.method.attribute(x, target=targets, abs=True).detach()[:, 0]

    def resolution(self, size: int) -> str:
        return f"{size}x{size} (the input)"


class Occluding:
    """Occlusion (Zeiler and Fergus 2014): the drop in the class score when a square window, 1/8 of the
    side, is blurred, the window moved by half its width; each pixel gets the mean over the windows on it."""

    name = "occlusion"

    def __init__(self, net: nn.Module, layer: str | None = None):
        self.method = attr.Occlusion(net)

    @staticmethod
    def window(size: int) -> tuple[int, int]:
        side = max(2, round(size / 8))
        return side, max(1, side // 2)

    def __call__(self, x: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        side, stride = self.window(x.shape[-1])
        maps = self.method.attribute(
            x,
            sliding_window_shapes=(1, side, side),
            strides=(1, stride, stride),
            baselines=blurred(x),
            target=targets,
            perturbations_per_eval=16,
        )
        return maps.detach()[:, 0]

    def resolution(self, size: int) -> str:
        side, stride = self.window(size)
        steps = (size - side) // stride + 1
        return f"{steps}x{steps} windows of {side}x{side} px, stride {stride}"


METHODS = {m.name: m for m in (GradCam, Integrated, Gradient, Occluding)}


def build(name: str, net: nn.Module, layer: str | None = None):
    """The method called ``name`` on ``net``; ``layer`` is Grad-CAM's (the others ignore it)."""
    if name not in METHODS:
        raise ValueError(f"method={name}: no such attribution method (choices: {', '.join(METHODS)})")
    return METHODS[name](net, layer)


def random_maps(count: int, size: int, seed: int) -> torch.Tensor:
    """The reference a method must beat: every pixel's rank drawn at random."""
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(count, size, size, generator=generator)


def centre_prior(count: int, size: int) -> torch.Tensor:
    """The reference that knows only where faces are: a Gaussian on the crop's centre, sigma 1/4 side."""
    axis = (torch.arange(size) + 0.5) / size - 0.5
    bump = torch.exp(-(axis[:, None] ** 2 + axis[None, :] ** 2) / (2 * 0.25**2))
    return bump.expand(count, size, size).clone()
