"""Every option of every config group composes onto its schema, and mistakes are refused by name."""

import re
from pathlib import Path

import pytest
import timm
from omegaconf import OmegaConf

import fer.models.shallow_cnn  # noqa: F401  (registers fer_shallow_cnn with timm)
from fer.data.registry import make_source
from fer.run import config
from fer.run.config import compose_config

CONF = Path(__file__).parents[1] / "conf"
GROUPS = [
    "data",
    "backbone",
    "finetune",
    "optim",
    "augment",
    "trainer",
    "logger",
    "callbacks",
    "paths",
    "experiment",
    "debug",
]
OPTIONS = [(g, p.stem) for g in GROUPS for p in sorted((CONF / g).glob("*.yaml"))]
NEEDS = {("backbone", "timm"): ["backbone.name=resnet18"]}
SECTIONS = {
    "backbone": config.BackboneConfig,
    "finetune": config.FinetuneConfig,
    "optim": config.OptimConfig,
    "augment": config.AugmentConfig,
    "paths": config.PathsConfig,
    "loss": config.LossConfig,
}


def test_every_group_has_options():
    assert {g for g, _ in OPTIONS} == set(GROUPS)
    assert sorted(config.DATA_OPTIONS) == sorted(o for g, o in OPTIONS if g == "data")


@pytest.mark.parametrize(("group", "option"), OPTIONS, ids=[f"{g}={o}" for g, o in OPTIONS])
def test_option_composes_onto_its_schema_and_instantiates(group, option, tmp_path):
    cfg = compose_config("train", [f"{group}={option}", *NEEDS.get((group, option), [])], tmp_path)
    assert OmegaConf.get_type(cfg) is config.TrainConfig
    for name, schema in SECTIONS.items():
        assert OmegaConf.get_type(cfg[name]) is schema, name
    assert issubclass(OmegaConf.get_type(cfg.data), config.DataConfig)
    resolved = OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True)  # nothing left unset
    assert resolved["paths"]["output_dir"] == str(tmp_path)
    source = make_source(cfg.data)
    assert source.cfg == config.typed(type(source).schema, source.cfg)  # complete, as its schema says


@pytest.mark.parametrize(
    "name", ["eval", "predict", "export", "explain", "inspect_data", "crossdata", "ensemble"]
)
def test_the_other_commands_compose_onto_their_schemas(name, tmp_path):
    overrides = {
        "eval": ["ckpt=a.ckpt"],
        "predict": ["ckpt=a.ckpt", "input=x.jpg", "output=out"],
        "export": ["ckpt=a.ckpt"],
        "explain": ["ckpt=a.ckpt", "output=out"],
        "inspect_data": [],
        "crossdata": ["ckpt=[a.ckpt]", "targets=[ckplus]", "output=out"],
        "ensemble": ["ckpt=[a.ckpt,b.ckpt]", "output=out"],
    }[name]
    if name == "export":  # no paths section: it writes the model and nothing else
        from hydra import compose, initialize_config_module

        with initialize_config_module(config_module=config.CONF_MODULE, version_base="1.3"):
            cfg = compose(config_name=name, overrides=overrides)
    else:
        cfg = compose_config(name, overrides, tmp_path)
    assert OmegaConf.get_type(cfg) is config.SCHEMAS[f"{name}_schema"]
    OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True)


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("data.rot=x", "rot"),
        ("optim.lr=notanumber", "optim.lr"),
        ("backbone.input_sise=96", "input_sise"),
        ("sed=1", "sed"),
        ("data.peak_frames=3", "peak_frames"),
    ],
)
def test_unknown_keys_and_wrong_types_are_refused_by_name(override, key, tmp_path):
    with pytest.raises(Exception, match=re.escape(key)):
        compose_config("train", [override], tmp_path)


def test_sections_handed_by_hand_are_checked_too():
    with pytest.raises(Exception, match="'rot' not in 'DataConfig'"):
        make_source({"name": "fer2013", "rot": "x"})
    source = make_source({"name": "fer2013", "root": "x"})
    assert source.cfg["val_fraction"] == config.DataConfig.val_fraction  # defaults from the schema
    with pytest.raises(TypeError, match="widhts"):  # a misspelt architecture argument is not swallowed
        timm.create_model("fer_shallow_cnn", widhts=[8, 16])


def test_every_config_key_has_a_comment():
    """The style rule: a comment on every YAML key (or on the block it opens) and on every schema field."""
    bare = []
    for path in CONF.rglob("*.yaml"):
        lines = path.read_text().splitlines()
        for i, line in enumerate(lines):
            stripped = line.strip()
            if (
                not stripped
                or stripped.startswith(("#", "-", "_target_", "defaults", "{}"))
                or ":" not in stripped
            ):
                continue
            previous = lines[i - 1].strip() if i else ""
            if "#" not in line and not previous.startswith("#"):
                # a key whose value continues on the next lines is covered by its children's comments
                following = lines[i + 1] if i + 1 < len(lines) else ""
                indent = len(line) - len(line.lstrip())
                if not (stripped.endswith(":") and len(following) - len(following.lstrip()) > indent):
                    bare.append(f"{path.relative_to(CONF)}:{i + 1}: {stripped}")
    schema = Path(config.__file__).read_text().splitlines()
    fields = [i for i, line in enumerate(schema) if re.match(r"^    \w+: .+ = ", line)]
    uncommented = [
        schema[i] for i in fields if "  # " not in schema[i] and not schema[i - 1].strip().startswith("#")
    ]
    assert fields and bare == [] and uncommented == []
