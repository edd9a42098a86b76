"""The code version stamped on every output: image labels, artifacts, database rows."""

from __future__ import annotations

import functools
import os
import subprocess
from pathlib import Path

import burger_recs

# Set in every image at build time (see images/), where no .git folder exists.
CODE_VERSION_ENV = "BURGER_RECS_CODE_VERSION"


@functools.cache
def code_version() -> str:
    """Return the version of the code that is running.

    The image's baked-in ``BURGER_RECS_CODE_VERSION`` wins; otherwise the git commit of the
    source tree (12 hex digits), with ``-dirty`` when the tree has uncommitted changes;
    otherwise ``unknown-<package version>``.
    """
    baked = os.environ.get(CODE_VERSION_ENV, "").strip()
    if baked:
        return baked
    return git_version(Path(burger_recs.__file__).resolve().parent) or (
        f"unknown-{burger_recs.__version__}"
    )


def git_version(path: Path) -> str | None:
    """Return ``<commit>[-dirty]`` for the git work tree holding ``path``, or None."""
    try:
        commit = _git(path, "rev-parse", "--short=12", "HEAD")
        dirty = bool(_git(path, "status", "--porcelain", "--untracked-files=normal"))
    except (OSError, subprocess.CalledProcessError):
        return None
    return f"{commit}-dirty" if dirty else commit


def _git(path: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(path), *args], check=True, capture_output=True, text=True, timeout=10
    ).stdout.strip()
