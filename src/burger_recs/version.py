"""The code version stamped on every output: image labels, artifacts, database rows."""

from __future__ import annotations

import functools
import hashlib
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
    source tree (12 hex digits), with ``-dirty-<8 hex digits of a hash of the changes>`` when
    the tree has uncommitted changes (:func:`git_version`); otherwise
    ``unknown-<package version>``.
    """
    baked = os.environ.get(CODE_VERSION_ENV, "").strip()
    if baked:
        return baked
    return git_version(Path(burger_recs.__file__).resolve().parent) or (
        f"unknown-{burger_recs.__version__}"
    )


def git_version(path: Path) -> str | None:
    """Return ``<commit>[-dirty-<changes>]`` for the git work tree holding ``path``, or None.

    ``<changes>`` is 8 hex digits of a SHA-256 of what differs from the commit: the diff of
    the tracked files and the names and contents of the untracked ones (ignored files left
    out). Two different uncommitted edits get two versions; the same edit, the same one; the
    commit before the suffix still says where the code came from.
    """
    try:
        commit = _git(path, "rev-parse", "--short=12", "HEAD")
        if not _git(path, "status", "--porcelain", "--untracked-files=normal"):
            return commit
        digest = hashlib.sha256(_git_bytes(path, "diff", "HEAD", "--binary", "--no-color"))
        root = Path(_git(path, "rev-parse", "--show-toplevel"))
        untracked = _git(path, "ls-files", "--others", "--exclude-standard", "-z", "--full-name")
        for name in sorted(n for n in untracked.split("\0") if n):
            file = root / name
            digest.update(b"\0" + name.encode() + b"\0")
            digest.update(file.read_bytes() if file.is_file() else b"")
    except (OSError, subprocess.CalledProcessError):
        return None
    return f"{commit}-dirty-{digest.hexdigest()[:8]}"


def _git(path: Path, *args: str) -> str:
    return _git_bytes(path, *args).decode(errors="replace").strip()


def _git_bytes(path: Path, *args: str) -> bytes:
    return subprocess.run(
        ["git", "-C", str(path), *args], check=True, capture_output=True, timeout=30
    ).stdout
