"""fer.predict and fer.export on a small trained model: faces found, JSON lines, annotated output,
ONNX parity."""

import json
from dataclasses import asdict
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from fer.export import export
from fer.inference.runtime import OnnxModel, TorchModel, load
from fer.predict import predict
from fer.run.config import compose_config
from tests.helpers import shared_data


def predict_config(ckpt: Path, source: Path | str, output: Path, *overrides: str):
    return compose_config(
        "predict", [f"ckpt={ckpt}", f"input={source}", f"output={output}", "print=false", *overrides], output
    )


def lines(output: Path) -> list[dict]:
    return [json.loads(line) for line in (output / "predictions.jsonl").read_text().splitlines()]


def kdef_faces(count: int = 16) -> np.ndarray:
    """Real faces, cropped and resized as predict does, as a uint8 batch (count, 1, 48, 48)."""
    from fer.faces.cropper import FaceCropper
    from fer.run.config import FacesConfig

    cropper = FaceCropper(48, 0.15, asdict(FacesConfig()))
    photos = sorted(shared_data("kdef_sample").glob("*.jpg"))[:count]
    return np.stack([cropper(cv2.imread(str(p), cv2.IMREAD_GRAYSCALE))[0] for p in photos])[:, None]


def test_onnx_export_matches_pytorch_on_real_faces(checkpoint, tmp_path):
    path = export(checkpoint, "onnx", tmp_path / "model.onnx")
    faces = kdef_faces()
    torch_model, onnx_model = TorchModel.from_checkpoint(checkpoint), OnnxModel(path)
    with torch.inference_mode():
        expected = torch_model.module(torch.from_numpy(faces)).numpy()
    assert np.abs(onnx_model.logits(faces) - expected).max() < 1e-4
    assert onnx_model.logits(faces[:3]).shape == (3, len(torch_model.classes))  # dynamic batch
    assert onnx_model.meta == torch_model.meta and onnx_model.classes == torch_model.classes
    with pytest.raises(FileExistsError):
        export(checkpoint, "onnx", path)


def test_onnx_and_torchscript_match_pytorch_on_synthetic_faces(checkpoint, tmp_path):
    from fer.data.synthetic_faces import synthetic_faces

    faces = synthetic_faces(8, seed=3)[0][:, None]
    torch_model = TorchModel.from_checkpoint(checkpoint)
    with torch.inference_mode():
        expected = torch_model.module(torch.from_numpy(faces)).numpy()
    assert np.abs(load(export(checkpoint, "onnx", tmp_path / "m.onnx")).logits(faces) - expected).max() < 1e-4
    extra = {"fer.json": ""}
    scripted = torch.jit.load(str(export(checkpoint, "torchscript", tmp_path / "m.pt")), _extra_files=extra)
    assert np.abs(scripted(torch.from_numpy(faces)).detach().numpy() - expected).max() < 1e-4
    assert json.loads(extra["fer.json"])["classes"] == torch_model.classes


@pytest.mark.parametrize("runtime", ["ckpt", "onnx"])
def test_predict_on_the_kdef_photos_finds_and_labels_every_face(checkpoint, tmp_path, runtime):
    photos = shared_data("kdef_sample")
    model = checkpoint if runtime == "ckpt" else export(checkpoint, "onnx", tmp_path / "model.onnx")
    summary = predict(predict_config(model, photos, tmp_path / "out", "annotate=true"))
    results = lines(tmp_path / "out")
    assert summary["frames"] == 82 and summary["frames_without_face"] <= 4  # >= 95% found
    sources = {r["source"] for r in results}
    assert (
        sources <= {str(p) for p in photos.glob("*.jpg")}
        and len(sources) == 82 - summary["frames_without_face"]
    )
    assert len(results) == summary["faces"] >= 78
    for r in results[:5]:
        assert set(r) == {
            "source",
            "frame",
            "track",
            "box",
            "label",
            "probabilities",
            "detector_score",
            "landmarks",
        }
        assert r["track"] is None and len(r["landmarks"]) == 5  # photos are not tracked
        assert r["label"] == max(r["probabilities"], key=r["probabilities"].get)
        assert sum(r["probabilities"].values()) == pytest.approx(1, abs=1e-3)
    annotated = cv2.imread(str(tmp_path / "out" / "AF01ANS.jpg.jpg"))
    assert annotated is not None and annotated.shape == (320, 256, 3)


def test_annotated_copies_keep_the_inputs_extension(checkpoint, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    photo = cv2.imread(str(shared_data("kdef_sample") / "AF01ANS.jpg"))
    cv2.imwrite(str(folder / "x.jpg"), photo)
    cv2.imwrite(str(folder / "x.png"), photo[:, ::-1])
    predict(predict_config(checkpoint, folder, tmp_path / "out", "annotate=true"))
    jpg, png = (cv2.imread(str(tmp_path / "out" / f"x.{ext}.jpg")) for ext in ("jpg", "png"))
    assert jpg is not None and png is not None and not np.array_equal(jpg, png)


def test_no_face_is_an_empty_result_and_unreadable_files_are_skipped(checkpoint, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    cv2.imwrite(str(folder / "wall.png"), np.full((240, 320, 3), 90, np.uint8))
    (folder / "broken.jpg").write_bytes(b"not a jpeg")
    (folder / "notes.txt").write_text("ignored")
    summary = predict(predict_config(checkpoint, folder, tmp_path / "out"))
    assert summary["frames"] == 1 and summary["faces"] == 0 and summary["frames_without_face"] == 1
    assert summary["unreadable"] == [{"file": str(folder / "broken.jpg"), "reason": "not a readable image"}]
    assert lines(tmp_path / "out") == []
    with pytest.raises(FileNotFoundError, match="no such file or folder"):
        predict(predict_config(checkpoint, tmp_path / "missing", tmp_path / "out2"))


def test_predict_on_a_video_skips_frames_and_writes_an_annotated_video(checkpoint, tmp_path):
    photo = cv2.imread(str(shared_data("kdef_sample") / "AM19HAS.jpg"))
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (640, 480))
    for i in range(10):
        frame = np.full((480, 640, 3), 40 + 10 * i, np.uint8)
        frame[80:400, 100 + 20 * i : 356 + 20 * i] = photo
        writer.write(frame)
    writer.release()
    summary = predict(predict_config(checkpoint, path, tmp_path / "out", "every=2", "annotate=true"))
    results = lines(tmp_path / "out")
    assert summary["frames"] == 5 and [r["frame"] for r in results] == [0, 2, 4, 6, 8]
    assert results[0]["box"][0] < results[-1]["box"][0]  # the face moves right
    assert [r["track"] for r in results] == [0] * 5  # one face, followed
    timeline = (tmp_path / "out" / "clip_timeline.csv").read_text().splitlines()
    assert timeline[0].startswith("frame,seconds,track,label,") and len(timeline) == 6
    assert timeline[2].startswith("2,0.2,0,")  # frame 2 at 10 frames/s
    assert cv2.imread(str(tmp_path / "out" / "clip_timeline.png")) is not None
    capture = cv2.VideoCapture(str(tmp_path / "out" / "clip.avi.mp4"))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 5


def test_a_video_cut_short_is_reported_with_both_counts(tmp_path):
    from fer.inference.frames import Tally, frames

    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    for i in range(30):
        writer.write(np.random.default_rng(i).integers(0, 255, (48, 64, 3), dtype=np.uint8))
    writer.release()
    whole = Tally()
    assert len(list(frames(str(path), 1, whole))) == 30 and whole.ended_early == []
    path.write_bytes(path.read_bytes()[: path.stat().st_size * 6 // 10])  # a copy interrupted
    cut = Tally()
    read = len(list(frames(str(path), 1, cut)))
    assert 0 < read < 30
    assert cut.ended_early == [{"file": str(path), "frames_read": read, "frames_in_header": 30}]


def test_timeline_lines_break_where_a_face_was_missing():
    from fer.inference.timeline import with_gaps

    rows = [{"frame": f, "seconds": f / 10, "track": 0, "happy": 0.5} for f in (0, 2, 8, 10)]
    position = {f: i for i, f in enumerate(range(0, 12, 2))}  # every 2nd frame classified
    out = with_gaps(rows, position)
    assert [r["frame"] for r in out] == [0, 2, 8, 8, 10]  # frames 4 and 6 passed without the face
    assert np.isnan(out[2]["happy"]) and out[3]["happy"] == 0.5
