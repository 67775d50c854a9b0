"""FER+ votes joined to fer2013.csv rows: label schemes, alignment checks, soft targets."""

import csv
from pathlib import Path

import numpy as np
import pytest
import torch

from fer.data.decode import DataError
from fer.data.ferplus import FERPlusDataModule
from fer.labels import EMOTIONS
from tests.conftest import shared_data
from tests.test_data_fixtures import fer_rows, write_fer2013_csv

HEADER = [
    "Usage",
    "Image name",
    "neutral",
    "happiness",
    "surprise",
    "sadness",
    "anger",
    "disgust",
    "fear",
    "contempt",
    "unknown",
    "NF",
]
USAGE = {"Training": "Training", "PublicTest": "PublicTest", "PrivateTest": "PrivateTest"}


def write_votes(path: Path, rows, votes: list[list[int]], names=None) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(HEADER)
        for i, ((_, _, usage), v) in enumerate(zip(rows, votes)):
            writer.writerow([usage, "" if names and names[i] == "" else f"fer{i:07d}.png", *v])


def fixture(tmp_path, votes, names=None):
    rows = fer_rows(len(votes))
    write_fer2013_csv(tmp_path / "fer2013.csv", rows)
    write_votes(tmp_path / "fer2013new.csv", rows, votes, names)
    return tmp_path


VOTES = [
    [8, 0, 0, 0, 2, 0, 0, 0, 0, 0],  # neutral, clear majority
    [0, 5, 5, 0, 0, 0, 0, 0, 0, 0],  # happy/surprise tie: no majority, no plurality winner
    [0, 0, 0, 0, 0, 0, 0, 0, 0, 10],  # not a face
    [0, 0, 0, 0, 4, 3, 0, 3, 0, 0],  # anger plurality without majority
    [0, 0, 0, 0, 0, 0, 0, 9, 1, 0],  # contempt
]


@pytest.mark.parametrize(
    ("scheme", "kept"), [("majority", [0, 4]), ("plurality", [0, 3, 4]), ("probability", [0, 1, 3, 4])]
)
def test_label_schemes(tmp_path, scheme, kept):
    root = fixture(tmp_path, VOTES * 3)
    dm = FERPlusDataModule(root=str(root), label_scheme=scheme, protocol="kfold", num_folds=3)
    arrays = dm.load()
    assert arrays.classes == list(EMOTIONS) and "contempt" in arrays.classes
    rows = [int(f.rsplit(":", 1)[1]) - 2 for f in arrays.files]
    assert sorted({r % 5 for r in rows}) == kept
    by_row = dict(zip(rows, arrays.labels))
    if 0 in by_row:
        assert arrays.classes[by_row[0]] == "neutral"
    if 4 in by_row:
        assert arrays.classes[by_row[4]] == "contempt"
    if scheme == "probability":
        target = arrays.targets[rows.index(3)]
        assert target[EMOTIONS.index("angry")] == pytest.approx(0.4) and target.sum() == pytest.approx(1.0)
    assert dm.extra["ferplus"]["not_a_face"] == 3


def test_misaligned_votes_are_refused(tmp_path):
    rows = fer_rows(7)
    write_fer2013_csv(tmp_path / "fer2013.csv", rows)
    shifted = [("", None, "PrivateTest")] + rows[:-1]  # one row off: usages disagree
    write_votes(tmp_path / "fer2013new.csv", shifted, [VOTES[0]] * 7)
    with pytest.raises(DataError, match="not aligned"):
        FERPlusDataModule(root=str(tmp_path)).load()
    (tmp_path / "fer2013new.csv").unlink()
    with pytest.raises(DataError, match="data.votes=PATH"):
        FERPlusDataModule(root=str(tmp_path)).load()


def test_soft_targets_train(tmp_path):
    """probability labels reach the loss as vote distributions."""
    from fer.models.classifier import EmotionClassifier

    root = fixture(tmp_path, VOTES * 4)
    dm = FERPlusDataModule(
        root=str(root), label_scheme="probability", protocol="kfold", num_folds=2, num_workers=0, batch_size=4
    )
    dm.setup()
    x, target = next(iter(dm.train_dataloader()))
    assert target.dtype == torch.float32 and target.shape[1] == 8
    backbone = {
        "name": "fer_shallow_cnn",
        "pretrained": False,
        "in_chans": 1,
        "input_size": 48,
        "zero_head": False,
    }
    model = EmotionClassifier(dm.classes, backbone, {}, {}, {}, channels_last=False, tta="none")
    loss = model.loss(model(x), target)
    assert torch.isfinite(loss) and loss > 0


@pytest.mark.realdata
def test_real_votes_join_the_real_csv_rows(tmp_path):
    sample = shared_data("fer2013_csv_sample") / "fer2013_head151.csv"
    votes = shared_data("ferplus") / "fer2013new.csv"
    lines = votes.read_text().splitlines()
    assert len(lines) == 35_888 and sum(1 for line in lines[1:] if line.split(",")[1] == "") == 173
    dm = FERPlusDataModule(root=str(sample), votes=str(votes), label_scheme="majority")
    arrays = dm.load()
    assert dm.extra["ferplus"]["rows"] == 151
    # the majority rows of the first 151, worked out here from the votes file alone
    names = ["neutral", "happy", "surprise", "sad", "angry", "disgust", "fear", "contempt"]
    expected = {}
    for row, fields in enumerate(csv.reader(lines[1:152])):
        counts = np.array(fields[2:12], int)
        if fields[1] and counts[:8].max() * 2 > counts.sum():
            expected[row] = names[int(counts[:8].argmax())]
    assert 100 < len(expected) < 151
    rows = [int(f.rsplit(":", 1)[1]) - 2 for f in arrays.files]  # fer2013.csv line -> row
    assert rows == sorted(expected)
    assert [arrays.classes[label] for label in arrays.labels] == [expected[r] for r in rows]
