"""The package picture, checked: no import cycles, and every import points down the layer order.

The import graph is read with `ast` from flowkit's source, every import
counted (module level, inside functions, and under ``TYPE_CHECKING``), so a
cycle cannot hide in a function. `LAYERS` is the documented order, bottom
first; docs/design.md's picture is checked against it, so the picture cannot
drift from the code.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import networkx as nx
import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "flowkit"

#: Bottom first. A module may import its own layer's modules (without a cycle) and any layer below.
LAYERS: list[tuple[str, ...]] = [
    ("flowkit.errors",),
    ("flowkit.jsonvalue", "flowkit.atomic", "flowkit.drawing"),
    ("flowkit.model",),
    ("flowkit.crypto", "flowkit.redaction", "flowkit.schema"),
    ("flowkit.store",),
    ("flowkit.integrations",),
    ("flowkit.executors",),
    ("flowkit.run",),
    ("flowkit.catalog", "flowkit.history", "flowkit.schedules"),
    ("flowkit.workspace",),
    ("flowkit.jobs",),
    ("flowkit.testing", "flowkit.lab", "flowkit.ui", "flowkit.cli"),
    ("flowkit", "flowkit.__main__"),
]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """flowkit modules `name` imports, anywhere in its source; ``from pkg import mod`` counts as mod."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            targets = [f"{target}.{alias.name}" for alias in node.names if f"{target}.{alias.name}" in known]
            targets = targets or [target]
        else:
            continue
        for target in targets:
            while target and target not in known:  # `import flowkit.x.y` names a module; a name in it counts as it
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def import_graph() -> nx.DiGraph:
    found = modules()
    graph = nx.DiGraph()
    graph.add_nodes_from(found)
    for name, path in found.items():
        graph.add_edges_from((name, target) for target in imports_of(name, path, set(found)))
    return graph


def layer_of(name: str) -> int:
    best = None
    for index, layer in enumerate(LAYERS):
        for prefix in layer:
            if name == prefix or name.startswith(prefix + "."):
                if best is None or len(prefix) > best[1]:
                    best = (index, len(prefix))
    if best is None:
        raise AssertionError(f"{name} is in no layer: add it to LAYERS and to docs/design.md's picture")
    return best[0]


def package_of(name: str) -> str:
    """The unit a layer lists: its package, or the module itself."""
    for layer in LAYERS:
        for prefix in sorted(layer, key=len, reverse=True):
            if name == prefix or name.startswith(prefix + "."):
                return prefix
    return name


def test_the_graph_reader_sees_function_level_and_type_checking_imports(tmp_path: Path) -> None:
    source = tmp_path / "flowkit" / "a.py"
    source.parent.mkdir()
    source.write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .b import X\n"
        "def f():\n    from . import c\n    import flowkit.d.e\n"
    )
    known = {"flowkit", "flowkit.a", "flowkit.b", "flowkit.c", "flowkit.d", "flowkit.d.e"}
    assert imports_of("flowkit.a", source, known) == {"flowkit.b", "flowkit.c", "flowkit.d.e"}


def test_there_are_no_import_cycles() -> None:
    cycles = list(nx.simple_cycles(import_graph()))
    assert not cycles, "import cycles: " + "; ".join(" -> ".join([*cycle, cycle[0]]) for cycle in cycles[:10])


def test_a_cycle_is_found_when_there_is_one() -> None:
    graph = import_graph()
    graph.add_edge("flowkit.model.names", "flowkit.workspace")  # what the check above must catch
    assert list(nx.simple_cycles(graph))


def test_every_import_points_down_the_layers() -> None:
    wrong = [
        f"{source} (layer {layer_of(source)}) imports {target} (layer {layer_of(target)})"
        for source, target in import_graph().edges
        if layer_of(target) > layer_of(source)
    ]
    assert not wrong, "imports against the layer order:\n" + "\n".join(sorted(wrong))


def test_modules_below_workspace_never_import_it() -> None:
    below = [name for name in modules() if layer_of(name) < layer_of("flowkit.workspace")]
    graph = import_graph()
    offenders = sorted(name for name in below if graph.has_edge(name, "flowkit.workspace"))
    assert not offenders


def test_tinydb_is_imported_only_by_the_file_store() -> None:
    users = sorted(
        name for name, path in modules().items() if re.search(r"^\s*(from|import) tinydb\b", path.read_text(), re.M)
    )
    assert users == ["flowkit.store.files"]


@pytest.mark.parametrize("name", sorted(modules()))
def test_modules_stay_small(name: str) -> None:
    lines = len(modules()[name].read_text(encoding="utf-8").splitlines())
    assert lines <= 450, f"{name} has {lines} lines; split it by what its parts do"


def design_picture() -> list[str]:
    """The packages and modules named in docs/design.md's layer picture, top first."""
    text = (ROOT / "docs" / "design.md").read_text(encoding="utf-8")
    block = text.split("## Layers", 1)[1].split("```", 2)[1]
    return re.findall(r"^  ([a-z_]+(?:/|\.py))", block, re.M)


def test_the_design_picture_lists_the_layers_in_order() -> None:
    shown = [entry.removesuffix(".py").removesuffix("/") for entry in design_picture()]
    expected = [
        prefix.removeprefix("flowkit.")
        for layer in reversed(LAYERS)
        for prefix in sorted(layer)
        if prefix not in ("flowkit", "flowkit.__main__")
    ]
    assert sorted(shown) == sorted(expected), "docs/design.md's picture names other modules than LAYERS"
    ranks = {
        name: index
        for index, layer in enumerate(reversed(LAYERS))
        for name in (p.removeprefix("flowkit.") for p in layer)
    }
    positions = [ranks[name] for name in shown]
    assert positions == sorted(positions), "docs/design.md's picture is not in the layer order, top first"


def test_every_top_level_module_and_package_is_in_the_picture() -> None:
    top = {path.stem if path.is_file() else path.name for path in PACKAGE.iterdir() if not path.name.startswith("_")}
    top -= {"py", "__pycache__"}
    shown = {entry.removesuffix(".py").removesuffix("/") for entry in design_picture()}
    assert top - shown == set()
