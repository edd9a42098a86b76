"""The one place that maps a pipeline step to its container image reference.

A step's tag is a hash of everything its image is built from: the shared base recipe, the
step's own Dockerfile, the pinned dependency set and the library modules the step imports
(found by reading the imports, so no list is kept by hand). An unchanged step keeps its tag;
a changed one gets a new tag, so a compiled pipeline pins exactly the code that runs and
KFP's cache, which keys on the image name, never serves results of older code.
"""

from __future__ import annotations

import ast
import functools
import hashlib
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LIBRARY = REPO / "src" / "burger_recs"
STEPS = ("ingest", "validate", "train", "evaluate", "recommend", "publish")
DEFAULT_REGISTRY = "localhost:5001"
IMAGE_PREFIX = "burger-recs"
# Build inputs every image shares (the base image recipe and the dependency pins).
BASE_INPUTS = ("images/base/Dockerfile", "requirements.lock", "pyproject.toml")


@functools.cache
def library_modules(module: str) -> frozenset[str]:
    """Return ``module`` and every burger_recs module it imports, transitively."""
    seen: set[str] = set()
    todo = [module]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        path = _module_path(name)
        if path is None:
            continue
        seen.add(name)
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and node.module:
                todo.append(node.module)
                todo += [f"{node.module}.{alias.name}" for alias in node.names]
            elif isinstance(node, ast.Import):
                todo += [alias.name for alias in node.names]
    return frozenset(seen)


def _module_path(name: str) -> Path | None:
    if name != "burger_recs" and not name.startswith("burger_recs."):
        return None
    parts = name.split(".")[1:]
    candidate = LIBRARY.joinpath(*parts)
    for path in (candidate.with_suffix(".py"), candidate / "__init__.py"):
        if path.is_file():
            return path
    return None


def build_inputs(step: str) -> list[Path]:
    """Return the files the step's image is built from, in a stable order."""
    if step not in STEPS:
        raise ValueError(f"unknown step {step!r}; the steps are {', '.join(STEPS)}")
    modules = library_modules(f"burger_recs.steps.{step}") | {"burger_recs"}
    files = {REPO / p for p in BASE_INPUTS} | {REPO / "images" / step / "Dockerfile"}
    files |= {p for m in modules if (p := _module_path(m)) is not None}
    return sorted(p for p in files if p.is_file())


@functools.cache
def content_tag(step: str) -> str:
    """Return the step's content tag: 16 hex digits of the hash of its build inputs."""
    digest = hashlib.sha256()
    for path in build_inputs(step):
        digest.update(path.relative_to(REPO).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def image_ref(step: str, registry: str = DEFAULT_REGISTRY) -> str:
    """Return a step's image reference, e.g. ``localhost:5001/burger-recs-train:<tag>``."""
    return f"{registry.rstrip('/')}/{IMAGE_PREFIX}-{step}:{content_tag(step)}"
