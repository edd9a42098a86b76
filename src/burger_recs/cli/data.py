"""Data sets: the generated sample shop, and MovieLens converted into daily drops."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path
from typing import Annotated

import typer

from burger_recs.cli.common import (
    SAMPLE_DATA,
    MovieLensFolder,
    app,
    fail,
    show,
)


@app.command("generate-data")
def generate_data_command(
    out: Annotated[Path, typer.Option(help="Folder to write the daily drops into.")] = SAMPLE_DATA,
    customers: Annotated[int, typer.Option(help="Customers at the end of the period.")] = 2000,
    days: Annotated[int, typer.Option(help="Days of orders, ending at --end-date.")] = 60,
    items: Annotated[int, typer.Option(help="Menu items (burger combos).")] = 40,
    seed: Annotated[int, typer.Option(help="Random seed; same seed, same files.")] = 42,
    end_date: Annotated[
        str | None, typer.Option(help="Last day, YYYY-MM-DD (default: today, UTC).")
    ] = None,
    force: Annotated[bool, typer.Option(help="Replace existing day folders in --out.")] = False,
) -> None:
    """Write a synthetic data set of daily drops in the data contract."""
    from burger_recs.generate import generate_data

    if force and out.exists():
        for folder in out.glob("date=*"):
            shutil.rmtree(folder)
    try:
        summary = generate_data(
            out,
            customers=customers,
            days=days,
            seed=seed,
            items=items,
            end_date=dt.date.fromisoformat(end_date) if end_date else None,
            progress=lambda message: typer.echo(f"  {message}", err=True),
        )
    except (ValueError, FileExistsError) as exc:
        raise fail(
            f"{exc}{' (use --force to replace)' if isinstance(exc, FileExistsError) else ''}"
        ) from None
    typer.echo(
        f"wrote {summary.days} days ({summary.first_date}..{summary.last_date}) of "
        f"{summary.orders:,} orders, {summary.customers:,} customers, {summary.items} items "
        f"to {show(out)}"
    )


MinRatingOption = Annotated[
    int, typer.Option(min=1, max=5, help="The lowest rating (1-5) that counts as an order.")
]


@app.command("import-movielens")
def import_movielens_command(
    path: MovieLensFolder,
    out: Annotated[Path, typer.Option(help="Data root to write the daily drops into.")],
    min_rating: MinRatingOption = 1,
    force: Annotated[bool, typer.Option(help="Replace existing day folders in --out.")] = False,
) -> None:
    """Convert MovieLens 100k into daily drops of the data contract, for the pipeline."""
    from burger_recs.movielens import import_movielens

    try:
        summary = import_movielens(
            path,
            out,
            min_rating=min_rating,
            force=force,
            progress=lambda message: typer.echo(f"  {message}", err=True),
        )
    except (FileNotFoundError, FileExistsError, ValueError) as exc:
        hint = " (use --force to replace)" if isinstance(exc, FileExistsError) else ""
        raise fail(f"{exc}{hint}") from None
    typer.echo(
        f"wrote {summary.days} days ({summary.first_date}..{summary.last_date}, "
        f"{summary.empty_days} without orders) of {summary.orders:,} orders (ratings >= "
        f"{min_rating}; {summary.skipped_ratings:,} lower ones left out), "
        f"{summary.customers:,} customers, {summary.items:,} items to {show(out)}\n"
        f"run the pipeline on it: burger-recs run --data {show(out)} "
        f"--run-date {summary.last_date}"
    )
