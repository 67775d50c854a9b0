"""Transfer between datasets: a run started from another run, and scoring on another dataset."""

import csv
import json
from pathlib import Path

import pytest
import torch

from fer.models.classifier import EmotionClassifier
from fer.run.checkpoint import read
from fer.run.config import compose_config
from fer.run.evaluation import evaluate_checkpoint
from fer.train import train
from fer.training.transfer import init_from
from tests.helpers import fer_rows, run_cli, write_ckplus48, write_fer2013_csv


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    """A shallow CNN trained one epoch on three synthetic classes: happy, sad, neutral."""
    root = tmp_path_factory.mktemp("source")
    overrides = ["debug=fast", "backbone=shallow_cnn", "logger=none", "callbacks.progress=plain"]
    train(compose_config("train", [*overrides, "data.classes=[happy,sad,neutral]"], root / "run"))
    return root / "run" / "checkpoints" / "best.ckpt"


def target_model(classes: list[str], **backbone) -> EmotionClassifier:
    spec = {
        "name": "fer_shallow_cnn",
        "in_chans": 1,
        "input_size": 48,
        "pretrained": False,
        "zero_head": False,
    }
    spec |= {"mean": [0.5], "std": [0.25], **backbone}
    return EmotionClassifier(classes, spec, {}, {}, {}, channels_last=False, tta="none", load_weights=False)


def test_init_from_carries_the_network_and_the_rows_of_shared_classes_by_name(source):
    model = target_model(["sadness", "angry", "happiness"])  # the target's own spellings and order
    report = init_from(model, source)
    assert report["classes"] == {
        "carried": ["sadness", "happiness"],
        "new": ["angry"],
        "dropped": ["neutral"],
    }
    assert report["missing"] == [] and report["unexpected"] == []
    saved = {k[len("net.backbone.") :]: v for k, v in read(source)["state_dict"].items()}
    state = model.net.backbone.state_dict()
    body = [k for k in state if not k.startswith("classifier.")]
    assert body and all(torch.equal(state[k], saved[k]) for k in body)  # every other tensor, as saved
    weight, bias = state["classifier.weight"], state["classifier.bias"]
    source_rows = {"happy": 0, "sad": 1}
    assert torch.equal(weight[0], saved["classifier.weight"][source_rows["sad"]])
    assert torch.equal(weight[2], saved["classifier.weight"][source_rows["happy"]])
    assert torch.count_nonzero(weight[1]) == 0 and bias[1] == 0  # a new class starts at zero


@pytest.mark.parametrize(
    ("backbone", "named"),
    [({"name": "resnet18"}, "backbone.name"), ({"input_size": 64}, "backbone.input_size")],
)
def test_init_from_refuses_another_network_naming_both(source, backbone, named):
    with pytest.raises(ValueError, match=rf"{named} is .* this run's is"):
        init_from(target_model(["happy", "sad"], **backbone), source)


@pytest.mark.parametrize("strategy", ["full", "staged", "frozen"])
def test_a_run_started_from_another_run_trains_with_every_strategy_and_reports_it(source, tmp_path, strategy):
    overrides = ["debug=fast", "backbone=shallow_cnn", "logger=none", "callbacks.progress=plain"]
    overrides += [f"finetune={strategy}", f"init_from={source}", "data.classes=[angry,happy,sad]"]
    metrics = train(compose_config("train", overrides, tmp_path / "run"))
    assert metrics["weights_source"] == f"init_from:{source.resolve()}"
    assert metrics["weights"]["classes"] == {
        "carried": ["happy", "sad"],
        "new": ["angry"],
        "dropped": ["neutral"],
    }


def test_scoring_on_another_dataset_uses_the_shared_classes_and_lists_the_rest(source, tmp_path):
    root = tmp_path / "ck"
    write_ckplus48(root)  # anger contempt disgust fear happy sadness surprise
    data = compose_config("inspect_data", ["data=ckplus", f"data.root={root}"], tmp_path).data
    metrics = evaluate_checkpoint(
        source,
        tmp_path / "eval",
        "all",
        data=data,
        tta=None,
        prior="train",
        seed=0,
        cache_dir=None,
        trainer={"accelerator": "cpu"},
        loggers=[],
    )
    assert metrics["classes"] == ["happy", "sad"] and metrics["split"] == "all"
    assert metrics["classes_left_out"] == {
        "not_learned": ["angry", "disgust", "fear", "surprise", "contempt"],
        "not_in_data": ["neutral"],
    }
    images = sum(1 for p in root.rglob("*.png") if p.parent.name in ("happy", "sadness"))
    assert sum(map(sum, metrics["test/confusion_matrix"])) == images  # every image of the shared classes
    assert json.loads((tmp_path / "eval" / "metrics.json").read_text())["classes_left_out"][
        "not_in_data"
    ] == ["neutral"]


def test_a_dataset_is_scored_on_its_own_classes_not_on_every_class_its_files_hold(source, tmp_path):
    """data=fer2013_clean on a FER2013 copy: five classes, so the model's sad is not in the data."""
    write_fer2013_csv(tmp_path / "fer2013.csv", fer_rows(42))  # seven classes, six faces each
    data = compose_config("inspect_data", ["data=fer2013_clean", f"data.root={tmp_path}"], tmp_path).data
    common = dict(data=data, tta=None, prior="train", seed=0, cache_dir=None, loggers=[])
    metrics = evaluate_checkpoint(source, tmp_path / "eval", "all", trainer={"accelerator": "cpu"}, **common)
    assert metrics["classes"] == ["happy", "neutral"]
    left_out = {"not_learned": ["angry", "disgust", "fear"], "not_in_data": ["sad"]}
    assert metrics["classes_left_out"] == left_out
    assert sum(map(sum, metrics["test/confusion_matrix"])) == 12


def test_a_uniform_prior_lowers_each_logit_by_the_log_of_its_training_share():
    spec = {"name": "fer_shallow_cnn", "in_chans": 1, "input_size": 48, "pretrained": False}
    spec |= {"zero_head": False, "mean": [0.5], "std": [0.25]}
    classes = ["happy", "sad", "neutral"]
    model = EmotionClassifier(
        classes, spec, {}, {}, {}, channels_last=False, tta="none", class_counts=[600, 300, 100]
    ).eval()
    x = torch.rand(4, 1, 48, 48)
    before = model(x).detach()
    model.assume_uniform_prior()
    shift = before - model(x).detach()
    assert torch.allclose(shift, torch.tensor([0.6, 0.3, 0.1]).log().expand(4, 3), atol=1e-5)
    uncounted = EmotionClassifier(classes, spec, {}, {}, {}, channels_last=False, tta="none")
    with pytest.raises(ValueError, match="prior=uniform needs the training split's count"):
        uncounted.assume_uniform_prior()


def test_a_uniform_prior_is_applied_before_the_shared_classes_are_kept_and_recorded(source, tmp_path):
    root = tmp_path / "ck"
    write_ckplus48(root)
    data = compose_config("inspect_data", ["data=ckplus", f"data.root={root}"], tmp_path).data
    common = dict(data=data, tta=None, seed=0, cache_dir=None, trainer={"accelerator": "cpu"}, loggers=[])
    plain = evaluate_checkpoint(source, tmp_path / "plain", "all", prior="train", **common)
    uniform = evaluate_checkpoint(source, tmp_path / "uniform", "all", prior="uniform", **common)
    assert (plain["prior"], uniform["prior"]) == ("train", "uniform")
    assert uniform["classes"] == plain["classes"] == ["happy", "sad"]
    assert sum(map(sum, uniform["test/confusion_matrix"])) == sum(map(sum, plain["test/confusion_matrix"]))


def test_the_matrix_command_scores_each_source_on_each_target(source, tmp_path):
    root = tmp_path / "ck"
    write_ckplus48(root)
    out = tmp_path / "matrix"
    args = [
        "fer.crossdata",
        f"ckpt=[{source}]",
        "targets=[ckplus,synthetic]",
        f"roots.ckplus={root}",
        f"hydra.run.dir={out}",
    ]
    done = run_cli(args, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    with open(out / "matrix.csv", newline="") as f:
        rows = {r["target"]: r for r in csv.DictReader(f)}
    assert (
        rows["ckplus"]["split"] == "all" and rows["synthetic"]["split"] == "test"
    )  # its own dataset: the test split
    own = json.loads((source.parents[1] / "metrics.json").read_text())
    assert int(rows["synthetic"]["images"]) == own["test_images"]  # the run's own test split, rebuilt
    assert float(rows["synthetic"]["accuracy"]) == pytest.approx(100 * own["test/acc"], abs=0.006)
    assert "| source | ckplus | synthetic |" in (out / "matrix.md").read_text()
    assert (out / "matrix.png").read_bytes()[:4] == b"\x89PNG" and "<table" in (
        out / "report.html"
    ).read_text()


def test_the_matrix_names_every_source_apart_and_checks_its_targets_first(source, tmp_path):
    from hydra import initialize_config_module

    from fer.crossdata import crossdata, source_names
    from fer.run.config import CONF_MODULE

    def matrix(*overrides: str):
        cfg = compose_config("crossdata", list(overrides), tmp_path)
        with initialize_config_module(config_module=CONF_MODULE, version_base="1.3"):
            return crossdata(cfg)

    last = source.parent / "last.ckpt"
    out = tmp_path / "matrix"
    rows = matrix(f"ckpt=[{source},{last}]", "targets=[synthetic]", f"output={out}")
    assert [r["source"] for r in rows] == ["run-best", "run-last"]
    twins = [Path("a/run/checkpoints/best.ckpt"), Path("b/run/checkpoints/best.ckpt"), Path("c/x.ckpt")]
    assert source_names(twins) == ["a/run-best", "b/run-best", "x"]
    assert (out / "run-best__synthetic" / "metrics.json").is_file()
    assert (out / "run-last__synthetic" / "metrics.json").is_file()
    assert (
        "| run-best |" in (out / "matrix.md").read_text()
        and "| run-last |" in (out / "matrix.md").read_text()
    )
    for targets, message in (
        ("[synthetic,bogus]", "not among the datasets"),
        ("[synthetic,kdef]", "roots.kdef="),
    ):
        bad = tmp_path / "bad"
        with pytest.raises(ValueError, match=message):
            matrix(f"ckpt=[{source}]", f"targets={targets}", f"output={bad}")
        assert not bad.exists()  # stopped before the first cell


def test_a_resumed_run_records_the_weights_it_started_from(source, tmp_path):
    common = ["debug=fast", "backbone=shallow_cnn", "logger=none", "callbacks.progress=plain"]
    plain = tmp_path / "plain"
    train(compose_config("train", [*common, "trainer.max_epochs=1", "test=false"], plain))
    last = plain / "checkpoints" / "last.ckpt"
    resumed = compose_config(
        "train", [*common, "trainer.max_epochs=2", f"resume={last}", f"init_from={source}"], plain
    )
    with pytest.raises(ValueError, match="started from random initialisation"):
        train(resumed)
    started = tmp_path / "started"
    train(
        compose_config(
            "train", [*common, "trainer.max_epochs=1", "test=false", f"init_from={source}"], started
        )
    )
    last = started / "checkpoints" / "last.ckpt"
    for extra in ([f"init_from={source}"], []):  # with the same init_from, or none: the record is the first's
        (started / "metrics.json").unlink(missing_ok=True)
        cfg = compose_config("train", [*common, "trainer.max_epochs=2", f"resume={last}", *extra], started)
        metrics = train(cfg)
        assert metrics["weights_source"] == f"init_from:{source.resolve()}" and metrics["pretrained"]
