"""Procedurally drawn 48x48 grey faces for the seven FER2013 emotions (SYNTHETIC data).

The embedded default dataset: it lets the main job and the tests run with no download.
The expression is carried only by the brows, eyes and mouth, drawn from a per-class
prototype scaled by a random intensity and blurred by per-face noise, so neighbouring
classes (fear/surprise, angry/disgust, sad/neutral) overlap. Identity (face shape, skin,
hair, feature placement), pose, scale, lighting, blur, noise and occlusion are random.
Every image is a pure function of ``(seed, index)``.
"""

from __future__ import annotations

import cv2
import numpy as np

from fer.data.labels import FER2013_CLASSES

CANVAS = 192  # drawing resolution; images are area-downsampled to ``size``
_SUB = 16  # fixed-point factor for cv2's sub-pixel drawing
_SHIFT = 4  # log2(_SUB)

# Expression prototypes: brow raise (+up), brow tilt (+inner end up), eye opening
# (1 = relaxed), mouth curve (+corners up), mouth opening, mouth width, nose wrinkle.
_PARAMS = ("brow_raise", "brow_tilt", "eye_open", "mouth_curve", "mouth_open", "mouth_width", "wrinkle")
_PROTOTYPES: dict[str, tuple[float, ...]] = {
    "neutral": (0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0),
    "angry": (-0.6, -0.9, 0.65, -0.25, 0.05, 0.9, 0.2),
    "disgust": (-0.35, -0.4, 0.6, -0.6, 0.15, 0.95, 1.0),
    "fear": (0.55, 0.7, 1.5, -0.25, 0.45, 1.2, 0.0),
    "happy": (0.05, 0.0, 0.8, 0.9, 0.3, 1.2, 0.0),
    "sad": (0.0, 0.7, 0.8, -0.7, 0.0, 0.9, 0.0),
    "surprise": (0.85, 0.1, 1.6, 0.0, 1.0, 0.65, 0.0),
}
# Per-face spread of each parameter around the (intensity-scaled) prototype.
_SPREAD = np.array([0.15, 0.15, 0.12, 0.15, 0.1, 0.08, 0.2])


def expression_params(emotion: str, rng: np.random.Generator) -> dict[str, float]:
    """One face's expression: the prototype at a random intensity, plus noise."""
    neutral = np.array(_PROTOTYPES["neutral"])
    proto = np.array(_PROTOTYPES[emotion])
    intensity = rng.uniform(0.6, 1.0)
    values = neutral + intensity * (proto - neutral) + rng.normal(0.0, _SPREAD)
    return dict(zip(_PARAMS, values.tolist()))


def _pt(x: float, y: float) -> tuple[int, int]:
    return int(round(x * _SUB)), int(round(y * _SUB))


def _line(img, p, q, color, thickness):
    cv2.line(img, _pt(*p), _pt(*q), color, max(1, int(thickness)), cv2.LINE_AA, _SHIFT)


def _ellipse(img, centre, axes, angle, color, thickness=-1):
    axes = (max(1, int(axes[0] * _SUB)), max(1, int(axes[1] * _SUB)))
    cv2.ellipse(img, _pt(*centre), axes, angle, 0, 360, color, thickness, cv2.LINE_AA, _SHIFT)


def _draw_upright_face(rng: np.random.Generator, expr: dict[str, float]) -> np.ndarray:
    """Draw a frontal face centred on the canvas; returns a float32 canvas."""
    s = CANVAS
    background = rng.uniform(20, 235)
    img = np.full((s, s), background, np.float32)
    cx, cy = s / 2, s / 2
    face_w = rng.uniform(0.3, 0.36) * s  # half-width
    face_h = face_w * rng.uniform(1.15, 1.35)  # half-height
    skin = float(np.clip(background + rng.choice([-1, 1]) * rng.uniform(40, 110), 60, 230))
    dark = float(max(0.0, skin - rng.uniform(70, 140)))  # brows, pupils, mouth
    hair = float(rng.uniform(10, 120))

    # Hair: a cap behind the upper face, with random volume.
    _ellipse(
        img,
        (cx, cy - face_h * 0.25),
        (face_w * rng.uniform(1.05, 1.25), face_h * rng.uniform(0.85, 1.05)),
        0,
        hair,
    )
    _ellipse(img, (cx, cy), (face_w, face_h), 0, skin)
    if rng.random() < 0.5:  # fringe
        _ellipse(img, (cx, cy - face_h * 0.85), (face_w * 0.9, face_h * rng.uniform(0.2, 0.35)), 0, hair)

    eye_y = cy - face_h * rng.uniform(0.1, 0.2)
    eye_dx = face_w * rng.uniform(0.36, 0.46)
    eye_w = face_w * rng.uniform(0.19, 0.23)
    eye_h = eye_w * 0.42 * max(expr["eye_open"], 0.2)
    brow_gap = face_h * rng.uniform(0.17, 0.23)
    brow_w = eye_w * rng.uniform(1.1, 1.4)
    brow_t = face_h * rng.uniform(0.06, 0.09)
    sclera = float(np.clip(skin + rng.uniform(30, 80), 0, 255))

    for side in (-1, 1):
        ex = cx + side * eye_dx
        _ellipse(img, (ex, eye_y), (eye_w, eye_h), 0, sclera)
        pupil = min(eye_h, eye_w * 0.45)
        _ellipse(img, (ex, eye_y), (pupil, pupil), 0, dark)
        # Brows: the inner end moves with tilt, the whole brow with raise.
        by = eye_y - brow_gap - expr["brow_raise"] * face_h * 0.12
        inner = (ex - side * brow_w * 0.9, by - expr["brow_tilt"] * face_h * 0.1)
        outer = (ex + side * brow_w, by + expr["brow_tilt"] * face_h * 0.02)
        _line(img, inner, outer, dark, brow_t)

    nose_y = cy + face_h * rng.uniform(0.12, 0.2)
    shade = float(np.clip(skin - 35, 0, 255))
    _line(img, (cx - face_w * 0.08, nose_y), (cx + face_w * 0.08, nose_y), shade, face_h * 0.03)
    if expr["wrinkle"] > 0.5:
        for side in (-1, 1):
            x0 = cx + side * face_w * 0.14
            _line(
                img,
                (x0, nose_y - face_h * 0.18),
                (x0 + side * face_w * 0.05, nose_y - face_h * 0.02),
                shade,
                face_h * 0.025,
            )

    mouth_y = cy + face_h * rng.uniform(0.45, 0.55)
    mouth_w = face_w * rng.uniform(0.42, 0.52) * expr["mouth_width"]
    xs = np.linspace(-1.0, 1.0, 25)
    asym = expr["wrinkle"] * 0.35 * xs  # disgust lifts one side of the upper lip
    upper = mouth_y - (expr["mouth_curve"] + asym) * face_h * 0.2 * xs**2
    opening = max(expr["mouth_open"], 0.0) * face_h * 0.3 * (1 - xs**2)
    lower = upper + opening
    lip_t = face_h * rng.uniform(0.05, 0.07)
    top = np.stack([cx + xs * mouth_w, upper], 1)
    if opening.max() > lip_t:
        poly = np.concatenate([top, np.stack([cx + xs[::-1] * mouth_w, lower[::-1]], 1)])
        cv2.fillPoly(img, [np.round(poly * _SUB).astype(np.int32)], dark, cv2.LINE_AA, _SHIFT)
    else:
        pts = np.round(top * _SUB).astype(np.int32)
        cv2.polylines(img, [pts], False, dark, max(1, int(lip_t)), cv2.LINE_AA, _SHIFT)
    return img


def draw_face(emotion: str, rng: np.random.Generator, size: int = 48) -> np.ndarray:
    """One synthetic face as a ``(size, size)`` uint8 array."""
    img = _draw_upright_face(rng, expression_params(emotion, rng))
    s = CANVAS
    # Pose and scale: rotate, zoom and shift the whole face.
    angle = rng.normal(0.0, 7.0)
    scale = rng.uniform(0.9, 1.1)
    warp = cv2.getRotationMatrix2D((s / 2, s / 2), angle, scale)
    warp[:, 2] += rng.normal(0.0, 0.04 * s, size=2)
    img = cv2.warpAffine(img, warp, (s, s), borderMode=cv2.BORDER_REPLICATE)
    # Lighting: a random linear gradient times a random gain.
    yy, xx = np.mgrid[0:s, 0:s].astype(np.float32) / s - 0.5
    direction = rng.normal(size=2)
    img = img * (rng.uniform(0.7, 1.2) + rng.uniform(0.0, 0.6) * (direction[0] * xx + direction[1] * yy))
    # Occlusion: a bar or a patch (glasses, hand, hair) over part of the face.
    if rng.random() < 0.2:
        w, h = rng.uniform(0.1, 0.35, size=2) * s
        x0, y0 = rng.uniform(0.1, 0.9, size=2) * s - (w / 2, h / 2)
        cv2.rectangle(img, (int(x0), int(y0)), (int(x0 + w), int(y0 + h)), float(rng.uniform(0, 255)), -1)
    img = cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA)
    sigma = rng.uniform(0.0, 0.8)
    if sigma > 0.3:
        img = cv2.GaussianBlur(img, (0, 0), sigma)
    img = img + rng.normal(0.0, rng.uniform(2.0, 8.0), img.shape)
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


def synthetic_faces(num: int, seed: int, offset: int = 0, size: int = 48) -> tuple[np.ndarray, np.ndarray]:
    """``num`` faces with balanced labels (FER2013 code order); image i depends on (seed, offset + i) only."""
    labels = (np.arange(offset, offset + num) % len(FER2013_CLASSES)).astype(np.int64)
    images = np.empty((num, size, size), np.uint8)
    for i, label in enumerate(labels):
        rng = np.random.default_rng([seed, offset + i])
        images[i] = draw_face(FER2013_CLASSES[label], rng, size)
    return images, labels
