"""The one place that maps a pipeline step to its container image reference.

A step's tag is a hash of everything its image is built from: the base image's tag, the
step's Dockerfile and every file that Dockerfile copies (read from its COPY lines, so no list
is kept twice). The base's tag likewise covers images/base/Dockerfile, the pinned dependency
files and the shared modules it copies. An unchanged step keeps its tag; a changed one gets
a new tag, so a compiled pipeline pins exactly the code that runs and KFP's cache, which keys
on the image name, never serves results of older code.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import shlex
from pathlib import Path

# The library's source in its checkout: images are built from the repository (their build
# context), so content tags are computed from a checkout, not from an installed copy.
LIBRARY = Path(__file__).resolve().parent.parent
REPO = LIBRARY.parent.parent
IMAGES = REPO / "images"
STEPS = ("ingest", "validate", "train", "evaluate", "recommend", "publish", "commit", "finish")
BASE = "base"
# Images of the dev cluster's services: built FROM the base like a step, never run as one.
SERVICES = ("gcs-emulator",)
DEFAULT_REGISTRY = "localhost:5001"
IMAGE_PREFIX = "burger-recs"
# Build-time inputs that never reach a final image (the extra CA bundle of a builder stage).
BUILD_ONLY = (".local/",)


def dockerfile(image: str) -> Path:
    """Return the Dockerfile of an image (a step, ``base`` or one of ``SERVICES``)."""
    if image not in (*STEPS, BASE, *SERVICES):
        raise ValueError(f"unknown step {image!r}; the steps are {', '.join(STEPS)}")
    return IMAGES / image / "Dockerfile"


def copied_files(path: Path) -> list[str]:
    """Return the repository paths a Dockerfile COPYs from the build context."""
    text = path.read_text().replace("\\\n", " ")
    sources: list[str] = []
    for line in text.splitlines():
        words = shlex.split(line, comments=True) if line.strip() else []
        if not words or words[0].upper() != "COPY":
            continue
        args = words[1:]
        if any(a.startswith("--from") for a in args):
            continue  # from another stage, not from the repository
        args = [a for a in args if not a.startswith("--")]
        sources += [a for a in args[:-1] if not a.startswith(BUILD_ONLY)]
    return sources


def build_inputs(image: str) -> list[Path]:
    """Return the files an image is built from: its Dockerfile and what it copies."""
    path = dockerfile(image)
    return [path, *(REPO / source for source in copied_files(path))]


@functools.cache
def content_tag(image: str) -> str:
    """Return an image's content tag: 16 hex digits of the hash of its build inputs."""
    digest = hashlib.sha256()
    if image != BASE:
        digest.update(content_tag(BASE).encode() + b"\0")
    for path in build_inputs(image):
        digest.update(path.relative_to(REPO).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def image_ref(image: str, registry: str = DEFAULT_REGISTRY) -> str:
    """Return an image's reference, e.g. ``localhost:5001/burger-recs-train:<tag>``."""
    return f"{registry.rstrip('/')}/{IMAGE_PREFIX}-{image}:{content_tag(image)}"


@functools.cache
def library_modules(module: str) -> frozenset[str]:
    """Return ``module`` and every burger_recs module it imports, transitively.

    Used by the tests to check that each image copies every module its step imports.
    """
    seen: set[str] = set()
    parts = module.split(".")
    todo = [".".join(parts[:i]) for i in range(1, len(parts) + 1)]  # parents are imported too
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        path = module_path(name)
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


def module_path(name: str) -> Path | None:
    """Return the source file of a burger_recs module, or None for other modules."""
    if name != "burger_recs" and not name.startswith("burger_recs."):
        return None
    parts = name.split(".")[1:]
    candidate = LIBRARY.joinpath(*parts)
    for path in (candidate.with_suffix(".py"), candidate / "__init__.py"):
        if path.is_file():
            return path
    return None
