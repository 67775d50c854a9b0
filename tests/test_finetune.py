"""finetune=frozen|staged: what trains when, and the guarantees the strategies make."""

import lightning as L
import pytest
import torch
from lightning.pytorch.callbacks import ModelCheckpoint

from fer.callbacks.unfreezing import Unfreezing
from fer.data.datamodule import FERDataModule
from fer.data.feature_cache import FeatureDataModule, compute_features
from fer.models.classifier import EmotionClassifier
from fer.models.stages import body_stages, head_names
from fer.training.finetune import Frozen, Full, Staged, build_strategy
from tests.helpers import backbone_config, datamodule_of

STAGED = {"_target_": "fer.training.finetune.Staged", "head_epochs": 1, "unfreeze_every": 1, "lr_decay": 0.5}
FROZEN = {"_target_": "fer.training.finetune.Frozen", "lr_decay": 1.0}


def make_model(finetune: dict, option: str = "resnet18") -> EmotionClassifier:
    optim = {
        "name": "adamw",
        "lr": 0.01,
        "weight_decay": 0.05,
        "betas": [0.9, 0.999],
        "scheduler": "cosine",
        "warmup_epochs": 1,
        "min_lr_ratio": 0.01,
    }
    backbone = backbone_config(option, pretrained=False, in_chans=1, input_size=48)
    return EmotionClassifier(
        classes=[str(i) for i in range(7)],
        backbone=backbone,
        optim=optim,
        finetune=finetune,
        loss={},
        channels_last=False,
        tta="none",
    )


def data() -> FERDataModule:
    return datamodule_of("synthetic", num_train=140, num_val=70, num_test=70, batch_size=35, input_size=48)


class Recorder(L.Callback):
    """At each epoch's first batch: trainable names, optimizer membership, lrs; at its end: the state."""

    def __init__(self):
        self.trainable, self.in_optimizer, self.lrs, self.states = {}, {}, {}, {}

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if batch_idx:
            return
        epoch = trainer.current_epoch
        params = dict(pl_module.net.backbone.named_parameters())
        self.trainable[epoch] = sorted(n for n, p in params.items() if p.requires_grad)
        in_optimizer = {id(p) for group in trainer.optimizers[0].param_groups for p in group["params"]}
        self.in_optimizer[epoch] = all(id(params[n]) in in_optimizer for n in self.trainable[epoch])
        self.lrs[epoch] = [group["lr"] for group in trainer.optimizers[0].param_groups]

    def on_train_epoch_end(self, trainer, pl_module):
        self.states[trainer.current_epoch] = {
            k: v.detach().clone() for k, v in pl_module.net.backbone.state_dict().items()
        }


class StopAfter(L.Callback):
    """Interrupts a run at the end of epoch ``epochs`` (as a crash or a time limit would)."""

    def __init__(self, epochs: int):
        self.epochs = epochs

    def on_train_epoch_end(self, trainer, pl_module):
        if trainer.current_epoch + 1 == self.epochs:
            trainer.should_stop = True


def fit(model, datamodule, epochs: int, callbacks: list, root=None, ckpt_path=None) -> L.Trainer:
    trainer = L.Trainer(
        max_epochs=epochs,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=any(isinstance(c, ModelCheckpoint) for c in callbacks),
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        callbacks=callbacks,
        default_root_dir=root,
    )
    trainer.fit(model, datamodule=datamodule, ckpt_path=ckpt_path)
    return trainer


def stage_of(name: str, stages: list[list[str]]) -> int:
    return next(
        i
        for i, names in enumerate(stages)
        if any(name == n or name.startswith(n.rsplit(".", 1)[0] + ".") for n in names)
    )


def test_schedule_unfreezes_one_stage_at_a_time_from_the_top():
    assert [Staged(STAGED).unfrozen(e, 5) for e in range(8)] == [0, 1, 2, 3, 4, 5, 5, 5]
    slower = {**STAGED, "head_epochs": 2, "unfreeze_every": 2}
    assert [Staged(slower).unfrozen(e, 3) for e in range(9)] == [0, 0, 1, 1, 2, 2, 3, 3, 3]
    assert Frozen(FROZEN).unfrozen(10, 5) == 0 and Full({}).unfrozen(0, 5) == 5


def test_frozen_stages_keep_weights_and_batchnorm_statistics_bit_identical():
    model = make_model(STAGED)
    backbone = model.net.backbone
    stages = body_stages(backbone)  # resnet18: stem, layer1..layer4
    assert len(stages) == 5 and head_names(backbone) == {"fc.weight", "fc.bias"}
    initial = {k: v.detach().clone() for k, v in backbone.state_dict().items()}
    recorder = Recorder()
    fit(model, data(), 3, [Unfreezing(build_strategy(STAGED)), recorder])
    prefixes = ["conv1.", "bn1.", "layer1.", "layer2.", "layer3.", "layer4."]
    stage_prefix = {0: ("conv1.", "bn1."), 1: ("layer1.",), 2: ("layer2.",), 3: ("layer3.",), 4: ("layer4.",)}
    for epoch, state in recorder.states.items():
        unfrozen = Staged(STAGED).unfrozen(epoch, 5)  # this epoch's; earlier epochs had fewer
        for stage, prefix in stage_prefix.items():
            keys = [k for k in state if k.startswith(prefix)]
            assert any("running_mean" in k for k in keys) or stage == 0
            same = all(torch.equal(state[k], initial[k]) for k in keys)
            if stage < 5 - unfrozen:
                assert same, f"epoch {epoch}: frozen stage {prefix} changed"
            else:
                assert not same, f"epoch {epoch}: unfrozen stage {prefix} did not train"
        assert not torch.equal(state["fc.weight"], initial["fc.weight"])  # the head always trains
    assert all(k.startswith((*prefixes, "fc.")) for k in initial)
    assert recorder.trainable[0] == ["fc.bias", "fc.weight"]
    assert all(recorder.in_optimizer.values())
    assert len(recorder.trainable[2]) > len(recorder.trainable[1]) > len(recorder.trainable[0])


def test_discriminative_learning_rates_decay_toward_the_stem():
    model = make_model(STAGED)
    recorder = Recorder()
    fit(model, data(), 2, [Unfreezing(build_strategy(STAGED)), recorder])
    groups = model.trainer.optimizers[0].param_groups
    peak = {g["stage"]: g["lr"] for g in groups}
    ratios = [peak[i] / peak[i + 1] for i in range(len(peak) - 1)]
    assert ratios == pytest.approx([0.5] * len(ratios))


def test_resume_in_the_middle_of_the_schedule_restores_trainable_set_and_lrs(tmp_path):
    torch.manual_seed(0)
    straight = Recorder()
    fit(make_model(STAGED), data(), 4, [Unfreezing(build_strategy(STAGED)), straight])
    fit(
        make_model(STAGED),
        data(),
        4,
        [Unfreezing(build_strategy(STAGED)), StopAfter(2), ModelCheckpoint(dirpath=tmp_path, save_last=True)],
        root=tmp_path,
    )
    resumed = Recorder()
    fit(
        make_model(STAGED),
        data(),
        4,
        [Unfreezing(build_strategy(STAGED)), resumed, ModelCheckpoint(dirpath=tmp_path / "resumed")],
        root=tmp_path,
        ckpt_path=str(tmp_path / "last.ckpt"),
    )
    assert sorted(resumed.trainable) == [2, 3]
    for epoch in (2, 3):
        assert resumed.trainable[epoch] == straight.trainable[epoch]
        assert resumed.lrs[epoch] == pytest.approx(straight.lrs[epoch])
        assert resumed.in_optimizer[epoch]


@pytest.mark.parametrize("option", ["resnet18", "efficientnet_lite0", "vgg16", "shallow_cnn"])
def test_cached_features_give_the_same_logits_as_the_image_path(option):
    model = make_model(FROZEN, option)
    model.eval()
    datamodule = data()
    loader = torch.utils.data.DataLoader(datamodule.dataset("val", augment=False), batch_size=16)
    cached = compute_features(model.net, loader)
    with torch.no_grad():
        from_features = model(cached.tensors[0])
        from_images = torch.cat([model(x) for x, _ in loader])
    assert torch.allclose(from_features, from_images, atol=1e-5)
    assert torch.equal(cached.tensors[1], torch.as_tensor(datamodule.splits.arrays["val"].labels))


def test_linear_probe_runs_the_backbone_once_per_image():
    model = make_model(FROZEN)
    calls = []
    original = model.net.features
    model.net.features = lambda x: calls.append(len(x)) or original(x)
    before = {k: v.detach().clone() for k, v in model.net.backbone.state_dict().items()}
    datamodule = FeatureDataModule(data(), model.net)
    fit(model, datamodule, 4, [Unfreezing(build_strategy(FROZEN))])
    assert sum(calls) == 140 + 70  # train and val features, once, over four epochs
    after = model.net.backbone.state_dict()
    changed = sorted(k for k in before if not torch.equal(before[k], after[k]))
    assert changed == ["fc.bias", "fc.weight"]
