"""The device-side data path (augment=device) against the worker path (albumentations)."""

from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from fer.data.device import DeviceLoader, device_augmentation
from fer.run.config import compose_config
from fer.train import train
from tests.helpers import datamodule_of, splits_of

CONF = Path(__file__).parents[1] / "conf" / "augment"


def transforms(option: str) -> list:
    return yaml.safe_load((CONF / f"{option}.yaml").read_text())["transforms"]


@pytest.fixture(scope="module")
def faces():
    dm = splits_of("synthetic", num_train=700, num_val=70, num_test=70)
    return dm.arrays["train"]


def loader(arrays, **kwargs) -> DeviceLoader:
    return DeviceLoader(arrays, 64, 48, lambda: torch.device("cpu"), **kwargs)


def test_every_face_once_per_pass_shuffled_anew_and_sharded(faces):
    plain = loader(faces)
    labels = torch.cat([y for _, y in plain])
    assert torch.equal(labels, torch.from_numpy(faces.labels))  # in order, the last batch kept
    x, _ = next(iter(plain))
    assert x.dtype == torch.float32 and torch.equal(x, torch.from_numpy(faces.images[:64]).unsqueeze(1) / 255)
    shuffled = loader(faces, shuffle=True, seed=3)
    first, second = (torch.cat([y for _, y in shuffled]) for _ in range(2))
    assert len(first) == len(shuffled) * 64 == 640  # whole batches only
    assert not torch.equal(first, second)
    shards = [loader(faces, shard=lambda r=r: (r, 2)) for r in range(2)]
    seen = [torch.cat([x.flatten(1) for x, _ in s]) for s in shards]
    assert sum(len(s) for s in seen) == len(faces.labels)  # each face in one process's share


@pytest.mark.parametrize("option", ["device", "device_strong"])
def test_each_face_gets_its_own_random_augmentation(option):
    augment = device_augmentation(transforms(option))
    torch.manual_seed(0)
    face = torch.rand(1, 1, 48, 48)
    out = augment(face.repeat(64, 1, 1, 1)).flatten(1)
    distinct = len({tuple(row.round(decimals=4).tolist()) for row in out})
    assert distinct >= 55  # identical inputs, different outputs: per-sample parameters (a few draw no change)


@pytest.mark.parametrize("option, counterpart", [("device", "light"), ("device_strong", "strong")])
def test_device_batches_match_the_worker_paths_statistics(faces, option, counterpart):
    device = loader(faces, shuffle=True, augment=device_augmentation(transforms(option)))
    worker = datamodule_of("synthetic", num_train=700, input_size=48, augment=transforms(counterpart))
    dataset = worker.dataset("train")  # one transform for all faces, as a loader worker has
    x_device = torch.cat([x for x, _ in device])
    x_worker = torch.stack([dataset[i][0] for i in range(640)]).float() / 255
    assert x_device.shape[1:] == x_worker.shape[1:] == (1, 48, 48)
    assert 0.0 <= x_device.min() and x_device.max() <= 1.0
    assert abs(x_device.mean() - x_worker.mean()) < 0.02
    assert 0.9 < x_device.std() / x_worker.std() < 1.1
    in_order = torch.cat([x for x, _ in loader(faces, augment=device_augmentation(transforms(option)))])
    plain = torch.from_numpy(faces.images).unsqueeze(1).float() / 255
    assert (in_order - plain).abs().mean() > 0.01  # the faces did change


def test_device_strong_occludes_about_half_the_faces_each_with_its_own_patch():
    augment = device_augmentation(transforms("device_strong"))
    torch.manual_seed(1)
    face = torch.rand(1, 1, 48, 48) * 0.9 + 0.05  # no black pixel of its own
    black = (augment(face.repeat(400, 1, 1, 1)).clamp(0, 1) == 0).flatten(1).sum(1)
    patched = black[black >= 0.02 * 48 * 48]  # at least the smallest patch (2% of the face)
    assert 0.4 < len(patched) / 400 < 0.6  # p = 0.5
    assert patched.max() <= 0.13 * 48 * 48 and len(patched.unique()) > 20  # sizes drawn per face


def test_device_batches_are_resized_to_the_input_size(faces):
    x, _ = next(iter(DeviceLoader(faces, 8, 64, lambda: torch.device("cpu"))))
    assert x.shape == (8, 1, 64, 64)
    reference = torch.nn.functional.interpolate(
        torch.from_numpy(faces.images[:8]).unsqueeze(1).float() / 255,
        size=64,
        mode="bilinear",
        antialias=True,
    )
    assert torch.allclose(x, reference)


def test_a_run_trains_on_the_device_path(tmp_path):
    cfg = compose_config(
        "train",
        ["debug=fast", "backbone=shallow_cnn", "augment=device", "logger=none", "callbacks.progress=plain"],
        tmp_path / "run",
    )
    metrics = train(cfg)
    assert np.isfinite(metrics["test/loss"]) and metrics["train_images_seen"] > 0
