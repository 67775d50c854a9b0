"""``data=savee``: Surrey Audio-Visual Expressed Emotion (SAVEE), its video clips.

``AudioVisualClip/<speaker>/<code><n>.avi``: 4 male speakers (DC, JE, JK, KL), 480 clips,
15 per emotion per speaker and 30 neutral. Codes: a anger, d disgust, f fear, h happiness,
n neutral, sa sadness, su surprise (``sa03.avi``). The speaker is the clip's folder.
``data.root`` is the ``AudioVisualClip`` folder (or any folder above the speakers' folders).
"""

from __future__ import annotations

import re
from pathlib import Path

from fer.data.video import VideoClipsSource

NAME = re.compile(r"^(a|d|f|h|n|sa|su)(\d+)$", re.IGNORECASE)
CODES = {
    "a": "angry",
    "d": "disgust",
    "f": "fear",
    "h": "happy",
    "n": "neutral",
    "sa": "sad",
    "su": "surprise",
}


class SAVEESource(VideoClipsSource):
    name = "savee"
    expected = "SAVEE's AudioVisualClip folder: <speaker>/<code><n>.avi, e.g. DC/sa03.avi"
    classes_available = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]

    def parse(self, path: Path, root: Path) -> tuple[str, str] | str:
        match = NAME.match(path.stem)
        if match is None:
            return "name is not <a|d|f|h|n|sa|su><number>.avi (e.g. sa03.avi)"
        if path.parent == root:
            return "not in a speaker's folder (<speaker>/<code><n>.avi)"
        return CODES[match.group(1).lower()], path.parent.name
