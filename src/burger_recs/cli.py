"""The ``burger-recs`` command: generate data, run the pipeline, look at the results."""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, ClassVar, Literal

import typer

from burger_recs.compile import compiled_pipeline
from burger_recs.deploy import (
    DEFAULT_PROD_REGISTRY,
    DEFAULT_PYTHON_IMAGE,
    DEV_DATA_URI,
    DEV_HOST,
    DEV_UI,
    HOST_ENV,
    pull_secrets,
)
from burger_recs.deploy.schedule import command as reconcile_schedule_command
from burger_recs.version import code_version

if TYPE_CHECKING:
    from collections.abc import Sequence

    import sqlalchemy as sa

    from burger_recs.backfill import DayOutcome
    from burger_recs.diff import RunDiff
    from burger_recs.local_run import LocalRun

app = typer.Typer(
    help="Daily burger-combo recommendations with Kubeflow Pipelines: generate data, run the "
    "compiled pipeline locally, and look at runs and recommendations.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

LOCAL_ROOT = Path(".local")
SAMPLE_DATA = LOCAL_ROOT / "sample-data"
SAMPLE_CUSTOMERS = 2000
SAMPLE_DAYS = 60


def default_database_url() -> str:
    """Return ``DATABASE_URL`` or the local SQLite file ``.local/recs.db``."""
    from burger_recs import db

    return os.environ.get(db.DATABASE_URL_ENV) or f"sqlite:///{(LOCAL_ROOT / 'recs.db').resolve()}"


DatabaseOption = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        help="SQLAlchemy URL of the results database. Default: $DATABASE_URL, else "
        "sqlite:///.local/recs.db. Prefer the environment variable for URLs with passwords.",
        show_default=False,
    ),
]


def _fail(message: str) -> typer.Exit:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    return typer.Exit(code=1)


def _day_and_params(
    run_date: str | None, param: list[str] | None, pipeline_file: Path
) -> tuple[dt.date, dict[str, object]]:
    """Return the run's day and its typed ``--param`` values, or fail with the reason."""
    from burger_recs.local_run import parse_params
    from burger_recs.settings import resolve_run_date

    try:
        return resolve_run_date(run_date or ""), parse_params(param or [], pipeline_file)
    except ValueError as exc:
        raise _fail(str(exc)) from None


def _show(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


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
        raise _fail(
            f"{exc}{' (use --force to replace)' if isinstance(exc, FileExistsError) else ''}"
        ) from None
    typer.echo(
        f"wrote {summary.days} days ({summary.first_date}..{summary.last_date}) of "
        f"{summary.orders:,} orders, {summary.customers:,} customers, {summary.items} items "
        f"to {_show(out)}"
    )


def _sample_data(last: dt.date, first: dt.date | None = None) -> Path:
    """Return the sample data set, (re)generated unless it holds ``first`` (if given) to ``last``.

    It holds :data:`SAMPLE_DAYS` days up to ``last``, or from ``first`` when that reaches
    further back (a backfill's first window).
    """
    from burger_recs.generate import generate_data
    from burger_recs.storage import DataRoot

    try:
        days = DataRoot(str(SAMPLE_DATA)).day_folders()
    except FileNotFoundError:
        days = {}
    if days and max(days) >= last and (first is None or min(days) <= first):
        return SAMPLE_DATA
    count = max(SAMPLE_DAYS, (last - first).days + 1 if first else 0)
    shutil.rmtree(SAMPLE_DATA, ignore_errors=True)
    typer.echo(
        f"no data given: generating the sample data set ({count} days up to {last}, "
        f"{SAMPLE_CUSTOMERS:,} customers) into {_show(SAMPLE_DATA)}",
        err=True,
    )
    generate_data(SAMPLE_DATA, customers=SAMPLE_CUSTOMERS, days=count, end_date=last)
    return SAMPLE_DATA


CacheOption = Annotated[
    bool,
    typer.Option(
        "--cache/--no-cache",
        help="Serve steps whose code, parameters and inputs are unchanged from the cache "
        "(.local/cache); --no-cache runs every step (make: NO_CACHE=1).",
    ),
]


@app.command("run")
def run_command(
    data: Annotated[
        str | None,
        typer.Option(
            help="Data root: a folder or gs://bucket/prefix. Default: a generated "
            "sample in .local/sample-data."
        ),
    ] = None,
    run_date: Annotated[
        str | None, typer.Option(help="Day to run for, YYYY-MM-DD (default: today, UTC).")
    ] = None,
    database_url: DatabaseOption = None,
    runner: Annotated[
        str,
        typer.Option(
            help="subprocess: steps run in this Python environment; docker: "
            "steps run in their images."
        ),
    ] = "subprocess",
    param: Annotated[
        list[str] | None,
        typer.Option(help="Pipeline parameter NAME=VALUE (repeatable), e.g. --param k=5."),
    ] = None,
    quiet: Annotated[bool, typer.Option(help="Write step output to the run log only.")] = False,
    verbose: Annotated[
        bool, typer.Option(help="Show every line the steps print, not only progress.")
    ] = False,
    registry: Annotated[
        str | None,
        typer.Option(
            envvar="REGISTRY",
            help="docker runner: the registry prefix the images "
            "were built under (default: the compiled one, localhost:5001).",
        ),
    ] = None,
    cache: CacheOption = True,
) -> None:
    """Run the compiled daily pipeline on this machine and print a summary.

    Steps whose code, parameters and inputs are those of an earlier run come from the cache
    (.local/cache); the check of the drops, publishing and the final record always run.
    """
    pipeline_file = compiled_pipeline()
    day, params = _day_and_params(run_date, param, pipeline_file)
    if data is None:
        data = str(_sample_data(day).resolve())
    elif not data.startswith("gs://"):
        if not Path(data).is_dir():
            raise _fail(f"--data {data}: no such folder")
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
    from burger_recs.local_run import RunFailed, run_pipeline

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
            f"\nresume it, the steps that succeeded from the cache:\n"
            f"  burger-recs resume {exc.result.run_id}"
        )
        raise typer.Exit(code=1) from None
    _print_summary(result, url)


@app.command(
    "resume",
    epilog="The steps that succeeded come from the cache; the one that failed and those after "
    "it run. The runner and registry are the failed run's, and so is the database: a URL with "
    "a password is never stored, so give it again with --database-url or DATABASE_URL. A "
    "cluster run is retried in place with burger-recs retry RUN_ID --host URL.",
)
def resume_command(
    run_id: Annotated[str, typer.Argument(help="The failed local run, e.g. 20261124-081502-3fa1.")],
    database_url: DatabaseOption = None,
    quiet: Annotated[bool, typer.Option(help="Write step output to the run log only.")] = False,
    verbose: Annotated[
        bool, typer.Option(help="Show every line the steps print, not only progress.")
    ] = False,
) -> None:
    """Run a failed local run again, as a new run with the same arguments."""
    from burger_recs import db
    from burger_recs.local_run import earlier_run
    from burger_recs.runs import RunStatus, find_run

    try:
        earlier = earlier_run(LOCAL_ROOT, run_id)
    except FileNotFoundError as exc:
        raise _fail(str(exc)) from None
    url = database_url or default_database_url()
    if db.redact(url) != earlier.settings.database:
        raise _fail(
            f"run {run_id} used the database {earlier.settings.database}, not {db.redact(url)}: "
            "give it with --database-url or DATABASE_URL"
        )
    recorded = find_run(db.make_engine(url), run_id)
    if recorded is not None and recorded.status != RunStatus.FAILED:
        raise _fail(
            f"run {run_id} for {recorded.run_date} ended {recorded.status}: there is nothing "
            "to resume (burger-recs run --run-date runs the day again)"
        )
    pipeline_file = compiled_pipeline()
    if pipeline_file.name != earlier.settings.pipeline:
        raise _fail(f"run {run_id} ran {earlier.settings.pipeline}, not {pipeline_file.name}")
    arguments = {k: v for k, v in earlier.arguments.items() if k != "run_id"}
    _run_and_report(
        pipeline_file,
        arguments,
        url,
        runner=earlier.settings.runner,
        quiet=quiet,
        verbose=verbose,
        registry=earlier.settings.registry,
        cache=True,
        doing=f"resuming {run_id}:",
    )


def _print_cached(result: LocalRun) -> None:
    if result.cached_tasks:
        typer.echo(
            f"  {'from cache':<14}{', '.join(result.cached_tasks)} (unchanged since an earlier run)"
        )


def _print_locations(result: LocalRun, url: str) -> None:
    from burger_recs import db
    from burger_recs.run_index import index_file

    rows = [("logs", _show(result.log_file)), ("artifacts", _show(result.artifacts) + "/")]
    for name in ("report.html", "validation.md", "trends.html"):
        if (result.folder / name).exists():
            rows.append((name.split(".")[0], _show(result.folder / name)))
    index = index_file(result.folder.parent.parent)
    if index.exists():
        rows.append(("index", _show(index)))
    rows.append(("database", db.redact(url)))
    for name, value in rows:
        typer.echo(f"  {name:<14}{value}")


def _print_summary(result: LocalRun, url: str) -> None:
    record = result.record
    metrics = record.get("metrics") or {}
    k = metrics.get("k", "k")
    colour = typer.colors.GREEN if result.status == "published" else typer.colors.YELLOW
    typer.secho(f"\nrun {result.run_id} for {record.get('run_date')}: {result.status}", fg=colour)
    typer.echo(f"  {'code version':<14}{record.get('code_version')}")
    typer.echo(f"  {'model':<14}{record.get('model_version')}")
    for label, key in (
        (f"precision@{k}", "precision_at_k"),
        (f"recall@{k}", "recall_at_k"),
        ("AUC", "auc"),
    ):
        model, base = metrics.get(f"model_{key}"), metrics.get(f"baseline_{key}")
        if model is not None:
            typer.echo(f"  {label:<14}model {model:.4f}   popularity baseline {base:.4f}")
    typer.echo(f"  {'gate':<14}{record.get('message')}")
    typer.echo(f"  {'served by':<14}{record.get('served_by') or 'nobody (nothing published)'}")
    typer.echo(
        f"  {'rows written':<14}{record.get('rows_written', 0):,} "
        f"({record.get('customers') or 0:,} customers)"
    )
    _print_cached(result)
    _print_locations(result, url)
    example = _example_customer(url, record)
    typer.echo("\nlook at the results:")
    if example:
        typer.echo(f"  burger-recs recs --customer {example}")
    typer.echo("  burger-recs runs")
    if (result.folder / "report.html").exists():
        typer.echo(f"  open {_show(result.folder / 'report.html')}")


def _example_customer(url: str, record: dict) -> str | None:
    import sqlalchemy as sa

    from burger_recs import db
    from burger_recs.contract import recommendations

    if record.get("status") != "published":
        return None
    with db.make_engine(url).connect() as conn:
        return conn.execute(
            sa.select(recommendations.c.customer_id)
            .where(recommendations.c.run_date == record["run_date"])
            .order_by(recommendations.c.customer_id)
            .limit(1)
        ).scalar()


# Options of a local run, for backfill (run_command still spells its own out).
RunnerOption = Annotated[
    str,
    typer.Option(
        help="subprocess: steps run in this Python environment; docker: steps run in their images."
    ),
]
ParamOption = Annotated[
    list[str] | None,
    typer.Option(help="Pipeline parameter NAME=VALUE (repeatable), e.g. --param k=5."),
]
RegistryOption = Annotated[
    str | None,
    typer.Option(
        envvar="REGISTRY",
        help="docker runner: the registry prefix the images were built under; --cluster: the "
        "one they were pushed to (default: the compiled one, localhost:5001).",
    ),
]
# The options of backfill --cluster, which submit's mirror (submit_command).
_ON_A_CLUSTER = "On a cluster (--cluster)"
ClusterOption = Annotated[
    bool,
    typer.Option(
        "--cluster",
        help="Submit one Kubeflow Pipelines run per day instead, at most --max-concurrency at "
        "once, and follow them like submit --wait.",
        rich_help_panel=_ON_A_CLUSTER,
    ),
]
MaxConcurrencyOption = Annotated[
    int,
    typer.Option(min=1, help="Runs active at once at most.", rich_help_panel=_ON_A_CLUSTER),
]
BackfillHostOption = Annotated[
    str,
    typer.Option(
        "--host",
        envvar=HOST_ENV,
        help="The KFP API (default: the dev cluster's).",
        rich_help_panel=_ON_A_CLUSTER,
    ),
]
BackfillUiOption = Annotated[
    str, typer.Option("--ui", help="The Kubeflow UI, for links.", rich_help_panel=_ON_A_CLUSTER)
]
BackfillTimeoutOption = Annotated[
    int,
    typer.Option(
        "--timeout",
        help="Stop following a run after this many seconds (it goes on running; its day is "
        "not done).",
        rich_help_panel=_ON_A_CLUSTER,
    ),
]
BackfillKubectlOption = Annotated[
    str,
    typer.Option(
        "--kubectl", help="kubectl, for a failed run's logs.", rich_help_panel=_ON_A_CLUSTER
    ),
]
BackfillKubeContextOption = Annotated[
    str | None,
    typer.Option("--kube-context", help="kubectl context.", rich_help_panel=_ON_A_CLUSTER),
]
BackfillPullSecretOption = Annotated[
    list[str] | None,
    typer.Option(
        "--image-pull-secret",
        envvar=pull_secrets.ENV,
        help="Image pull Secret (namespace kubeflow) for a private registry, added to every "
        "step (repeatable; default $IMAGE_PULL_SECRET). The dev cluster needs none.",
        show_default=False,
        rich_help_panel=_ON_A_CLUSTER,
    ),
]
# backfill_command's parameters that only a backfill on a cluster reads.
_CLUSTER_ONLY = (
    "max_concurrency",
    "host",
    "ui",
    "timeout",
    "kubectl",
    "kube_context",
    "image_pull_secret",
)


def _data_root(data: str) -> str:
    """Return ``--data`` as the steps read it: gs:// as given, a folder's absolute path."""
    if data.startswith("gs://"):
        return data
    if not Path(data).is_dir():
        raise _fail(f"--data {data}: no such folder")
    return str(Path(data).resolve())


@app.command(
    "backfill",
    epilog="Each day is one run of the compiled pipeline with its own run_date, its output "
    "in its run log (.local/runs/<run-id>/run.log). A failed day does not stop the others; "
    "the command exits 1 when a day failed. Without --data, the generated sample shop is "
    "made to reach from the first day's window (window_days before --from) to --to.\n\n"
    "With --cluster, each day is one run on Kubeflow Pipelines (--host, as for submit), with "
    "its own run_date and a run_id of the backfill's start time and the day; at most "
    "--max-concurrency run at once, each followed like submit --wait (a failed run's steps "
    "and logs). It pushes no image: make submit pushes those that changed. Without --data "
    "the runs read the dev cluster's sample bucket. The closing table "
    "comes from the records the runs' final task writes to the results database: give "
    "--database-url (or DATABASE_URL) the database the cluster writes to. A run that ends "
    "without a record shows KFP's state, and its day counts as failed.",
)
def backfill_command(
    ctx: typer.Context,
    first: Annotated[
        str,
        typer.Option("--from", help="First day to run, YYYY-MM-DD.", show_default=False),
    ],
    last: Annotated[
        str,
        typer.Option(
            "--to", help="Last day to run, YYYY-MM-DD (366 days at most).", show_default=False
        ),
    ],
    reprocess: Annotated[
        Literal["missing", "failed", "all"],
        typer.Option(
            help="Which days run: missing (no published or gated run yet), failed (those, "
            "and days whose latest run failed) or all."
        ),
    ] = "missing",
    data: Annotated[
        str | None,
        typer.Option(
            help="Data root: a folder or gs://bucket/prefix. Default: a generated sample in "
            ".local/sample-data, covering the range; with --cluster, the dev cluster's "
            f"{DEV_DATA_URI}.",
            show_default=False,
        ),
    ] = None,
    database_url: DatabaseOption = None,
    runner: RunnerOption = "subprocess",
    param: ParamOption = None,
    registry: RegistryOption = None,
    cluster: ClusterOption = False,
    max_concurrency: MaxConcurrencyOption = 2,
    host: BackfillHostOption = DEV_HOST,
    ui: BackfillUiOption = DEV_UI,
    timeout: BackfillTimeoutOption = 7200,
    kubectl: BackfillKubectlOption = "kubectl",
    kube_context: BackfillKubeContextOption = None,
    image_pull_secret: BackfillPullSecretOption = None,
) -> None:
    """Run the daily pipeline for every day from --from to --to, oldest first (a backfill)."""
    from burger_recs import backfill, db

    # The options given on the command line, not by default or from the environment.
    given = {
        name
        for name in ctx.params
        if getattr(ctx.get_parameter_source(name), "name", None) == "COMMANDLINE"
    }
    misplaced = sorted(given & set(_CLUSTER_ONLY)) if not cluster else []
    if cluster and "runner" in given:
        misplaced = ["runner"]
    if misplaced:
        names = ", ".join(f"--{name.replace('_', '-')}" for name in misplaced)
        raise _fail(
            f"{names}: a local backfill's option; with --cluster the steps run in the cluster"
            if cluster
            else f"{names}: only with --cluster"
        )
    try:
        days = backfill.day_range(
            backfill.parse_day(first, "--from"), backfill.parse_day(last, "--to")
        )
    except ValueError as exc:
        raise _fail(str(exc)) from None
    if not cluster:
        from burger_recs.local_run import RUNNERS

        if runner not in RUNNERS:
            raise _fail(f"--runner {runner}: expected one of {', '.join(RUNNERS)}")
        if data is not None:
            data = _data_root(data)
    if any(pair.partition("=")[0].strip() == "run_date" for pair in param or []):
        raise _fail("--param run_date: a backfill runs each day of --from..--to with its own")
    pipeline_file = compiled_pipeline()
    _, params = _day_and_params(days[0].isoformat(), param, pipeline_file)
    url = database_url or default_database_url()
    engine = db.make_engine(url)
    db.ensure_schema(engine)
    todo = backfill.select_days(backfill.day_states(engine, days), backfill.Reprocess(reprocess))
    span = f"{days[0]}..{days[-1]}"
    if not todo:
        engine.dispose()
        typer.echo(
            f"every day of {span} ({len(days)} day{'s' * (len(days) > 1)}) is done (published "
            "or gated): nothing to run. --reprocess failed or all runs days again."
        )
        return
    skipped = len(days) - len(todo)
    planned = (
        f"backfilling {span}: {len(todo)} of {len(days)} days to run"
        f"{f' ({skipped} done, skipped)' if skipped else ''}"
    )
    if cluster:
        try:
            outcomes = _backfill_on_cluster(
                planned,
                todo,
                {"data_uri": data or DEV_DATA_URI, **params},
                engine,
                url,
                pipeline_file=pipeline_file,
                registry=registry,
                max_concurrency=max_concurrency,
                host=host,
                ui=ui,
                timeout=timeout,
                kubectl=kubectl,
                kube_context=kube_context,
                image_pull_secrets=image_pull_secret or (),
            )
        finally:
            engine.dispose()
    else:
        engine.dispose()
        outcomes = _backfill_here(planned, todo, data, params, url, pipeline_file, runner, registry)
    _print_backfill_table(outcomes)
    if any(o.failed for o in outcomes):
        raise typer.Exit(code=1)


def _backfill_here(
    planned: str,
    todo: list[dt.date],
    data: str | None,
    params: dict[str, object],
    url: str,
    pipeline_file: Path,
    runner: str,
    registry: str | None,
) -> list[DayOutcome]:
    """Run the days on this machine, one after the other, with a progress bar."""
    from burger_recs import backfill, db
    from burger_recs.settings import DEFAULTS

    if data is None:
        window = params.get("window_days", DEFAULTS.window_days)
        window = window if isinstance(window, int) else DEFAULTS.window_days
        data = str(_sample_data(todo[-1], backfill.window_start(todo[0], window)).resolve())
    typer.echo(
        f"{planned}, on {data} ({runner} runner, code {code_version()}, database {db.redact(url)})",
        err=True,
    )
    with _BackfillProgress(len(todo)) as progress:

        def started(day: dt.date, planned: LocalRun) -> None:
            progress.describe(f"{day} running")
            progress.say(f"{day}  running   log {_show(planned.log_file)}")

        outcomes = backfill.run_days(
            pipeline_file,
            todo,
            {"data_uri": data, **params},
            url,
            LOCAL_ROOT,
            runner=runner,
            registry=registry if runner == "docker" else None,
            started=started,
            finished=progress.finished,
        )
    return outcomes


def _backfill_on_cluster(
    planned: str,
    todo: list[dt.date],
    arguments: dict[str, object],
    engine: sa.Engine,
    url: str,
    *,
    pipeline_file: Path,
    registry: str | None,
    max_concurrency: int,
    host: str,
    ui: str,
    timeout: int,
    kubectl: str,
    kube_context: str | None,
    image_pull_secrets: Sequence[str],
) -> list[DayOutcome]:
    """Submit the days to Kubeflow Pipelines and follow their runs, with a progress bar."""
    from burger_recs import backfill, db
    from burger_recs.compile import retarget_images
    from burger_recs.deploy import submit as kfp
    from burger_recs.deploy.kfp_api import KfpApi, KfpError

    ir_text = pipeline_file.read_text()
    if registry:
        ir_text = retarget_images(ir_text, registry)
    typer.echo(
        f"{planned}, on {host}, at most {max_concurrency} at once, on {arguments['data_uri']} "
        f"(code {code_version()}, database {db.redact(url)})",
        err=True,
    )
    api = KfpApi(host)
    try:
        version, ir_text = kfp.prepare_version(
            api,
            ir_text,
            code_version(),
            _echo_err,
            image_pull_secrets,
        )
    except KfpError as exc:
        raise _fail(str(exc)) from None
    with _BackfillProgress(len(todo)) as progress:
        running: set[dt.date] = set()

        def started(run: backfill.ClusterRun) -> None:
            running.add(run.day)
            progress.describe(f"{len(running)} running")
            progress.say(f"{run.day}  submitted run {run.run_id}  {run.link}")

        def finished(outcome: DayOutcome) -> None:
            running.discard(outcome.day)
            progress.describe(f"{len(running)} running")
            progress.finished(outcome)

        return backfill.submit_days(
            api,
            version,
            todo,
            arguments,
            engine,
            code_version(),
            steps=kfp.step_order(ir_text),
            ui=ui,
            echo=progress.say,
            fetch_logs=kfp.kubectl_logs(kubectl, kube_context),
            max_concurrency=max_concurrency,
            started=started,
            finished=finished,
            timeout_seconds=timeout,
        )


def _echo_err(line: str) -> None:
    typer.echo(line, err=True)


class _BackfillProgress:
    """A backfill's progress bar on stderr, and the lines printed above it."""

    # How a day's line is coloured: red for any other status (failed, KFP's states).
    COLOURS: ClassVar[dict[str, str]] = {"published": "green", "gated": "yellow"}

    def __init__(self, total: int) -> None:
        import sys

        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
        )

        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=Console(file=sys.stderr, soft_wrap=True, highlight=False),
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self._bar = self._progress.add_task("backfill", total=total)

    def __enter__(self) -> _BackfillProgress:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.describe("backfill")
        self._progress.stop()

    def describe(self, text: str) -> None:
        """Set the text beside the bar."""
        self._progress.update(self._bar, description=text)

    def say(self, line: str, style: str | None = None) -> None:
        """Print a line above the bar, as it is (no markup)."""
        self._progress.console.print(line, markup=False, style=style)

    def finished(self, outcome: DayOutcome) -> None:
        """Print how a day ended and move the bar on."""
        note = _backfill_note(outcome)
        self.say(
            f"{outcome.day}  {outcome.status:<9} after {outcome.seconds:.0f} s"
            f"{f': {note}' if note else ''}",
            style=self.COLOURS.get(outcome.status, "red"),
        )
        self._progress.advance(self._bar)


def _backfill_note(outcome: DayOutcome) -> str:
    """Return what is said beside a day that was not published: its message in one line."""
    from burger_recs.backfill import headline

    return "" if outcome.status == "published" else headline(outcome.message)


def _print_backfill_table(outcomes: list[DayOutcome]) -> None:
    rows = [
        (
            str(o.day),
            o.status,
            o.model_version or "-",
            "-" if o.precision_at_k is None else f"{o.precision_at_k:.4f}",
            f"{o.rows_written:,}",
            o.run_id,
            _backfill_note(o),
        )
        for o in outcomes
    ]
    header = ("day", "status", "served by", "p@k", "rows", "run id", "")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header) - 1)]
    typer.echo("")
    for row in [header, *rows]:
        cells = [
            f"{cell:>{width}}" if i in (3, 4) else f"{cell:<{width}}"
            for i, (cell, width) in enumerate(zip(row, widths, strict=False))
        ]
        typer.echo(("  ".join(cells) + "  " + row[-1]).rstrip())
    counts: dict[str, int] = {}
    for o in outcomes:
        counts[o.status] = counts.get(o.status, 0) + 1
    summary = ", ".join(f"{n} {status}" for status, n in counts.items())
    typer.echo(f"\n{len(outcomes)} day(s) run: {summary}")
    for o in outcomes:
        if o.failed and o.log_file is not None:
            typer.echo(f"  {o.day} {o.status}: its log is {_show(o.log_file)}")
        elif o.failed and o.link:
            typer.echo(f"  {o.day} {o.status}: {o.link}")


@app.command("compile")
def compile_command(
    output: Annotated[
        Path | None, typer.Option(help="Where to write the IR (default: the checked-in file).")
    ] = None,
) -> None:
    """Compile the pipeline to KFP IR (pipelines/compiled/ is checked in)."""
    from burger_recs.compile import compile_pipeline

    target = output or compiled_pipeline()
    compile_pipeline(target)
    typer.echo(f"compiled {_show(target)}")


# Options of the commands that talk to a cluster's KFP (submit, retry).
HostOption = Annotated[
    str, typer.Option(envvar=HOST_ENV, help="The KFP API (default: the dev cluster's).")
]
UiOption = Annotated[str, typer.Option(help="The Kubeflow UI, for links.")]
WaitOption = Annotated[
    bool, typer.Option(help="Follow the run to its end: step states, a failed step's logs.")
]
TimeoutOption = Annotated[int, typer.Option(help="--wait: give up after this many seconds.")]
KubectlOption = Annotated[str, typer.Option(help="kubectl, for a failed step's logs.")]
KubeContextOption = Annotated[str | None, typer.Option(help="kubectl context.")]


@app.command("submit")
def submit_command(
    host: HostOption = DEV_HOST,
    ui: UiOption = DEV_UI,
    registry: Annotated[
        str | None,
        typer.Option(
            envvar="REGISTRY",
            help="Registry prefix the images were pushed to (default: the compiled one, "
            "localhost:5001).",
        ),
    ] = None,
    data: Annotated[
        str, typer.Option(help="Data root (default: the dev cluster's GCS emulator).")
    ] = DEV_DATA_URI,
    run_date: Annotated[
        str | None, typer.Option(help="Day to run for, YYYY-MM-DD (default: today, UTC).")
    ] = None,
    param: Annotated[
        list[str] | None,
        typer.Option(help="Pipeline parameter NAME=VALUE (repeatable), e.g. --param k=5."),
    ] = None,
    wait: WaitOption = False,
    timeout: TimeoutOption = 7200,
    kubectl: KubectlOption = "kubectl",
    kube_context: KubeContextOption = None,
    image_pull_secret: pull_secrets.Option = None,
) -> None:
    """Upload the compiled pipeline to Kubeflow Pipelines and start a run (make submit)."""
    from burger_recs.compile import compiled_pipeline, retarget_images
    from burger_recs.deploy import submit as kfp
    from burger_recs.deploy.kfp_api import KfpApi, KfpError

    pipeline_file = compiled_pipeline()
    day, params = _day_and_params(run_date, param, pipeline_file)
    ir_text = pipeline_file.read_text()
    if registry:
        ir_text = retarget_images(ir_text, registry)
    arguments = {"data_uri": data, "run_date": day.isoformat(), **params}
    typer.echo(f"submitting {pipeline_file.name} for {day} on {data} to {host}", err=True)
    try:
        run = kfp.submit(
            KfpApi(host),
            ir_text,
            arguments,
            code_version(),
            ui,
            typer.echo,
            wait=wait,
            fetch_logs=kfp.kubectl_logs(kubectl, kube_context),
            timeout_seconds=timeout,
            image_pull_secrets=image_pull_secret or (),
        )
    except KfpError as exc:
        raise _fail(str(exc)) from None
    if wait and run.get("state") != "SUCCEEDED":
        raise typer.Exit(code=1)


@app.command("retry")
def retry_command(
    run_id: Annotated[str, typer.Argument(help="The id of the failed run (submit prints it).")],
    host: HostOption = DEV_HOST,
    ui: UiOption = DEV_UI,
    wait: WaitOption = False,
    timeout: TimeoutOption = 7200,
    kubectl: KubectlOption = "kubectl",
    kube_context: KubeContextOption = None,
) -> None:
    """Retry a failed run on Kubeflow Pipelines: its failed steps run again, in the same run."""
    from burger_recs.deploy import submit as kfp
    from burger_recs.deploy.kfp_api import KfpApi, KfpError

    typer.echo(f"retrying run {run_id} at {host}", err=True)
    try:
        run = kfp.retry(
            KfpApi(host),
            run_id,
            kfp.step_order(compiled_pipeline().read_text()),
            ui,
            typer.echo,
            wait=wait,
            fetch_logs=kfp.kubectl_logs(kubectl, kube_context),
            timeout_seconds=timeout,
        )
    except KfpError as exc:
        raise _fail(str(exc)) from None
    if run is not None and run.get("state") != "SUCCEEDED":
        raise typer.Exit(code=1)


# Defined beside the reconciler, which the step base image holds: its PostSync hook Job runs
# this very command without this module (python -m burger_recs.deploy.schedule).
app.command("reconcile-schedule")(reconcile_schedule_command)


PythonImageOption = Annotated[
    str,
    typer.Option(
        envvar="PYTHON_IMAGE",
        help="The Python image the base builds FROM (make base-image provides it).",
    ),
]
ExtraCaOption = Annotated[
    str,
    typer.Option(
        envvar="EXTRA_CA_BUNDLE",
        help="A CA bundle pip must trust inside the build (a TLS proxy's). Default: the host's "
        "system bundle when there is one; 'none': no extra bundle. It never reaches the final "
        "images.",
        show_default=False,
    ),
]


@app.command("build-images")
def build_images_command(
    registry: Annotated[
        str | None,
        typer.Option(
            envvar="REGISTRY",
            help="Registry prefix of the image references (default: localhost:5001, where "
            "the kind cluster pulls from).",
        ),
    ] = None,
    python_image: PythonImageOption = DEFAULT_PYTHON_IMAGE,
    extra_ca_bundle: ExtraCaOption = "",
    push: Annotated[bool, typer.Option(help="Push every image after building.")] = False,
    image_map: Annotated[
        Path | None,
        typer.Option(
            "--json",
            help="Where to write the step -> image map (default: .local/build/images.json).",
        ),
    ] = None,
) -> None:
    """Build the images whose content tag is not present locally (make images)."""
    from burger_recs.deploy import docker
    from components.images import DEFAULT_REGISTRY

    try:
        docker.build_images(
            registry or DEFAULT_REGISTRY,
            python_image,
            extra_ca_bundle,
            push=push,
            image_map=image_map or docker.IMAGE_MAP,
            echo=typer.echo,
        )
    except (docker.BuildError, OSError) as exc:
        raise _fail(str(exc)) from None


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
        _fail(str(exc))
        raise typer.Exit(code=2) from None
    except (production.RenderError, OSError) as exc:
        raise _fail(str(exc)) from None
    changed = production.write(overlay, files)
    version = production.committed_version(overlay) or {"metadata": {"name": "?"}}
    what = f"wrote {', '.join(changed)}" if changed else "unchanged"
    typer.echo(
        f"{_show(overlay / production.RENDERED)}: {what} "
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
    from burger_recs.deploy import docker, production

    def build(registry: str) -> None:
        docker.build_images(registry, python_image, extra_ca_bundle, push=True, echo=typer.echo)

    try:
        production.push(registry, production.OVERLAY, build=build, echo=typer.echo)
    except (production.RenderError, OSError) as exc:
        raise _fail(str(exc)) from None


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

    engine = db.make_engine(database_url or default_database_url())
    try:
        day = dt.date.fromisoformat(date) if date else None
    except ValueError:
        raise _fail(f"--date {date!r} is not YYYY-MM-DD") from None
    db.ensure_schema(engine)
    shown, rows = db.customer_recommendations(engine, customer, day)
    if not rows:
        when = f" for {date}" if date else ""
        raise _fail(f"no recommendations stored for customer {customer!r}{when}")
    typer.echo(f"recommendations for customer {customer} on {shown}:")
    for row in rows:
        typer.echo(
            f"  {row.rank:>2}. {row.name or row.item_id:<34} [{row.item_id}]  "
            f"score {row.score:7.3f}  {row.ingredients or ''}"
        )
    typer.echo(f"(model {rows[0].model_version}, code {rows[0].code_version})")


@app.command("runs")
def runs_command(
    limit: Annotated[int, typer.Option(help="How many runs to show.")] = 20,
    database_url: DatabaseOption = None,
) -> None:
    """List the recorded pipeline runs, newest first."""
    from burger_recs import db
    from burger_recs.runs import recent_runs

    engine = db.make_engine(database_url or default_database_url())
    db.ensure_schema(engine)
    rows = recent_runs(engine, limit)
    if not rows:
        typer.echo("no runs recorded yet: try `make run`")
        return
    typer.echo(
        f"{'run id':<30}{'date':<12}{'status':<11}{'served by':<12}{'code':<20}"
        f"{'p@k model/base':<17}{'rows':>9}  finished (UTC)"
    )
    for r in rows:
        m = r.metrics or {}
        pk = (
            f"{m['model_precision_at_k']:.3f}/{m['baseline_precision_at_k']:.3f}"
            if "model_precision_at_k" in m
            else "-"
        )
        finished = r.finished_at.strftime("%Y-%m-%d %H:%M") if r.finished_at else "-"
        typer.echo(
            f"{r.run_id[:29]:<30}{r.run_date!s:<12}{r.status:<11}{r.served_by or '-':<12}"
            f"{r.code_version[:19]:<20}{pk:<17}{r.rows_written:>9,}  {finished}"
        )


@app.command("index")
def index_command(database_url: DatabaseOption = None) -> None:
    """Write the page of this machine's runs, .local/runs/index.html, and print its path.

    Rows come from the results database and .local/runs/; it opens from file://, no server.
    """
    from burger_recs import db
    from burger_recs.run_index import write_index

    engine = db.make_engine(database_url or default_database_url())
    db.ensure_schema(engine)
    typer.echo(_show(write_index(LOCAL_ROOT, engine)))


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
    from burger_recs import db
    from burger_recs.diff import RunNotFound, diff_runs

    engine = db.make_engine(database_url or default_database_url())
    db.ensure_schema(engine)
    try:
        diff = diff_runs(engine, run_a, run_b)
    except RunNotFound as exc:
        raise _fail(str(exc)) from None
    _print_diff(diff)


def _print_diff(diff: RunDiff) -> None:
    from burger_recs.runs import RunStatus

    a, b = diff.a.record, diff.b.record
    for label, run in (("A", diff.a), ("B", diff.b)):
        chosen = ""
        if run.by_day:
            published = run.record.status is RunStatus.PUBLISHED
            chosen = (
                f"  ({run.ref}: the day's latest published run)"
                if published
                else f"  ({run.ref}: no published run that day, its latest run)"
            )
        typer.echo(f"{label}  run {run.record.run_id}{chosen}")

    def side_by_side(title: str, rows: list[tuple[str, object, object]]) -> None:
        cells = [(name, _diff_value(x), _diff_value(y)) for name, x, y in rows]
        name_width = max([len(name) for name, _, _ in cells] + [len(title) - 2, 12]) + 2
        a_width = max([len(x) for _, x, _ in cells] + [1]) + 3
        b_width = max([len(y) for _, _, y in cells] + [1]) + 3
        typer.echo(f"\n{title:<{name_width + 2}}{'A':<{a_width}}B")
        for name, x, y in cells:
            mark = f"{'':<{b_width - len(y)}}differs" if x != y else ""
            typer.echo(f"  {name:<{name_width}}{x:<{a_width}}{y}{mark}".rstrip())

    side_by_side(
        "code versions",
        [
            ("code version", a.code_version, b.code_version),
            ("model", a.model_version, b.model_version),
        ],
    )
    if diff.params:
        side_by_side("parameters that differ", [(p.name, p.a, p.b) for p in diff.params])
    else:
        count = len((a.params or {}).keys() | (b.params or {}).keys())
        typer.echo(f"\nparameters that differ\n  none: all {count} parameters are the same")
    side_by_side(
        "data window and row counts",
        [
            ("run date", a.run_date, b.run_date),
            ("data", a.data_uri, b.data_uri),
            ("rows written", a.rows_written, b.rows_written),
            ("customers", a.customers, b.customers),
            ("status", a.status.value, b.status.value),
            ("message", a.message, b.message),
        ],
    )

    name_width = max([len(m.name) for m in diff.metrics] + [12]) + 2
    typer.echo(f"\n{'metrics':<{name_width + 2}}{'A':>12}{'B':>12}{'B - A':>12}{'relative':>10}")
    if not diff.metrics:
        typer.echo("  none recorded")
    for m in diff.metrics:
        integral = isinstance(m.a, int) and isinstance(m.b, int)
        change = (
            "-" if m.change is None else f"{m.change:+,.0f}" if integral else f"{m.change:+.4f}"
        )
        relative = "-" if m.relative is None else f"{m.relative:+.1%}"
        typer.echo(
            f"  {m.name:<{name_width}}{_diff_metric(m.a):>12}{_diff_metric(m.b):>12}"
            f"{change:>12}{relative:>10}"
        )

    typer.echo("\npublished recommendations")
    if diff.movement is None:
        typer.echo(f"  {diff.movement_note}")
        return
    moved = diff.movement
    typer.echo(f"  {'days':<24}{moved.day_a} (A) -> {moved.day_b} (B)")
    for label, record in (("A", a), ("B", b)):
        if record.status is not RunStatus.PUBLISHED:
            typer.echo(
                f"  note: run {label} is {record.status}: {record.run_date} shows the day's latest "
                "publication, not its own"
            )
    typer.echo(
        f"  {'customers in both days':<24}{moved.common:,}  ({moved.only_a:,} only on "
        f"{moved.day_a}, {moved.only_b:,} only on {moved.day_b})"
    )
    if moved.mean_jaccard is None or moved.first_changed_share is None:
        typer.echo("  no customer has recommendations on both days: nothing to compare")
        return
    typer.echo(
        f"  {'mean Jaccard of top-k':<24}{moved.mean_jaccard:.4f}  (1: the same items, "
        "0: none in common)"
    )
    typer.echo(
        f"  {'first item changed':<24}{moved.first_changed:,} of {moved.common:,} customers "
        f"({moved.first_changed_share:.1%})"
    )


def _diff_value(value: object) -> str:
    """Return a parameter's or a record field's value as the diff shows it."""
    if value is None:
        return "-"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def _diff_metric(value: object) -> str:
    """Return a metric's value as the diff shows it."""
    if isinstance(value, float):
        return f"{value:.4f}"
    return _diff_value(value)


MovieLensFolder = Annotated[
    Path,
    typer.Argument(
        help="The MovieLens 100k folder (ua.base, ua.test, u.item, u.genre, u.user). Its "
        "licence forbids redistribution: never copy it into the repository.",
        show_default=False,
    ),
]
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
        raise _fail(f"{exc}{hint}") from None
    typer.echo(
        f"wrote {summary.days} days ({summary.first_date}..{summary.last_date}, "
        f"{summary.empty_days} without orders) of {summary.orders:,} orders (ratings >= "
        f"{min_rating}; {summary.skipped_ratings:,} lower ones left out), "
        f"{summary.customers:,} customers, {summary.items:,} items to {_show(out)}\n"
        f"run the pipeline on it: burger-recs run --data {_show(out)} "
        f"--run-date {summary.last_date}"
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
        raise _fail(str(exc)) from None
    typer.echo(report.render())
