"""The package's import graph: no entry point imports another, and no module imports itself round a circle."""

import ast
from pathlib import Path

FER = Path(__file__).parents[1] / "fer"
ENTRY_POINTS = {
    "fer.train",
    "fer.eval",
    "fer.predict",
    "fer.export",
    "fer.explain",
    "fer.report",
    "fer.crossdata",
    "fer.ensemble",
    "fer.data.__main__",
}


def module_name(path: Path) -> str:
    parts = path.relative_to(FER.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports() -> dict[str, set[str]]:
    """Each fer module -> the fer modules it imports (at any depth of its code)."""
    modules = {module_name(p): p for p in FER.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("fer"):
                # `from fer.data import cache` runs fer/data/__init__.py, then fer/data/cache.py
                found |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
            elif isinstance(node, ast.Import):
                found |= {a.name for a in node.names if a.name.startswith("fer")}
        graph[name] = {m for m in found if m in modules and m != name}
    return graph


def test_no_entry_point_imports_another():
    graph = imports()
    assert ENTRY_POINTS <= set(graph)
    assert {(m, e) for m, deps in graph.items() for e in deps & ENTRY_POINTS} == set()


def test_no_import_cycle():
    graph = imports()
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = 1
        for dep in sorted(graph[node]):
            if state.get(dep) == 1:
                return path + [dep]
            if dep not in state and (cycle := visit(dep, path + [dep])):
                return cycle
        state[node] = 2
        return None

    cycles = [c for name in sorted(graph) if name not in state and (c := visit(name, [name]))]
    assert cycles == []


def test_no_test_module_imports_another():
    """Shared test code lives in tests/helpers.py; fixtures in conftest.py, which pytest loads itself."""
    tests = Path(__file__).parent
    crossing = []
    for path in sorted(tests.glob("test_*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("tests"):
                if node.module != "tests.helpers":
                    crossing.append(f"{path.name}: from {node.module}")
            elif isinstance(node, ast.Import):
                crossing += [
                    f"{path.name}: import {a.name}" for a in node.names if a.name.startswith("tests")
                ]
    assert crossing == []


def test_experiments_import_the_package_without_path_edits():
    scripts = sorted((FER.parent / "experiments").rglob("*.py"))
    assert scripts and [str(p) for p in scripts if "sys.path" in p.read_text()] == []


def functions(path: Path) -> list[ast.FunctionDef]:
    return [n for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.FunctionDef)]


def test_no_function_sets_attributes_of_an_object_it_did_not_build():
    """An object changes through its constructor or its own methods: no ``datamodule.data[...] =``, no
    ``model.x = ...`` after it was built. A function may set attributes of what it builds and returns
    (a factory), and a Lightning callback may set ``trainer.should_stop`` (Lightning's own way to stop)."""
    built_elsewhere = {"model", "datamodule", "dm", "trainer", "net", "splits", "module", "pl_module"}
    found = []
    for path in sorted(FER.rglob("*.py")):
        for fn in functions(path):
            params = {a.arg for a in fn.args.args + fn.args.kwonlyargs + fn.args.posonlyargs} - {
                "self",
                "cls",
            }
            bound = {
                t.id
                for n in ast.walk(fn)
                if isinstance(n, ast.Assign)
                for t in n.targets
                if isinstance(t, ast.Name)
            }
            returned = {
                n.value.id
                for n in ast.walk(fn)
                if isinstance(n, ast.Return) and isinstance(n.value, ast.Name)
            }
            others = (params - bound) | (built_elsewhere - returned)
            for node in ast.walk(fn):
                targets = node.targets if isinstance(node, ast.Assign) else []
                if isinstance(node, (ast.AugAssign, ast.AnnAssign)):
                    targets = [node.target]
                for target in (e for t in targets for e in (t.elts if isinstance(t, ast.Tuple) else [t])):
                    root = target
                    while isinstance(root, (ast.Attribute, ast.Subscript)):
                        root = root.value
                    text = ast.unparse(target)
                    if root is not target and isinstance(root, ast.Name) and root.id in others:
                        if text != "trainer.should_stop":
                            found.append(f"{path.relative_to(FER.parent)}:{node.lineno} {fn.name}: {text} =")
    assert found == []


CHOICE_NAMES = {  # a registry's names: branching on one of them belongs to its registry
    "strategy": {"full", "frozen", "staged", "evolve"},
    "dataset": {
        "synthetic",
        "fer2013",
        "fer2013_clean",
        "ferplus",
        "ckplus",
        "kdef",
        "jaffe",
        "savee",
        "enterface",
    },
    "callback": {"ema", "swa", "early_stopping", "checkpoint", "lr_monitor", "weight_averaging"},
}


def test_no_if_chain_on_a_strategy_callback_or_dataset_name():
    """Choices by name go through one mechanism (a class named by ``_target_``, or a registry): no
    ``if x == "staged"`` / ``x in ("ema", ...)`` on a strategy, callback or dataset name in fer/."""
    names = set().union(*CHOICE_NAMES.values())
    found = []
    for path in sorted(FER.rglob("*.py")):
        if path.name == "registry.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, (ast.If, ast.IfExp)) or not isinstance(node.test, ast.Compare):
                continue
            literals = [
                c for c in ast.walk(node.test) if isinstance(c, ast.Constant) and isinstance(c.value, str)
            ]
            if any(c.value in names for c in literals):
                found.append(f"{path.relative_to(FER.parent)}:{node.lineno}: {ast.unparse(node.test)}")
    assert found == []


def test_the_datamodule_batches_and_train_reads_top_to_bottom():
    """The DataModule owns batching only (the data is decided before it is built), and ``train()`` is
    the order of a run: data, model, loggers, callbacks, trainer, fit, test."""
    sizes = {}
    for path in (FER / "data" / "datamodule.py", FER / "train.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.ClassDef, ast.FunctionDef)):
                sizes[node.name] = node.end_lineno - node.lineno + 1
    assert sizes["FERDataModule"] <= 120 and sizes["train"] <= 50, sizes


def test_the_top_level_holds_the_commands_and_the_libraries_live_in_subpackages():
    top = {f"fer.{p.stem}" for p in FER.glob("*.py") if p.stem != "__init__"}
    assert top == {e for e in ENTRY_POINTS if e.count(".") == 1}
