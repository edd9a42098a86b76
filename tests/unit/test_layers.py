"""The layer rule: steps import the library, never each other; the library has no cycle.

Components are thin: each components/<name>.py calls burger_recs.steps.<name> alone and runs
in the image of that step, so a step, its component, its image and its tests share one name.
"""

from __future__ import annotations

import ast
import functools
import inspect
from pathlib import Path

import pytest
from kfp.dsl.python_component import PythonComponent

from components import images

STEP_MODULES = sorted(
    p.stem for p in (images.LIBRARY / "steps").glob("*.py") if p.stem != "__init__"
)
COMPONENT_MODULES = sorted(
    p.stem
    for p in (images.REPO / "components").glob("*.py")
    if p.stem not in ("__init__", "images", "cluster")
)


def _imports(path: Path) -> set[str]:
    """Every burger_recs module a file imports (at any depth of the file)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
    return {name for name in found if images.module_path(name) is not None}


@functools.cache
def _library() -> dict[str, set[str]]:
    """Each burger_recs module and the burger_recs modules it imports."""
    graph = {}
    for path in sorted(images.LIBRARY.rglob("*.py")):
        parts = path.relative_to(images.LIBRARY.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        graph[name] = {m for m in _imports(path) if m != name}
    return graph


def test_every_step_and_every_component_module_share_a_name():
    assert sorted(images.STEPS) == STEP_MODULES
    assert sorted(images.STEPS) == COMPONENT_MODULES


@pytest.mark.parametrize("step", STEP_MODULES)
def test_no_step_imports_another_step(step):
    graph = _library()
    others = {m for m in graph[f"burger_recs.steps.{step}"] if m.startswith("burger_recs.steps.")}
    assert not others, (
        f"steps/{step}.py imports {sorted(others)}: move what they share to the library"
    )


def test_the_library_has_no_import_cycle():
    graph = _library()
    done: set[str] = set()

    def visit(name: str, path: tuple[str, ...]) -> None:
        if name in path:
            cycle = " -> ".join((*path[path.index(name) :], name))
            pytest.fail(f"import cycle: {cycle}")
        if name in done:
            return
        for imported in graph.get(name, ()):
            if imported in graph:
                visit(imported, (*path, name))
        done.add(name)

    for name in graph:
        visit(name, ())


@pytest.mark.parametrize("module", COMPONENT_MODULES)
def test_a_component_module_calls_its_own_step_only_and_runs_in_its_image(module):
    namespace = __import__(f"components.{module}", fromlist=["_"])
    found = [c for c in vars(namespace).values() if isinstance(c, PythonComponent)]
    assert found, f"components/{module}.py defines no component"
    for component in found:
        source = inspect.getsource(component.python_func)
        imported = {
            name
            for name in _imports_in(source)
            if name.startswith("burger_recs.steps.") or name == "burger_recs.steps"
        }
        assert imported == {"burger_recs.steps", f"burger_recs.steps.{module}"}, (
            f"{component.name} in components/{module}.py must call burger_recs.steps.{module}"
        )
        image = component.component_spec.implementation.container.image
        assert image == images.image_ref(module), f"{component.name} runs in {image}"


def _imports_in(source: str) -> set[str]:
    tree = ast.parse(inspect.cleandoc(source) if source.startswith(" ") else source)
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found
