"""The shape of the code: imports point one way through the layers, no module imports itself back through a
circle, and the TypeScript mirrors of the widgets declare exactly the traits Python syncs."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from attnwidget import AttentionWidget, CompareWidget

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "attnwidget"
# Bottom to top: a module may import from its own layer and the ones before it, never from a later one.
LAYERS = ("analysis", "engine", "widgets", "output", "cli")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Every attnwidget module `path` imports, at module level or inside functions (lazy imports count)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("attnwidget")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            if not target.startswith("attnwidget"):
                continue
            found.add(target)
            # `from . import encode` names a module too.
            found |= {
                f"{target}.{alias.name}"
                for alias in node.names
                if (ROOT / f"{target}.{alias.name}".replace(".", "/")).with_suffix(".py").exists()
            }
    return {resolve(target) for target in found} - {name}


def resolve(target: str) -> str:
    """A dotted name → the module that defines it (a package's `__init__` counts as the package)."""
    parts = target.split(".")
    while parts:
        path = ROOT.joinpath(*parts)
        if path.with_suffix(".py").exists() or (path / "__init__.py").exists():
            return ".".join(parts)
        parts.pop()
    return target


def layer_of(module: str) -> int | None:
    parts = module.split(".")
    if len(parts) < 2:
        return None  # the package itself: its __init__ re-exports the public names of every layer
    return LAYERS.index(parts[1]) if parts[1] in LAYERS else None


def graph() -> dict[str, set[str]]:
    return {module_name(path): imports_of(path) for path in PACKAGE.rglob("*.py") if "static" not in path.parts}


def test_every_module_belongs_to_a_layer() -> None:
    stray = [m for m in graph() if m != "attnwidget" and layer_of(m) is None]
    assert not stray, f"modules outside the layers {LAYERS}: {stray}"


def test_imports_point_down_the_layers() -> None:
    upward = [
        f"{module} ({LAYERS[layer_of(module)]}) imports {target} ({LAYERS[layer_of(target)]})"  # type: ignore[index]
        for module, targets in graph().items()
        for target in targets
        if layer_of(module) is not None and layer_of(target) is not None and layer_of(target) > layer_of(module)  # type: ignore[operator]
    ]
    assert not upward, "imports must point down the layers " + " ← ".join(LAYERS) + ":\n" + "\n".join(upward)


def test_no_import_cycles() -> None:
    edges = {module: {t for t in targets if t != "attnwidget"} for module, targets in graph().items()}
    edges.pop("attnwidget", None)
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    cycles: list[list[str]] = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for target in sorted(edges.get(node, ())):
            if state.get(target) == 1:
                cycles.append([*path[path.index(target) :], target])
            elif target not in state:
                visit(target, [*path, target])
        state[node] = 2

    for module in sorted(edges):
        if module not in state:
            visit(module, [module])
    assert not cycles, "import cycles: " + "; ".join(" → ".join(c) for c in cycles)


def test_the_checker_sees_an_upward_import(tmp_path: Path) -> None:
    # The rule above would pass vacuously if imports were not found: check one known edge.
    assert "attnwidget.analysis.scores" in graph()["attnwidget.engine.extraction"]
    assert "attnwidget.widgets.encode" in graph()["attnwidget.widgets.attention"]


# ---- the TypeScript mirrors ----------------------------------------------------------------------------
def interface_keys(path: Path, interface: str) -> set[str]:
    """The property names of `export interface <interface> { ... }` in a TypeScript file."""
    text = path.read_text(encoding="utf-8")
    match = re.search(rf"export interface {interface}\s*\{{(.*?)\n\}}", text, re.S)
    assert match, f"{path} declares no interface {interface}"
    body = re.sub(r"/\*.*?\*/|//[^\n]*", "", match.group(1), flags=re.S)
    return set(re.findall(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\??\s*:", body, re.M))


@pytest.mark.parametrize(
    ("widget", "path", "interface"),
    [(AttentionWidget, "js/model.ts", "WidgetTraits"), (CompareWidget, "js/compare/model.ts", "CompareTraits")],
)
def test_typescript_declares_exactly_the_synced_traits(widget: type, path: str, interface: str) -> None:
    declared = interface_keys(ROOT / path, interface)
    synced = set(widget.synced_traits())  # type: ignore[attr-defined]
    assert declared == synced, (
        f"{path} {interface} and {widget.__name__}'s synced traits differ: "
        f"only in TypeScript {sorted(declared - synced)}, only in Python {sorted(synced - declared)}"
    )
