"""MTCNN (Zhang et al. 2016, arXiv 1604.02878): three small CNNs in a cascade that find faces
and five landmarks (the eyes, the nose tip, the mouth corners).

The weights are those of the ``mtcnn`` package (MIT licence), which ships them inside its
wheel as Keras layer lists (``mtcnn/assets/weights/{pnet,rnet,onet}.lz4``). They are read
from the installed files without importing that package (its import needs TensorFlow) and
put into the PyTorch networks below: nothing is downloaded. The networks then run in ONNX
Runtime, which executes such small convolutions three to four times faster than eager PyTorch
on two CPU cores. The cascade follows that
package's stages: proposals from a fully convolutional P-Net over an image pyramid, refined
by R-Net on 24x24 patches and by O-Net on 48x48 patches, which also places the landmarks.
"""

from __future__ import annotations

import copy
import importlib.metadata
import io
import threading
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn

from fer.faces.box import Face
from fer.inference.onnx_session import cpu_session

WEIGHTS_PACKAGE = "mtcnn"  # the PyPI distribution whose wheel holds the weights


def conv_stage(widths: list[int], kernels: list[int], pools: list[int | None]) -> list[nn.Module]:
    """Conv, PReLU and (where ``pools`` says) a 'same'-padded max-pool of stride 2, per stage."""
    layers: list[nn.Module] = []
    for c_in, c_out, k, pool in zip(widths[:-1], widths[1:], kernels, pools):
        layers += [nn.Conv2d(c_in, c_out, k), nn.PReLU(c_out)]
        if pool:
            layers.append(nn.MaxPool2d(pool, 2, ceil_mode=True))
    return layers


class PNet(nn.Module):
    """Proposals: a 12x12 window every 2 pixels, face probability and box offsets."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(*conv_stage([3, 10, 16, 32], [3, 3, 3], [2, None, None]))
        self.box = nn.Conv2d(32, 4, 1)
        self.score = nn.Conv2d(32, 2, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.body(x)
        return self.box(x), self.score(x).softmax(1)[:, 1]


class Refine(nn.Module):
    """R-Net and O-Net: a conv body, a dense layer, then box offsets, (landmarks,) probability."""

    def __init__(self, widths, kernels, pools, flat: int, hidden: int, landmarks: bool):
        super().__init__()
        self.body = nn.Sequential(*conv_stage(widths, kernels, pools))
        self.dense = nn.Sequential(nn.Linear(flat, hidden), nn.PReLU(hidden))
        self.box = nn.Linear(hidden, 4)
        self.landmarks = nn.Linear(hidden, 10) if landmarks else None
        self.score = nn.Linear(hidden, 2)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
        x = self.body(x).permute(0, 3, 2, 1).flatten(1)  # Keras' Permute((2, 1, 3)) then Flatten
        x = self.dense(x)
        points = self.landmarks(x) if self.landmarks is not None else None
        return self.box(x), points, self.score(x).softmax(1)[:, 1]


def rnet() -> Refine:
    return Refine([3, 28, 48, 64], [3, 3, 2], [3, 3, None], 576, 128, landmarks=False)


def onet() -> Refine:
    return Refine([3, 32, 64, 64, 128], [3, 3, 3, 2], [3, 3, 2, None], 1152, 256, landmarks=True)


def weights_file(name: str) -> Path:
    try:
        dist = importlib.metadata.distribution(WEIGHTS_PACKAGE)
    except importlib.metadata.PackageNotFoundError as err:
        raise ModuleNotFoundError(
            f"faces.detector=cnn needs the package '{WEIGHTS_PACKAGE}' (pip install {WEIGHTS_PACKAGE}), "
            "whose wheel holds the MTCNN weights; or choose faces.detector=haar"
        ) from err
    path = Path(str(dist.locate_file(f"mtcnn/assets/weights/{name}.lz4")))
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: the MTCNN weights are missing from the installed '{WEIGHTS_PACKAGE}'"
        )
    return path


def load_keras_weights(net: nn.Module, arrays: list[np.ndarray], name: str) -> nn.Module:
    """Copy a Keras weight list (in layer order) into ``net``'s layers, which are in the same order."""
    layers = [m for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear, nn.PReLU))]
    expected = sum(1 if isinstance(m, nn.PReLU) else 2 for m in layers)
    if len(arrays) != expected:
        raise ValueError(f"{name}: {len(arrays)} weight arrays, expected {expected} for this network")
    it = iter(arrays)
    with torch.no_grad():
        for layer in layers:
            if isinstance(layer, nn.PReLU):
                layer.weight.copy_(torch.from_numpy(np.asarray(next(it)).reshape(-1)))
                continue
            kernel, bias = np.asarray(next(it)), np.asarray(next(it))
            kernel = kernel.transpose(3, 2, 0, 1) if kernel.ndim == 4 else kernel.T  # HWIO -> OIHW; (in, out)
            if tuple(kernel.shape) != tuple(layer.weight.shape):
                raise ValueError(
                    f"{name}: a kernel of shape {kernel.shape} for a layer of {tuple(layer.weight.shape)}"
                )
            layer.weight.copy_(torch.from_numpy(np.ascontiguousarray(kernel)))
            layer.bias.copy_(torch.from_numpy(bias))
    return net.eval()


@lru_cache(maxsize=1)
def networks() -> tuple[PNet, Refine, Refine]:
    """The three networks with the packaged weights, loaded once per process."""
    import joblib  # installed with the mtcnn package

    return tuple(
        load_keras_weights(build(), joblib.load(weights_file(name)), name)
        for name, build in (("pnet", PNet), ("rnet", rnet), ("onet", onet))
    )


def for_grey(net: nn.Module) -> nn.Module:
    """A copy of ``net`` for grey images: its first kernels summed over the colour channels, which
    is exact when red, green and blue are equal (the datasets and predict detect on grey)."""
    net = copy.deepcopy(net)
    first = net.body[0]
    grey = nn.Conv2d(1, first.out_channels, first.kernel_size)
    with torch.no_grad():
        grey.weight.copy_(first.weight.sum(1, keepdim=True))
        grey.bias.copy_(first.bias)
    net.body[0] = grey
    return net


class Session:
    """One network exported to ONNX in memory and run by ONNX Runtime: numpy in, numpy out."""

    def __init__(self, net: nn.Module, example: tuple[int, ...], dynamic: dict[int, str]):
        buffer = io.BytesIO()
        torch.onnx.export(
            net, (torch.zeros(example),), buffer, input_names=["x"], dynamic_axes={"x": dynamic},
            opset_version=17, dynamo=False,
        )  # fmt: skip
        self.session = cpu_session(buffer.getvalue())

    def __call__(self, x: np.ndarray) -> list[np.ndarray]:
        return self.session.run(None, {"x": np.ascontiguousarray(x, np.float32)})


_BUILDING = threading.Lock()  # datasets detect in several threads; torch exports one model at a time


def sessions() -> tuple[Session, Session, Session]:
    with _BUILDING:
        return built_sessions()


@lru_cache(maxsize=1)
def built_sessions() -> tuple[Session, Session, Session]:
    pnet, r, o = (for_grey(net) for net in networks())
    return (
        Session(pnet, (1, 1, 24, 24), {2: "height", 3: "width"}),
        Session(r, (2, 1, 24, 24), {0: "faces"}),
        Session(o, (2, 1, 48, 48), {0: "faces"}),
    )


def pyramid(short_side: int, min_face: float, factor: float = 0.709, cell: int = 12) -> list[float]:
    """Scales at which P-Net's 12-pixel window covers faces from ``min_face`` pixels up to the image."""
    scales, scale = [], cell / min_face
    while short_side * scale >= cell:
        scales.append(scale)
        scale *= factor
    return scales


def to_square(boxes: np.ndarray) -> np.ndarray:
    """x0, y0, x1, y1 boxes made square about their centres (the longer side kept)."""
    side = np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
    cx, cy = (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2
    return np.stack([cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2], 1)


def normalise(image: np.ndarray) -> np.ndarray:
    """uint8 pixels to the networks' range, [-1, 1]."""
    return (image.astype(np.float32) - 127.5) / 128


def patches(normalised: np.ndarray, boxes: np.ndarray, size: int) -> np.ndarray:
    """Bilinear ``size`` x ``size`` crops at ``boxes`` (corner pixels on the box corners, zeros outside)."""
    out = np.empty((len(boxes), 1, size, size), np.float32)
    for k, (x0, y0, x1, y1) in enumerate(boxes):
        to_source = np.array([[(x1 - x0) / (size - 1), 0, x0], [0, (y1 - y0) / (size - 1), y0]])
        warped = cv2.warpAffine(
            normalised, to_source, (size, size), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_CONSTANT, borderValue=0,
        )  # fmt: skip
        out[k, 0] = warped
    return out


def refine(boxes: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    side = np.stack([boxes[:, 2] - boxes[:, 0] + 1, boxes[:, 3] - boxes[:, 1] + 1] * 2, 1)
    return boxes + offsets * side


def keep_best(boxes: np.ndarray, scores: np.ndarray, threshold: float, over: str = "union") -> np.ndarray:
    """Indices kept by greedy non-maximum suppression: a box goes when its overlap with a better
    one, over their union (IoU) or over the smaller box's area (``over="min"``), exceeds ``threshold``.

    In numpy, so that the cascade calls nothing of torch between its ONNX Runtime calls.
    """
    order, kept = np.argsort(-scores, kind="stable"), []
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    while len(order):
        i, rest = order[0], order[1:]
        kept.append(i)
        low, high = np.maximum(boxes[i, :2], boxes[rest, :2]), np.minimum(boxes[i, 2:], boxes[rest, 2:])
        inter = np.prod(np.clip(high - low, 0, None), 1)
        base = np.minimum(area[i], area[rest]) if over == "min" else area[i] + area[rest] - inter
        order = rest[inter / np.maximum(base, 1e-12) <= threshold]
    return np.array(kept, np.int64)


class MTCNNDetector:
    """Faces and landmarks of an image with the three-stage cascade.

    ``min_size`` is the smallest face side as a fraction of the frame's shorter side; frames are
    scaled to ``max_side`` first, so the cost does not grow with the photo's resolution.
    """

    follows = True  # can look again only around known faces (detect's ``around``)
    thresholds = (0.6, 0.7)  # P-Net and R-Net probabilities that pass a window on (the package's)

    def __init__(self, min_confidence: float = 0.9, min_size: float = 0.08, max_side: int = 480):
        self.min_confidence = min_confidence  # O-Net probability a face must reach
        self.min_size = min_size
        self.max_side = max_side
        self.pnet, self.rnet, self.onet = sessions()

    def detect(self, image: np.ndarray, around: list[np.ndarray] | None = None) -> list[Face]:
        """Faces of a grey or BGR uint8 image (detected on grey), largest first, in its pixels.

        ``around`` (x, y, w, h boxes of the faces in the previous frame of a video) skips the
        search: only the last stage looks again, in the square about each box, so a face that
        moved a little, turned or left is followed, refined or dropped at a fraction of the cost.
        """
        grey = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        scale = min(1.0, self.max_side / max(grey.shape[:2]))
        small = (
            cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else grey
        )
        normalised = normalise(small)
        if around is None:
            candidates = self.second_stage(normalised, self.propose(small))
        else:
            x, y, w, h = np.array(around, np.float64).reshape(-1, 4).T * scale
            candidates = to_square(np.stack([x, y, x + w, y + h], 1))  # as the second stage hands them on
        boxes, points, scores = self.last_stage(normalised, candidates)
        h, w = small.shape
        boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, w - 1)
        boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, h - 1)
        faces = [
            Face(np.array([b[0], b[1], b[2] - b[0], b[3] - b[1]]) / scale, float(s), p / scale)
            for b, p, s in zip(boxes, points, scores)
        ]
        return sorted(faces, key=lambda f: -f.box[2] * f.box[3])

    def second_stage(self, normalised: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """R-Net: P-Net's candidates refined, the non-faces dropped; square boxes x0, y0, x1, y1."""
        if not len(boxes):
            return boxes
        offsets, scores = self.rnet(patches(normalised, boxes, 24))
        boxes, passed = refine(boxes, offsets), scores > self.thresholds[1]
        boxes, scores = boxes[passed], scores[passed]
        return to_square(boxes[keep_best(boxes, scores, 0.7)])

    def last_stage(
        self, normalised: np.ndarray, boxes: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """O-Net: boxes (K, 4) as x0, y0, x1, y1, landmarks (K, 5, 2) and probabilities (K,)."""
        if not len(boxes):
            return np.zeros((0, 4)), np.zeros((0, 5, 2)), np.zeros(0)
        offsets, points, scores = self.onet(patches(normalised, boxes, 48))
        side = np.stack([boxes[:, 2] - boxes[:, 0] + 1, boxes[:, 3] - boxes[:, 1] + 1], 1)
        points = (
            points.reshape(-1, 2, 5).transpose(0, 2, 1) * side[:, None] + boxes[:, None, :2] - 1
        )  # of the box
        boxes, passed = refine(boxes, offsets), scores > self.min_confidence
        boxes, points, scores = boxes[passed], points[passed], scores[passed]
        kept = keep_best(boxes, scores, 0.7, over="min")
        return boxes[kept], points[kept], scores[kept]

    def propose(self, image: np.ndarray) -> np.ndarray:
        """P-Net's square candidate boxes over the pyramid."""
        h, w = image.shape[:2]
        found, level = [], image
        for scale in pyramid(min(h, w), max(12.0, self.min_size * min(h, w))):
            # each level shrunk from the one before: area averaging over fewer pixels
            level = cv2.resize(level, (int(w * scale), int(h * scale)), interpolation=cv2.INTER_AREA)
            offsets, prob = self.pnet(normalise(level)[None, None])
            ys, xs = np.nonzero(prob[0] > self.thresholds[0])
            if not len(ys):
                continue
            reg = offsets[0][:, ys, xs].T
            cells = np.stack([xs * 2, ys * 2, xs * 2 + 12, ys * 2 + 12], 1).astype(np.float64)
            boxes = (cells + reg * 12) / scale
            scores = prob[0][ys, xs]
            kept = keep_best(boxes, scores, 0.5)
            found.append(np.concatenate([boxes[kept], scores[kept, None]], 1))
        if not found:
            return np.zeros((0, 4))
        found = np.concatenate(found)
        return to_square(found[keep_best(found[:, :4], found[:, 4], 0.7), :4])
