"""PathNet: the model, its tournament, frozen modules across tasks, and resuming an evolution."""

import csv
import json
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
import timm
import torch

from fer.callbacks.pathnet_evolution import Evolution, mutate
from fer.models.pathnet import PathNet
from fer.run.checkpoint import read
from fer.run.config import compose_config
from fer.train import train

SMALL = [
    "backbone.kwargs.widths=[8,16,16]",
    "backbone.kwargs.layers=3",
    "backbone.kwargs.modules=5",
    "backbone.kwargs.per_layer=2",
]
EVOLVE = ["finetune.population=6", "finetune.tournament_steps=2", "data.batch_size=16", "logger=none"]


def run(tmp: Path, name: str, *overrides: str) -> dict:
    cfg = compose_config(
        "train",
        ["debug=fast", "callbacks.progress=plain", "backbone=pathnet", *SMALL, *EVOLVE, *overrides],
        tmp / name,
    )
    return train(cfg)


def states(ckpt: Path) -> dict[str, torch.Tensor]:
    return read(ckpt)["state_dict"]


def module_tensors(state: dict, layer: int, module: int) -> dict[str, torch.Tensor]:
    prefix = f"net.backbone.layers.{layer}.{module}."
    return {k: v for k, v in state.items() if k.startswith(prefix)}


def test_mutation_shifts_each_gene_with_probability_one_over_ln_by_at_most_two():
    generator = torch.Generator().manual_seed(0)
    parent = torch.randint(0, 10, (3, 3), generator=generator)
    children = torch.stack([mutate(parent, 10, generator) for _ in range(20000)])
    shift = (children - parent) % 10
    assert set(shift.unique().tolist()) <= {0, 1, 2, 8, 9}  # +-1, +-2 modulo M, or unchanged
    assert {1, 2, 8, 9} <= set(shift.unique().tolist())
    rate = (shift != 0).float().mean().item()
    # hit with probability 1/(L*N) = 1/9, shifted by one of -2..2 (zero in 1 of 5): 0.0889 +- 0.0007
    assert abs(rate - 0.8 / 9) < 0.004


def fake_module(net: PathNet) -> SimpleNamespace:
    return SimpleNamespace(net=SimpleNamespace(backbone=net), log=lambda *a, **k: None)


def test_a_tournament_overwrites_the_loser_with_the_mutated_winner():
    net = PathNet(num_classes=3, layers=3, widths=(4, 4, 4), hidden=0, modules=10, per_layer=3)
    evolution = Evolution(
        {"population": 4, "tournament_steps": 2, "generations": None},
        (torch.zeros(1, 1, 48, 48, dtype=torch.uint8), torch.zeros(1, dtype=torch.long)),
        Path("unused"),
        seed=0,
    )
    module, trainer = fake_module(net), SimpleNamespace(global_step=0, should_stop=False)
    evolution.on_fit_start(trainer, module)
    scores = {0: 0.1, 1: 0.9, 2: 0.5, 3: 0.3}
    evolution.score = lambda pl_module, member: scores[member]
    a, b = evolution.pair
    before = evolution.population.clone()
    trained = []
    for _ in range(4):  # two steps for each of the pair
        evolution.on_train_batch_start(trainer, module, None, 0)
        trained.append(net.path.clone())
        if len(trained) == 4:
            expected_generator = torch.Generator()
            expected_generator.set_state(evolution.generator.get_state())
        evolution.on_train_batch_end(trainer, module, None, None, 0)
    assert all(torch.equal(p, before[a]) for p in trained[:2]) and all(
        torch.equal(p, before[b]) for p in trained[2:]
    )
    winner, loser = (a, b) if scores[a] >= scores[b] else (b, a)
    expected_child = mutate(before[winner], 10, expected_generator)
    assert torch.equal(evolution.population[winner], before[winner])
    assert torch.equal(evolution.population[loser], expected_child)
    untouched = [m for m in range(4) if m not in (a, b)]
    assert torch.equal(evolution.population[untouched], before[untouched])
    assert evolution.history[0]["winner"] == winner and evolution.generation == 1
    assert torch.isnan(evolution.fitness[loser]) and evolution.fitness[winner] == scores[winner]


def test_frozen_modules_keep_their_weights_even_on_the_training_path():
    net = PathNet(num_classes=3, layers=3, widths=(4, 4, 4), hidden=0, modules=4, per_layer=2)
    net.path.copy_(torch.tensor([[0, 1], [0, 1], [0, 1]]))
    net.next_task()  # modules 0 and 1 of every layer frozen
    assert net.frozen[:, :2].all() and not net.frozen[:, 2:].any()
    net.path.copy_(torch.tensor([[0, 2], [1, 3], [0, 2]]))  # frozen and free modules on one path
    before = {k: v.clone() for k, v in net.state_dict().items()}
    frozen = [k for k in before if k.startswith("layers.") and k.split(".")[2] in ("0", "1")]
    net.train()
    optimizer = torch.optim.AdamW(net.parameters(), lr=0.1, weight_decay=0.5)
    for _ in range(3):
        loss = torch.nn.functional.cross_entropy(net(torch.randn(8, 1, 48, 48)), torch.randint(0, 3, (8,)))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    after = net.state_dict()
    assert frozen and all(torch.equal(after[k], before[k]) for k in frozen)
    assert not torch.equal(
        after["layers.0.2.0.weight"], before["layers.0.2.0.weight"]
    )  # a free module trained


def test_a_second_task_freezes_the_first_tasks_path_bit_for_bit(tmp_path):
    first = run(tmp_path, "a", "trainer.max_epochs=2")
    source = Path(first["run_dir"]) / "checkpoints" / "best.ckpt"
    source_state = states(source)
    path = source_state["net.backbone.path"]
    second = run(
        tmp_path, "b", "trainer.max_epochs=2", f"init_from={source}", "data.classes=[happy,sad,neutral]"
    )
    run_b = Path(second["run_dir"])
    weights = json.loads((run_b / "metrics.json").read_text())["weights"]
    used = [sorted(set(row)) for row in path.tolist()]
    assert weights["pathnet"]["frozen_modules"] == used
    for ckpt in ("best.ckpt", "last.ckpt"):
        state = states(run_b / "checkpoints" / ckpt)
        assert torch.equal(state["net.backbone.task_paths"], path[None])
        for layer, modules in enumerate(used):
            for module in range(5):
                own, theirs = (
                    module_tensors(state, layer, module),
                    module_tensors(source_state, layer, module),
                )
                identical = all(torch.equal(own[k], theirs[k]) for k in own)
                assert identical == (module in modules), (ckpt, layer, module)  # the rest re-initialised
    record = json.loads((run_b / "pathnet" / "path.json").read_text())
    assert record["task"] == 1 and record["earlier_tasks"] == [used] and record["frozen"] == used
    assert (run_b / "pathnet" / "path.png").stat().st_size > 0


def test_paths_are_scored_on_a_slice_of_the_training_split_only(tmp_path):
    result = run(tmp_path, "a", "trainer.max_epochs=1")
    run_dir = Path(result["run_dir"])
    with open(run_dir / "splits.csv") as f:
        rows = list(csv.DictReader(f))
    files = {s: {r["file"] for r in rows if r["split"] == s} for s in ("train", "val", "test", "fitness")}
    assert files["fitness"] and all(not files["fitness"] & files[s] for s in ("train", "val", "test"))
    report = json.loads((run_dir / "data_report.json").read_text())
    assert all(count >= 1 for count in report["splits"]["fitness"].values())  # every class
    assert sum(report["splits"]["fitness"].values()) == len(files["fitness"])
    history = list(csv.DictReader(open(run_dir / "pathnet" / "evolution.csv")))
    assert history and all(float(r["winner_fitness"]) >= float(r["loser_fitness"]) for r in history)


def test_a_killed_evolution_resumes_its_population_and_count(tmp_path):
    first = run(tmp_path, "a", "trainer.max_epochs=1")
    last = Path(first["run_dir"]) / "checkpoints" / "last.ckpt"
    saved = next(v for k, v in read(last)["callbacks"].items() if k.startswith("Evolution"))
    resumed = run(tmp_path, "a_resumed", "trainer.max_epochs=2", f"resume={last}")
    history = list(csv.DictReader(open(Path(resumed["run_dir"]) / "pathnet" / "evolution.csv")))
    assert [int(r["generation"]) for r in history] == list(range(len(history)))
    assert len(history) > len(saved["history"])
    assert [int(r["winner"]) for r in history[: len(saved["history"])]] == [
        h["winner"] for h in saved["history"]
    ]


def test_evolve_and_pathnet_go_together(tmp_path):
    with pytest.raises(ValueError, match="PathNet trains by evolution"):
        run(tmp_path, "a", "finetune=full")
    with pytest.raises(ValueError, match="PathNet trains by evolution"):
        train(
            compose_config("train", ["debug=fast", "backbone=shallow_cnn", "finetune=evolve"], tmp_path / "b")
        )


def test_modules_over_a_frozen_base_network(tmp_path):
    source = train(
        compose_config("train", ["debug=fast", "backbone=shallow_cnn", "logger=none"], tmp_path / "base")
    )
    ckpt = Path(source["run_dir"]) / "checkpoints" / "best.ckpt"
    net = timm.create_model(
        "fer_pathnet", num_classes=7, base=str(ckpt), layers=3, widths=[8, 8, 8], pool=False
    )
    saved = {k[len("net.backbone.") :]: v for k, v in read(ckpt)["state_dict"].items()}
    base = net.base.state_dict()
    assert all(torch.equal(base[k], saved[k]) for k in base)
    assert not any(p.requires_grad for p in net.base.parameters())
    net.train()
    assert not net.base.training and net.layers[0][0].training
    assert net(torch.randn(2, 1, 48, 48)).shape == (2, 7)
    assert net.pretrained_cfg["mean"] == (0.5,)  # the base's normalisation
    with pytest.raises(ValueError, match="in_chans"):
        timm.create_model("fer_pathnet", in_chans=3, base=str(ckpt))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["finetune.population=1"], "finetune.population=1: expected >= 2"),
        (["finetune.tournament_steps=0"], "finetune.tournament_steps=0: expected >= 1"),
        (
            ["backbone.kwargs.layers=0", "backbone.kwargs.widths=[]"],
            "backbone.kwargs.layers=0: expected >= 1",
        ),
        (
            ["backbone.kwargs.layers=6", "backbone.kwargs.widths=[8,8,8,8,8,8]"],
            "input_size=48 affords at most 5 layers",
        ),
        (
            ["finetune.tournament_steps=500"],
            "one tournament trains two paths for that many batches each (1000)",
        ),
    ],
)
def test_settings_that_cannot_evolve_are_refused_by_name(overrides, message, tmp_path):
    with pytest.raises(ValueError, match=re.escape(message)):
        run(tmp_path, "bad", *overrides)
    assert not (tmp_path / "bad" / "metrics.json").exists()
