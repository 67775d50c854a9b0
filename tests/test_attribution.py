"""Attribution maps that are checked: methods, faithfulness, regions.

A small CNN is trained here on a synthetic task where only one face region carries the label (a bar
or a ring drawn there; the same patterns drawn at random in the other region are noise). Its maps must
put their mass in that region, and deleting pixels in the maps' order must hurt it sooner than deleting
them in random order.
"""

import json
import shutil
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
import torch

from fer.attribution import faithfulness, methods, regions
from fer.explain import explain
from fer.faces.align import TEMPLATE
from fer.models.backbones import build_backbone
from fer.run.config import ATTRIBUTION_METHODS, compose_config
from tests.helpers import backbone_config, shared_data

SIZE = 48
PLACES = {"mouth": [(TEMPLATE[3] + TEMPLATE[4]) / 2], "eyes": [TEMPLATE[0], TEMPLATE[1]]}


def pattern(label: int, side: int = 8) -> np.ndarray:
    p = np.zeros((side, side), np.float32)
    if label == 0:
        p[side // 2 - 1 : side // 2 + 1, :] = 1  # a horizontal bar
    elif label == 1:
        p[:, side // 2 - 1 : side // 2 + 1] = 1  # a vertical bar
    else:
        cv2.circle(p, (side // 2, side // 2), side // 3, 1, 1)  # a ring
    return p


def task(telling: str, count: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Smooth noise faces; the class's pattern in the ``telling`` places, random patterns in the others."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, count)
    other = "eyes" if telling == "mouth" else "mouth"
    faces = np.empty((count, SIZE, SIZE), np.float32)
    for i, label in enumerate(labels):
        face = cv2.GaussianBlur(rng.random((SIZE, SIZE)).astype(np.float32), (0, 0), 2) * 0.6 + 0.2
        for where, kind in ((telling, label), (other, None)):
            for x, y in (np.array(PLACES[where]) * SIZE).astype(int):
                drawn = pattern(int(rng.integers(0, 3)) if kind is None else int(kind))
                face[y - 4 : y + 4, x - 4 : x + 4] = 0.2 + 0.6 * drawn
        faces[i] = face
    return torch.from_numpy(faces)[:, None], torch.from_numpy(labels)


@pytest.fixture(scope="module", params=["mouth", "eyes"])
def trained(request):
    """(the telling region, a net that learnt the task, held-out faces, their labels)."""
    torch.manual_seed(0)
    x, y = task(request.param, 600, 0)
    net, _ = build_backbone(backbone_config("shallow_cnn", kwargs={"widths": [8, 16, 32, 64]}), 3)
    optimiser = torch.optim.AdamW(net.parameters(), 3e-3)
    for _ in range(6):
        net.train()
        for batch in torch.randperm(len(x)).split(50):
            loss = torch.nn.functional.cross_entropy(net(x[batch]), y[batch])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    net.eval().requires_grad_(False)
    held_x, held_y = task(request.param, 32, 1)
    with torch.no_grad():
        assert (net(held_x).argmax(1) == held_y).float().mean() >= 0.95  # it learnt the task
    return request.param, net, held_x, held_y


def telling_share(region: str, shares: np.ndarray) -> np.ndarray:
    names = ["mouth"] if region == "mouth" else ["eye_brow_left", "eye_brow_right"]
    return sum(shares[:, regions.REGIONS.index(n)] for n in names)


def shares_of(name: str, trained) -> tuple[float, float, float]:
    """(the telling region's mean share of the method's mass, its share of the area, the rest's density
    relative to the telling region's)."""
    region, net, x, y = trained
    maps = methods.build(name, net)(x, y).numpy()
    assert maps.shape == (len(x), SIZE, SIZE)
    shares = regions.mass_shares(maps)
    area = telling_share(region, regions.area_shares(SIZE)[None])[0]
    telling = np.nanmean(telling_share(region, shares))
    rest_area = regions.area_shares(SIZE)[regions.REGIONS.index("rest")]
    rest_density = np.nanmean(shares[:, regions.REGIONS.index("rest")]) / rest_area
    return telling, area, rest_density / (telling / area)


@pytest.mark.parametrize("name", ["integrated_gradients", "occlusion"])
def test_maps_put_most_of_the_mass_where_the_label_is(trained, name):
    telling, area, relative_rest = shares_of(name, trained)
    assert telling > 0.4 and telling > 5 * area  # the region is 6% (mouth) or 10% (eyes) of the crop
    assert relative_rest < 0.1  # per pixel, the rest of the crop gets under a tenth of the region's mass


def test_the_gradients_magnitude_spreads_but_still_points_at_the_region(trained):
    """Saliency spreads over every pixel the score is sensitive to (Adebayo et al. 2018 show how little
    of it follows the model); it still puts several times its area's share on the telling region."""
    telling, area, relative_rest = shares_of("saliency", trained)
    assert telling > 2.5 * area and relative_rest < 0.3


def test_deletion_in_the_maps_order_beats_random_order(trained):
    region, net, x, y = trained
    steps = 20
    found = {}
    for name in ("integrated_gradients", "saliency"):
        maps = methods.build(name, net)(x, y)
        found[name] = faithfulness.area(faithfulness.curves(net, x, y, maps, steps)["deletion"]).mean()
    random = faithfulness.curves(net, x, y, methods.random_maps(len(x), SIZE, 0), steps)
    centre = faithfulness.curves(net, x, y, methods.centre_prior(len(x), SIZE), steps)
    random_area = faithfulness.area(random["deletion"]).mean()
    floor = random["deletion"][:, -1].mean()  # p(true class) once every pixel is blurred, whatever the order
    for area in found.values():
        assert area - floor < 0.5 * (random_area - floor)  # above the common floor: half random's or less
    assert min(found.values()) < faithfulness.area(centre["deletion"]).mean()


def test_curves_start_at_the_face_and_end_at_the_blurred_face():
    torch.manual_seed(0)
    net, _ = build_backbone(backbone_config("shallow_cnn", kwargs={"widths": [8, 16, 32, 64]}), 3)
    net.eval()
    x = torch.rand(4, 1, SIZE, SIZE)
    y = torch.tensor([0, 1, 2, 0])
    c = faithfulness.curves(net, x, y, methods.random_maps(4, SIZE, 1), steps=5)
    with torch.no_grad():
        whole = net(x).softmax(-1)[torch.arange(4), y].numpy()
        blurred = net(methods.blurred(x)).softmax(-1)[torch.arange(4), y].numpy()
    assert c["deletion"].shape == (4, 6)
    np.testing.assert_allclose(c["deletion"][:, 0], whole, rtol=1e-5)
    np.testing.assert_allclose(c["deletion"][:, -1], blurred, rtol=1e-5)
    np.testing.assert_allclose(c["insertion"][:, 0], blurred, rtol=1e-5)
    np.testing.assert_allclose(c["insertion"][:, -1], whole, rtol=1e-5)
    assert faithfulness.area(np.ones(21)) == pytest.approx(1.0)


def test_ranks_put_the_largest_value_first_and_break_ties_by_the_seed():
    maps = torch.tensor([[[0.0, 5.0], [1.0, 1.0]]])
    assert faithfulness.ranks(maps, 0)[0, 1] == 0 and faithfulness.ranks(maps, 0)[0, 0] == 3
    orders = {tuple(faithfulness.ranks(maps, seed)[0, 2:].tolist()) for seed in range(20)}
    assert orders == {(1, 2), (2, 1)}


def test_region_masks_hold_their_landmarks_and_split_the_crop():
    for size in (48, 64, 224):
        masks = regions.masks(size)
        assert (masks.sum(0) == 1).all()  # each pixel in exactly one region
        at = {name: mask for name, mask in zip(regions.REGIONS, masks)}
        for (x, y), name in zip(TEMPLATE, ["eye_brow_left", "eye_brow_right", "nose", "mouth", "mouth"]):
            assert at[name][int(y * size), int(x * size)], (size, name)
        left, right = np.argwhere(at["eye_brow_left"]), np.argwhere(at["eye_brow_right"])
        assert left[:, 1].max() < size / 2 < right[:, 1].min()  # each eye region on its side
        brow_top = left[:, 0].min() / size
        assert brow_top < TEMPLATE[0][1] - 0.1  # the region reaches above the eye, over the brow
        np.testing.assert_allclose(masks.mean((1, 2)), regions.area_shares(size))


def test_mass_shares_count_positive_mass_only():
    maps = np.zeros((2, SIZE, SIZE))
    maps[0][regions.masks(SIZE)[regions.REGIONS.index("mouth")]] = 2.0
    maps[0][0, 0] = -50.0  # negative evidence is not mass
    shares = regions.mass_shares(maps)
    assert shares[0, regions.REGIONS.index("mouth")] == pytest.approx(1.0)
    assert np.isnan(shares[1]).all()  # a map without positive mass has no shares


def test_every_configured_method_is_built_and_states_its_resolution():
    assert set(ATTRIBUTION_METHODS) == set(methods.METHODS)
    net, _ = build_backbone(backbone_config("shallow_cnn", kwargs={"widths": [8, 16, 32, 64]}), 3)
    net.eval().requires_grad_(False)
    x, y = torch.rand(2, 1, SIZE, SIZE), torch.tensor([0, 2])
    for name in ATTRIBUTION_METHODS:
        method = methods.build(name, net)
        assert method(x, y).shape == (2, SIZE, SIZE)
    resolution = {name: methods.build(name, net).resolution(SIZE) for name in ATTRIBUTION_METHODS}
    assert resolution["integrated_gradients"] == resolution["saliency"] == "48x48 (the input)"
    assert resolution["gradcam"] == "6x6 (layer blocks.3.0), upsampled to 48x48"
    assert resolution["occlusion"] == "15x15 windows of 6x6 px, stride 3"
    with pytest.raises(ValueError, match="choices: gradcam"):
        methods.build("lime", net)
    with pytest.raises(ValueError, match="layer=nope"):
        methods.build("gradcam", net, "nope")


def test_photos_are_explained_by_the_method_named(checkpoint, tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ("AF01ANS.jpg", "AM19HAS.jpg", "AM30SUS.jpg"):
        shutil.copy(shared_data("kdef_sample") / name, folder / name)
    out = tmp_path / "explain"
    result = explain(
        compose_config(
            "explain",
            [f"ckpt={checkpoint}", f"input={folder}", f"output={out}", "method=occlusion", "wandb=true"],
            out,
        )
    )
    assert len(result["faces"]) == 3 and result["resolution"] == "15x15 windows of 6x6 px, stride 3"
    (run,) = (out / "wandb").glob("offline-run-*")  # the grid logged to an offline W&B run
    assert list(run.rglob("overlays_*.png"))
    overlays = cv2.imread(str(out / "overlays.png"))
    assert overlays is not None and overlays.shape[1] == 3 * 144
    assert all((out / f["overlay"]).is_file() for f in result["faces"])
    with pytest.raises(ValueError, match="method=auto chooses on a split"):
        explain(
            compose_config(
                "explain", [f"ckpt={checkpoint}", f"input={folder}", f"output={out}", "method=auto"], out
            )
        )


CANDIDATES = ("gradcam", "saliency")  # integrated gradients and occlusion: tested above, and slower


def test_models_side_by_side_on_one_split(checkpoint, tmp_path):
    """Two models (a run's best and last weights) on the same faces: the method chosen on val by
    deletion, then faithfulness, regions and class maps on test, as files, W&B tables and JSON."""
    last = checkpoint.with_name("last.ckpt")
    out = tmp_path / "explain"
    overrides = [
        f"ckpt=[{checkpoint},{last}]",
        "split=test",
        f"output={out}",
        "method=auto",
        "max_images=24",
        "choice_images=16",
        "faithfulness_images=12",
        "candidates=[gradcam,saliency]",
        "steps=5",
        "wandb=true",
    ]
    result = explain(compose_config("explain", overrides, out))
    assert [m["name"] for m in result["models"]] == ["run/best", "run/last"]
    assert result["faces"] == 24 and sum(result["per_class"].values()) == 24
    chosen = result["chosen_on_val"]
    assert chosen["faces"] == 16 and result["method"] in CANDIDATES
    ratio = {}
    for row in chosen["faithfulness"]:
        ratio.setdefault(row["method"], []).append(row["deletion_vs_random"])
    assert result["method"] == min(CANDIDATES, key=lambda m: np.mean(ratio[m]))
    measured = {(r["model"], r["method"]) for r in result["faithfulness"]}
    assert measured == {(m, k) for m in ("run/best", "run/last") for k in (*CANDIDATES, "random", "centre")}
    assert all(r["faces"] == 12 for r in result["faithfulness"]) and result["faithfulness_faces"] == 12
    by_model: dict = {}
    for row in result["regions"]:
        by_model.setdefault((row["model"], row["emotion"]), []).append(row)
    for rows in by_model.values():
        assert [r["region"] for r in rows] == list(regions.REGIONS)
        assert sum(r["share"] for r in rows) == pytest.approx(1.0, abs=1e-6)
    assert by_model[("run/best", "all")][0]["faces"] <= 24
    for name in ("faithfulness_val.csv", "faithfulness_test.csv", "regions_test.csv", "summary.md"):
        assert (out / name).stat().st_size > 0
    figure = cv2.imread(str(out / "class_maps_test.png"))
    assert figure is not None and figure.shape[0] > figure.shape[1] / len(result["per_class"])
    assert json.loads((out / "explain.json").read_text())["method"] == result["method"]
    assert "| run/last | all |" in (out / "summary.md").read_text()
    (run,) = (out / "wandb").glob("offline-run-*")
    assert list(run.rglob("regions_table_*.table.json")) and list(run.rglob("class_maps_test_*.png"))


class Data:
    """What the study reads of a DataModule: its split arrays, and each split as a Dataset."""

    def __init__(self, files: dict[str, list[str]], classes: list[str]):
        from fer.data.arrays import FaceArrays

        arrays = {
            split: FaceArrays(
                images=np.full((len(names), 8, 8), i, np.uint8),
                labels=np.arange(len(names)) % len(classes),
                classes=classes,
                splits=np.array([split] * len(names)),
                files=names,
            )
            for i, (split, names) in enumerate(files.items())
        }
        self.splits = SimpleNamespace(arrays=arrays)

    def dataset(self, split, augment=False):
        from fer.data.arrays import FaceDataset

        return FaceDataset(self.splits.arrays[split])


def test_faces_are_those_no_model_trained_on():
    """A model on its own dataset gives its test split; a model shown a dataset it never trained on
    can take any of its images; faces of an emotion one model lacks are left out and counted."""
    from fer.attribution.study import Subject, shared_faces

    own = Data({"train": ["a", "b"], "val": ["c"], "test": ["d", "e", "f", "g"]}, ["happy", "sad"])
    other_split = Data({"train": ["d", "e"], "val": ["f"], "test": ["a", "b", "c", "g"]}, ["happy", "sad"])
    trained = Subject("trained", "x", None, ["happy", "sad"], 8, own, foreign=False)
    visitor = Subject("visitor", "y", None, ["happiness"], 8, other_split, foreign=True)
    faces = shared_faces([visitor, trained], "test", 10, 0)
    assert sorted(faces.emotions) == ["happy", "happy"] and faces.left_out == 2  # d and f; sad is unknown
    shown = [sorted((x[:, 0, 0, 0] * 255).round().int().tolist()) for x in faces.x]
    assert shown == [[0, 1], [2, 2]]  # the visitor's train (d) and val (f); both in the trained model's test
    assert faces.targets[0].tolist() == [0, 0] and faces.targets[1].tolist() == [0, 0]
    stranger = Subject("stranger", "z", None, ["happy", "sad"], 8, other_split, foreign=False)
    with pytest.raises(ValueError, match="no face is in every model's split"):
        shared_faces([trained, stranger], "val", 10, 0)  # c is in the stranger's test split, not its val
