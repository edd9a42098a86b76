"""Compile the pipeline definition into KFP IR (the one spec every mode runs)."""

from __future__ import annotations

import hashlib
from pathlib import Path

# The module the IR is compiled from; its sources are everything it imports from the library.
PIPELINE_MODULE = "burger_recs.pipelines.daily_recommendations"


def compiled_pipeline() -> Path:
    """Return the checked-in compiled pipeline (KFP IR), the one spec every mode runs."""
    from burger_recs.components.images import REPO

    return REPO / "pipelines" / "compiled" / "daily_recommendations.yaml"


def compile_pipeline(target: Path) -> Path:
    """Compile ``burger_recs.pipelines.daily_recommendations`` to ``target`` (KFP IR YAML)."""
    from kfp import compiler

    from burger_recs.pipelines.daily_recommendations import daily_recommendations

    target.parent.mkdir(parents=True, exist_ok=True)
    compiler.Compiler().compile(daily_recommendations, str(target))
    sources_file(target).write_text(sources_digest() + "\n")
    return target


def sources_file(pipeline_file: Path) -> Path:
    """Return the file beside a compiled pipeline that names the sources it was compiled from."""
    return pipeline_file.with_suffix(".sources")


def sources_digest() -> str:
    """Return 16 hex digits of a hash of every file the IR is compiled from.

    The pipeline module and every ``burger_recs`` module it imports, transitively (the import
    graph of :func:`burger_recs.components.images.library_modules`): the components, their
    cluster settings, the image map, the settings' defaults. The step code inside the images
    is pinned by their content tags (``local_run.stale_images``).
    """
    from burger_recs.components.images import REPO, library_modules, module_path

    digest = hashlib.sha256()
    paths = (module_path(m) for m in library_modules(PIPELINE_MODULE))
    for path in sorted(p for p in paths if p is not None):
        digest.update(path.relative_to(REPO).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def stale_sources(pipeline_file: Path) -> bool:
    """Tell whether a compiled pipeline was compiled from other sources than today's."""
    recorded = sources_file(pipeline_file)
    return not recorded.is_file() or recorded.read_text().strip() != sources_digest()


def retarget_images(ir_text: str, registry: str, default: str = "localhost:5001") -> str:
    """Return the compiled IR with its step images moved from ``default`` to ``registry``.

    Only the registry prefix changes; the content tags, and so the code they pin, stay.
    """
    old = f"image: {default.rstrip('/')}/"
    new = f"image: {registry.rstrip('/')}/"
    return ir_text.replace(old, new)
