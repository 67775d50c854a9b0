"""The real copies in ../shared/data (skipped with the reason when absent; CI has them)."""

import re

import numpy as np
import pytest

from tests.helpers import decoded_of, shared_data, splits_of

pytestmark = pytest.mark.realdata

FER2013_COUNTS = {  # ../shared/data/README.md: train / PublicTest / PrivateTest
    "angry": (3995, 467, 491),
    "disgust": (436, 56, 55),
    "fear": (4097, 496, 528),
    "happy": (7215, 895, 879),
    "neutral": (4965, 607, 626),
    "sad": (4830, 653, 594),
    "surprise": (3171, 415, 416),
}


@pytest.fixture(scope="module")
def fer2013(tmp_path_factory):
    dm = splits_of(
        "fer2013",
        root=str(shared_data("fer2013")),
        cache_dir=str(tmp_path_factory.mktemp("cache")),
        num_workers=0,
    )
    return dm


def test_fer2013_counts_per_split_and_class(fer2013):
    report = fer2013.report
    assert report["num_images"] == 35_887 and report["num_skipped"] == 0
    for name, (train, val, test) in FER2013_COUNTS.items():
        assert (
            report["splits"]["train"][name],
            report["splits"]["val"][name],
            report["splits"]["test"][name],
        ) == (train, val, test)
    assert report["image_shape"] == [48, 48]


def test_fer2013_known_duplicates_and_leaks(fer2013):
    duplicates = fer2013.report["duplicates"]
    assert duplicates["groups"] == 1516 and duplicates["images_in_groups"] == 3369
    assert duplicates["cross_split_leaks"] == 568
    assert duplicates["conflicting_label_groups"] == 57
    assert duplicates["largest_group"] == 12 and duplicates["constant_images"] >= 12


def test_fer2013_reproducible_cleaning(fer2013):
    """Every known defect removed: no duplicate, leak or blank image is left."""
    from fer.data.arrays import FaceArrays
    from fer.data.cleaning import clean
    from fer.data.summary import duplicates_summary

    whole = FaceArrays(
        **{
            k: np.concatenate([getattr(fer2013.arrays[s], k) for s in ("train", "val", "test")])
            for k in ("images", "labels", "splits")
        },
        classes=fer2013.classes,
    )
    kept, report = clean(whole)
    assert report["constant_images"] == 12 and report["cross_split_duplicates"] >= 560
    assert (
        report["removed"]
        == report["constant_images"]
        + report["conflicting_label_images"]
        + report["cross_split_duplicates"]
        + report["within_split_duplicates"]
    )
    assert len(kept.images) == 35_887 - report["removed"]
    after = duplicates_summary(kept, kept.splits)
    assert after["groups"] == after["cross_split_leaks"] == after["constant_images"] == 0


def test_kdef_sample_parsed():

    report = splits_of("kdef", root=str(shared_data("kdef_sample")), cache_dir=None, num_workers=0).report
    assert report["num_images"] == 82 and report["num_skipped"] == 0 and report["filtered_out"] == 0
    assert report["face_crop"]["faces_found"] == 82
    assert report["num_subjects"] == len(
        {name[1:4] for name in (p.name for p in shared_data("kdef_sample").glob("*.jpg"))}
    )


def test_fer2013_csv_rows_equal_the_matching_images(fer2013):
    """The real CSV sample: each row has a twin among the training JPEGs within JPEG error."""
    csv = decoded_of("fer2013", root=str(shared_data("fer2013_csv_sample") / "fer2013_head151.csv"))
    rows = csv.arrays
    assert len(rows.images) == 151 and set(rows.splits) == {"train"}
    train = fer2013.arrays["train"]
    a = rows.images.reshape(151, -1).astype(np.float32)
    b = train.images.reshape(len(train.images), -1).astype(np.float32)
    nearest = ((a**2).sum(1)[:, None] - 2 * a @ b.T + (b**2).sum(1)[None]).argmin(1)
    error = np.abs(a - b[nearest]).mean(1)
    assert error.max() < 4.0 and 0.5 < error.mean() < 2.5  # JPEG rounding, ~1.3 grey levels
    # and the labels agree (FER2013 code order is the project's order)
    assert (rows.labels == train.labels[nearest]).mean() > 0.97


def test_ckplus48_subjects_and_subject_folds(tmp_path):
    root = shared_data("ckplus48")
    tests = []
    for fold in range(10):
        dm = splits_of(
            "ckplus", root=str(root), protocol="kfold", num_folds=10, fold=fold, cache_dir=str(tmp_path)
        )
        report = dm.report
        assert report["num_images"] == 981 and report["num_subjects"] == 118
        assert report["subject_overlap"] == []
        tests.append(set(dm.arrays["test"].subjects))
    assert set().union(*tests) == set(np.unique(dm.arrays["train"].subjects)) | set(
        dm.arrays["val"].subjects
    ) | set(dm.arrays["test"].subjects)
    assert sum(len(t) for t in tests) == 118  # every subject is tested exactly once
    assert all(re.fullmatch(r"S\d{3}", s) for s in tests[0])
