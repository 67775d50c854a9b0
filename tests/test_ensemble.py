"""fer.ensemble: members of different backbones and input sizes, averaged on the same images."""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from fer.ensemble import ensemble
from fer.run.config import compose_config
from fer.run.evaluation import evaluate_checkpoint
from fer.train import train
from tests.helpers import write_ckplus48

COMMON = ["debug=fast", "logger=none", "callbacks.progress=plain"]
ROOT = Path(__file__).parents[1]


@pytest.fixture(scope="module")
def members(tmp_path_factory) -> list[Path]:
    """The shallow CNN at 48 px and pretrained EfficientNet-Lite0 at 64 px, one synthetic epoch each."""
    root = tmp_path_factory.mktemp("members")
    runs = []
    for name in ("shallow_cnn", "efficientnet_lite0"):
        train(compose_config("train", [*COMMON, f"backbone={name}"], root / name))
        runs.append(root / name)
    return runs


def test_members_of_other_sizes_are_averaged_on_the_same_images(members, tmp_path):
    ckpts = [str(run / "checkpoints" / "best.ckpt") for run in members]
    cfg = compose_config("ensemble", [f"ckpt=[{','.join(ckpts)}]", f"output={tmp_path}"], tmp_path)
    metrics = ensemble(cfg)
    assert metrics["images"] == 70 and sum(map(sum, metrics["test/confusion_matrix"])) == 70
    for member, run in zip(metrics["members"], members):  # each member's score, as its own run tested it
        own = json.loads((run / "metrics.json").read_text())
        assert member["test/acc"] == pytest.approx(own["test/acc"], abs=1e-6)
    written = json.loads((tmp_path / "metrics.json").read_text())
    assert written["test/acc"] == metrics["test/acc"] and (tmp_path / "confusion_matrix.png").is_file()
    assert written["tta"] is None and written["dataset"] == "synthetic"


@pytest.fixture(scope="module")
def three_classes(tmp_path_factory) -> Path:
    """A run on three of the seven classes."""
    run = tmp_path_factory.mktemp("three")
    train(compose_config("train", [*COMMON, "backbone=shallow_cnn", "data.classes=[happy,sad,angry]"], run))
    return run


def test_members_must_answer_for_the_same_classes(members, three_classes, tmp_path):
    ckpts = [str(members[0] / "checkpoints" / "best.ckpt"), str(three_classes / "checkpoints" / "best.ckpt")]
    with pytest.raises(ValueError, match="tested on different images"):
        ensemble(
            compose_config(
                "ensemble", [f"ckpt=[{','.join(ckpts)}]", f"output={tmp_path / 'e'}"], tmp_path / "e"
            )
        )
    with pytest.raises(ValueError, match="at least two"):
        ensemble(
            compose_config("ensemble", [f"ckpt=[{ckpts[0]}]", f"output={tmp_path / 'f'}"], tmp_path / "f")
        )


def test_models_of_other_class_lists_join_on_another_dataset_matched_by_name(
    members, three_classes, tmp_path
):
    """Seven synthetic classes and three (happy, sad, angry: another order) on a CK+48 layout: each
    member scores there as fer.eval scores it, its columns matched to the first member's by name."""
    root = tmp_path / "ck"
    write_ckplus48(root)  # anger contempt disgust fear happy sadness surprise
    ckpts = [str(members[0] / "checkpoints" / "best.ckpt"), str(three_classes / "checkpoints" / "best.ckpt")]
    data = ["data=ckplus", f"data.root={root}", "data.classes=[happiness,sadness,anger]"]
    args = [f"ckpt=[{','.join(ckpts)}]", "split=all", "prior=uniform", *data, f"output={tmp_path / 'e'}"]
    metrics = ensemble(compose_config("ensemble", args, tmp_path / "e"))
    section = compose_config("inspect_data", data, tmp_path).data
    images = sum(1 for p in root.rglob("*.png") if p.parent.name in ("happy", "sadness", "anger"))
    assert metrics["images"] == images and metrics["prior"] == "uniform"
    assert metrics["classes"] == ["angry", "happy", "sad"]  # the first member's order
    for ckpt, member in zip(ckpts, metrics["members"]):
        alone = evaluate_checkpoint(
            ckpt, tmp_path / Path(ckpt).parents[1].name, "all", data=section, tta=None, prior="uniform",
            seed=42, cache_dir=None, trainer={"accelerator": "cpu"}, loggers=[],
        )  # fmt: skip
        assert sorted(alone["classes"]) == ["angry", "happy", "sad"]
        assert member["test/acc"] == pytest.approx(alone["test/acc"], abs=1e-6)
        assert member["test/per_class_recall"] == pytest.approx(alone["test/per_class_recall"], abs=1e-6)
    unshared = [*args[:3], "data=ckplus", f"data.root={root}", f"output={tmp_path / 'f'}"]
    with pytest.raises(ValueError, match="answers for the classes"):  # six shared classes against three
        ensemble(compose_config("ensemble", unshared, tmp_path / "f"))


def load_script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "experiments" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow  # 21 s: six fold trainings; left out of the default run (pytest -m slow)
def test_fold_ensemble_pairs_folds_across_seeds_and_refuses_other_folds(tmp_path):
    """Two seeds over the same two folds (data.split_seed fixed); a third sweep drawn with other folds."""
    fold_ensemble = load_script("fold_ensemble")
    jobs = {
        "a": (["seed=1", "data.split_seed=7"], 2),
        "b": (["seed=2", "data.split_seed=7"], 2),
        "other": (["seed=1"], 1),
        "refit": (["seed=1", "data.split_seed=7", "data.val_fraction=0"], 1),
    }
    for name, (overrides, folds) in jobs.items():
        for fold in range(folds):
            job = [
                *COMMON,
                "backbone=shallow_cnn",
                "data.protocol=kfold",
                "data.num_folds=2",
                f"data.fold={fold}",
            ]
            train(compose_config("train", [*job, *overrides], tmp_path / name / f"fold{fold}"))
    folds = fold_ensemble.fold_members([tmp_path / "a", tmp_path / "b"])
    assert list(folds) == [0, 1] and all(len(members) == 2 for members in folds.values())
    a, b = folds[1]
    alone = [fold_ensemble.fold_scores([ckpt], ["none", "flip"], seed=0) for ckpt in (a, b)]
    own = json.loads((tmp_path / "a" / "fold1" / "metrics.json").read_text())  # the run's own test scores
    assert alone[0]["acc"]["ensemble"]["none", "test"] == pytest.approx(own["test/acc"], abs=1e-6)
    assert alone[0]["nll"]["ensemble"]["none", "test"] == pytest.approx(own["test/loss"], rel=1e-4)
    pair = fold_ensemble.fold_scores([a, b], ["none", "flip"], seed=0)
    for metric in ("acc", "nll"):
        for key in pair[metric]["members"]:
            assert pair[metric]["members"][key] == pytest.approx(
                (alone[0][metric]["members"][key] + alone[1][metric]["members"][key]) / 2
            )
    twice = fold_ensemble.fold_scores([a, a], ["none"], seed=0)
    for metric in ("acc", "nll"):
        assert twice[metric]["ensemble"]["none", "test"] == pytest.approx(
            alone[0][metric]["ensemble"]["none", "test"]
        )
    with pytest.raises(ValueError, match="split differs"):
        fold_ensemble.fold_scores(
            [
                tmp_path / "a" / "fold0" / "checkpoints" / "best.ckpt",
                tmp_path / "other" / "fold0" / "checkpoints" / "best.ckpt",
            ],
            ["none"],
            seed=0,
        )
    with pytest.raises(ValueError, match="unequal numbers"):
        fold_ensemble.fold_members([tmp_path / "a", tmp_path / "other"])
    refit = tmp_path / "refit" / "fold0" / "checkpoints" / "best.ckpt"  # no validation split: test alone
    alone = fold_ensemble.fold_scores([refit], ["none"], seed=0)
    own = json.loads((tmp_path / "refit" / "fold0" / "metrics.json").read_text())
    assert list(alone["acc"]["ensemble"]) == [("none", "test")]
    assert alone["acc"]["ensemble"]["none", "test"] == pytest.approx(own["test/acc"], abs=1e-6)
    held = tmp_path / "a" / "fold0" / "checkpoints" / "best.ckpt"
    with pytest.raises(ValueError, match="mix models"):
        fold_ensemble.fold_scores([held, refit], ["none"], seed=0)


def test_seed_study_chooses_on_validation_and_reports_test_for_the_chosen_modes(
    members, three_classes, tmp_path
):
    seed_study = load_script("seed_study")
    plain = seed_study.study(members, ["none"], seed=0, cache_dir=None)
    for accuracy, run in zip(plain["single"]["test_acc"], members):  # as each run's own test scored it
        assert accuracy == pytest.approx(json.loads((run / "metrics.json").read_text())["test/acc"], abs=1e-6)
    ckpts = [str(run / "checkpoints" / "best.ckpt") for run in members]
    averaged = ensemble(
        compose_config("ensemble", [f"ckpt=[{','.join(ckpts)}]", f"output={tmp_path / 'e'}"], tmp_path / "e")
    )
    assert plain["ensemble"]["test_acc"] == pytest.approx(averaged["test/acc"], abs=1e-6)
    both = seed_study.study(members, ["none", "flip"], seed=0, cache_dir=None)
    val = both["val_acc"]
    assert val["none"] == plain["val_acc"]["none"]
    mean = {mode: sum(v["seeds"]) / len(v["seeds"]) for mode, v in val.items()}
    assert mean[both["single"]["tta"]] == max(mean.values())
    assert val[both["ensemble"]["tta"]]["ensemble"] == max(v["ensemble"] for v in val.values())
    with pytest.raises(ValueError, match="classes or splits differ"):
        seed_study.study([members[0], three_classes], ["none"], seed=0, cache_dir=None)


def test_ensemble_choice_reads_test_for_the_cell_chosen_on_validation_alone():
    """Cell A+B wins on validation and loses on test: it is still the one reported."""
    choice = load_script("ensemble_choice")
    one_hot = np.eye(2)
    labels = {"val": np.array([0, 0, 1, 1]), "test": np.array([0, 1, 0, 1])}
    right = {"val": one_hot[labels["val"]], "test": one_hot[labels["test"]]}
    wrong = {split: 1 - p for split, p in right.items()}
    probabilities = {  # A is right on val, wrong on test; B agrees with A but weaker; C the reverse
        "A": {"val": 0.9 * right["val"] + 0.05, "test": 0.9 * wrong["test"] + 0.05},
        "B": {"val": 0.6 * right["val"] + 0.2, "test": 0.6 * wrong["test"] + 0.2},
        "C": {"val": 0.9 * wrong["val"] + 0.05, "test": 0.9 * right["test"] + 0.05},
    }
    cells = choice.candidates(list(probabilities), {})
    assert cells == {"A+B": ["A", "B"], "A+C": ["A", "C"], "B+C": ["B", "C"], "A+B+C": ["A", "B", "C"]}
    result = choice.choose(probabilities, labels, ["happy", "sad"], cells)
    assert result["chosen"] == "A+B" and result["val_acc"]["A+B"] == 1.0
    assert result["test_acc"] == 0.0 and result["test_per_class_recall"] == {"happy": 0.0, "sad": 0.0}
    assert result["members_val_acc"] == {"A": 1.0, "B": 1.0, "C": 0.0}
    with pytest.raises(ValueError, match=r"\['D'\] are not among"):
        choice.candidates(["A", "B"], {"AD": ["A", "D"]})
    with pytest.raises(ValueError, match="expected NAME=VALUE"):
        choice.named(["A=x", "A=y"], "--member")


def test_ensemble_choice_scores_as_fer_ensemble_does(members, tmp_path):
    choice = load_script("ensemble_choice")
    ckpts = [str(run / "checkpoints" / "best.ckpt") for run in members]
    probabilities, labels, classes = choice.member_answers(dict(zip("AB", ckpts)), [])
    result = choice.choose(probabilities, labels, classes, choice.candidates(["A", "B"], {}))
    averaged = ensemble(
        compose_config("ensemble", [f"ckpt=[{','.join(ckpts)}]", f"output={tmp_path / 'e'}"], tmp_path / "e")
    )
    assert result["chosen"] == "A+B" and result["test_acc"] == pytest.approx(averaged["test/acc"], abs=1e-6)
    assert result["test_images"] == averaged["images"] and result["classes"] == averaged["classes"]


def test_ensemble_choice_refuses_members_tested_on_other_images(members, three_classes):
    choice = load_script("ensemble_choice")
    ckpts = [str(run / "checkpoints" / "best.ckpt") for run in (members[0], three_classes)]
    with pytest.raises(ValueError, match="tested on different images"):
        choice.member_answers(dict(zip("AB", ckpts)), [])
