"""Model quality: the pipeline's figures on MovieLens 100k next to the published ones."""

from __future__ import annotations

from typing import Annotated

import typer

from burger_recs.cli.common import (
    MovieLensFolder,
    app,
    fail,
)


@app.command("quality")
def quality_command(
    path: MovieLensFolder,
    seeds: Annotated[int, typer.Option(min=1, help="Training seeds; figures are means.")] = 5,
    epochs: Annotated[
        int, typer.Option(min=1, help="Epochs of the documentation's protocol (10).")
    ] = 10,
    run_dates: Annotated[
        int, typer.Option(min=1, help="Run dates of the temporal evaluation, 28 days apart.")
    ] = 6,
    min_rating: Annotated[
        int,
        typer.Option(
            min=1,
            max=5,
            help="Temporal evaluation: the lowest rating that counts as an order (the "
            "protocol always takes every rating).",
        ),
    ] = 1,
) -> None:
    """Print the pipeline's figures on MovieLens 100k next to the published ones."""
    from burger_recs.quality import movielens_report
    from burger_recs.settings import DEFAULTS

    try:
        report = movielens_report(
            path,
            DEFAULTS,
            seeds=range(seeds),
            epochs=epochs,
            run_date_count=run_dates,
            min_rating=min_rating,
            progress=lambda message: typer.echo(f"  {message}", err=True),
        )
    except (FileNotFoundError, ValueError) as exc:
        raise fail(str(exc)) from None
    typer.echo(report.render())
