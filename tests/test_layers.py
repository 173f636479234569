"""Layers point one way: tooljudge (top-level modules and tooljudge.core) < data_prep < eval < train.

Every ``import`` / ``from ... import`` in every module is read with ``ast`` (function-level imports included, so a
lazy import cannot hide a backward dependency), and an import of a higher layer fails with file, line and both
layers. A second check finds import cycles among the modules of one package (module-level imports: those run
when the package is imported) and, with function-level imports too, in every folder.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# folder -> (package it installs as, layer); tooljudge/'s sub-packages data_prep, eval, train live in their folders
FOLDERS = {"tooljudge": ("tooljudge", 0), "data_prep": ("tooljudge.data_prep", 1),
           "eval": ("tooljudge.eval", 2), "train": ("tooljudge.train", 3)}
LAYER_OF_PACKAGE = {pkg: layer for pkg, layer in FOLDERS.values()}
NAMES = {0: "tooljudge/core", 1: "data_prep", 2: "eval", 3: "train"}


def layer_of(module: str) -> int | None:
    """The layer of a ``tooljudge...`` module name (None for anything outside the project)."""
    parts = module.split(".")
    if parts[0] != "tooljudge":
        return None
    return LAYER_OF_PACKAGE.get(".".join(parts[:2]), 0)


def module_name(folder: str, path: Path) -> str:
    pkg = FOLDERS[folder][0]
    rel = path.relative_to(ROOT / folder).with_suffix("").parts
    return ".".join((pkg, *rel)).removesuffix(".__init__")


def imported_names(node: ast.AST, module: str) -> list[str]:
    """Full names one import statement reaches (``from tooljudge import eval`` reaches tooljudge.eval)."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    if isinstance(node, ast.ImportFrom):
        base = node.module or ""
        if node.level:  # relative: resolve against the importing module's package
            pkg = module.split(".")[: -node.level]
            base = ".".join([*pkg, base] if base else pkg)
        return [base, *(f"{base}.{a.name}" for a in node.names)]
    return []


def project_modules() -> list[tuple[str, Path, str]]:
    """(folder, path, module name) of every module of the four folders."""
    out = []
    for folder in FOLDERS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            if folder == "tooljudge" and path.relative_to(ROOT / folder).parts[0] in ("data_prep", "eval", "train"):
                continue
            out.append((folder, path, module_name(folder, path)))
    return out


def higher_imports(source: str, module: str, own: int) -> list[tuple[int, str, int]]:
    """(line, imported name, its layer) of every import in ``source`` of a layer above ``own``."""
    hits = []
    for node in ast.walk(ast.parse(source)):
        for name in imported_names(node, module):
            layer = layer_of(name)
            if layer is not None and layer > own:
                hits.append((node.lineno, name, layer))
                break
    return sorted(hits)


def backward_imports() -> list[str]:
    problems = []
    for folder, path, module in project_modules():
        own = FOLDERS[folder][1]
        for line, name, layer in higher_imports(path.read_text(encoding="utf-8"), module, own):
            problems.append(f"{path.relative_to(ROOT)}:{line} ({NAMES[own]}) imports {name} "
                            f"({NAMES[layer]}, a higher layer)")
    return problems


def test_every_folder_has_modules():
    """The scan reads real files: each layer has modules (an empty scan would pass anything)."""
    folders = {folder for folder, _, _ in project_modules()}
    assert folders == set(FOLDERS)
    assert len(project_modules()) > 60


def test_no_module_imports_a_higher_layer():
    assert backward_imports() == []


def test_the_scan_sees_lazy_and_aliased_imports():
    """The checker itself: an import inside a function or a method, ``from tooljudge import eval`` and a plain
    ``import tooljudge.train.x`` in data_prep are all caught; same-layer and lower imports are not."""
    src = ("import json\nfrom tooljudge.core import backends\nfrom tooljudge.data_prep import masking\n"
           "def f():\n    from tooljudge.eval.judges import LABELS\n"
           "class C:\n    def g(self):\n        from tooljudge import eval\n"
           "import tooljudge.train.recipe\nfrom tooljudge import models\n")
    assert higher_imports(src, "tooljudge.data_prep.x", 1) == [
        (5, "tooljudge.eval.judges", 2), (8, "tooljudge.eval", 2), (9, "tooljudge.train.recipe", 3)]
    assert higher_imports(src, "tooljudge.train.x", 3) == []


def module_edges(folder: str, lazy: bool = False) -> dict[str, set[str]]:
    """Imports among one folder's modules: module-level ones, or with ``lazy`` every import in the file."""
    sources = {module: path.read_text(encoding="utf-8") for f, path, module in project_modules() if f == folder}
    return source_edges(sources, lazy)


def source_edges(sources: dict[str, str], lazy: bool = False) -> dict[str, set[str]]:
    """Imports among the modules ``sources`` holds (module name -> source text)."""
    modules = set(sources)
    edges: dict[str, set[str]] = {m: set() for m in modules}
    for module, source in sources.items():
        tree = ast.parse(source)
        for node in ast.walk(tree) if lazy else tree.body:
            for name in imported_names(node, module):
                if name in modules and name != module:
                    edges[module].add(name)
    return edges


def find_cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Cycles of a directed graph: its strongly connected components with more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return cycles


def test_find_cycles_on_a_hand_made_graph():
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a", "e"}, "e": {"d"}, "f": set()}
    assert sorted(find_cycles(edges)) == [["a", "b", "c"], ["d", "e"]]


@pytest.mark.parametrize("folder", sorted(FOLDERS))
def test_no_import_cycles_within_a_package(folder):
    assert find_cycles(module_edges(folder)) == []


@pytest.mark.parametrize("folder", sorted(FOLDERS))
def test_no_cycles_even_through_function_level_imports(folder):
    """No layer has a cycle at all, lazy imports included: schema, importers and sources share ``row_problems``
    instead of importing each other; the judge protocol registry imports the generators, never the reverse;
    rounds and export share ``eval.headline``, and ``export.ExportError`` is a ``cli.UserError`` so the CLI
    need not know export."""
    assert find_cycles(module_edges(folder, lazy=True)) == []


def test_the_lazy_scan_finds_a_cycle_closed_by_a_function_level_import():
    """The shape judge_protocols <-> judge_protocol_registry had: a module-level import one way, a lazy one back
    (inside a module ``__getattr__``). Only the lazy scan sees the cycle."""
    sources = {"tooljudge.eval.reg": "from tooljudge.eval.gen import run\n",
               "tooljudge.eval.gen": ("def __getattr__(name):\n    from tooljudge.eval.reg import NAMES\n"
                                      "    return NAMES\n"),
               "tooljudge.eval.other": "from . import gen\n"}
    assert find_cycles(source_edges(sources)) == []
    assert find_cycles(source_edges(sources, lazy=True)) == [["tooljudge.eval.gen", "tooljudge.eval.reg"]]
    assert source_edges(sources, lazy=True)["tooljudge.eval.other"] == {"tooljudge.eval.gen"}
