"""The results: a customer's recommendations, the runs, the page of runs, two runs compared."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated

import typer

from burger_recs.cli.common import (
    LOCAL_ROOT,
    DatabaseOption,
    app,
    default_database_url,
    fail,
    hint,
    results_engine,
    sa_url_password,
    show,
)

if TYPE_CHECKING:
    pass


@app.command("recs")
def recs_command(
    customer: Annotated[str, typer.Option(help="Customer id.")],
    date: Annotated[
        str | None, typer.Option(help="Run date, YYYY-MM-DD (default: the customer's latest).")
    ] = None,
    database_url: DatabaseOption = None,
) -> None:
    """Print a customer's stored recommendations with item names."""
    from burger_recs import db

    try:
        day = dt.date.fromisoformat(date) if date else None
    except ValueError:
        raise fail(f"--date {date!r} is not YYYY-MM-DD") from None
    engine = results_engine(database_url)
    shown, rows = db.customer_recommendations(engine, customer, day)
    if not rows:
        when = f" for {date}" if date else ""
        raise fail(f"no recommendations stored for customer {customer!r}{when}")
    typer.echo(f"recommendations for customer {customer} on {shown}:")
    # Columns as wide as their longest value: a long item name never pushes the rest aside.
    names = [row.name or row.item_id for row in rows]
    ids = [f"[{row.item_id}]" for row in rows]
    name_width, id_width = max(map(len, names)), max(map(len, ids))
    for row, name, item in zip(rows, names, ids, strict=True):
        typer.echo(
            f"  {row.rank:>2}. {name:<{name_width}}  {item:<{id_width}}  "
            f"score {row.score:7.3f}  {row.ingredients or ''}".rstrip()
        )
    typer.echo(f"(model {rows[0].model_version}, code {rows[0].code_version})")


@app.command("runs")
def runs_command(
    limit: Annotated[int, typer.Option(help="How many runs to show.")] = 20,
    database_url: DatabaseOption = None,
) -> None:
    """List the recorded pipeline runs, newest first.

    The runs of one results database; local runs that used another are counted below, with
    the command that lists them.
    """
    from burger_recs.pipelines.run_records import other_databases
    from burger_recs.runs import recent_runs, runs_table

    url = database_url or default_database_url()
    rows = recent_runs(results_engine(url), limit)
    typer.echo(runs_table(rows) if rows else "no runs recorded yet: try `make run`")
    others = other_databases(LOCAL_ROOT, url)
    if others:
        count = sum(others.values())
        typer.echo(
            f"\n{count} local run{'s' if count > 1 else ''} used "
            f"{'another database' if len(others) == 1 else 'other databases'}; "
            f"{'its runs' if len(others) == 1 else 'their runs'}:"
        )
        for database in sorted(others):
            if sa_url_password(database):  # the folder keeps no password: the user gives it
                typer.echo(f"  {hint('runs')} --database-url URL  (URL: {database}, password)")
            else:
                typer.echo(f"  {hint('runs', database_url=database)}")


@app.command("index")
def index_command(database_url: DatabaseOption = None) -> None:
    """Write the page of this machine's runs, .local/runs/index.html, and print its path.

    Rows come from the results database and .local/runs/; it opens from file://, no server.
    """
    from burger_recs.pipelines.run_index import write_index

    engine = results_engine(database_url)
    typer.echo(show(write_index(LOCAL_ROOT, engine)))


@app.command(
    "diff",
    epilog="Recommendations are stored per day, not per run: the runs' days are compared "
    "(mean Jaccard similarity of each customer's top-k item set, customers whose first item "
    "changed). Two runs of the same day cannot be compared that way: a day holds only its "
    "latest publication.",
)
def diff_command(
    run_a: Annotated[
        str,
        typer.Argument(
            metavar="RUN_A",
            help="A run id, or a day YYYY-MM-DD: that day's latest published run (by finished "
            "time), else its latest run of any status. The run chosen is printed first.",
            show_default=False,
        ),
    ],
    run_b: Annotated[
        str,
        typer.Argument(metavar="RUN_B", help="A run id or a day, as RUN_A.", show_default=False),
    ],
    database_url: DatabaseOption = None,
) -> None:
    """Compare two recorded runs: code, parameters, data, metrics, recommendations moved."""
    from burger_recs.diff import RunNotFound, diff_runs, render_diff

    engine = results_engine(database_url)
    try:
        diff = diff_runs(engine, run_a, run_b)
    except RunNotFound as exc:
        raise fail(str(exc)) from None
    typer.echo(render_diff(diff))


@app.command("migrate")
def migrate_command(
    notes_role: Annotated[
        str | None,
        typer.Option(
            help="PostgreSQL role to grant what a failure note needs and nothing else "
            "(the steps' BURGER_RECS_NOTES_DATABASE_URL logs in as it). Default: "
            "$BURGER_RECS_NOTES_ROLE, else none.",
            show_default=False,
        ),
    ] = None,
    reader_role: Annotated[
        str | None,
        typer.Option(
            help="PostgreSQL role to grant reading the champion and writing failure notes, "
            "nothing else (check-inputs, evaluate and recommend log in as it). Default: "
            "$BURGER_RECS_READER_ROLE, else none.",
            show_default=False,
        ),
    ] = None,
    database_url: DatabaseOption = None,
) -> None:
    """Create or bring the results database's tables to this version (as their owner).

    `burger-recs run` and `backfill` do it before their runs; on a cluster the deploy's
    burger-recs-migrate Job does (python -m burger_recs.migrations). No step ever alters a
    table: a step on an older or newer schema stops and says to run this.
    """
    from burger_recs import db
    from burger_recs.migrations import current, migrate

    engine = db.make_engine(database_url or default_database_url())
    before = current(engine)
    revision = migrate(engine, notes_role, reader_role)
    state = "already at" if before == revision else f"migrated from {before or 'nothing'} to"
    typer.echo(f"{db.redact(str(engine.url))}: {state} schema revision {revision}")


@app.command(
    "rollback",
    epilog="Champions are kept by day (the newest five keep their scorers); a run takes the "
    "newest champion of its day or an earlier one. Rolling back removes the champion the next "
    "run would take, for good (a rerun of its day never promotes it again): its days stay as "
    "they were published, and the next run takes the one before it.",
)
def rollback_command(
    yes: Annotated[bool, typer.Option("--yes", help="Roll back without asking.")] = False,
    database_url: DatabaseOption = None,
) -> None:
    """Roll back the champion the next run would take: it takes the one before it."""
    from burger_recs.champion import current_champion, roll_back

    engine = results_engine(database_url)
    newest = current_champion(engine)
    if not newest:
        raise fail("there is no champion to roll back: popularity serves until a model passes")
    if not yes and not typer.confirm(f"roll back champion {newest}?"):
        raise typer.Exit(code=1)
    try:
        rolled_back, now = roll_back(engine, newest)
    except LookupError as exc:
        raise fail(str(exc)) from None
    typer.echo(
        f"model {rolled_back} is no longer a champion; the champion is now "
        f"{now or 'none (popularity serves until a model passes)'}"
    )


@app.command(
    "logs",
    epilog="A failed step's note keeps the end of its log, in the results database: the same "
    "on every runner, and after a cluster deleted the run's pods and Workflow. A step's whole "
    "log: .local/runs/RUN/run.log on this machine; on a cluster, the Kubeflow UI (Argo's log "
    "archive, docs/dev-cluster.md).",
)
def logs_command(
    run_id: Annotated[str, typer.Argument(metavar="RUN", help="The run's id.", show_default=False)],
    database_url: DatabaseOption = None,
) -> None:
    """Print a run's record and, for each step that failed, its error and the end of its log."""
    from burger_recs.runs import run_log

    text = run_log(results_engine(database_url), run_id)
    if text is None:
        raise fail(
            f"no record and no failure note of run {run_id!r} in this database: "
            "`burger-recs runs` lists the runs it knows (pass the run's --database-url)"
        )
    typer.echo(text)
