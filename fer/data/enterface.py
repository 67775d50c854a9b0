"""``data=enterface``: the eNTERFACE'05 audio-visual emotion database, its video clips.

``subject <N>/<emotion>/sentence <K>/s<N>_<an|di|fe|ha|sa|su>_<K>.avi``: 42-44 subjects
(copies differ), 6 emotions (no neutral), 5 sentences each. Folder names contain spaces,
and some subjects' clips sit without a sentence folder. The emotion comes from the file's
code; the subject from its ``subject <N>`` folder, else from the file name.
"""

from __future__ import annotations

import re
from pathlib import Path

from fer.data.labels import canonical
from fer.data.video import VideoClipsSource

NAME = re.compile(r"^s_?(\d+)_(an|di|fe|ha|sa|su)_(\d+)$", re.IGNORECASE)
SUBJECT_FOLDER = re.compile(r"^subject\s*(\d+)$", re.IGNORECASE)


class ENTERFACESource(VideoClipsSource):
    name = "enterface"
    expected = "the eNTERFACE'05 tree: subject <N>/<emotion>/sentence <K>/s<N>_<an|di|fe|ha|sa|su>_<K>.avi"
    classes_available = ["angry", "disgust", "fear", "happy", "sad", "surprise"]

    def parse(self, path: Path, root: Path) -> tuple[str, str] | str:
        match = NAME.match(path.stem)
        if match is None:
            return "name is not s<subject>_<an|di|fe|ha|sa|su>_<sentence>.avi (e.g. s12_ha_3.avi)"
        folders = [SUBJECT_FOLDER.match(p.name) for p in path.relative_to(root).parents]
        subject = next((m.group(1) for m in folders if m), match.group(1))
        return canonical(match.group(2)), f"subject {int(subject)}"
