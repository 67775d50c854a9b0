"""``data=kdef``: the Karolinska Directed Emotional Faces.

``KDEF/<session><sex><id>/<session><sex><id><expression><angle>.JPG`` (``AF01ANS.JPG``):
session A or B, sex F or M, id 01-35, expression AF AN DI HA NE SA SU, angle FL HL S
HR FR (full/half left, straight, half/full right). 70 subjects x 7 expressions x 5
angles x 2 sessions = 4,900 colour photos of 562x762. Extensions vary in case, and the
loader also reads a flat folder of such files. ``data.angles`` and ``data.sessions``
filter the poses (default: straight, both sessions); faces are detected and cropped.
The subject is sex + id (``F01``): the two sessions are the same person. The release has
gaps (``AF01SUFR`` is missing) and misnamed files (``AF31V.JPG``): misnamed files are
skipped with the reason, and every selected pose of a person that has no file is listed
in the report as ``missing_photos``.
"""

from __future__ import annotations

import re
from pathlib import Path

from fer.data.arrays import FaceArrays
from fer.data.decode import Problems
from fer.data.labels import canonical
from fer.data.posed import PosedFacesSource
from fer.run.config import KDEFDataConfig

NAME = re.compile(r"^([AB])([FM])(\d{2})(AF|AN|DI|HA|NE|SA|SU)(FL|HL|S|HR|FR)$", re.IGNORECASE)
ANGLES = ("FL", "HL", "S", "HR", "FR")
SESSIONS = ("A", "B")
EXPRESSIONS = ("AF", "AN", "DI", "HA", "NE", "SA", "SU")


class KDEFSource(PosedFacesSource):
    name = "kdef"
    expected = (
        "the KDEF folders (AF01/, AM01/, ...) of files named like AF01ANS.JPG, or a folder of such files"
    )
    classes_available = ["angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"]
    recursive = True

    schema = KDEFDataConfig

    def __init__(self, section):
        super().__init__(section)
        self.angles = [a.upper() for a in self.cfg["angles"]]
        self.sessions = [s.upper() for s in self.cfg["sessions"]]
        for value, allowed, key in ((self.angles, ANGLES, "angles"), (self.sessions, SESSIONS, "sessions")):
            if not value or set(value) - set(allowed):
                raise ValueError(f"data.{key}={list(value)}: expected a non-empty list from {list(allowed)}")
        self.profiles = bool(set(self.angles) - {"S"})

    def decode_settings(self) -> dict:
        return {**super().decode_settings(), "angles": self.angles, "sessions": self.sessions}

    def parse(self, path: Path) -> tuple[str, str] | str | None:
        match = NAME.match(path.stem)
        if match is None:
            return (
                "name is not <session A|B><sex F|M><id><expression AF|AN|DI|HA|NE|SA|SU>"
                "<angle FL|HL|S|HR|FR> (e.g. AF01ANS.JPG)"
            )
        session, sex, number, expression, angle = (g.upper() for g in match.groups())
        if angle not in self.angles or session not in self.sessions:
            return None
        return canonical(expression), sex + number

    def decode(self, root: Path, files: list[Path], problems: Problems) -> FaceArrays:
        arrays = super().decode(root, files, problems)
        self.facts["missing_photos"] = self.missing(files)
        return arrays

    def missing(self, files: list[Path]) -> list[str]:
        """The selected poses of every person found that no file holds (sessions and angles as filtered)."""
        found = {m.group(0).upper(): m.groups() for p in files if (m := NAME.match(p.stem))}
        people = sorted({(sex.upper(), number) for _, sex, number, _, _ in found.values()})
        expected = (
            f"{session}{sex}{number}{expression}{angle}"
            for sex, number in people
            for session in self.sessions
            for expression in EXPRESSIONS
            for angle in self.angles
        )
        return [name for name in expected if name not in found]
