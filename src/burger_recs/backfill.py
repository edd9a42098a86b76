"""Backfill: run the daily pipeline once for every day of a range, oldest first.

Which days a backfill runs comes from ``pipeline_runs``: a day is *done* when it has a
``published`` or ``gated`` run (:class:`Reprocess` says which other days run again), so that
a second backfill of the same range runs nothing. Each day is one run with its own
``run_date``: a local run (:func:`run_days`,
:func:`burger_recs.pipelines.local_run.run_pipeline`) or, with ``--cluster``, a run on
Kubeflow Pipelines (:func:`submit_days`, through ``burger_recs.deploy.submit``), several at
once. A day that fails is reported and the
backfill goes on with the other days.
"""

from __future__ import annotations

import collections
import datetime as dt
import enum
import time
import traceback
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from burger_recs.contract import pipeline_runs
from burger_recs.deploy.kfp_api import KfpApi, KfpError
from burger_recs.deploy.submit import (
    Echo,
    LogFetcher,
    PipelineVersion,
    RunWatch,
    run_url,
    start_run,
)
from burger_recs.evaluation import MODEL_PRECISION
from burger_recs.pipelines.local_run import LocalRun, RunFailed, new_run_id, run_pipeline
from burger_recs.runs import RunRecord, RunStatus, find_run, served_label

MAX_DAYS = 366
"""The most days one backfill may cover (a leap year)."""

DONE = frozenset({RunStatus.PUBLISHED, RunStatus.GATED})
"""Statuses that make a day done: the run went through, whether the gate let it publish."""


class Reprocess(enum.StrEnum):
    """Which days of the range a backfill runs."""

    MISSING = "missing"
    """Days without a published or gated run."""
    FAILED = "failed"
    """Missing days, and days whose latest run failed."""
    ALL = "all"
    """Every day of the range."""


def parse_day(text: str, option: str) -> dt.date:
    """Return the day ``text`` names (``YYYY-MM-DD``).

    Args:
        text: the day as given.
        option: the option it was given with, for the message (e.g. ``--from``).

    Raises:
        ValueError: ``text`` is not a date of the form ``YYYY-MM-DD``.
    """
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{option} {text!r} is not a day of the form YYYY-MM-DD") from None


def day_range(first: dt.date, last: dt.date) -> list[dt.date]:
    """Return every day from ``first`` to ``last``, both included, oldest first.

    Raises:
        ValueError: ``first`` is after ``last``, or the range has more than
            :data:`MAX_DAYS` days.
    """
    if first > last:
        raise ValueError(f"the first day {first} is after the last day {last}")
    count = (last - first).days + 1
    if count > MAX_DAYS:
        raise ValueError(
            f"{first}..{last} is {count} days; a backfill covers at most {MAX_DAYS} days: "
            "split the range"
        )
    return [first + dt.timedelta(days=i) for i in range(count)]


@dataclass(frozen=True)
class DayState:
    """What ``pipeline_runs`` holds for one day.

    Attributes:
        day: the run date.
        done: the day has a published or gated run.
        latest: the status of the day's latest run (by finished time), None without runs.
        latest_run_id: that run's id.
    """

    day: dt.date
    done: bool = False
    latest: RunStatus | None = None
    latest_run_id: str | None = None


def day_states(engine: sa.Engine, days: Iterable[dt.date]) -> dict[dt.date, DayState]:
    """Return each day's state in the results database, in the order of ``days``.

    Args:
        engine: the results database (its tables must exist).
        days: the days to look at.
    """
    days = list(days)
    if not days:
        return {}
    c = pipeline_runs.c
    query = (
        sa.select(c.run_date, c.status, c.run_id, c.finished_at)
        .where(c.run_date.between(min(days), max(days)))
        .order_by(c.run_date, c.finished_at, c.run_id)
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    states = {day: DayState(day) for day in days}
    for row in rows:  # each day's runs, oldest first: the last one seen is the latest
        before = states.get(row.run_date)
        if before is None:
            continue
        status = RunStatus(row.status)
        states[row.run_date] = DayState(
            row.run_date, before.done or status in DONE, status, row.run_id
        )
    return states


def select_days(states: Mapping[dt.date, DayState], reprocess: Reprocess) -> list[dt.date]:
    """Return the days a backfill runs, oldest first.

    Args:
        states: every day of the range and its state (:func:`day_states`).
        reprocess: which days run (:class:`Reprocess`).
    """
    reprocess = Reprocess(reprocess)
    chosen = [
        s.day
        for s in states.values()
        if reprocess is Reprocess.ALL
        or not s.done
        or (reprocess is Reprocess.FAILED and s.latest is RunStatus.FAILED)
    ]
    return sorted(chosen)


def days_to_run(
    engine: sa.Engine, first: dt.date, last: dt.date, reprocess: Reprocess = Reprocess.MISSING
) -> list[dt.date]:
    """Return the days from ``first`` to ``last`` that a backfill runs, oldest first.

    Args:
        engine: the results database (its tables must exist).
        first: the range's first day.
        last: the range's last day.
        reprocess: which days run (:class:`Reprocess`).

    Raises:
        ValueError: the range is reversed or too long (:func:`day_range`).
    """
    return select_days(day_states(engine, day_range(first, last)), reprocess)


def window_start(day: dt.date, window_days: int) -> dt.date:
    """Return the first day of the orders a run of ``day`` reads (``window_days`` days)."""
    return day - dt.timedelta(days=window_days - 1)


def headline(text: str | None) -> str:
    """Return a message in one line: its first non-blank line ("" when it has none).

    A first line that announces a list (it ends with ``:``) gets the list's first item, so
    that ``validate failed: input data breaks the contract in 1 way(s):`` says which.
    """
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    if not lines:
        return ""
    if lines[0].endswith(":") and len(lines) > 1:
        return f"{lines[0]} {lines[1].removeprefix('- ')}"
    return lines[0]


@dataclass(frozen=True)
class DayOutcome:
    """How one day of a backfill ended.

    Attributes:
        day: the run date.
        run_id: the day's run id (its pipeline_runs key).
        status: published, gated or failed, as the run's record says; a run on the cluster
            that ended without a record: KFP's state (e.g. ``FAILED``, ``CANCELED``), or
            ``not started`` when KFP refused to start it.
        log_file: a local run's log.
        model_version: the scorer that served the day (pipeline_runs.model_version), if any.
        served: who served the day, as every view says it (:func:`runs.served_label`).
        precision_at_k: the model's precision@k, if evaluated.
        rows_written: recommendation rows published.
        message: the gate's reason or the failure's message.
        seconds: how long the run took.
        link: a run on the cluster: its page in the Kubeflow UI.
    """

    day: dt.date
    run_id: str
    status: str
    log_file: Path | None = None
    model_version: str | None = None
    served: str = "-"
    precision_at_k: float | None = None
    rows_written: int = 0
    message: str = ""
    seconds: float = 0.0
    link: str = ""

    @property
    def failed(self) -> bool:
        """Whether the day is not done: its run failed, or left no record of how it ended."""
        return self.status not in DONE


def _recorded(
    day: dt.date,
    run_id: str,
    status: str,
    record: RunRecord | None,
    message: str = "",
    **where: Any,
) -> DayOutcome:
    """Return a day's outcome as its run's record says (``message`` if it has none)."""
    if record is None:
        return DayOutcome(day=day, run_id=run_id, status=status, message=message, **where)
    precision = (record.metrics or {}).get(MODEL_PRECISION)
    return DayOutcome(
        day=day,
        run_id=run_id,
        status=status,
        model_version=record.model_version,
        served=served_label(record.served_by, record.model_version) or "-",
        precision_at_k=float(precision) if isinstance(precision, int | float) else None,
        rows_written=int(record.rows_written or 0),
        message=record.message or message,
        **where,
    )


def outcome(day: dt.date, result: LocalRun, seconds: float = 0.0) -> DayOutcome:
    """Return a day's outcome from its local run, as the run's record says.

    A failed run without a record (its final task could not write one) takes the run's own
    failure message.
    """
    return _recorded(
        day,
        result.run_id,
        str(result.status or "running"),
        result.record,
        result.message,
        log_file=result.log_file,
        seconds=seconds,
    )


def run_days(
    pipeline_file: Path,
    days: Iterable[dt.date],
    arguments: Mapping[str, object],
    database_url: str,
    root: Path,
    *,
    runner: str = "subprocess",
    registry: str | None = None,
    started: Callable[[dt.date, LocalRun], None] | None = None,
    finished: Callable[[DayOutcome], None] | None = None,
) -> list[DayOutcome]:
    """Run the compiled pipeline once for each day, in the order given, quietly.

    A day that fails is reported in its outcome and the next day runs; every step's output
    goes to the day's run log (``<root>/runs/<run-id>/run.log``).

    Args:
        pipeline_file: the compiled pipeline (KFP IR YAML).
        days: the days to run, each with its own ``run_date``.
        arguments: the pipeline arguments every day shares (``data_uri`` at least).
        database_url: the results database.
        root: the local folder that holds ``runs/``.
        runner: ``subprocess`` or ``docker``
            (:func:`~burger_recs.pipelines.local_run.run_pipeline`).
        registry: docker: run the step images from this registry prefix.
        started: called before each day's run, with the day and where its run keeps its
            files (run id, log).
        finished: called with each day's outcome after its run.

    Returns:
        Each day's outcome, in the order run.
    """
    outcomes = []
    for day in days:
        run_id = new_run_id()
        planned = LocalRun(run_id, root / "runs" / run_id)
        if started is not None:
            started(day, planned)
        began = time.monotonic()
        try:
            result = run_pipeline(
                pipeline_file,
                {**arguments, "run_date": day.isoformat()},
                database_url,
                root,
                runner=runner,
                run_id=run_id,
                quiet=True,
                registry=registry,
            )
        except RunFailed as exc:
            result = exc.result
        except Exception as exc:  # the run did not start or broke down: the next day still runs
            planned.folder.mkdir(parents=True, exist_ok=True)
            with planned.log_file.open("a") as log:
                traceback.print_exc(file=log)
            planned.status = RunStatus.FAILED
            planned.message = f"{type(exc).__name__}: {exc}"
            result = planned
        done = outcome(day, result, time.monotonic() - began)
        if finished is not None:
            finished(done)
        outcomes.append(done)
    return outcomes


# -- on the cluster -------------------------------------------------------------------------
def cluster_run_ids(days: Iterable[dt.date], now: dt.datetime | None = None) -> dict[dt.date, str]:
    """Return the run id of each day of a backfill on the cluster: distinct and sortable.

    One prefix for the whole backfill (:func:`~burger_recs.pipelines.local_run.new_run_id`: when it
    started, UTC, and four random hex digits), then the day: ``20261124-081502-3fa1-20261120``.
    The ids of one backfill sort by day, the order they are submitted in; those of two
    backfills, by when each started.
    """
    prefix = new_run_id(now)
    return {day: f"{prefix}-{day:%Y%m%d}" for day in days}


@dataclass(frozen=True)
class ClusterRun:
    """A day's run, started on Kubeflow Pipelines.

    Attributes:
        day: the run date.
        run_id: the pipeline's ``run_id`` parameter: the key of the run's pipeline_runs row.
        kfp_run_id: KFP's id of the run: its page, the label of its pods.
        link: its page in the Kubeflow UI.
    """

    day: dt.date
    run_id: str
    kfp_run_id: str
    link: str


def cluster_outcome(
    started: ClusterRun,
    run: Mapping[str, Any],
    record: RunRecord | None,
    seconds: float = 0.0,
    problem: str = "",
) -> DayOutcome:
    """Return a day's outcome from its run on the cluster and the record its final task wrote.

    A run that left no record shows KFP's state, with why there is no record, as far as can
    be told.

    Args:
        started: the day's run.
        run: the run as KFP last reported it (``KfpApi.get_run``).
        record: the run's record, None when there is none.
        seconds: how long it was followed.
        problem: why following the run stopped before it ended, if it did.
    """
    day, run_id, link = started.day, started.run_id, started.link
    if record is not None:
        return _recorded(day, run_id, record.status, record, seconds=seconds, link=link)
    state = str(run.get("state") or "PENDING")
    error = str((run.get("error") or {}).get("message") or "")
    if problem:
        message = problem
    elif state == "SUCCEEDED":
        message = (
            f"KFP says SUCCEEDED but the database holds no record of run {started.run_id}: "
            "do the cluster's runs write to this --database-url?"
        )
    else:
        message = (
            f"KFP says {state}{f': {error}' if error else ''}; the run left no record "
            "(its final task did not run or could not reach the database)"
        )
    return DayOutcome(day, run_id, state, message=message, seconds=seconds, link=link)


def submit_days(
    api: KfpApi,
    version: PipelineVersion,
    days: Iterable[dt.date],
    arguments: Mapping[str, object],
    engine: sa.Engine,
    code_version: str,
    *,
    steps: list[str],
    ui: str,
    echo: Echo,
    fetch_logs: LogFetcher,
    max_concurrency: int = 2,
    run_ids: Mapping[dt.date, str] | None = None,
    started: Callable[[ClusterRun], None] | None = None,
    finished: Callable[[DayOutcome], None] | None = None,
    sleep: Callable[[float], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
    poll_seconds: float = 5.0,
    timeout_seconds: float = 7200.0,
) -> list[DayOutcome]:
    """Run ``version`` on Kubeflow Pipelines once per day, at most ``max_concurrency`` at once.

    Days start oldest first, each as soon as a run before it ends; every run is followed as
    ``burger-recs submit --wait`` follows one (``burger_recs.deploy.submit.RunWatch``: each
    step's state changes, and when the run did not succeed its failed steps and its pods'
    logs), its lines prefixed with its day. A day that fails does not stop the others.

    A run is active from its creation (KFP answers CreateRun with a PENDING run) until KFP
    reports it SUCCEEDED, FAILED, CANCELED or SKIPPED; PENDING, RUNNING, CANCELING and PAUSED
    are not final (kubeflow/pipelines 2.17.0, backend/api/v2beta1/run.proto, RuntimeState;
    ``burger_recs.deploy.submit.FINAL_STATES``). The day's ``run_date`` and ``run_id`` are
    pipeline parameters, sent in the run's ``runtime_config.parameters`` (run.proto
    Run.runtime_config, runtime_config.proto RuntimeConfig.parameters), which the server
    checks against the pipeline's inputs (backend/src/apiserver/template/v2_template.go).
    The pipeline's final task records the run in pipeline_runs under that ``run_id``; it is
    the exit handler, which the compiler makes an exit lifecycle hook inside the run's Argo
    Workflow (backend/src/v2/compiler/argocompiler/dag.go, common.go addExitTask), so it has
    run by the time KFP says the run ended: then the day's outcome is read from ``engine``.

    Args:
        api: the KFP API.
        version: the pipeline version to run (``burger_recs.deploy.submit.prepare_version``).
        days: the days to run, oldest first.
        arguments: the pipeline arguments every day shares (``data_uri`` at least).
        engine: the results database the cluster's runs write to.
        code_version: the code version, in each run's name and description.
        steps: the steps to show while following, in the pipeline's order.
        ui: the Kubeflow UI, for links.
        echo: prints a line: the runs' step states and failure logs.
        fetch_logs: given KFP's run id, the last lines of its pods' logs.
        max_concurrency: at most this many runs active at once.
        run_ids: each day's run id (default: :func:`cluster_run_ids`).
        started: called with each day's run once KFP created it.
        finished: called with each day's outcome once its run ended.
        sleep: waits between polls (default ``time.sleep``).
        clock: the time, for timeouts.
        poll_seconds: the wait between two rounds of polls.
        timeout_seconds: a run still going after this long is left running and reported
            with its state; the day is not done.

    Returns:
        Each day's outcome, oldest first.

    Raises:
        ValueError: ``max_concurrency`` is below 1.
    """
    if max_concurrency < 1:
        raise ValueError(f"max_concurrency must be at least 1, got {max_concurrency}")
    sleep = sleep or time.sleep
    waiting = collections.deque(days)
    ids = dict(run_ids) if run_ids is not None else cluster_run_ids(waiting)
    active: list[tuple[ClusterRun, RunWatch, float]] = []
    outcomes: list[DayOutcome] = []

    def done(day_outcome: DayOutcome) -> None:
        outcomes.append(day_outcome)
        if finished is not None:
            finished(day_outcome)

    while waiting or active:
        while waiting and len(active) < max_concurrency:
            day = waiting.popleft()
            say = _prefixed(echo, day)
            try:
                run = start_run(
                    api,
                    version,
                    {**arguments, "run_date": day.isoformat(), "run_id": ids[day]},
                    code_version,
                    labels={"run_id": ids[day]},
                )
            except KfpError as exc:
                say(f"not started: {exc}")
                done(DayOutcome(day, ids[day], "not started", message=str(exc)))
                continue
            this = ClusterRun(day, ids[day], run["run_id"], run_url(ui, run["run_id"]))
            active.append((this, RunWatch(api, this.kfp_run_id, steps, say), clock()))
            if started is not None:
                started(this)
        for entry in list(active):
            this, watch, began = entry
            problem = ""
            try:
                watch.poll()
            except KfpError as exc:
                problem = f"could not follow the run (it may go on running): {exc}"
            elapsed = clock() - began
            if not problem and not watch.ended:
                if elapsed <= timeout_seconds:
                    continue
                problem = (
                    f"still {watch.state} after {timeout_seconds:.0f}s: no longer followed, "
                    "it goes on running"
                )
            active.remove(entry)
            if watch.ended and watch.state != "SUCCEEDED":
                watch.explain_failure(fetch_logs)
            try:
                record = find_run(engine, this.run_id)
            except sa.exc.SQLAlchemyError as exc:
                record = None
                problem = problem or f"could not read the run's record: {exc}"
            done(cluster_outcome(this, watch.run, record, elapsed, problem))
        if active and not (waiting and len(active) < max_concurrency):
            sleep(poll_seconds)
    return sorted(outcomes, key=lambda o: o.day)


def _prefixed(echo: Echo, day: dt.date) -> Echo:
    """Return an echo that puts the day before each line."""
    return lambda line: echo(f"{day} {line}")


def outcome_note(outcome: DayOutcome) -> str:
    """Return what is said beside a day that was not published: its message in one line."""
    return "" if outcome.status == "published" else headline(outcome.message)


def outcome_table(outcomes: list[DayOutcome], show: Callable[[Path], str] = str) -> str:
    """Return the closing table of a backfill: a line per day, then what failed and where.

    ``show`` writes a log file's path as the user should see it.
    """
    lines = [""]
    rows = [
        (
            str(o.day),
            o.status,
            o.served,
            "-" if o.precision_at_k is None else f"{o.precision_at_k:.4f}",
            f"{o.rows_written:,}",
            o.run_id,
            outcome_note(o),
        )
        for o in outcomes
    ]
    header = ("day", "status", "served by", "p@k", "rows", "run id", "")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header) - 1)]
    for row in [header, *rows]:
        cells = [
            f"{cell:>{width}}" if i in (3, 4) else f"{cell:<{width}}"
            for i, (cell, width) in enumerate(zip(row, widths, strict=False))
        ]
        lines.append(("  ".join(cells) + "  " + row[-1]).rstrip())
    counts: dict[str, int] = {}
    for o in outcomes:
        counts[o.status] = counts.get(o.status, 0) + 1
    summary = ", ".join(f"{n} {status}" for status, n in counts.items())
    lines.append(f"\n{len(outcomes)} day(s) run: {summary}")
    for o in outcomes:
        if o.failed and o.log_file is not None:
            lines.append(f"  {o.day} {o.status}: its log is {show(o.log_file)}")
        elif o.failed and o.link:
            lines.append(f"  {o.day} {o.status}: {o.link}")
    return "\n".join(lines)
