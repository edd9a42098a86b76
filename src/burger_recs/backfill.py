"""Backfill: run the daily pipeline once for every day of a range, oldest first.

Which days a backfill runs comes from ``pipeline_runs``: a day is *done* when it has a
``published`` or ``gated`` run (:class:`Reprocess` says which other days run again), so that
a second backfill of the same range runs nothing. Each day is one local run
(:func:`burger_recs.local_run.run_pipeline`) with its own ``run_date``; a day that fails is
reported and the backfill goes on with the next one.
"""

from __future__ import annotations

import datetime as dt
import enum
import time
import traceback
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from burger_recs.contract import pipeline_runs
from burger_recs.local_run import LocalRun, RunFailed, new_run_id, run_pipeline
from burger_recs.runs import RunStatus

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
        run_id: the day's run id.
        status: published, gated or failed.
        log_file: the run's log.
        model_version: the model the run trained (pipeline_runs.model_version), if any.
        precision_at_k: the model's precision@k, if evaluated.
        rows_written: recommendation rows published.
        message: the gate's reason or the failure's message.
        seconds: how long the run took.
    """

    day: dt.date
    run_id: str
    status: str
    log_file: Path
    model_version: str | None = None
    precision_at_k: float | None = None
    rows_written: int = 0
    message: str = ""
    seconds: float = 0.0

    @property
    def failed(self) -> bool:
        """Whether the day's run failed."""
        return self.status == RunStatus.FAILED


def outcome(day: dt.date, result: LocalRun, seconds: float = 0.0) -> DayOutcome:
    """Return a day's outcome from its local run, as the run's record says.

    A failed run without a record (its final task could not write one) takes the run's own
    failure message.
    """
    record = result.record
    precision = (record.get("metrics") or {}).get("model_precision_at_k")
    return DayOutcome(
        day=day,
        run_id=result.run_id,
        status=str(result.status),
        log_file=result.log_file,
        model_version=record.get("model_version"),
        precision_at_k=float(precision) if isinstance(precision, int | float) else None,
        rows_written=int(record.get("rows_written") or 0),
        message=record.get("message") or result.message,
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
        runner: ``subprocess`` or ``docker`` (:func:`~burger_recs.local_run.run_pipeline`).
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
