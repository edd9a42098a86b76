"""burger-recs backfill: one run per day over a range, here or on a cluster."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, ClassVar, Literal

import typer

from burger_recs import backfill
from burger_recs.cli.common import (
    LOCAL_ROOT,
    DatabaseOption,
    ParamOption,
    RegistryOption,
    RunnerOption,
    app,
    data_root,
    day_and_params,
    default_database_url,
    echo_err,
    fail,
    sample_data,
    show,
    up_to_date,
)
from burger_recs.deploy import (
    DEV_DATA_URI,
    DEV_HOST,
    DEV_UI,
    HOST_ENV,
    pull_secrets,
)
from burger_recs.pipelines.compile import compiled_pipeline
from burger_recs.version import code_version

if TYPE_CHECKING:
    from collections.abc import Sequence

    import sqlalchemy as sa

    from burger_recs.backfill import DayOutcome
    from burger_recs.pipelines.local_run import LocalRun


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
    from burger_recs.migrations import migrate

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
        raise fail(
            f"{names}: a local backfill's option; with --cluster the steps run in the cluster"
            if cluster
            else f"{names}: only with --cluster"
        )
    try:
        days = backfill.day_range(
            backfill.parse_day(first, "--from"), backfill.parse_day(last, "--to")
        )
    except ValueError as exc:
        raise fail(str(exc)) from None
    if not cluster:
        from burger_recs.pipelines.local_run import RUNNERS

        if runner not in RUNNERS:
            raise fail(f"--runner {runner}: expected one of {', '.join(RUNNERS)}")
        if data is not None:
            data = data_root(data)
    if any(pair.partition("=")[0].strip() == "run_date" for pair in param or []):
        raise fail("--param run_date: a backfill runs each day of --from..--to with its own")
    pipeline_file = up_to_date(compiled_pipeline())
    _, params = day_and_params(days[0].isoformat(), param, pipeline_file)
    url = database_url or default_database_url()
    engine = db.make_engine(url)
    if cluster:
        db.require_schema(engine)  # the deploy's Job migrates the cluster's database
    else:
        migrate(engine)
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
    typer.echo(backfill.outcome_table(outcomes, show))
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
        data = str(sample_data(todo[-1], backfill.window_start(todo[0], window)).resolve())
    typer.echo(
        f"{planned}, on {data} ({runner} runner, code {code_version()}, database {db.redact(url)})",
        err=True,
    )
    with _BackfillProgress(len(todo)) as progress:

        def started(day: dt.date, planned: LocalRun) -> None:
            progress.describe(f"{day} running")
            progress.say(f"{day}  running   log {show(planned.log_file)}")

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
    from burger_recs.deploy import submit as kfp
    from burger_recs.deploy.kfp_api import KfpApi, KfpError
    from burger_recs.pipelines.compile import retarget_images

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
            echo_err,
            image_pull_secrets,
        )
    except KfpError as exc:
        raise fail(str(exc)) from None
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
        note = backfill.outcome_note(outcome)
        self.say(
            f"{outcome.day}  {outcome.status:<9} after {outcome.seconds:.0f} s"
            f"{f': {note}' if note else ''}",
            style=self.COLOURS.get(outcome.status, "red"),
        )
        self._progress.advance(self._bar)
