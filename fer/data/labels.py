"""The emotion vocabulary shared by every dataset, and each dataset's names for it.

Class indices follow FER2013's code order (0 angry ... 6 neutral) with contempt
appended, so FER2013 labels need no remapping. A run selects and orders a subset with
``data.classes``; labels are remapped to positions in that list, which lets a model
trained on one dataset be evaluated on another over the classes they share.
"""

from __future__ import annotations

from collections.abc import Sequence

EMOTIONS: tuple[str, ...] = (
    "angry",
    "disgust",
    "fear",
    "happy",
    "sad",
    "surprise",
    "neutral",
    "contempt",
)

FER2013_CLASSES: tuple[str, ...] = EMOTIONS[:7]

# Every spelling seen in the datasets' own folders, file codes and label files.
ALIASES: dict[str, str] = {
    "anger": "angry",
    "angry": "angry",
    "an": "angry",
    "disgust": "disgust",
    "disgusted": "disgust",
    "di": "disgust",
    "fear": "fear",
    "afraid": "fear",
    "fearful": "fear",
    "af": "fear",
    "fe": "fear",
    "happy": "happy",
    "happiness": "happy",
    "ha": "happy",
    "sad": "sad",
    "sadness": "sad",
    "sa": "sad",
    "surprise": "surprise",
    "surprised": "surprise",
    "su": "surprise",
    "neutral": "neutral",
    "ne": "neutral",
    "contempt": "contempt",
}


def canonical(name: str) -> str:
    """Map a dataset's spelling of an emotion (any case) onto the vocabulary."""
    key = name.strip().lower()
    if key not in ALIASES:
        raise KeyError(f"unknown emotion name {name!r}; known: {sorted(set(ALIASES))}")
    return ALIASES[key]


def select_classes(requested: Sequence[str] | None, available: Sequence[str]) -> list[str]:
    """The ordered class list of a run: ``requested`` (canonicalised) or all ``available``."""
    if requested is None:
        return list(available)
    chosen = [canonical(c) for c in requested]
    missing = [c for c in chosen if c not in available]
    if missing:
        raise ValueError(f"classes {missing} are not in this dataset (it has {list(available)})")
    if len(set(chosen)) != len(chosen):
        raise ValueError(f"data.classes lists a class twice: {list(requested)}")
    return chosen
