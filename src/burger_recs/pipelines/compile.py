"""Compile the pipeline definition into KFP IR (the one spec every mode runs)."""

from __future__ import annotations

from pathlib import Path


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
    return target


def retarget_images(ir_text: str, registry: str, default: str = "localhost:5001") -> str:
    """Return the compiled IR with its step images moved from ``default`` to ``registry``.

    Only the registry prefix changes; the content tags, and so the code they pin, stay.
    """
    old = f"image: {default.rstrip('/')}/"
    new = f"image: {registry.rstrip('/')}/"
    return ir_text.replace(old, new)
