"""Checkpoints that survive a kill, a resume that loses nothing, safe caches, refusals that write nothing."""

import gzip
import json
import logging
import os
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from fer.data.arrays import FaceArrays
from fer.data.cache import load_cached, save_cached
from fer.data.decode import DataError
from fer.models.weights import WeightsUnavailable
from fer.run import checkpoint as ckpt_module
from fer.run.checkpoint import AtomicCheckpointIO
from fer.run.config import compose_config
from fer.train import train
from tests.helpers import face, fer_rows, run_cli, splits_of, write_fer2013_csv

SHM = Path("/dev/shm")


def temporary_file(path: Path) -> bool:
    """A file made by Python's tempfile (as fsspec's staging of Lightning's checkpoint writes was)."""
    return path.is_file() and path.name.startswith(tempfile.gettempprefix())


def epochs(run_dir: Path, name: str) -> int:
    return torch.load(run_dir / "checkpoints" / name, map_location="cpu", weights_only=True)["epoch"]


def test_last_checkpoint_follows_every_epoch_and_keeps_the_previous_one(train_config):
    """The monitor never improves after epoch 1 (mode=min on the epoch): last.ckpt must still move on."""
    cfg = train_config(
        "backbone=shallow_cnn",
        "trainer.max_epochs=3",
        "test=false",
        "callbacks.checkpoint.monitor=epoch",
        "callbacks.checkpoint.mode=min",
    )
    train(cfg)
    run_dir = Path(cfg.paths.output_dir)
    assert epochs(run_dir, "best.ckpt") == 0
    assert epochs(run_dir, "last.ckpt") == 2 and epochs(run_dir, "last.prev.ckpt") == 1
    assert not list((run_dir / "checkpoints").glob(".*"))  # no temporary file left


def test_a_write_cut_short_leaves_the_old_checkpoint_and_no_temporary_file(tmp_path, monkeypatch):
    folder = (SHM if SHM.is_dir() else tmp_path) / f"fer-test-{os.getpid()}"
    path = folder / "last.ckpt"
    before_tmp = set(Path(tempfile.gettempdir()).iterdir())
    io = AtomicCheckpointIO()
    try:
        io.save_checkpoint({"epoch": 1, "w": torch.ones(1000)}, path)
        real_save = torch.save

        def cut_short(obj, f):
            real_save(obj, f)
            f.truncate(100)
            raise KeyboardInterrupt  # as a kill would stop the writer part-way

        monkeypatch.setattr(ckpt_module.torch, "save", cut_short)
        with pytest.raises(KeyboardInterrupt):
            io.save_checkpoint({"epoch": 2, "w": torch.zeros(1000)}, path)
        assert torch.load(path, weights_only=True)["epoch"] == 1  # the old file, whole
        assert sorted(p.name for p in folder.iterdir()) == ["last.ckpt"]  # no partial file beside it
        assert [p for p in set(Path(tempfile.gettempdir()).iterdir()) - before_tmp if temporary_file(p)] == []
    finally:
        for p in folder.glob("*"):
            p.unlink()
        folder.rmdir()


def test_resume_names_a_damaged_checkpoint_and_the_previous_good_one(train_config):
    first = train_config("backbone=shallow_cnn", "trainer.max_epochs=2", "test=false")
    run_dir = Path(first.paths.output_dir)
    train(first)
    last = run_dir / "checkpoints" / "last.ckpt"
    last.write_bytes(last.read_bytes()[: last.stat().st_size // 2])  # a disk that filled up
    overrides = ["debug=fast", "backbone=shallow_cnn", "callbacks.progress=plain", "trainer.max_epochs=3"]
    with pytest.raises(ValueError, match=r"damaged .*last\.prev\.ckpt continues"):
        train(compose_config("train", [*overrides, f"resume={last}"], run_dir))
    previous = run_dir / "checkpoints" / "last.prev.ckpt"
    metrics = train(compose_config("train", [*overrides, f"resume={previous}"], run_dir))
    assert metrics["epochs"] == 3
    history = (run_dir / "history.csv").read_text().splitlines()
    assert [row.split(",")[0] for row in history[1:]] == ["1", "2", "3"]


class Hostile:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_resume_never_runs_code_from_a_checkpoint(train_config, tmp_path, monkeypatch):
    marker, path = tmp_path / "code_ran", tmp_path / "hostile.ckpt"
    torch.save({"hyper_parameters": {"classes": ["angry"]}, "payload": Hostile(marker)}, path)
    monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")  # what some environments set
    torch.load(path)  # proof that the file is hostile: torch's default load runs its code
    assert marker.exists()
    marker.unlink()
    with pytest.raises(ValueError, match="objects other than tensors"):
        train(train_config("backbone=shallow_cnn", f"resume={path}"))
    assert not marker.exists()


def test_a_refused_rerun_writes_nothing_into_the_finished_run(tmp_path):
    run = tmp_path / "run"
    overrides = ["debug=fast", "backbone=shallow_cnn", "logger=none"]
    train(compose_config("train", overrides, run))  # the finished run (in process: no second start-up)

    def snapshot():
        return {str(p): (p.stat().st_size, p.stat().st_mtime_ns) for p in run.rglob("*")}

    before = snapshot()
    again = run_cli(["fer.train", *overrides, f"hydra.run.dir={run}"], tmp_path)
    assert again.returncode != 0 and "already holds a finished run" in again.stderr
    assert snapshot() == before  # no .hydra rewrite, no failed.json, no log line


def test_concurrent_writers_of_one_cache_do_not_collide(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (4000, 48, 48), dtype=np.uint8)  # ~9 MB
    arrays = FaceArrays(images, np.zeros(4000, np.int64), ["angry"], np.array(["train"] * 4000))
    path, errors = tmp_path / "cache" / "fer2013-key.npz", []

    def write():
        try:
            for _ in range(5):
                assert save_cached(path, arrays, [], {})
        except Exception as err:  # noqa: BLE001  (collected, then asserted empty)
            errors.append(err)

    threads = [threading.Thread(target=write) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and np.array_equal(load_cached(path)[0].images, images)
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]


def test_an_unwritable_or_damaged_cache_is_reported_and_bypassed(tmp_path, caplog):
    source = write_fer2013_csv(tmp_path / "fer2013.csv", fer_rows())
    blocked = tmp_path / "not_a_folder"
    blocked.write_text("a file where the cache folder should be")
    with caplog.at_level(logging.WARNING):
        report = splits_of("fer2013", root=str(source), cache_dir=str(blocked / "cache")).report
    assert report["num_images"] == 21 and "not written" in caplog.text

    cache_dir = tmp_path / "cache"
    splits_of("fer2013", root=str(source), cache_dir=str(cache_dir))
    (cached,) = cache_dir.glob("*.npz")
    size = cached.stat().st_size
    cached.write_bytes(cached.read_bytes()[: size // 2])
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        assert splits_of("fer2013", root=str(source), cache_dir=str(cache_dir)).report["num_images"] == 21
    assert "damaged" in caplog.text and cached.stat().st_size == size  # rebuilt whole


def write_image_folders(root: Path) -> None:
    for split, prefix in (("train", "Training"), ("test", "PublicTest"), ("test", "PrivateTest")):
        for i, name in enumerate(["angry", "happy"]):
            (root / split / name).mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(root / split / name / f"{prefix}_{i}.jpg"), face(i))


def test_strict_mode_judges_the_same_whether_the_cache_is_warm_or_not(tmp_path):
    root, cache_dir = tmp_path / "fer", str(tmp_path / "cache")
    write_image_folders(root)
    splits_of("fer2013", root=str(root), strict=True, cache_dir=cache_dir)  # warm
    (root / "train" / "smirk").mkdir()  # an unknown, empty class folder: strict mode refuses it
    with pytest.raises(DataError, match="smirk"):
        splits_of("fer2013", root=str(root), strict=True, cache_dir=cache_dir)


def test_truncated_images_are_bad_items(tmp_path):
    root = tmp_path / "fer"
    write_image_folders(root)
    whole = root / "train" / "happy" / "Training_7.jpg"
    data = cv2.imencode(".jpg", face(7))[1].tobytes()
    whole.write_bytes(data[: len(data) * 6 // 10])  # a download cut short: decoders fill grey rows
    png = root / "train" / "angry" / "Training_8.png"
    png.write_bytes(cv2.imencode(".png", face(8))[1].tobytes()[:-20])
    with pytest.raises(DataError, match=r"Training_[78]\.(jpg: truncated JPEG|png: truncated PNG)"):
        splits_of("fer2013", root=str(root), strict=True)
    report = splits_of("fer2013", root=str(root)).report
    reasons = {Path(s["file"]).name: s["reason"] for s in report["skipped"]}
    assert reasons["Training_7.jpg"].startswith("truncated JPEG") and reasons["Training_8.png"].startswith(
        "truncated PNG"
    )
    assert report["num_images"] == 6


def test_a_file_name_that_is_not_text_is_read_and_named(tmp_path):
    root = tmp_path / "fer"
    write_image_folders(root)
    odd = os.fsdecode(b"Training_caf\xe9.jpg")  # latin-1 bytes: not valid UTF-8
    cv2.imencode(".jpg", face(9))[1].tofile(str(root / "train" / "happy" / odd))
    dm = splits_of("fer2013", root=str(root), cache_dir=str(tmp_path / "cache"))
    report = dm.report
    assert report["num_images"] == 7
    assert "train/happy/Training_caf\\xe9.jpg" in dm.arrays["train"].files
    dm.save(tmp_path / "splits.csv")
    assert "Training_caf\\xe9.jpg" in (tmp_path / "splits.csv").read_text()


def test_csv_oddities_are_read_or_named(tmp_path):
    plain = write_fer2013_csv(tmp_path / "plain.csv", fer_rows())
    disguised = tmp_path / "fer2013.csv"  # gzip data under a .csv name
    disguised.write_bytes(gzip.compress(plain.read_bytes()))
    assert splits_of("fer2013", root=str(disguised)).report["num_images"] == 21

    lines = plain.read_bytes().split(b"\n")
    lines[4] = lines[4].replace(b"Training", b"Tr\xe4ining")  # one latin-1 byte in one row
    odd = tmp_path / "odd" / "fer2013.csv"
    odd.parent.mkdir()
    odd.write_bytes(b"\n".join(lines))
    report = splits_of("fer2013", root=str(odd)).report
    assert report["num_images"] == 20 and report["skipped"][0]["file"] == "fer2013.csv:5"
    with pytest.raises(DataError, match="fer2013.csv:5: Usage"):
        splits_of("fer2013", root=str(odd), strict=True)

    binary = tmp_path / "bin" / "fer2013.csv"
    binary.parent.mkdir()
    binary.write_bytes(b"emotion,pixels,Usage\n\x00\x00\x00")
    with pytest.raises(DataError, match=r"bin/fer2013.csv: no image could be loaded \(1 skipped"):
        splits_of("fer2013", root=str(binary))


def test_a_file_where_a_folder_is_expected_is_named(tmp_path):
    path = tmp_path / "ckplus.zip"
    path.write_bytes(b"PK")
    with pytest.raises(DataError, match=r"ckplus.zip is a file; expected a folder"):
        splits_of("ckplus", root=str(path))


def test_absurd_onnx_metadata_is_refused(tmp_path):
    import onnx

    from fer.export import export
    from fer.inference.runtime import OnnxModel

    cfg = compose_config(
        "train", ["debug=fast", "backbone=shallow_cnn", "logger=none", "test=false"], tmp_path / "r"
    )
    train(cfg)
    path = export(tmp_path / "r" / "checkpoints" / "best.ckpt", "onnx", tmp_path / "m.onnx")
    proto = onnx.load(str(path))
    meta = json.loads(proto.metadata_props[0].value)
    for change, message in (({"input_size": 3000}, "input_size=3000"), ({"classes": []}, "classes=")):
        onnx.helper.set_model_props(proto, {"fer": json.dumps({**meta, **change})})
        onnx.save(proto, str(path))
        with pytest.raises(ValueError, match=message):
            OnnxModel(path)
    onnx.helper.set_model_props(proto, {"fer": json.dumps({**meta, "input_size": 64})})
    onnx.save(proto, str(path))
    with pytest.raises(ValueError, match="the model takes 48x48 faces"):
        OnnxModel(path)


def test_imagenet_weights_are_the_default_and_their_source_is_recorded(train_config):
    with pytest.raises(WeightsUnavailable, match="backbone.pretrained=false"):
        train(train_config("backbone=resnet18"))  # offline: no hub, no cache, no backbone.weights
    scratch = train(train_config("backbone=resnet18", "backbone.pretrained=false"))
    assert scratch["weights_source"] == "random initialisation" and not scratch["pretrained"]
    lite0 = train(train_config())
    assert lite0["weights_source"] == "pkg:efficientnet_lite0" and lite0["pretrained"]


@pytest.mark.slow
def test_random_kills_never_corrupt_a_checkpoint_or_lose_an_epoch(tmp_path):
    """20 kill -9 at random moments of runs whose folders are on another filesystem (/dev/shm);
    each run is resumed until it finishes, and then holds every epoch once."""
    base = SHM if SHM.is_dir() else tmp_path
    epochs_total = 12
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}
    rng = np.random.default_rng(0)
    temp_before = set(Path(tempfile.gettempdir()).iterdir())
    kills, runs = 0, []
    try:
        while kills < 20:
            run = base / f"fer-kill-{os.getpid()}-{len(runs)}"
            runs.append(run)
            args = [sys.executable, "-m", "fer.train", "debug=fast", "backbone=shallow_cnn", "logger=none"]
            args += [f"trainer.max_epochs={epochs_total}", "data.num_train=1400", f"hydra.run.dir={run}"]
            while not (run / "metrics.json").exists():
                last = run / "checkpoints" / "last.ckpt"
                resume = [f"resume={last}"] if last.exists() else []
                process = subprocess.Popen(
                    args + resume, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
                )
                try:
                    process.wait(timeout=float(rng.uniform(4, 14)) if kills < 20 else 900)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
                    kills += 1
                assert process.returncode in (0, -9), process.stderr.read().decode()[-3000:]
                for path in (run / "checkpoints").glob("*.ckpt"):
                    torch.load(path, map_location="cpu", weights_only=True)  # every checkpoint loads
        for run in runs:
            history = (run / "history.csv").read_text().splitlines()
            assert [row.split(",")[0] for row in history[1:]] == [str(e) for e in range(1, epochs_total + 1)]
            assert not list((run / "checkpoints").glob(".*partial"))
        # no checkpoint-sized leftovers: killed runs leave only the empty folders wandb makes on import
        leaked = [p for p in set(Path(tempfile.gettempdir()).iterdir()) - temp_before if temporary_file(p)]
        assert leaked == []
    finally:
        for run in runs:
            subprocess.run(["rm", "-rf", str(run)])
