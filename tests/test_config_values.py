"""Every numeric and choice key of every schema, drawn in and out of bounds and of the wrong type:
accepted, or refused with an error that names the key; never another exception.

The commands call the same check (fer/run/cli.py ``command``) before anything loads; the command-line
tests at the end show that for a few keys, with the message alone and no run folder left behind.
"""

import dataclasses
import math
import re
import typing

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from fer.run import config
from tests.helpers import run_cli

UNBOUNDED = {"seed", "split_seed", "data_seed"}  # any integer is a seed


def keys(schema: type, prefix: str = "") -> list[tuple[str, dataclasses.Field, type]]:
    """(dotted key, field, owning schema) of every numeric or choice field, nested sections included."""
    found = []
    hints = typing.get_type_hints(schema)
    for f in dataclasses.fields(schema):
        kind = hints[f.name]
        if dataclasses.is_dataclass(kind):
            found += keys(kind, f"{prefix}{f.name}.")
        elif "choices" in f.metadata or kind in (int, float, int | None, float | None):
            found.append((f"{prefix}{f.name}", f, schema))
    return found


SCHEMAS = sorted(set(config.SCHEMAS.values()), key=lambda s: s.__name__)
ALL_KEYS = [(schema, key, f) for schema in SCHEMAS for key, f, _ in keys(schema)]


def test_every_numeric_key_declares_its_bounds():
    """Coverage: a numeric field without a declared range (seeds aside) would escape the checks."""
    bare = [
        f"{schema.__name__}.{key}"
        for schema, key, f in ALL_KEYS
        if "choices" not in f.metadata and "range" not in f.metadata and f.name not in UNBOUNDED
    ]
    assert len(ALL_KEYS) > 80 and bare == []


def wanted(f: dataclasses.Field, value) -> bool | None:
    """Whether ``value`` is acceptable for ``f`` (None: a wrong type, which OmegaConf refuses)."""
    if value is None:
        return True  # null: the schema's own Optional decides (a non-Optional refuses it by name)
    if "choices" in f.metadata:
        return value in f.metadata["choices"]
    if isinstance(value, str):
        return None
    if "range" in f.metadata:
        return config.out_of_range(value, *f.metadata["range"]) is None
    return not (isinstance(value, float) and math.isnan(value))


values = st.one_of(
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=True, allow_infinity=True, width=32),
    st.sampled_from([0, 1, 2, -1, 0.5, 1.5, -0.5, "abc", "none", "cosine", "kfold", "cnn", "onnx", "test"]),
    st.none(),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(index=st.integers(0, len(ALL_KEYS) - 1), value=values)
def test_a_drawn_value_is_accepted_or_refused_by_name(index, value):
    schema, key, f = ALL_KEYS[index]
    node: dict = {}
    leaf = node
    *parents, last = key.split(".")
    for part in parents:
        leaf = leaf.setdefault(part, {})
    leaf[last] = value
    try:
        merged = OmegaConf.merge(OmegaConf.structured(schema), node)
        config.check(schema, OmegaConf.to_container(merged))
    except config.ConfigValueError as err:
        assert last in str(err), err
        assert wanted(f, value) is not True or f.name in str(err), (key, value, err)
        return
    except OmegaConfBaseException as err:  # a wrong type or a null for a non-Optional key, named
        assert last in str(err), err
        return
    # accepted: the value was within what the key declares (a float for an int key is refused above)
    assert wanted(f, value) in (True, None), (schema.__name__, key, value)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("loss.distill_weight=1.5", "loss.distill_weight=1.5: expected >= 0 and <= 1"),
        ("loss.distill_weight=-0.5", "loss.distill_weight=-0.5: expected >= 0 and <= 1"),
        ("data.val_fraction=-1", "data.val_fraction=-1.0: expected >= 0 and < 1"),
        ("data.val_fraction=1.5", "data.val_fraction=1.5: expected >= 0 and < 1"),
        ("finetune.population=1", "finetune.population=1: expected >= 2"),
        ("optim.lr=nan", "optim.lr=nan: expected a number"),
    ],
)
def test_train_refuses_before_loading_anything(override, message, train_config, monkeypatch):
    """In-process: the error comes before any data is read (loading would fail loudly here)."""
    from fer.data.source import Source
    from fer.data.synthetic import SyntheticSource
    from fer.train import train

    def no_loading(*args):
        raise AssertionError("data was loaded before the config was checked")

    for source in (Source, SyntheticSource):
        monkeypatch.setattr(source, "read", no_loading)
    with pytest.raises(config.ConfigValueError, match=re.escape(message)):
        train(train_config(override))


def test_cross_key_rules():
    with pytest.raises(config.ConfigValueError, match=r"fold=10: expected < data.num_folds \(10\)"):
        config.typed(config.DataConfig, {"name": "x", "protocol": "kfold", "fold": 10}, "data.")
    with pytest.raises(config.ConfigValueError, match="together below 1"):
        config.typed(config.DataConfig, {"name": "x", "val_fraction": 0.5, "test_fraction": 0.5})
    with pytest.raises(config.ConfigValueError, match="optim.betas"):
        config.typed(config.OptimConfig, {"betas": [0.9, 1.2]}, "optim.")


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("loss.distill_temperature=0", "loss.distill_temperature=0.0: expected > 0"),
        ("+init_form=x.ckpt", "init_form is not a key here; did you mean init_from?"),
    ],
)
def test_the_command_stops_with_the_message_alone_and_leaves_no_run_folder(override, message, tmp_path):
    run = tmp_path / "run"
    done = run_cli(["fer.train", override, f"hydra.run.dir={run}"], tmp_path)
    assert done.returncode == 1, done.stderr[-2000:]
    assert message in done.stderr and "Traceback" not in done.stderr
    assert not run.exists()


def test_weights_that_cannot_be_had_read_as_a_message(tmp_path):
    """No network here: timm's hub weights for MobileNetV2 cannot be fetched."""
    done = run_cli(
        ["fer.train", "backbone=mobilenet_v2", "debug=fast", f"hydra.run.dir={tmp_path / 'r'}"], tmp_path
    )
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr[-2000:]
    assert done.stderr.startswith("error: ") or "\nerror: " in done.stderr
    assert "backbone.weights" in done.stderr  # the fix: a local weights file


@pytest.mark.parametrize(
    ("override", "new"),
    [
        ("data._target_=fer.data.fer2013.FER2013DataModule", "use data.name"),
        ("finetune.strategy=staged", "use finetune=full|frozen|staged|evolve"),
        ("callbacks.weight_averaging=ema", "use callbacks/weight_averaging=ema|swa"),
        ("callbacks.ema_decay=0.9", "callbacks.weight_averaging.decay"),
        ("callbacks.lr_monitor=false", "callbacks.lr_monitor=null"),
    ],
)
def test_a_renamed_key_stops_and_names_the_new_one(override, new, train_config):
    from fer.train import train

    with pytest.raises(ValueError, match=re.escape(new)):
        train(train_config(override))
