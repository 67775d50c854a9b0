"""``data=jaffe``: the Japanese Female Facial Expression database.

A flat folder of 213 TIFFs, 256x256 grey, named ``KA.AN1.39.tiff``: subject KA,
expression AN with repetition 1, image number 39. Subjects KA KL KM KR MK NA NM TM UY
YM; expressions AN DI FE HA NE SA SU. Some files are palette images, read as 8-bit
grey. Faces fill much of the frame but are not tightly cropped, so they are detected
and cropped. Leave-one-subject-out (10 folds) is the honest protocol.
"""

from __future__ import annotations

import re
from pathlib import Path

from fer.data.labels import canonical
from fer.data.posed import PosedFacesSource

NAME = re.compile(r"^([A-Z]{2})\.(AN|DI|FE|HA|NE|SA|SU)(\d+)\.(\d+)$", re.IGNORECASE)


class JAFFESource(PosedFacesSource):
    name = "jaffe"
    expected = "a folder of JAFFE TIFFs named like KA.AN1.39.tiff"
    classes_available = ["angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"]

    def parse(self, path: Path) -> tuple[str, str] | str | None:
        match = NAME.match(path.stem)
        if match is None:
            return (
                "name is not <subject>.<expression AN|DI|FE|HA|NE|SA|SU><repetition>.<number>.tiff "
                "(e.g. KA.AN1.39.tiff)"
            )
        return canonical(match.group(2)), match.group(1).upper()
