"""Test-time augmentation views (fer/models/tta.py) and the averaged prediction."""

import pytest
import torch

from fer.models.tta import MODES, predict, translate, views


def test_translate_moves_content_and_replicates_the_border():
    x = torch.arange(16, dtype=torch.uint8).reshape(1, 1, 4, 4)
    down = translate(x, 1, 0)
    assert down.dtype == torch.uint8
    assert torch.equal(down[0, 0, 1:], x[0, 0, :3])  # each row one lower
    assert torch.equal(down[0, 0, 0], x[0, 0, 0])  # the top row repeated
    left = translate(x, 0, -1)
    assert torch.equal(left[0, 0, :, :3], x[0, 0, :, 1:])
    assert torch.equal(left[0, 0, :, 3], x[0, 0, :, 3])


@pytest.mark.parametrize(("mode", "count"), [("none", 1), ("flip", 2), ("shift", 10), ("ten_crop", 10)])
def test_each_mode_gives_its_views_at_the_input_shape_and_dtype(mode, count):
    x = torch.randint(0, 256, (2, 1, 48, 48), dtype=torch.uint8)
    out = views(x, mode)
    assert len(out) == count
    assert all(v.shape == x.shape and v.dtype == x.dtype for v in out)


def test_shift_views_are_the_face_moved_three_pixels_at_48_and_their_mirrors():
    x = torch.rand(1, 1, 48, 48)
    out = views(x, "shift")
    assert torch.equal(out[0], x)
    assert torch.equal(out[1][..., 3:, :], x[..., :-3, :])  # 48 / 16 = 3 px down
    assert torch.equal(out[4][..., :, :-3], x[..., :, 3:])  # 3 px left
    for plain, mirrored in zip(out[:5], out[5:]):
        assert torch.equal(mirrored, plain.flip(-1))


def test_predict_averages_the_probabilities_of_the_views():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(48 * 48, 7))
    x = torch.rand(3, 1, 48, 48)
    expected = torch.stack([model(v).softmax(-1) for v in views(x, "shift")]).mean(0)
    assert torch.allclose(predict(model, x, "shift").exp(), expected, atol=1e-6)
    assert torch.equal(predict(model, x, "none"), model(x))


def test_an_unknown_mode_names_the_choices():
    with pytest.raises(ValueError, match="shift"):
        views(torch.zeros(1, 1, 8, 8), "rotate")
    assert "shift" in MODES
