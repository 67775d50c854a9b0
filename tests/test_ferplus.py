"""FER+ in both forms (fer2013.csv + votes, Microsoft's folders): label schemes, audits, soft targets."""

import csv
from pathlib import Path

import numpy as np
import pytest
import torch

from fer.data.decode import DataError
from fer.data.ferplus import process_votes
from fer.data.labels import EMOTIONS
from tests.helpers import datamodule_of, decoded_of, face, fer_rows, shared_data, splits_of, write_fer2013_csv

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
    ("scheme", "kept"),
    [
        ("majority", [0, 4]),
        ("plurality", [0, 3, 4]),
        ("probability", [0, 1, 3, 4]),
        ("crossentropy", [0, 1, 3, 4]),
    ],
)
def test_label_schemes(tmp_path, scheme, kept):
    root = fixture(tmp_path, VOTES * 3)
    dm = decoded_of("ferplus", root=str(root), label_scheme=scheme, protocol="kfold", num_folds=3)
    arrays = dm.arrays
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
    assert dm.facts["ferplus"]["not_a_face"] == 3


def test_misaligned_votes_are_refused(tmp_path):
    rows = fer_rows(7)
    write_fer2013_csv(tmp_path / "fer2013.csv", rows)
    shifted = [("", None, "PrivateTest")] + rows[:-1]  # one row off: usages disagree
    write_votes(tmp_path / "fer2013new.csv", shifted, [VOTES[0]] * 7)
    with pytest.raises(DataError, match="not aligned"):
        decoded_of("ferplus", root=str(tmp_path))
    (tmp_path / "fer2013new.csv").unlink()
    with pytest.raises(DataError, match="data.votes=PATH"):
        decoded_of("ferplus", root=str(tmp_path))


def test_soft_targets_train(tmp_path):
    """probability labels reach the loss as vote distributions."""
    from fer.models.classifier import EmotionClassifier

    root = fixture(tmp_path, VOTES * 4)
    dm = datamodule_of(
        "ferplus", root=str(root), label_scheme="probability", protocol="kfold", num_folds=2, batch_size=4
    )
    x, target = next(iter(dm.train_dataloader()))
    assert target.dtype == torch.float32 and target.shape[1] == 8
    backbone = {
        "name": "fer_shallow_cnn",
        "pretrained": False,
        "in_chans": 1,
        "input_size": 48,
        "zero_head": False,
    }
    model = EmotionClassifier(dm.splits.classes, backbone, {}, {}, {}, channels_last=False, tta="none")
    loss = model.loss(model(x), target)
    assert torch.isfinite(loss) and loss > 0


@pytest.mark.realdata
def test_real_votes_join_the_real_csv_rows(tmp_path):
    sample = shared_data("fer2013_csv_sample") / "fer2013_head151.csv"
    votes = shared_data("ferplus") / "fer2013new.csv"
    lines = votes.read_text().splitlines()
    assert len(lines) == 35_888 and sum(1 for line in lines[1:] if line.split(",")[1] == "") == 173
    dm = decoded_of("ferplus", root=str(sample), votes=str(votes), label_scheme="majority")
    arrays = dm.arrays
    assert dm.facts["ferplus"]["rows"] == 151
    # the majority rows of the first 151, worked out here from the votes file alone as Microsoft's
    # ferplus.py does: single votes dropped, then an emotion with more than half of the rest
    names = ["neutral", "happy", "surprise", "sad", "angry", "disgust", "fear", "contempt"]
    expected = {}
    for row, fields in enumerate(csv.reader(lines[1:152])):
        counts = np.array(fields[2:12], int)
        counts[counts == 1] = 0
        if fields[1] and counts[:8].max() * 2 > counts.sum():
            expected[row] = names[int(counts[:8].argmax())]
    assert 100 < len(expected) < 151
    rows = [int(f.rsplit(":", 1)[1]) - 2 for f in arrays.files]  # fer2013.csv line -> row
    assert rows == sorted(expected)
    assert [arrays.classes[label] for label in arrays.labels] == [expected[r] for r in rows]


@pytest.mark.parametrize(
    ("votes", "scheme", "expected"),
    [
        ([5, 1, 1, 1, 1, 1, 0, 0, 0, 0], "majority", {"neutral": 1.0}),  # single votes are outliers
        ([4, 4, 2, 0, 0, 0, 0, 0, 0, 0], "majority", None),  # 4 of 10: no majority
        ([4, 4, 2, 0, 0, 0, 0, 0, 0, 0], "plurality", None),  # a tie
        # the leading two reach 75% of the votes: the loop stops there
        ([4, 4, 2, 0, 0, 0, 0, 0, 0, 0], "probability", {"neutral": 0.5, "happy": 0.5, "surprise": 0}),
        ([6, 2, 2, 0, 0, 0, 0, 0, 0, 0], "probability", {"neutral": 0.6, "happy": 0.2, "surprise": 0.2}),
        ([7, 3, 0, 0, 0, 0, 0, 0, 0, 0], "probability", {"neutral": 0.7, "happy": 0.3}),
        ([3, 2, 2, 2, 0, 0, 0, 0, 0, 0], "probability", None),  # four leading emotions: too many
        ([3, 2, 2, 2, 0, 0, 0, 0, 0, 0], "crossentropy", {"neutral": 1 / 3, "happy": 2 / 9}),
        ([2, 0, 0, 0, 0, 0, 0, 0, 5, 3], "crossentropy", None),  # unknown leads: dropped
        ([0, 0, 0, 0, 0, 0, 0, 9, 1, 0], "majority", {"contempt": 1.0}),
    ],
)
def test_votes_follow_microsofts_processing(votes, scheme, expected):
    target, reason = process_votes(np.array(votes), scheme)
    if expected is None:
        assert target is None and reason
        return
    assert target.sum() == pytest.approx(1.0)
    for name, share in expected.items():
        assert target[EMOTIONS.index(name)] == pytest.approx(share)


def write_folders(root: Path, split_votes: dict[str, list[list[int]]], start: int = 0) -> list[str]:
    """Microsoft's layout: FER2013<Split>/ with 48x48 PNGs and a headerless label.csv."""
    import cv2

    names, n = [], start
    for folder, rows in split_votes.items():
        (root / folder).mkdir(parents=True)
        with open(root / folder / "label.csv", "w", newline="") as f:
            writer = csv.writer(f)
            for votes in rows:
                name = f"fer{n:07d}.png"
                cv2.imwrite(str(root / folder / name), face(n))
                writer.writerow([name, "(0, 0, 48, 48)", *votes])
                names.append(name)
                n += 1
    return names


def test_microsoft_folders(tmp_path):
    """The folders form: splits from the folder names, val and test by majority under every scheme,
    missing and unlisted PNGs skipped and counted, and the shared-name defect caught by the audit."""
    train = [VOTES[0], VOTES[1], VOTES[3], VOTES[4]] * 2
    names = write_folders(
        tmp_path, {"FER2013Train": train, "FER2013Valid": [VOTES[0], VOTES[3]], "FER2013Test": VOTES}
    )
    (tmp_path / "FER2013Train" / names[2]).unlink()  # listed, no PNG
    face_png = tmp_path / "FER2013Test" / names[-5]
    (tmp_path / "FER2013Test" / "fer9999999.png").write_bytes(face_png.read_bytes())  # a PNG not listed
    dm = decoded_of("ferplus", root=str(tmp_path), label_scheme="probability")
    arrays = dm.arrays
    skipped = {s["file"]: s["reason"] for s in dm.skipped}
    assert "missing" in skipped[f"FER2013Train/{names[2]}"]
    assert "not listed" in skipped["FER2013Test/fer9999999.png"]
    counts = dm.facts["ferplus"]["per_split"]
    assert counts["train"] == {"rows": 7, "kept": 7, "not_a_face": 0, "unknown": 0, "no_agreement": 0}
    # probability keeps anger-plurality faces for training only; Valid and Test use majority
    assert counts["val"] == {"rows": 2, "kept": 1, "not_a_face": 0, "unknown": 0, "no_agreement": 1}
    assert counts["test"] == {"rows": 5, "kept": 2, "not_a_face": 1, "unknown": 0, "no_agreement": 2}
    assert dm.facts["ferplus"]["audited_against"] is None
    held = arrays.targets[arrays.splits != "train"]
    assert set(np.unique(held)) == {0.0, 1.0}  # one-hot majority targets
    assert arrays.targets[arrays.splits == "train"].max(1).min() < 1  # soft training targets

    # fer2013new.csv beside the folders: a name two vote rows share, whose label.csv votes are the first
    # row's while the PNG holds the last row's pixels, is refused; one whose rows agree is kept
    test_names = names[-5:]
    rows = [("Training", n, v) for n, v in zip(names[:8], train)]
    rows += [("PublicTest", n, v) for n, v in zip(names[8:10], [VOTES[0], VOTES[3]])]
    rows += [("PrivateTest", n, v) for n, v in zip(test_names, VOTES)]
    rows += [("PrivateTest", test_names[0], [0] * 9 + [10]), ("Training", names[0], train[0])]
    with open(tmp_path / "fer2013new.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(HEADER)
        writer.writerows([usage, name, *v] for usage, name, v in rows)
    dm = decoded_of("ferplus", root=str(tmp_path), label_scheme="majority")
    skipped = {s["file"]: s["reason"] for s in dm.skipped}
    assert "holds the last one's pixels" in skipped[f"FER2013Test/{test_names[0]}"]
    assert f"FER2013Train/{names[0]}" not in skipped
    assert dm.facts["ferplus"]["names_shared_by_vote_rows"] == 2


@pytest.mark.realdata
def test_real_microsoft_folders_and_their_defect():
    root = shared_data("ferplus_folders")
    votes = shared_data("ferplus") / "fer2013new.csv"
    report = splits_of("ferplus", root=str(root), votes=str(votes), label_scheme="majority").report
    counts = report["ferplus"]["per_split"]
    # every listed face is read: 28,558 / 3,579 / 3,573 less the defect
    assert [counts[s]["rows"] for s in ("train", "val", "test")] == [28_558, 3_579, 3_572]
    assert report["skipped"] == [
        {
            "file": "FER2013Test/fer0033120.png",
            "reason": "fer2013new.csv lines 33202, 34336 all name this PNG; it holds the last one's pixels "
            "(votes [0, 0, 0, 0, 0, 0, 0, 0, 0, 10]) while label.csv gives it [5, 0, 0, 1, 1, 0, 0, 0, 3, 0]",
        }
    ]
    assert report["ferplus"]["names_shared_by_vote_rows"] == 4
    assert report["classes"] == list(EMOTIONS)
    assert {s: sum(report["splits"][s].values()) for s in ("train", "val", "test")} == {
        s: counts[s]["kept"] for s in ("train", "val", "test")
    }
    assert counts["test"]["kept"] > 3_000 and report["splits"]["test"]["contempt"] > 0
