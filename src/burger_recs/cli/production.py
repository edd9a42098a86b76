"""Production: render the pipeline for GitOps, push the images and record their digests."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from burger_recs.cli.common import (
    ExtraCaOption,
    PythonImageOption,
    app,
    fail,
    show,
)
from burger_recs.deploy import (
    DEFAULT_PROD_REGISTRY,
    DEFAULT_PYTHON_IMAGE,
    pull_secrets,
)


@app.command("render-prod")
def render_prod_command(
    registry: Annotated[
        str | None, typer.Option(help="The production registry (default: the lock's).")
    ] = None,
    check: Annotated[
        bool, typer.Option(help="Compare with the committed rendering; write nothing.")
    ] = False,
    preview: Annotated[
        bool, typer.Option(help="Allow tag-only images and uncommitted code (a look only).")
    ] = False,
    commit: Annotated[
        str | None, typer.Option(help="The commit new content is credited to (CI's).")
    ] = None,
    image_pull_secret: pull_secrets.Option = None,
    out: Annotated[
        Path | None,
        typer.Option(
            help="Write the rendering into OUT/rendered instead of the committed overlay: a "
            "copy of the overlay to apply elsewhere (the dev cluster's, scripts/cluster.sh).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Render the pipeline into manifests/overlays/prod/rendered (make render-prod).

    Exits 1 when the check finds the rendering stale, 2 when images of the current code
    have no digest recorded yet.
    """
    from burger_recs.deploy import production

    overlay = production.OVERLAY
    try:
        if check:
            result = production.check(overlay, registry, image_pull_secrets=image_pull_secret or ())
            typer.echo(f"rendering {result.state}: {result.detail}")
            if result.state == "stale":
                raise typer.Exit(code=1)
            return
        files = production.render(
            overlay, registry, preview, commit, image_pull_secrets=image_pull_secret or ()
        )
    except production.MissingDigests as exc:
        fail(str(exc))
        raise typer.Exit(code=2) from None
    except (production.RenderError, OSError) as exc:
        raise fail(str(exc)) from None
    if out is not None:
        changed = production.write(out, files)
        typer.echo(f"{show(out / production.RENDERED)}: {', '.join(changed) or 'unchanged'}")
        return
    changed = production.write(overlay, files)
    version = production.committed_version(overlay) or {"metadata": {"name": "?"}}
    what = f"wrote {', '.join(changed)}" if changed else "unchanged"
    typer.echo(
        f"{show(overlay / production.RENDERED)}: {what} "
        f"(pipeline version {version['metadata']['name']})"
    )
    if preview:
        typer.echo("PREVIEW: tag-only images where no digest is recorded; CI renders for real")


@app.command("push-prod-images")
def push_prod_images_command(
    registry: Annotated[str, typer.Option(help="The production registry.")] = DEFAULT_PROD_REGISTRY,
    python_image: PythonImageOption = DEFAULT_PYTHON_IMAGE,
    extra_ca_bundle: ExtraCaOption = "",
) -> None:
    """Build and push the images to the production registry, record their digests (CI)."""
    from burger_recs.deploy import docker, production, push

    def build(registry: str) -> None:
        docker.build_images(registry, python_image, extra_ca_bundle, push=True, echo=typer.echo)

    try:
        push.push(registry, production.OVERLAY, build=build, echo=typer.echo)
    except (production.RenderError, OSError) as exc:
        raise fail(str(exc)) from None
