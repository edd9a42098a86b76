"""What every command group shares: the app, the options declared once, the helpers."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from burger_recs.deploy import HOST_ENV

if TYPE_CHECKING:
    import sqlalchemy as sa

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


def program() -> str:
    """Return this command as the user can run it again from here.

    ``burger-recs`` when that name on PATH is this program; else the path it was started by,
    relative to the working folder when inside it (``.venv/bin/burger-recs``, as the README
    writes it).
    """
    started = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    if started is None or started.name != "burger-recs":
        return ".venv/bin/burger-recs"
    found = shutil.which("burger-recs")
    if found and Path(found).resolve() == started.resolve():
        return "burger-recs"
    try:
        return started.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return str(started.resolve())


def hint(*words: str, database_url: str | None = None) -> str:
    """Return a command for the user to run: this program, ``words``, maybe the database.

    ``--database-url`` is added when the results database is not the one the command finds
    by default (``DATABASE_URL``, else .local/recs.db). A URL with a password is never
    printed: ``--database-url "$DATABASE_URL"`` stands for it.
    """
    line = [program(), *words]
    if database_url and database_url != default_database_url():
        has_password = sa_url_password(database_url)
        line += ["--database-url", '"$DATABASE_URL"' if has_password else database_url]
    return " ".join(line)


def sa_url_password(url: str) -> bool:
    """Tell whether a database URL carries a password."""
    import sqlalchemy

    try:
        parsed = sqlalchemy.make_url(url)
    except sqlalchemy.exc.ArgumentError:
        return True  # unparseable: print nothing of it
    return bool(parsed.password) or "password" in parsed.query


def up_to_date(pipeline_file: Path) -> Path:
    """Return the compiled pipeline, compiled again first when its sources changed since.

    A component, the pipeline or its settings edited without `burger-recs compile` would
    otherwise run the old IR, silently (the cache would even serve it).
    """
    from burger_recs.pipelines.compile import compile_pipeline, stale_sources

    if stale_sources(pipeline_file):
        typer.echo(
            f"{show(pipeline_file)} was compiled from other sources than these: compiling it "
            "again (burger-recs compile)"
        )
        compile_pipeline(pipeline_file)
    return pipeline_file


def results_engine(database_url: str | None) -> sa.Engine:
    """Return an engine on the results database, checked to be at this code's schema revision.

    Raises:
        typer.Exit: it is not (never migrated, or another version's), with the message.
    """
    from burger_recs import db

    engine = db.make_engine(database_url or default_database_url())
    try:
        db.require_schema(engine)
    except db.SchemaUnavailable as exc:
        raise fail(str(exc)) from None
    return engine


DatabaseOption = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        help="SQLAlchemy URL of the results database. Default: $DATABASE_URL, else "
        "sqlite:///.local/recs.db. Prefer the environment variable for URLs with passwords.",
        show_default=False,
    ),
]


def fail(message: str) -> typer.Exit:
    """Print ``message`` as an error; return the exit to raise (status 1)."""
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    return typer.Exit(code=1)


def day_and_params(
    run_date: str | None, param: list[str] | None, pipeline_file: Path
) -> tuple[dt.date, dict[str, object]]:
    """Return the run's day and its typed ``--param`` values, or fail with the reason."""
    from burger_recs.pipelines.local_run import parse_params
    from burger_recs.settings import resolve_run_date, today

    try:
        day = resolve_run_date(run_date) if run_date else today()  # a local run: today (UTC)
        return day, parse_params(param or [], pipeline_file)
    except ValueError as exc:
        raise fail(str(exc)) from None


def show(path: Path) -> str:
    """Return ``path`` as the user typed it: relative to the working folder when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def sample_data(last: dt.date, first: dt.date | None = None) -> Path:
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
        f"{SAMPLE_CUSTOMERS:,} customers) into {show(SAMPLE_DATA)}",
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


# Options of the commands that run the pipeline (run, resume, backfill, submit).
RunDateOption = Annotated[
    str | None, typer.Option(help="Day to run for, YYYY-MM-DD (default: today, UTC).")
]
QuietOption = Annotated[bool, typer.Option(help="Write step output to the run log only.")]
VerboseOption = Annotated[
    bool, typer.Option(help="Show every line the steps print, not only progress.")
]
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
        help="The registry prefix of the step images: where they were built (docker runner) "
        "or pushed to (a cluster). Default: the compiled one, localhost:5001.",
    ),
]


def data_root(data: str) -> str:
    """Return ``--data`` as the steps read it: gs:// as given, a folder's absolute path."""
    if data.startswith("gs://"):
        return data
    if not Path(data).is_dir():
        raise fail(f"--data {data}: no such folder")
    return str(Path(data).resolve())


def echo_err(line: str) -> None:
    """Print a progress line on stderr."""
    typer.echo(line, err=True)


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


MovieLensFolder = Annotated[
    Path,
    typer.Argument(
        help="The MovieLens 100k folder (ua.base, ua.test, u.item, u.genre, u.user). Its "
        "licence forbids redistribution: never copy it into the repository.",
        show_default=False,
    ),
]
