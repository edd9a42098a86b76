"""Finish: the pipeline's final task records how every run ended, and alerts on a bad day.

It runs under ``dsl.ExitHandler`` after the steps, whether they succeeded or not, on every
runner (kfp.local runs exit handlers too). KFP tells it only whether the steps' group
succeeded; which step failed and why comes from the note the step left
(:func:`burger_recs.runs.noted`). A run that succeeded was recorded by publish (or commit)
in the transaction that made its day visible, as ``published`` or ``gated``; this task keeps
that record. Otherwise it records the run ``failed``, naming the step and its error, and it
never records a failed run as anything else. A failed or gated run is alerted
(:mod:`burger_recs.alerts`) when a webhook is configured.
"""

from __future__ import annotations

import datetime as dt
import logging

from burger_recs import alerts, db
from burger_recs.errors import BadSettings
from burger_recs.logs import configure as configure_logging
from burger_recs.runs import (
    RunRecord,
    RunStatus,
    failure_notes,
    find_run,
    parse_time,
    record_run,
)
from burger_recs.settings import resolve_run_date

log = logging.getLogger(__name__)

SUCCEEDED = "SUCCEEDED"


def run_day(run_date: str, scheduled_at: str, day_closes_at: str | None) -> dt.date:
    """Return the day the run was for, as ingest resolves it; today when it cannot be read."""
    try:
        return resolve_run_date(run_date, scheduled_at, day_closes_at)
    except BadSettings:  # the run failed on it: record it under today's date
        return resolve_run_date("")


def finish(
    state: str,
    run_id: str,
    run_date: str,
    data_uri: str,
    scheduled_at: str = "",
    day_closes_at: str | None = None,
    started_at: str = "",
    group: str = "",
    orchestrator_run_id: str = "",
) -> RunRecord:
    """Record how the run ended and alert on a failed or gated run.

    Args:
        state: KFP's final state of the steps' group (SUCCEEDED, FAILED, CANCELED...).
        run_id: the run's id (the pipeline's run_id, else the orchestrator's).
        run_date: the run_date parameter (may be empty).
        data_uri: the data root.
        scheduled_at: the run's schedule time, when the orchestrator gives one.
        day_closes_at: HH:MM (UTC) at which a day closes.
        started_at: when the run was created (ISO-8601), when the orchestrator gives it.
        group: the task KFP reports on (the exit handler's group), for a failure without a
            note.
        orchestrator_run_id: the orchestrator's run id, for the link in the alert.

    Returns:
        The run's record, as it stands in ``pipeline_runs``.
    """
    engine = db.make_engine()
    db.ensure_schema(engine)
    recorded = find_run(engine, run_id)
    step: str | None = None
    if state == SUCCEEDED and recorded is not None:
        record = RunRecord(**{c: getattr(recorded, c) for c in recorded._fields})
        log.info("finish: run %s %s (recorded by its publish)", run_id, record.status)
    else:
        notes = failure_notes(engine, orchestrator_run_id or run_id)
        if state == SUCCEEDED:  # nothing recorded it: a failure all the same, never a success
            message = "the steps succeeded but none recorded the run's outcome"
        elif notes:
            step = notes[0].step
            message = f"{step} failed: {notes[0].message}"
        else:
            message = f"the run ended {state} in {group or 'its steps'} (no step left a note)"
        if recorded is not None and recorded.status == RunStatus.PUBLISHED:
            message += f"; its day had been published ({recorded.rows_written:,} rows) before"
        record = RunRecord(
            run_id=run_id,
            run_date=(
                recorded.run_date
                if recorded is not None
                else run_day(run_date, scheduled_at, day_closes_at)
            ),
            status=RunStatus.FAILED,
            started_at=parse_time(started_at),
            model_version=recorded.model_version if recorded is not None else None,
            metrics=recorded.metrics if recorded is not None else None,
            params=recorded.params if recorded is not None else None,
            message=message,
            data_uri=data_uri,
        )
        record_run(engine, record)
        log.info("finish: run %s failed: %s", run_id, message)
    if record.status is not RunStatus.PUBLISHED:
        alerts.send(
            alerts.Alert(
                run_id=run_id,
                run_date=record.run_date.isoformat(),
                status=record.status.value,
                step=step,
                message=record.message or "",
                code_version=record.code_version,
                link=alerts.run_link(orchestrator_run_id),
            )
        )
    return record


def run(
    state: str,
    run_id: str,
    orchestrator_run_id: str,
    run_date: str,
    data_uri: str,
    scheduled_at: str = "",
    day_closes_at: str | None = None,
    created_at: str = "",
    group: str = "",
) -> str:
    """Finish entry point of the pipeline's final task (database from ``DATABASE_URL``).

    Returns:
        The run's status: published, gated or failed.
    """
    configure_logging("finish")
    record = finish(
        state,
        run_id or orchestrator_run_id,
        run_date,
        data_uri,
        scheduled_at=scheduled_at,
        day_closes_at=day_closes_at,
        started_at=created_at,
        group=group,
        orchestrator_run_id=orchestrator_run_id,
    )
    return record.status.value
