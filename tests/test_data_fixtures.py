"""Every loader against small fixtures written in each dataset's exact format, and bad input."""

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from fer.data.decode import DataError
from fer.data.fer2013 import FER2013Source
from tests.helpers import face, fer_rows, snapshot, splits_of, write_ckplus48, write_fer2013_csv

ROOT = Path(__file__).parents[1]
RNG = np.random.default_rng(0)


@pytest.mark.parametrize("variant", ["fer2013.csv", "fer2013.csv.gz", "icml_face_data.csv"])
def test_fer2013_csv_variants(tmp_path, variant):
    rows = fer_rows()
    folder = tmp_path / "kaggle"
    folder.mkdir()
    write_fer2013_csv(folder / variant, rows, icml=variant.startswith("icml"))
    before = snapshot(folder)
    dm = splits_of("fer2013", root=str(folder), cache_dir=str(tmp_path / "cache"), num_workers=0)
    report = dm.report
    assert (
        report["num_images"] == 21
        and report["protocol"]["note"]
        == "the dataset's own split: train = Training, val = PublicTest, test = PrivateTest"
    )
    assert {s: sum(c.values()) for s, c in report["splits"].items()} == {"train": 14, "val": 3, "test": 4}
    first = dm.arrays["train"]
    assert np.array_equal(first.images[0], rows[0][1]) and first.labels[0] == 0
    assert snapshot(folder) == before  # nothing written under data.root


def test_fer2013_image_folders_with_prefixes_and_merged(tmp_path):
    root = tmp_path / "fer"
    for split, prefix, n in (("train", "Training", 7), ("test", "PublicTest", 7), ("test", "PrivateTest", 7)):
        for i, name in enumerate(["angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"][:n]):
            (root / split / name).mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(root / split / name / f"{prefix}_{i}{prefix[:2]}.jpg"), face(i))
    report = splits_of("fer2013", root=str(root), num_workers=0).report
    assert {s: sum(c.values()) for s, c in report["splits"].items()} == {"train": 7, "val": 7, "test": 7}
    assert report["splits"]["val"]["neutral"] == 1
    # a copy whose test folder lost the prefixes: said so, val carved from train
    for p in (root / "test").rglob("*.jpg"):
        p.rename(p.with_name(p.name.split("_", 1)[1]))
    report = splits_of("fer2013", root=str(root), num_workers=0, val_fraction=0.3).report
    assert "merges PublicTest and PrivateTest" in report["split_note"]
    assert sum(report["splits"]["test"].values()) == 14 and sum(report["splits"]["val"].values()) >= 1


def test_short_csv_row_strict_names_the_line_lenient_skips_it(tmp_path):
    path = write_fer2013_csv(tmp_path / "fer2013.csv", fer_rows())
    lines = path.read_text().splitlines()
    emotion, pixels, usage = lines[5].split(",")
    lines[5] = ",".join([emotion, " ".join(pixels.split()[:2000]), usage])
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"fer2013.csv:6: row has 2000 pixel values, expected 2304"):
        splits_of("fer2013", root=str(path), strict=True)
    report = splits_of("fer2013", root=str(path), strict=False).report
    assert report["num_images"] == 20 and report["num_skipped"] == 1
    assert report["skipped"] == [
        {"file": "fer2013.csv:6", "reason": "row has 2000 pixel values, expected 2304 (48x48)"}
    ]


def test_csv_without_the_expected_columns_is_refused(tmp_path):
    path = tmp_path / "fer2013.csv"
    path.write_text("label,image\n0,1 2 3\n")
    with pytest.raises(DataError, match="expected the columns emotion, pixels and Usage"):
        splits_of("fer2013", root=str(path))


def test_corrupt_image_and_unknown_class_folder(tmp_path):
    root = tmp_path / "fer"
    for split, prefix in (("train", "Training"), ("test", "PublicTest"), ("test", "PrivateTest")):
        for i, name in enumerate(["angry", "happy"]):
            (root / split / name).mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(root / split / name / f"{prefix}_{i}.jpg"), face(i))
    (root / "train" / "happy" / "Training_broken.jpg").write_bytes(b"not a jpeg")
    (root / "train" / "smirk").mkdir()
    cv2.imwrite(str(root / "train" / "smirk" / "Training_9.jpg"), face(9))
    with pytest.raises(DataError, match=r"smirk: unknown class folder"):
        splits_of("fer2013", root=str(root), strict=True)
    report = splits_of("fer2013", root=str(root), strict=False).report
    reasons = {Path(s["file"]).name: s["reason"] for s in report["skipped"]}
    assert reasons["Training_broken.jpg"] == "not a readable image"
    assert reasons["smirk"].startswith("unknown class folder")
    assert report["num_images"] == 6


def test_missing_root_wrong_folder_and_empty_folder(tmp_path):
    with pytest.raises(DataError, match=r"does not exist \(expected fer2013.csv"):
        splits_of("fer2013", root=str(tmp_path / "nowhere"))
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "readme.txt").write_text("hi")
    with pytest.raises(DataError, match=r"expected fer2013.csv.*found \['readme.txt'\]"):
        splits_of("fer2013", root=str(tmp_path / "photos"))
    (tmp_path / "ck").mkdir()
    with pytest.raises(DataError, match="found no folders"):
        splits_of("ckplus", root=str(tmp_path / "ck"))
    (tmp_path / "ck" / "anger").mkdir()
    with pytest.raises(DataError, match="holds no files of this dataset"):
        splits_of("ckplus", root=str(tmp_path / "ck"))


def test_cache_is_used_and_rebuilt_when_the_source_changes(tmp_path, monkeypatch):
    path = write_fer2013_csv(tmp_path / "fer2013.csv", fer_rows())
    cache_dir = tmp_path / "cache"
    splits_of("fer2013", root=str(path), cache_dir=str(cache_dir))
    assert len(list(cache_dir.glob("fer2013-*.npz"))) == 1

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded although the cache was valid")

    monkeypatch.setattr(FER2013Source, "decode", no_decoding)
    cached = splits_of("fer2013", root=str(path), cache_dir=str(cache_dir))
    assert cached.report["num_images"] == 21
    monkeypatch.undo()
    write_fer2013_csv(path, fer_rows(28))  # the source changes: a new key, decoded afresh
    os.utime(path, ns=(1, 1))
    assert splits_of("fer2013", root=str(path), cache_dir=str(cache_dir)).report["num_images"] == 28
    assert len(list(cache_dir.glob("fer2013-*.npz"))) == 2


@pytest.mark.parametrize("protocol", ["kfold", "loso", "official"])
def test_ckplus48_protocols_never_share_a_subject(tmp_path, protocol):
    write_ckplus48(tmp_path / "ck")
    for fold in range(3):
        dm = splits_of(
            "ckplus", root=str(tmp_path / "ck"), protocol=protocol, num_folds=3, fold=fold, val_fraction=0.2
        )
        report = dm.report
        assert report["num_images"] == 72 and report["num_subjects"] == 12
        assert report["subject_overlap"] == []
        assert "contempt" in report["classes"] and "neutral" not in report["classes"]
    if protocol == "loso":
        assert set(dm.arrays["test"].subjects) == {"S102"}


def test_val_fraction_zero_trains_on_every_image_outside_the_test_fold(tmp_path):
    write_ckplus48(tmp_path / "ck")
    common = dict(root=str(tmp_path / "ck"), protocol="kfold", num_folds=3, fold=1, split_seed=5)
    held = splits_of("ckplus", **common, val_fraction=0.2)
    refit = splits_of("ckplus", **common, val_fraction=0)
    assert held.validates and not refit.validates and len(held.arrays["val"].labels) > 0
    assert sorted(refit.arrays["test"].files) == sorted(held.arrays["test"].files)  # the same test fold
    assert sorted(refit.arrays["train"].files) == sorted(
        [*held.arrays["train"].files, *held.arrays["val"].files]
    )
    assert "no validation split" in refit.report["protocol"]["note"]


def test_split_seed_keeps_the_folds_while_the_run_seed_varies(tmp_path):
    write_ckplus48(tmp_path / "ck")

    def test_subjects(seed: int, split_seed: int | None) -> list[set]:
        folds = []
        for fold in range(3):
            dm = splits_of(
                "ckplus",
                seed=seed,
                root=str(tmp_path / "ck"),
                protocol="kfold",
                num_folds=3,
                fold=fold,
                split_seed=split_seed,
            )
            folds.append(set(dm.arrays["test"].subjects))
        return folds

    assert test_subjects(1, 7) == test_subjects(2, 7) == test_subjects(7, None)
    assert test_subjects(1, None) != test_subjects(2, None)  # without it, the seed draws the folds


def test_fer_data_cli_prints_the_report(tmp_path):
    write_ckplus48(tmp_path / "ck")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "fer.data",
            "data=ckplus",
            f"data.root={tmp_path / 'ck'}",
            "data.num_folds=4",
            f"paths.cache_dir={tmp_path / 'cache'}",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout)
    assert report["dataset"] == "ckplus" and report["num_subjects"] == 12 and report["subject_overlap"] == []


def test_non_numeric_or_out_of_range_pixels_are_named(tmp_path):
    path = write_fer2013_csv(tmp_path / "fer2013.csv", fer_rows())
    lines = path.read_text().splitlines()
    for line_no, bad in ((3, "abc"), (8, "300")):
        emotion, pixels, usage = lines[line_no - 1].split(",")
        values = pixels.split()
        values[100] = bad
        lines[line_no - 1] = ",".join([emotion, " ".join(values), usage])
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"fer2013.csv:3: pixels are not 2304 integers in 0..255"):
        splits_of("fer2013", root=str(path), strict=True)
    report = splits_of("fer2013", root=str(path)).report
    assert report["num_images"] == 19 and [s["file"] for s in report["skipped"]] == [
        "fer2013.csv:3",
        "fer2013.csv:8",
    ]
