"""Every option of every config group composes, and the composed values make sense."""

from pathlib import Path

import pytest

from tests.conftest import compose_config

CONF = Path(__file__).parents[1] / "conf"
GROUPS = ["data", "backbone", "finetune", "optim", "augment", "trainer", "logger", "callbacks", "paths", "experiment", "debug"]
OPTIONS = [(g, p.stem) for g in GROUPS for p in sorted((CONF / g).glob("*.yaml"))]
NEEDS = {("backbone", "timm"): ["backbone.name=resnet18"]}


def test_every_group_has_options():
    assert {g for g, _ in OPTIONS} == set(GROUPS)


@pytest.mark.parametrize(("group", "option"), OPTIONS, ids=[f"{g}={o}" for g, o in OPTIONS])
def test_option_composes(group, option, tmp_path):
    cfg = compose_config("train", [f"{group}={option}", *NEEDS.get((group, option), [])], tmp_path)
    from omegaconf import OmegaConf

    resolved = OmegaConf.to_container(cfg, resolve=True)
    assert resolved["paths"]["output_dir"] == str(tmp_path)
    assert resolved["backbone"]["input_size"] > 0 and resolved["backbone"]["in_chans"] in (1, 3)
    assert resolved["optim"]["name"] in ("adamw", "sgd")
    assert resolved["finetune"]["strategy"] in ("full", "frozen", "staged")


def test_every_config_key_has_a_comment():
    """The style rule: a comment on every key (or on the block it opens)."""
    bare = []
    for path in CONF.rglob("*.yaml"):
        lines = path.read_text().splitlines()
        for i, line in enumerate(lines):
            stripped = line.strip()
            if not stripped or stripped.startswith(("#", "-", "_target_", "defaults", "{}")) or ":" not in stripped:
                continue
            previous = lines[i - 1].strip() if i else ""
            if "#" not in line and not previous.startswith("#"):
                # a key whose value continues on the next lines is covered by its children's comments
                following = lines[i + 1] if i + 1 < len(lines) else ""
                indent = len(line) - len(line.lstrip())
                if not (stripped.endswith(":") and len(following) - len(following.lstrip()) > indent):
                    bare.append(f"{path.relative_to(CONF)}:{i + 1}: {stripped}")
    assert bare == []


def test_eval_config_composes(tmp_path):
    cfg = compose_config("eval", ["ckpt=some.ckpt"], tmp_path)
    assert cfg.get("data") is None and cfg.ckpt == "some.ckpt"
