"""Full-frame datasets (KDEF, JAFFE, original CK+), face cropping, FER2013-cleaned and data.clean."""

import shutil
from dataclasses import asdict
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from fer.data.cleaning import clean
from fer.data.decode import DataError
from fer.faces.box import centre_square, square
from fer.faces.cropper import FaceCropper
from fer.run.config import FacesConfig, compose_config
from tests.helpers import check_run_dir, decoded_of, face, shared_data, snapshot, splits_of, write_fer2013_csv

EXPRESSIONS = ["AF", "AN", "DI", "HA", "NE", "SA", "SU"]


def noise(shape: tuple[int, int], seed: int) -> np.ndarray:
    """A frame with no face in it: cropping falls back to the central square."""
    return cv2.GaussianBlur(np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8), (9, 9), 3)


def write_kdef(root: Path, people: list[str], angles=("S", "HL"), suffixes=(".JPG", ".jpg")) -> int:
    count = 0
    for p, person in enumerate(people):
        for e, expr in enumerate(EXPRESSIONS):
            for angle in angles:
                folder = root / person
                folder.mkdir(parents=True, exist_ok=True)
                cv2.imwrite(
                    str(folder / f"{person}{expr}{angle}{suffixes[(p + e) % len(suffixes)]}"),
                    cv2.cvtColor(noise((76, 56), count), cv2.COLOR_GRAY2BGR),
                )
                count += 1
    return count


def test_kdef_tree_filters_by_angle_and_session_and_groups_by_subject(tmp_path):
    root = tmp_path / "KDEF"
    people = ["AF01", "BF01", "AM02", "BM02", "AF03", "BF03", "AM04", "BM04", "AF05", "BF05"]
    write_kdef(root, people)
    (root / "AF01" / "AF01XXS.JPG").write_bytes(
        next((root / "AF01").glob("AF01ANS.*")).read_bytes()
    )  # misnamed
    before = snapshot(root)
    dm = splits_of("kdef", root=str(root), num_workers=0, num_folds=5)
    report = dm.report
    assert report["num_images"] == 10 * 7  # straight only, both sessions
    assert report["filtered_out"] == 10 * 7  # the half-left poses
    assert report["num_subjects"] == 5  # AF01 and BF01 are one person, F01
    assert report["subject_overlap"] == []
    assert report["skipped"] == [{"file": "AF01/AF01XXS.JPG", "reason": report["skipped"][0]["reason"]}]
    assert "AF|AN|DI|HA|NE|SA|SU" in report["skipped"][0]["reason"]
    assert report["face_crop"]["no_face_fallback"] == 70 and report["face_crop"]["faces_found"] == 0
    assert report["image_shape"] == [48, 48]
    assert sorted(report["splits"]["test"]) == sorted(dm.classes) and len(dm.classes) == 7
    only_a = splits_of("kdef", root=str(root), num_workers=0, angles=["S", "HL"], sessions=["A"]).report
    assert only_a["num_images"] == 5 * 7 * 2 and only_a["filtered_out"] == 5 * 7 * 2
    assert snapshot(root) == before
    with pytest.raises(ValueError, match="data.angles"):
        splits_of("kdef", root=str(root), angles=["UP"])


def test_kdef_lists_missing_poses_and_offers_image_level_folds(tmp_path):
    """A pose with no file is listed (the release lacks AF01SUFR); kfold keeps a person's two sessions in
    one fold, kfold_images (Akhand et al.'s random folds) does not, and its note says so."""
    root = tmp_path / "KDEF"
    people = [f"{s}{x}{i:02d}" for i in range(1, 6) for x in "FM" for s in "AB"]
    write_kdef(root, people, angles=("S",))
    next((root / "BM03").glob("BM03SAS.*")).unlink()
    grouped = splits_of("kdef", root=str(root), num_workers=0, protocol="kfold", num_folds=5)
    report = grouped.report
    assert report["missing_photos"] == ["BM03SAS"]
    assert report["num_images"] == 20 * 7 - 1 and report["subject_overlap"] == []
    overlaps = []
    for fold in range(5):
        images = splits_of(
            "kdef", root=str(root), num_workers=0, protocol="kfold_images", num_folds=5, fold=fold
        )
        report = images.report
        assert "over images, subjects ignored" in report["protocol"]["note"]
        overlaps.append(len(report["subject_overlap"]))
        assert sum(report["splits"]["test"].values()) in (27, 28)  # 139 images in five random folds
    assert min(overlaps) > 0  # a person's photos straddle train and test


def test_kdef_real_sample_in_the_full_tree_layout_finds_every_face(tmp_path):
    """The real photos, laid out as the full KDEF tree with upper-case .JPG names."""
    sample = shared_data("kdef_sample")
    root = tmp_path / "KDEF"
    for photo in sorted(sample.glob("*.jpg")):
        (root / photo.stem[:4]).mkdir(parents=True, exist_ok=True)
        shutil.copy(photo, root / photo.stem[:4] / f"{photo.stem}.JPG")
    report = splits_of("kdef", root=str(root), num_workers=0, cache_dir=None).report
    assert report["num_images"] == 82 and report["num_skipped"] == 0
    assert report["face_crop"]["faces_found"] == 82 and report["face_crop"]["no_face_fallback"] == 0
    assert report["subject_overlap"] == []


@pytest.mark.parametrize("detector", ["cnn", "haar"])
def test_face_crop_is_centred_on_the_detected_face(detector):
    photo = cv2.imread(str(shared_data("kdef_sample") / "AF01ANS.jpg"), cv2.IMREAD_GRAYSCALE)
    cropper = FaceCropper(48, 0.15, asdict(FacesConfig(detector=detector)))
    face = cropper.find(photo)
    assert face is not None
    x, y, w, h = face.box
    # the face of a KDEF portrait: central column, upper-middle rows, 30-80% of the width
    assert abs((x + w / 2) - photo.shape[1] / 2) < 0.1 * photo.shape[1]
    assert 0.3 * photo.shape[0] < y + h / 2 < 0.6 * photo.shape[0]
    assert 0.3 < w / photo.shape[1] < 0.8
    image, found = cropper(photo)
    assert found and image.shape == (48, 48) and image.dtype == np.uint8
    # the same face found in a larger, shifted frame
    canvas = np.full((600, 800), 127, np.uint8)
    canvas[200:520, 400:656] = photo
    shifted = cropper.find(canvas)
    assert (
        shifted is not None
        and abs(shifted.box[0] - (x + 400)) < 0.1 * w
        and abs(shifted.box[1] - (y + 200)) < 0.1 * h
    )


def test_square_and_centre_square_stay_inside_the_frame():
    assert square(np.array([0, 0, 40, 20]), 0.5, (50, 100)) == (0, 0, 50, 50)
    assert square(np.array([90, 40, 10, 10]), 0.0, (50, 100)) == (90, 40, 100, 50)
    assert centre_square((490, 640)) == (75, 0, 565, 490)


def write_palette_tiff(path: Path, grey: np.ndarray) -> None:
    image = Image.fromarray(grey, mode="P")
    image.putpalette([v for i in range(256) for v in (i, i, i)])
    image.save(path)


def test_jaffe_palette_tiffs_are_read_as_grey_with_leave_one_subject_out(tmp_path):
    root = tmp_path / "jaffe"
    root.mkdir()
    subjects = ["KA", "KL", "KM", "KR", "MK"]
    frames = {}
    for s, subject in enumerate(subjects):
        for e, expr in enumerate(EXPRESSIONS[1:] + ["FE"]):
            grey = noise((256, 256), s * 10 + e)
            name = f"{subject}.{expr}{1 + e % 2}.{100 + s * 10 + e}.tiff"
            if e % 2:
                write_palette_tiff(root / name, grey)
            else:
                Image.fromarray(grey).save(root / name)
            frames[name] = grey
    (root / "README.txt").write_text("not an image")
    (root / "KA.XX1.1.tiff").write_bytes((root / next(iter(frames))).read_bytes())
    assert [Image.open(root / n).mode for n in ("KA.AN1.100.tiff", "KA.DI2.101.tiff")] == [
        "L",
        "P",
    ]  # plain and palette files
    dm = splits_of("jaffe", root=str(root), num_workers=0, protocol="loso", fold=2)
    report = dm.report
    assert report["num_images"] == 35 and report["num_subjects"] == 5
    assert report["protocol"]["note"].startswith("leave-one-subject-out: test subject KM")
    assert sum(report["splits"]["test"].values()) == 7 and report["subject_overlap"] == []
    assert [s["file"] for s in report["skipped"]] == ["KA.XX1.1.tiff"]
    every = {**{f: i for a in dm.arrays.values() for f, i in zip(a.files, a.images)}}
    for name, grey in frames.items():  # no face in noise: the central square, resized
        assert np.array_equal(every[name], cv2.resize(grey, (48, 48), interpolation=cv2.INTER_AREA)), name


def write_ckplus_original(root: Path, subjects=("S005", "S010")) -> None:
    """Three sequences per subject: two labelled, one not; S010's third label file garbled."""
    for s, subject in enumerate(subjects):
        for q, (sequence, code) in enumerate([("001", "3"), ("002", "5"), ("003", None)]):
            frames = root / "cohn-kanade-images" / subject / sequence
            frames.mkdir(parents=True)
            for f in range(1, 7):
                cv2.imwrite(
                    str(frames / f"{subject}_{sequence}_{f:08d}.png"), noise((490, 640), s * 100 + q * 10 + f)
                )
            if code is not None:
                labels = root / "Emotion" / subject / sequence
                labels.mkdir(parents=True)
                (labels / f"{subject}_{sequence}_00000006_emotion.txt").write_text(f"   {float(code):.7e}\n")
    garbled = root / "Emotion" / "S010" / "003"
    garbled.mkdir(parents=True)
    (garbled / "S010_003_00000006_emotion.txt").write_text("happy\n")


def test_ckplus_original_release_peak_frames_and_neutral(tmp_path):
    root = tmp_path / "CK+"
    write_ckplus_original(root)
    dm = decoded_of(
        "ckplus", root=str(root), num_workers=0, protocol="official", test_fraction=0.5, val_fraction=0.25
    )
    arrays = dm.arrays
    assert len(arrays.images) == 4 * 3 and arrays.classes == [
        "angry",
        "disgust",
        "fear",
        "happy",
        "sad",
        "surprise",
        "contempt",
    ]
    assert sorted(set(arrays.subjects)) == ["S005", "S010"]
    assert {arrays.classes[label] for label in arrays.labels} == {"disgust", "happy"}
    assert all(f.endswith(("_00000004.png", "_00000005.png", "_00000006.png")) for f in arrays.files)
    assert [s["file"] for s in dm.skipped] == ["Emotion/S010/003/S010_003_00000006_emotion.txt"]
    assert dm.facts["face_crop"]["no_face_fallback"] == 12
    with_neutral = decoded_of(
        "ckplus", root=str(root), num_workers=0, neutral_first_frame=True, peak_frames=1
    ).arrays
    assert "neutral" in with_neutral.classes and len(with_neutral.images) == 4 * 2
    neutral = with_neutral.classes.index("neutral")
    assert sorted(
        f for f, label in zip(with_neutral.files, with_neutral.labels) if label == neutral
    ) == sorted(
        f"cohn-kanade-images/{s}/{q}/{s}_{q}_00000001.png" for s in ("S005", "S010") for q in ("001", "002")
    )


def write_cleaned_kaggle(root: Path, per_class: int = 10) -> None:
    for c, folder in enumerate(["Angry", "disgust", "fear", "Happy", "Neutral"]):
        (root / folder).mkdir(parents=True)
        for i in range(per_class):
            cv2.imwrite(str(root / folder / f"im{i}.jpg"), face(c * 100 + i))


def test_fer2013_clean_kaggle_layout_gets_a_seeded_stratified_split(tmp_path):
    root = tmp_path / "cleaned"
    write_cleaned_kaggle(root)
    first = splits_of("fer2013_clean", root=str(root), num_workers=0, seed=1)
    report = first.report
    assert report["classes"] == ["angry", "disgust", "fear", "happy", "neutral"]
    assert report["source"] == "the Kaggle FER2013-cleaned class folders" and report["cleaning"] is None
    assert {s: sum(c.values()) for s, c in report["splits"].items()} == {"train": 35, "val": 5, "test": 10}
    assert all(report["splits"]["test"][c] == 2 for c in report["classes"])  # stratified
    assert "seeded stratified 70%/10%/20%" in report["protocol"]["note"]
    again = splits_of("fer2013_clean", root=str(root), num_workers=0, seed=1)
    other = splits_of("fer2013_clean", root=str(root), num_workers=0, seed=2)
    assert again.arrays["test"].files == first.arrays["test"].files != other.arrays["test"].files
    first.save(tmp_path / "splits.csv")
    assert "Angry/im0.jpg" in (tmp_path / "splits.csv").read_text()


def duplicated_rows() -> list:
    """FER2013 rows with every defect the cleaning removes, one kind per image id."""
    blank = np.zeros((48, 48), np.uint8)
    rows = [(i % 7, face(i), "Training") for i in range(14)]
    rows += [(0, blank, "Training"), (3, blank, "PublicTest")]  # constant, also a conflicting group
    rows += [(1, face(100), "Training"), (2, face(100), "PrivateTest")]  # conflicting labels
    rows += [
        (4, face(101), "Training"),
        (4, face(101), "PrivateTest"),
        (4, face(101), "PublicTest"),
    ]  # cross-split leaks
    rows += [(5, face(102), "Training"), (5, face(102), "Training")]  # within-split repeat
    rows += [(6, face(103), "PublicTest"), (6, face(103), "PrivateTest")]  # val/test twins: keep val
    rows += [(i % 7, face(200 + i), "PublicTest") for i in range(3)] + [
        (i % 7, face(300 + i), "PrivateTest") for i in range(3)
    ]
    return rows


def test_cleaning_removes_each_defect_and_counts_it(tmp_path):
    write_fer2013_csv(tmp_path / "fer2013.csv", duplicated_rows())
    dm = splits_of("fer2013", root=str(tmp_path), num_workers=0, clean=True)
    report = dm.report
    assert {k: v for k, v in report["cleaning"].items() if k != "removed_files"} == {
        "removed": 8,
        "constant_images": 2,
        "conflicting_label_images": 2,
        "cross_split_duplicates": 3,
        "within_split_duplicates": 1,
    }
    assert report["num_images"] == len(duplicated_rows()) - 8
    assert report["duplicates"]["groups"] == 0 and report["duplicates"]["constant_images"] == 0
    assert {s: sum(c.values()) for s, c in report["splits"].items()} == {"train": 16, "val": 4, "test": 3}
    assert {
        r["file"] for r in report["cleaning"]["removed_files"] if r["reason"] == "cross-split duplicate"
    } == {"fer2013.csv:21", "fer2013.csv:22", "fer2013.csv:26"}
    # the same copy under data=fer2013_clean: cleaned whatever data.clean says, five classes
    five = splits_of("fer2013_clean", root=str(tmp_path), num_workers=0).report
    assert five["cleaning"]["removed"] == 8 and five["classes"] == [
        "angry",
        "disgust",
        "fear",
        "happy",
        "neutral",
    ]


def test_cleaning_is_a_function_of_the_data_alone():
    from fer.data.arrays import FaceArrays

    images = np.stack([face(i % 5) for i in range(20)])
    arrays = FaceArrays(
        images=images,
        labels=np.array([i % 5 for i in range(20)]),
        classes=["a", "b", "c", "d", "e"],
        splits=np.array([""] * 20),
        files=[str(i) for i in range(20)],
    )
    kept, report = clean(arrays)
    assert kept.files == ["0", "1", "2", "3", "4"] and report["within_split_duplicates"] == 15
    kept_again, _ = clean(arrays)
    assert kept_again.files == kept.files


def test_posed_loaders_name_what_they_expected(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.jpg").write_bytes(b"")
    with pytest.raises(DataError, match="named like AF01ANS.JPG"):
        splits_of("kdef", root=str(tmp_path / "empty"))
    with pytest.raises(DataError, match="KA.AN1.39.tiff"):
        splits_of("jaffe", root=str(tmp_path / "empty"))
    with pytest.raises(DataError, match="does not exist"):
        splits_of("jaffe", root=str(tmp_path / "nowhere"))


@pytest.mark.parametrize("dataset", ["kdef", "jaffe", "ckplus", "fer2013_clean"])
def test_one_epoch_of_training_on_each_layout(dataset, tmp_path):
    """``fer.train data=<name> data.root=...`` on a fixture in the dataset's own layout."""
    from fer.train import train

    root = tmp_path / dataset
    if dataset == "kdef":
        write_kdef(root, ["AF01", "AF02", "AM03", "AM04", "AF05", "AM06"], angles=("S",))
    elif dataset == "jaffe":
        root.mkdir()
        for s, subject in enumerate(["KA", "KL", "KM", "KR"]):
            for e, expr in enumerate(EXPRESSIONS[1:] + ["FE"]):
                write_palette_tiff(
                    root / f"{subject}.{expr}1.{s * 10 + e}.tiff", noise((256, 256), s * 10 + e)
                )
    elif dataset == "ckplus":
        write_ckplus_original(root, subjects=("S005", "S010", "S011", "S012"))
    else:
        write_cleaned_kaggle(root)
    overrides = [
        f"data={dataset}",
        f"data.root={root}",
        "data.num_workers=0",
        f"paths.cache_dir={tmp_path / 'cache'}",
        "trainer.max_epochs=1",
        "logger=csv",
        "callbacks.progress=plain",
    ]
    if dataset in ("ckplus", "kdef"):
        overrides += ["data.protocol=official", "data.test_fraction=0.5", "data.val_fraction=0.25"]
    metrics = check_run_dir(Path(train(compose_config("train", overrides, tmp_path / "run"))["run_dir"]))
    assert metrics["dataset"] == dataset
