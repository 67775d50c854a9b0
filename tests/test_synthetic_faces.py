import numpy as np
import torch

from fer.data.labels import FER2013_CLASSES
from fer.data.synthetic_faces import synthetic_faces
from tests.helpers import datamodule_of, splits_of


def test_deterministic_by_seed_and_index():
    a, la = synthetic_faces(21, seed=3)
    b, lb = synthetic_faces(21, seed=3)
    assert np.array_equal(a, b) and np.array_equal(la, lb)
    # image i depends on (seed, offset + i) only: a later slice reproduces the same faces
    tail, _ = synthetic_faces(7, seed=3, offset=14)
    assert np.array_equal(tail, a[14:])
    other, _ = synthetic_faces(21, seed=4)
    assert not np.array_equal(a, other)


def test_shape_balance_and_variety():
    images, labels = synthetic_faces(140, seed=0)
    assert images.shape == (140, 48, 48) and images.dtype == np.uint8
    assert np.bincount(labels).tolist() == [20] * len(FER2013_CLASSES)
    assert images.std() > 20  # not blank
    assert len({img.tobytes() for img in images}) == 140  # no two faces alike


def test_not_trivially_separable_by_a_linear_model():
    """Softmax regression on raw pixels stays far below what the CNN reaches (>= 0.9)."""
    torch.manual_seed(0)
    x, y = synthetic_faces(2100, seed=0)
    xt, yt = synthetic_faces(700, seed=0, offset=10_000)
    X = torch.from_numpy(x).float().flatten(1) / 255
    Xt = torch.from_numpy(xt).float().flatten(1) / 255
    mean, std = X.mean(0), X.std(0) + 1e-6
    X, Xt = (X - mean) / std, (Xt - mean) / std
    Y, Yt = torch.from_numpy(y), torch.from_numpy(yt)
    linear = torch.nn.Linear(X.shape[1], 7)
    opt = torch.optim.LBFGS(linear.parameters(), max_iter=100)

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(linear(X), Y) + 1e-3 * linear.weight.pow(2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    test_acc = (linear(Xt).argmax(1) == Yt).float().mean().item()
    assert 1 / 7 < test_acc < 0.6


def test_datamodule_splits_and_loaders():
    dm = datamodule_of("synthetic", num_train=70, num_val=14, num_test=21, batch_size=8, input_size=64)
    assert {k: len(v.images) for k, v in dm.splits.arrays.items()} == {"train": 70, "val": 14, "test": 21}
    # the splits are drawn from disjoint index ranges: no image is shared
    seen = [{img.tobytes() for img in dm.splits.arrays[s].images} for s in ("train", "val", "test")]
    assert not (seen[0] & seen[1]) and not (seen[0] & seen[2])
    x, y = next(iter(dm.test_dataloader()))
    assert x.shape == (8, 1, 64, 64) and x.dtype == torch.uint8 and y.dtype == torch.int64
    report = dm.splits.report
    assert report["num_images"] == 105 and report["splits"]["train"]["happy"] == 10


def test_class_subset_is_selected_and_renumbered():
    dm = splits_of(
        "synthetic", num_train=70, num_val=14, num_test=14, num_workers=0, classes=["Happy", "anger"]
    )
    assert dm.classes == ["happy", "angry"]
    train = dm.arrays["train"]
    assert sorted(set(train.labels.tolist())) == [0, 1] and len(train.labels) == 20
    happy, _ = synthetic_faces(70, seed=0)
    assert np.array_equal(train.images[train.labels == 0], happy[3::7])
