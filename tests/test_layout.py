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
