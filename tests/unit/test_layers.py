"""The layers: import-linter's contracts (pyproject.toml) hold, and a wrong-way import breaks them.

The contracts check that steps import the library and never each other, that imports run one
way by layer and that no package has an import cycle. Here, besides: components are thin
(each burger_recs/components/<name>.py calls burger_recs.steps.<name> alone and runs in the
image of that step), so a step, its component, its image and its tests share one name.
"""

from __future__ import annotations

import ast
import inspect
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from kfp.dsl.python_component import PythonComponent

from burger_recs.components import images

STEP_MODULES = sorted(
    p.stem for p in (images.LIBRARY / "steps").glob("*.py") if p.stem != "__init__"
)
COMPONENT_MODULES = sorted(
    p.stem
    for p in (images.LIBRARY / "components").glob("*.py")
    if p.stem not in ("__init__", "images", "cluster")
)


def test_every_step_and_every_component_module_share_a_name():
    assert sorted(images.STEPS) == STEP_MODULES
    assert sorted(images.STEPS) == COMPONENT_MODULES


def _lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """Run import-linter's contracts (pyproject.toml) on the burger_recs package under ``root``."""
    return subprocess.run(
        [str(Path(sys.executable).parent / "lint-imports"), "--no-cache"],
        cwd=images.REPO,
        env={**os.environ, "PYTHONPATH": str(root)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.lint
def test_the_import_contract_holds_and_fails_on_a_wrong_way_import(tmp_path):
    """The layers, declared once in pyproject.toml, are those of the code (make lint)."""
    kept = _lint_imports(images.LIBRARY.parent)
    assert kept.returncode == 0, kept.stdout + kept.stderr
    # A copy of the package where the domain library imports a step, and a step another step.
    shutil.copytree(images.LIBRARY, tmp_path / "burger_recs")
    for module, wrong in (
        ("contract.py", "burger_recs.steps.train"),
        ("steps/evaluate.py", "burger_recs.steps.train"),
    ):
        path = tmp_path / "burger_recs" / module
        path.write_text(path.read_text() + f"\nimport {wrong}  # noqa: E402\n")
    broken = _lint_imports(tmp_path)
    assert broken.returncode == 1, broken.stdout + broken.stderr
    assert "burger_recs.contract -> burger_recs.steps.train" in broken.stdout
    assert "burger_recs.steps.evaluate is not allowed to import burger_recs.steps.train" in (
        broken.stdout
    )
    assert re.search(r"Layers: .* BROKEN", broken.stdout)


@pytest.mark.parametrize("module", COMPONENT_MODULES)
def test_a_component_module_calls_its_own_step_only_and_runs_in_its_image(module):
    namespace = __import__(f"burger_recs.components.{module}", fromlist=["_"])
    found = [c for c in vars(namespace).values() if isinstance(c, PythonComponent)]
    assert found, f"components/{module}.py defines no component"
    for component in found:
        source = inspect.getsource(component.python_func)
        imported = {
            name
            for name in images.imported_modules(ast.parse(inspect.cleandoc(source)))
            if name.startswith("burger_recs.steps.") or name == "burger_recs.steps"
        }
        assert imported == {"burger_recs.steps", f"burger_recs.steps.{module}"}, (
            f"{component.name} in components/{module}.py must call burger_recs.steps.{module}"
        )
        image = component.component_spec.implementation.container.image
        assert image == images.image_ref(module), f"{component.name} runs in {image}"
