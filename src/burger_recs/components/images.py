"""The one place that maps a pipeline step to its container image, and what goes into it.

What an image holds follows from the import graph, never from a list kept by hand:

- a step image runs its component's body (``components/<step>.py``), so it holds every
  ``burger_recs`` module that body imports, transitively (:func:`entry_modules`);
- the base holds what every step image needs (the modules all of them import) on top of
  Python and the pinned dependencies; a step image adds the rest of its own;
- the schedule's reconciler (``python -m burger_recs.deploy.schedule``, the production
  overlay's PostSync Job) and the dev cluster's GCS emulator are images of their own, FROM
  the base, so that editing them retags neither the base nor a step.

``make images`` stages each image's modules under ``.local/build/modules/<image>/``
(:func:`stage`) and one Dockerfile, ``images/step/Dockerfile``, copies them for every step
and the reconciler; the base and the emulator copy theirs the same way. An image's content
tag is a hash of everything it is built from: its Dockerfile, the files that Dockerfile copies
from the repository, its modules and, but for the base, the base's tag. An unchanged step
keeps its tag; a changed one gets a new tag, so a compiled pipeline pins exactly the code that
runs and KFP's cache, which keys on the image name, never serves results of older code.

Content tags are computed from a checkout: images are built from the repository, their build
context.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import shlex
import shutil
from pathlib import Path

LIBRARY = Path(__file__).resolve().parent.parent
REPO = LIBRARY.parent.parent
IMAGES = REPO / "images"
STEPS = (
    "check_inputs",
    "ingest",
    "validate",
    "train",
    "evaluate",
    "recommend",
    "publish",
    "commit",
    "finish",
)
BASE = "base"
# The production schedule's reconciler: the Argo CD PostSync Job runs its module.
RECONCILER = "reconciler"
# Images of the dev cluster's services: built FROM the base like a step, never run as one.
SERVICES = ("gcs-emulator",)
# Besides the steps, the images that run modules of the library, by those modules: the
# reconciler's also runs the watchdog (the CronJob burger-recs-watchdog).
# The reconciler's image also migrates the database (the Job burger-recs-migrate).
RUNS_MODULE = {
    RECONCILER: (
        "burger_recs.deploy.schedule",
        "burger_recs.deploy.watch",
        "burger_recs.migrations.__main__",
    ),
    "gcs-emulator": ("burger_recs.sample_bucket",),
}
DEFAULT_REGISTRY = "localhost:5001"
IMAGE_PREFIX = "burger-recs"
# Where `make images` stages each image's modules (the build context is the repository).
STAGING = Path(".local") / "build" / "modules"
# Build-time inputs that are not files of the repository: the extra CA bundle of a builder
# stage, and the staged modules (hashed from their sources instead).
BUILD_ONLY = (".local/",)


def dockerfile(image: str) -> Path:
    """Return the Dockerfile of an image: a step's and the reconciler's is the one step file."""
    if image in (*STEPS, RECONCILER):
        return IMAGES / "step" / "Dockerfile"
    if image in (BASE, *SERVICES):
        return IMAGES / image / "Dockerfile"
    raise ValueError(f"unknown step {image!r}; the steps are {', '.join(STEPS)}")


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


def imported_modules(tree: ast.AST) -> set[str]:
    """Every module an AST imports, with ``module.name`` for each ``from module import name``."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
    return found


@functools.cache
def entry_modules(image: str) -> frozenset[str]:
    """Return the ``burger_recs`` modules an image runs directly.

    For a step, what the bodies of its component module's functions import (the body is what
    KFP runs in the image; the module's own imports, KFP's, stay outside); for the reconciler
    and the services, the module they run.
    """
    if image in RUNS_MODULE:
        return frozenset(RUNS_MODULE[image])
    if image not in STEPS:
        raise ValueError(f"unknown step {image!r}; the steps are {', '.join(STEPS)}")
    path = LIBRARY / "components" / f"{image}.py"
    tree = ast.parse(path.read_text(), str(path))
    found: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            found |= {m for m in imported_modules(node) if module_path(m) is not None}
    return frozenset(found)


@functools.cache
def image_modules(image: str) -> tuple[str, ...]:
    """Return the modules an image adds (the base: those every step needs), sorted."""
    if image == BASE:
        return tuple(sorted(frozenset.intersection(*(_needed(step) for step in STEPS))))
    return tuple(sorted(_needed(image) - set(image_modules(BASE))))


def _needed(image: str) -> frozenset[str]:
    """Return every module an image's code imports, transitively."""
    return frozenset().union(*(library_modules(m) for m in entry_modules(image)))


def clear_caches() -> None:
    """Forget every computed module set and tag (after the sources changed)."""
    for cached in (entry_modules, image_modules, library_modules, content_tag):
        cached.cache_clear()


# Packages an image holds whole, not only their imported modules: Alembic reads env.py, the
# revision template and versions/ by path, never by import.
WHOLE_PACKAGES = ("burger_recs.migrations",)


def module_files(image: str) -> list[str]:
    """Return the repository paths of the modules an image adds (see :func:`image_modules`)."""
    paths = {module_path(m) for m in image_modules(image)}
    for package in set(WHOLE_PACKAGES) & set(image_modules(image)):
        folder = LIBRARY.joinpath(*package.split(".")[1:])
        paths |= {f for f in folder.rglob("*") if f.is_file() and "__pycache__" not in f.parts}
    return sorted(p.relative_to(REPO).as_posix() for p in paths if p is not None)


def build_inputs(image: str) -> list[Path]:
    """Return the files an image is built from: its Dockerfile, what it copies, its modules."""
    path = dockerfile(image)
    copied = [REPO / source for source in copied_files(path)]
    return [path, *copied, *(REPO / source for source in module_files(image))]


def stage(image: str, root: Path = REPO) -> Path:
    """Copy an image's modules to ``<root>/.local/build/modules/<image>/`` as /opt/app holds them.

    Returns the staging folder, emptied first so that it holds those modules only.
    """
    target = root / STAGING / image
    shutil.rmtree(target, ignore_errors=True)
    for source in module_files(image):
        path = target / Path(source).relative_to("src")
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(REPO / source, path)
    target.mkdir(parents=True, exist_ok=True)
    return target


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


def image_name(image: str) -> str:
    """Return an image's repository name, e.g. ``burger-recs-check-inputs``."""
    return f"{IMAGE_PREFIX}-{image.replace('_', '-')}"


def image_ref(image: str, registry: str = DEFAULT_REGISTRY) -> str:
    """Return an image's reference, e.g. ``localhost:5001/burger-recs-train:<tag>``."""
    return f"{registry.rstrip('/')}/{image_name(image)}:{content_tag(image)}"


@functools.cache
def library_modules(module: str) -> frozenset[str]:
    """Return ``module`` and every burger_recs module it imports, transitively."""
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
        todo += sorted(imported_modules(ast.parse(path.read_text(), str(path))))
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
