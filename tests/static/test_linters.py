"""Linters over what is not Python: Dockerfiles (hadolint) and shell scripts (shellcheck)."""

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.lint

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SCRIPTS = sorted([*REPO.glob("scripts/**/*.sh"), *REPO.glob("images/*/*.sh"), REPO / ".ci" / "run"])
DOCKERFILES = sorted(REPO.glob("images/*/Dockerfile"))


def _lint(tool, paths, *options):
    result = subprocess.run(
        [str(BIN / tool), *options, *map(str, paths)], capture_output=True, text=True, cwd=REPO
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_there_is_something_to_lint():
    # The base, every step's and the reconciler's (images/step), the dev cluster's emulator.
    assert [p.parent.name for p in DOCKERFILES] == ["base", "gcs-emulator", "step"]
    assert REPO / ".ci" / "run" in SCRIPTS
    assert REPO / "scripts" / "lib" / "common.sh" in SCRIPTS


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: p.parent.name)
def test_dockerfile_passes_hadolint(path):
    _lint("hadolint", [path])


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: str(p.relative_to(REPO)))
def test_shell_script_passes_shellcheck(path):
    _lint("shellcheck", [path], "--external-sources")  # follows `source` into scripts/lib
