"""Aligned face crops: the five landmarks mapped onto where FER2013's faces have theirs.

A least-squares similarity (rotation, uniform scale, shift) takes the detected landmarks to the
template; one warp then levels the eyes, scales and crops. The template is the median landmark
position over FER2013 training faces, made left-right symmetric, so the eyes are level in it
and an aligned crop is framed as the faces a FER2013 model learned from
(``experiments/face_template.py`` measures it).
"""

from __future__ import annotations

import cv2
import numpy as np

# (x, y) of the eye, eye, nose tip, mouth corner, mouth corner as fractions of the crop's side
TEMPLATE = np.array([[0.316, 0.3872], [0.684, 0.3872], [0.5, 0.5978], [0.3457, 0.7766], [0.6543, 0.7766]])


def similarity(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The 2x3 matrix of the similarity that best maps ``source`` points onto ``target`` (Umeyama 1991)."""
    mu_s, mu_t = source.mean(0), target.mean(0)
    s, t = source - mu_s, target - mu_t
    u, sigma, vt = np.linalg.svd(t.T @ s / len(s))
    d = np.diag([1.0, np.sign(np.linalg.det(u @ vt))])
    rotation = u @ d @ vt
    scale = np.trace(np.diag(sigma) @ d) / (s**2).sum(1).mean()
    matrix = np.zeros((2, 3))
    matrix[:, :2] = scale * rotation
    matrix[:, 2] = mu_t - scale * rotation @ mu_s
    return matrix


def aligned_crop(image: np.ndarray, landmarks: np.ndarray, size: int) -> np.ndarray:
    """A ``size`` x ``size`` crop of ``image`` with the landmarks placed on the template.

    A face larger than the crop is warped at its own resolution first and then shrunk by area
    averaging, as box crops are, so that the two kinds of crop are equally sharp.
    """
    matrix = similarity(np.asarray(landmarks, np.float64), TEMPLATE * size)
    scale = np.sqrt(abs(np.linalg.det(matrix[:, :2])))
    side = size if scale >= 1 else min(int(np.ceil(size / scale)), 8 * size)
    matrix *= side / size
    warped = cv2.warpAffine(
        image, matrix, (side, side), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    return warped if side == size else cv2.resize(warped, (size, size), interpolation=cv2.INTER_AREA)
