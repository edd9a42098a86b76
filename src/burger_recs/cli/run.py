"""Running the pipeline on this machine: run, resume, and the summary they print."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from burger_recs.cli.common import (
    LOCAL_ROOT,
    CacheOption,
    DatabaseOption,
    ParamOption,
    QuietOption,
    RegistryOption,
    RunDateOption,
    RunnerOption,
    VerboseOption,
    app,
    day_and_params,
    default_database_url,
    fail,
    hint,
    sa_url_password,
    sample_data,
    show,
    up_to_date,
)
from burger_recs.pipelines.compile import compiled_pipeline
from burger_recs.version import code_version

if TYPE_CHECKING:
    from burger_recs.pipelines.local_run import LocalRun
    from burger_recs.runs import RunRecord


@app.command("run")
def run_command(
    data: Annotated[
        str | None,
        typer.Option(
            help="Data root: a folder or gs://bucket/prefix. Default: a generated "
            "sample in .local/sample-data."
        ),
    ] = None,
    run_date: RunDateOption = None,
    database_url: DatabaseOption = None,
    runner: RunnerOption = "subprocess",
    param: ParamOption = None,
    quiet: QuietOption = False,
    verbose: VerboseOption = False,
    registry: RegistryOption = None,
    cache: CacheOption = True,
) -> None:
    """Run the compiled daily pipeline on this machine and print a summary.

    Steps whose code, parameters and inputs are those of an earlier run come from the cache
    (.local/cache); the check of the drops, publishing and the final record always run.
    """
    pipeline_file = up_to_date(compiled_pipeline())
    day, params = day_and_params(run_date, param, pipeline_file)
    if data is None:
        data = str(sample_data(day).resolve())
    elif not data.startswith("gs://"):
        if not Path(data).is_dir():
            raise fail(f"--data {data}: no such folder")
        data = str(Path(data).resolve())
    _run_and_report(
        pipeline_file,
        {"data_uri": data, "run_date": day.isoformat(), **params},
        database_url or default_database_url(),
        runner=runner,
        quiet=quiet,
        verbose=verbose,
        registry=registry if runner == "docker" else None,
        cache=cache,
    )


def _run_and_report(
    pipeline_file: Path,
    arguments: dict[str, object],
    url: str,
    *,
    runner: str,
    quiet: bool,
    verbose: bool,
    registry: str | None,
    cache: bool,
    doing: str = "running",
) -> None:
    """Run the pipeline locally; print its summary, or why it failed and exit 1."""
    from burger_recs import db
    from burger_recs.pipelines.local_run import RunFailed, run_pipeline

    typer.echo(
        f"{doing} {pipeline_file.name} for {arguments.get('run_date')} on "
        f"{arguments.get('data_uri')} ({runner} runner, code {code_version()}, database "
        f"{db.redact(url)}{'' if cache else ', no cache'})",
        err=True,
    )
    try:
        result = run_pipeline(
            pipeline_file,
            arguments,
            url,
            LOCAL_ROOT,
            runner=runner,
            quiet=quiet,
            verbose=verbose,
            registry=registry,
            cache=cache,
        )
    except RunFailed as exc:
        typer.secho(f"\nrun {exc.result.run_id} FAILED", fg=typer.colors.RED, err=True)
        typer.echo(str(exc), err=True)
        _print_cached(exc.result)
        _print_locations(exc.result, url)
        typer.echo(
            f"\nresume it, the steps that succeeded from the cache (--param NAME=VALUE changes "
            f"a parameter, --no-cache runs every step):\n"
            f"  {hint('resume', exc.result.run_id, database_url=url)}\n"
            f"what failed, and the end of its log:\n"
            f"  {hint('logs', exc.result.run_id, database_url=url)}"
        )
        raise typer.Exit(code=1) from None
    _print_summary(result, url)


@app.command(
    "resume",
    epilog="The steps that succeeded come from the cache; the one that failed and those after "
    "it run. The runner and registry are the failed run's, and so is the database unless "
    "--database-url says another: a URL with a password is never stored, so for one give it "
    "again with --database-url or DATABASE_URL. "
    "--param changes a parameter that made the run fail (the steps it reaches run again); "
    "--no-cache runs every step (a cached artifact gone missing). A cluster run is retried "
    "in place with burger-recs retry RUN_ID --host URL.",
)
def resume_command(
    run_id: Annotated[str, typer.Argument(help="The failed local run, e.g. 20261124-081502-3fa1.")],
    param: ParamOption = None,
    cache: CacheOption = True,
    database_url: DatabaseOption = None,
    quiet: QuietOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Run a failed local run again, as a new run with its arguments (and --param changes)."""
    from burger_recs import db
    from burger_recs.pipelines.local_run import earlier_run
    from burger_recs.pipelines.run_records import database_key
    from burger_recs.runs import RunStatus, find_run

    try:
        earlier = earlier_run(LOCAL_ROOT, run_id)
    except FileNotFoundError as exc:
        raise fail(str(exc)) from None
    url = db.absolute(database_url) if database_url else _database_of(earlier.started.database)
    if database_key(url) != database_key(earlier.started.database):
        typer.echo(
            f"run {run_id} used the database {earlier.started.database}; resuming it on "
            f"{db.redact(url)}, as --database-url says",
            err=True,
        )
    recorded = find_run(db.make_engine(url), run_id)
    if recorded is not None and recorded.status != RunStatus.FAILED:
        raise fail(
            f"run {run_id} for {recorded.run_date} ended {recorded.status}: there is nothing "
            "to resume (burger-recs run --run-date runs the day again)"
        )
    pipeline_file = up_to_date(compiled_pipeline())
    if pipeline_file.name != earlier.started.pipeline:
        raise fail(f"run {run_id} ran {earlier.started.pipeline}, not {pipeline_file.name}")
    if any(pair.partition("=")[0].strip() == "run_date" for pair in param or []):
        raise fail(
            f"--param run_date: resume runs the day of run {run_id} again; "
            "burger-recs run --run-date runs another day"
        )
    _, changes = day_and_params(None, param, pipeline_file)
    arguments = {k: v for k, v in earlier.arguments.items() if k != "run_id"} | changes
    _run_and_report(
        pipeline_file,
        arguments,
        url,
        runner=earlier.started.runner,
        quiet=quiet,
        verbose=verbose,
        registry=earlier.started.registry,
        cache=cache,
        doing=f"resuming {run_id}" + (f" with {', '.join(param or [])}:" if param else ":"),
    )


def _database_of(database: str) -> str:
    """Return the URL of the database a run folder names (its password hidden).

    Itself, or the default URL (``DATABASE_URL``) when that is the same database with its
    password.

    Raises:
        typer.Exit: the folder's URL had a password and no URL at hand holds it.
    """
    from burger_recs.pipelines.run_records import database_key

    default = default_database_url()
    if database_key(default) == database_key(database):
        return default
    if sa_url_password(database):
        raise fail(
            f"the run used the database {database}, whose password a run folder never keeps: "
            "give its URL with --database-url or DATABASE_URL"
        )
    return database


def _print_cached(result: LocalRun) -> None:
    if result.cached_tasks:
        typer.echo(
            f"  {'from cache':<14}{', '.join(result.cached_tasks)} (unchanged since an earlier run)"
        )


def _print_locations(result: LocalRun, url: str) -> None:
    from burger_recs import db
    from burger_recs.pipelines.run_index import index_file

    rows = [("logs", show(result.log_file)), ("artifacts", show(result.artifacts) + "/")]
    for name in ("report.html", "validation.md", "trends.html"):
        if (result.folder / name).exists():
            rows.append((name.split(".")[0], show(result.folder / name)))
    index = index_file(result.folder.parent.parent)
    if index.exists():
        rows.append(("index", show(index)))
    rows.append(("database", db.redact(url)))
    for name, value in rows:
        typer.echo(f"  {name:<14}{value}")


def _print_summary(result: LocalRun, url: str) -> None:
    from burger_recs.evaluation import (
        AUC,
        BASELINE,
        CHALLENGER_VERSION,
        MODEL,
        PRECISION,
        RECALL,
        K,
        figure,
    )
    from burger_recs.runs import RunStatus, served_label

    record = result.record
    if record is None:  # the run ended but its record could not be read back
        typer.secho(f"\nrun {result.run_id}: {result.status} (its record was not read)")
        _print_cached(result)
        _print_locations(result, url)
        return
    metrics = record.metrics or {}
    k = metrics.get(K, "k")
    colour = typer.colors.GREEN if result.status is RunStatus.PUBLISHED else typer.colors.YELLOW
    typer.secho(f"\nrun {result.run_id} for {record.run_date}: {result.status}", fg=colour)
    typer.echo(f"  {'code version':<14}{record.code_version}")
    # Today's model (the challenger); who served the day is said below.
    typer.echo(f"  {'model':<14}{metrics.get(CHALLENGER_VERSION) or record.model_version}")
    for label, measure in ((f"precision@{k}", PRECISION), (f"recall@{k}", RECALL), ("AUC", AUC)):
        model, base = metrics.get(figure(MODEL, measure)), metrics.get(figure(BASELINE, measure))
        if model is not None:
            typer.echo(f"  {label:<14}model {model:.4f}   popularity baseline {base:.4f}")
    typer.echo(f"  {'gate':<14}{record.message}")
    served = served_label(record.served_by, record.model_version)
    typer.echo(f"  {'served by':<14}{served or 'nobody (nothing published)'}")
    typer.echo(
        f"  {'rows written':<14}{record.rows_written:,} ({record.customers or 0:,} customers)"
    )
    _print_cached(result)
    _print_locations(result, url)
    example = _example_customer(url, record)
    typer.echo("\nlook at the results:")
    if example:
        typer.echo(f"  {hint('recs', '--customer', example, database_url=url)}")
    typer.echo(f"  {hint('runs', database_url=url)}")
    if (result.folder / "report.html").exists():
        typer.echo(f"  open {show(result.folder / 'report.html')}")


def _example_customer(url: str, record: RunRecord) -> str | None:
    from burger_recs import db
    from burger_recs.runs import RunStatus

    if record.status is not RunStatus.PUBLISHED:
        return None
    return db.first_customer(db.make_engine(url), record.run_date)
