"""Video datasets (SAVEE, eNTERFACE'05) on clips written here in their published layouts."""

import csv
import json
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from fer.callbacks.clip_accuracy import group_accuracy
from fer.data.video import frame_indices
from fer.run.config import compose_config
from fer.train import train
from tests.helpers import shared_data, splits_of

SAVEE_CODES = ["a", "d", "f", "h", "n", "sa", "su"]
ENTERFACE = {
    "an": "anger",
    "di": "disgust",
    "fe": "fear",
    "ha": "happiness",
    "sa": "sadness",
    "su": "surprise",
}
FRAMES = 20


def write_clip(path: Path, frames: list[np.ndarray], fps: float = 25.0) -> None:
    """An MJPEG .avi of grey frames, as OpenCV writes it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    height, width = frames[0].shape
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (width, height))
    assert writer.isOpened()
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR))
    writer.release()


def numbered_frames(shape=(60, 80)) -> list[np.ndarray]:
    """Uniform frames whose grey level tells their index: 10 * index + 20."""
    return [np.full(shape, 10 * i + 20, np.uint8) for i in range(FRAMES)]


def write_savee(root: Path, speakers=("DC", "JE", "JK", "KL"), per_code: int = 2) -> int:
    count = 0
    for speaker in speakers:
        for code in SAVEE_CODES:
            for n in range(1, per_code + 1):
                write_clip(root / speaker / f"{code}{n:02d}.avi", numbered_frames())
                count += 1
    return count


def write_enterface(root: Path, subjects=range(1, 7)) -> int:
    count = 0
    for s in subjects:
        for code, emotion in ENTERFACE.items():
            for k in (1, 2):
                folder = root / f"subject {s}" / emotion
                if s != 3:  # subject 3's clips sit without sentence folders, as in some copies
                    folder = folder / f"sentence {k}"
                write_clip(folder / f"s{s}_{code}_{k}.avi", numbered_frames())
                count += 1
    return count


def clip_splits(dm) -> dict[str, set[str]]:
    seen = defaultdict(set)
    for split, arrays in dm.arrays.items():
        for name in arrays.files:
            seen[name.rsplit("#", 1)[0]].add(split)
    return seen


def test_frames_are_the_middles_of_equal_parts_of_the_clip():
    assert frame_indices(100, 5) == [10, 30, 50, 70, 90]
    assert frame_indices(20, 3) == [3, 10, 16]
    assert frame_indices(3, 5) == [0, 1, 2]  # a short clip gives each of its frames once
    assert frame_indices(1, 4) == [0]


def test_savee_clips_become_sampled_frames_grouped_by_speaker(tmp_path):
    root = tmp_path / "AudioVisualClip"
    clips = write_savee(root)
    (root / "DC" / "x01.avi").write_bytes((root / "DC" / "a01.avi").read_bytes())  # not a SAVEE name
    (root / "JE" / "h09.avi").write_bytes(b"RIFF" + bytes(range(256)) * 8)  # not a video
    (root / "loose01.avi").write_bytes(b"")
    dm = splits_of("savee", root=str(root), num_workers=0, frames_per_clip=3, protocol="loso", fold=1)
    report = dm.report
    assert report["clips"] == clips and report["num_images"] == 3 * clips
    assert report["num_subjects"] == 4 and report["subject_overlap"] == []
    assert dm.classes == ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
    skipped = {s["file"]: s["reason"] for s in report["skipped"]}
    assert set(skipped) == {"DC/x01.avi", "JE/h09.avi", "loose01.avi"}
    assert "a|d|f|h|n|sa|su" in skipped["DC/x01.avi"] and "OpenCV" in skipped["JE/h09.avi"]
    assert all(len(splits) == 1 for splits in clip_splits(dm).values())  # a clip never in two splits
    test_files = dm.arrays["test"].files
    assert {f.split("/")[0] for f in test_files} == {"JE"}  # fold 1: the second speaker
    arrays = dm.arrays["test"]
    for name, image in zip(arrays.files, arrays.images):
        index = int(name.rsplit("#", 1)[1])
        assert index in (3, 10, 16)
        assert abs(float(image.mean()) - (10 * index + 20)) < 3  # that very frame (MJPEG rounding aside)
    assert dm.group_of("test") == [f.rsplit("#", 1)[0] for f in test_files]


def test_enterface_tree_with_spaces_and_without_sentence_folders(tmp_path):
    root = tmp_path / "enterface database"
    clips = write_enterface(root)
    dm = splits_of("enterface", root=str(root), num_workers=0, frames_per_clip=2, num_folds=3)
    report = dm.report
    assert report["clips"] == clips and report["num_skipped"] == 0
    assert dm.classes == ["angry", "disgust", "fear", "happy", "sad", "surprise"]  # no neutral
    assert report["num_subjects"] == 6 and report["subject_overlap"] == []
    assert all(len(splits) == 1 for splits in clip_splits(dm).values())
    names = dm.arrays["train"].files + dm.arrays["val"].files + dm.arrays["test"].files
    assert "subject 3/happiness/s3_ha_1.avi#5" in names  # 20 frames, 2 per clip: 5 and 15
    assert "subject 1/anger/sentence 2/s1_an_2.avi#15" in names


def test_group_accuracy_pools_each_clips_frame_probabilities():
    probabilities = torch.tensor([[0.9, 0.1], [0.2, 0.8], [0.3, 0.7], [0.4, 0.6], [0.1, 0.9]])
    labels = torch.tensor([0, 0, 0, 1, 1])  # frame by frame: 3 of 5 right
    # clip a: mean (0.47, 0.53), wrong; clip b: mean (0.25, 0.75), right
    assert group_accuracy(probabilities, labels, ["a", "a", "a", "b", "b"]) == pytest.approx(1 / 2)
    # a right; b: mean (0.25, 0.75) against 0, wrong; c right
    assert group_accuracy(probabilities, labels, ["a", "b", "b", "c", "c"]) == pytest.approx(2 / 3)
    assert group_accuracy(probabilities, labels, list("abcde")) == pytest.approx(3 / 5)


def test_a_run_on_video_clips_reports_clip_and_frame_accuracy(tmp_path):
    root = tmp_path / "AudioVisualClip"
    write_savee(root, per_code=1)
    overrides = [
        "debug=limit",
        "trainer.max_epochs=1",
        "data=savee",
        "data.num_workers=0",
        "callbacks.progress=plain",
        f"data.root={root}",
        "data.frames_per_clip=4",
        "backbone=shallow_cnn",
        "logger=none",
    ]
    result = train(compose_config("train", overrides, tmp_path / "run"))
    metrics = json.loads((Path(result["run_dir"]) / "metrics.json").read_text())
    assert 0.0 <= metrics["test/clip_acc"] <= 1.0 and "test/acc" in metrics
    with open(Path(result["run_dir"]) / "splits.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 4 * 7 * 4
    splits_of = defaultdict(set)
    for row in rows:
        splits_of[row["file"].rsplit("#", 1)[0]].add(row["split"])
    assert all(len(s) == 1 for s in splits_of.values())


def test_real_faces_in_a_clip_are_detected_and_cropped(tmp_path):
    photo = sorted(shared_data("kdef_sample").rglob("*S.*"))[0]
    grey = cv2.imread(str(photo), cv2.IMREAD_GRAYSCALE)
    frame = cv2.resize(grey, (280, 380))
    frames = [np.roll(frame, shift, axis=1) for shift in range(0, 40, 2)]
    root = tmp_path / "AudioVisualClip"
    for speaker in ("DC", "JE", "JK", "KL"):
        write_clip(root / speaker / "h01.avi", frames)
    report = splits_of("savee", root=str(root), num_workers=0, frames_per_clip=5, protocol="loso").report
    assert report["face_crop"]["faces_found"] == 20 and report["face_crop"]["no_face_fallback"] == 0
