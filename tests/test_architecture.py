"""The package's import graph: no cycles, and the inference path never reaches training code.

Every ``import nlp.X`` / ``from nlp.X import …`` counts, function-level ones included (walked with ``ast``).
"""
from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "nlp"
INFERENCE_ENTRY = ("api", "pipeline", "entities", "inference")
TRAINING = {"train", "augment", "dataset", "base", "config", "evaluation", "e5_format", "annotations", "metrics"}


def import_graph() -> dict[str, set[str]]:
    modules = {p.stem for p in PACKAGE.glob("*.py")}
    graph = {}
    for name in modules:
        deps = set()
        for node in ast.walk(ast.parse((PACKAGE / f"{name}.py").read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and node.module.split(".")[0] == "nlp":
                parts = node.module.split(".")
                deps.update([parts[1]] if len(parts) > 1 else [a.name for a in node.names if a.name in modules])
            elif isinstance(node, ast.Import):
                deps.update(a.name.split(".")[1] for a in node.names if a.name.startswith("nlp."))
        graph[name] = deps - {name}
    return graph


def reachable(graph, start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for dep in graph.get(todo.pop(), ()):
            if dep not in seen:
                seen.add(dep)
                todo.append(dep)
    return seen


def test_graph_sees_function_level_imports():
    graph = import_graph()
    assert "entities" in graph["pipeline"]  # pipeline imports it inside a method only
    assert "train" in graph["cli"]


def test_no_import_cycles():
    graph = import_graph()
    cycles = sorted(name for name in graph if name in reachable(graph, name))
    assert not cycles, f"modules on an import cycle: {cycles}"


def test_inference_never_reaches_training_code():
    graph = import_graph()
    for entry in INFERENCE_ENTRY:
        assert not reachable(graph, entry) & TRAINING, (entry, sorted(reachable(graph, entry) & TRAINING))
