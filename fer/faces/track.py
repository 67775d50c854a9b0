"""Faces followed across the frames of a video: an id per face, and its probabilities smoothed.

Matching is greedy on box overlap (IoU) with each live track's last box: enough for faces
that move less than their own width between the frames that are classified. Tracks seen most
recently are matched first, so a face is never taken back by a track that has been gone longer
than another that overlaps it as well (a clip cutting between people at one place). A track not
seen for ``patience`` frames ends; a face that comes back later gets a new id.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from fer.faces.box import iou


class Tracker:
    def __init__(self, min_iou: float = 0.3, patience: int = 10):
        self.min_iou = min_iou  # overlap a box needs with a track's last box to continue it
        self.patience = patience  # frames a track survives unseen
        self.tracks: dict[int, tuple[np.ndarray, int]] = {}  # id -> (last box, frame last seen)
        self.next_id = 0

    def update(self, boxes: list[np.ndarray], frame: int) -> list[int]:
        """The track id of each box of ``frame`` (x, y, w, h), in order."""
        self.tracks = {k: v for k, v in self.tracks.items() if frame - v[1] <= self.patience}
        assigned: list[int | None] = [None] * len(boxes)
        for seen in sorted({v[1] for v in self.tracks.values()}, reverse=True):  # the most recent first
            ids = [k for k, v in self.tracks.items() if v[1] == seen and k not in assigned]
            free = [b for b in range(len(boxes)) if assigned[b] is None]
            if not ids or not free:
                continue
            overlap = iou(np.array([boxes[b] for b in free]), np.array([self.tracks[k][0] for k in ids]))
            while overlap.size and overlap.max() >= self.min_iou:
                b, t = np.unravel_index(int(overlap.argmax()), overlap.shape)
                assigned[free[b]] = ids[t]
                overlap[b, :], overlap[:, t] = -1, -1
        for b, box in enumerate(boxes):
            if assigned[b] is None:
                assigned[b] = self.next_id
                self.next_id += 1
            self.tracks[assigned[b]] = (np.asarray(box, np.float64), frame)
        return assigned


class Smoother:
    """Each track's probabilities averaged over its last ``window`` classified frames."""

    def __init__(self, window: int):
        self.window = max(1, window)
        self.history: dict[int, deque] = {}

    def __call__(self, track: int, probabilities: np.ndarray) -> np.ndarray:
        past = self.history.setdefault(track, deque(maxlen=self.window))
        past.append(np.asarray(probabilities, np.float64))
        return np.mean(past, 0)
