"""Finish: the pipeline's final task records how every run ended, and alerts on a bad day.

It runs under ``dsl.ExitHandler`` after the steps, whether they succeeded or not, on every
runner (kfp.local runs exit handlers too). It decides from the project's own records, never
from KFP's word for the steps' group, which differs between runners (``SUCCEEDED`` locally,
``COMPLETE`` from the 2.17 driver, ``RUNNING`` for a pod killed before its launcher reported:
:mod:`burger_recs.kfp_words`):

- a run is ``published`` or ``gated`` when publish (or commit) recorded it so, in the
  transaction that made its day visible. A step that failed after that (a failure note,
  :func:`burger_recs.runs.noted`, written after the record) is a warning in the record: the
  day's rows and its promotion are live, so it is never recorded failed later;
- otherwise it failed, and the latest note names the step and its error.

KFP's word only adds to the message where it disagrees, so a word not seen before can turn
neither a good day into a failed one nor a failed one into a good one. When a webhook is
configured (:mod:`burger_recs.alerts`), a failed run alerts, and so does a day served despite
what a person should know: a failure after it went live, an unusual day
(:mod:`burger_recs.day_checks`), no model promoted for ``gated_days_to_alert`` run days in
a row, or a gated day that published nothing (``serve_when_gated`` off). A gated day served
by the champion or popularity was served as designed.
"""

from __future__ import annotations

import datetime as dt
import logging

from burger_recs import alerts, db
from burger_recs.day_checks import ACCEPTED, DAY_CHECK, WARNED
from burger_recs.errors import BadSettings
from burger_recs.kfp_words import FAILED_WORDS, SUCCEEDED_WORDS
from burger_recs.logs import configure as configure_logging
from burger_recs.runs import (
    FailureNote,
    RunRecord,
    RunStatus,
    failure_notes,
    find_run,
    gated_streak,
    parse_time,
    record_run,
    run_key,
    served_label,
)
from burger_recs.settings import DEFAULTS, resolve_run_date, today

log = logging.getLogger(__name__)

# What publish (or commit) records for a run whose day it published or kept.
PUBLISHING_STATUSES = frozenset({RunStatus.PUBLISHED, RunStatus.GATED})


def run_day(run_date: str, scheduled_at: str, day_closes_at: str | None) -> dt.date:
    """Return the day the run was for, as ingest resolves it; today when it cannot be read."""
    try:
        return resolve_run_date(run_date, scheduled_at, day_closes_at)
    except BadSettings:  # the run failed on it: record it under today's date
        return today()


def publishing_record(recorded: RunRecord | None) -> RunRecord | None:
    """Return the run's record if publish (or commit) wrote it, else None."""
    if recorded is None or recorded.status not in PUBLISHING_STATUSES:
        return None
    return recorded


def failures_since(notes: list[FailureNote], published: RunRecord | None) -> list[FailureNote]:
    """Return the notes that tell against publish's record (all of them without one).

    A note older than publish's record belongs to an earlier attempt of the same run (a retry
    in place keeps the run's id and its notes): publish runs only once every step before it
    succeeded in its own attempt. A later note is a failure after the day went live. The
    latest note comes first.
    """
    if published is None:
        return notes
    published_at = db.utc(published.finished_at)  # never empty: the column is NOT NULL
    return [n for n in notes if db.utc(n.noted_at) >= published_at]


def _kfp_said(state: str, group: str) -> str:
    return f"KFP reported {group or 'the steps'} {state or '(no state)'}"


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
    gated_days_to_alert: int = DEFAULTS.gated_days_to_alert,
) -> RunRecord:
    """Record how the run ended, and alert on a failed run or a day a person should know of.

    Args:
        state: KFP's final state of the steps' group, in the runner's words (only added to
            the message where it disagrees with the records).
        run_id: the run's id (the pipeline's run_id, else the orchestrator's).
        run_date: the run_date parameter (may be empty).
        data_uri: the data root.
        scheduled_at: the run's schedule time, when the orchestrator gives one.
        day_closes_at: HH:MM (UTC) at which a day closes.
        started_at: when the run was created (ISO-8601), when the orchestrator gives it.
        group: the task KFP reports on (the exit handler's group), for its word.
        orchestrator_run_id: the orchestrator's run id, for the link in the alert; the
            failure notes are keyed by :func:`~burger_recs.runs.run_key` (the environment's
            run id, else this one).
        gated_days_to_alert: alert when no model has been promoted for this many run days
            in a row (0: never).

    Returns:
        The run's record, as it stands in ``pipeline_runs``.
    """
    engine = db.make_engine()
    db.require_schema(engine)
    recorded = find_run(engine, run_id)
    published = publishing_record(recorded)
    notes = failures_since(failure_notes(engine, run_key(orchestrator_run_id) or run_id), published)
    step: str | None = None
    if published is not None and not notes:
        record = published
        said = _kfp_said(state, group)
        if state not in SUCCEEDED_WORDS and said not in (record.message or ""):
            # The records stand; what KFP said goes beside them (once, should it retry).
            record.message = f"{record.message or record.status}; {said}"
            record_run(engine, record)
        log.info("finish: run %s %s (recorded by its publish)", run_id, record.status)
    elif published is not None:
        # A step failed after the day went live: its rows and its promotion are committed and
        # served, so the day stays as its publish recorded it, the failure a warning in it.
        record, step = published, notes[0].step
        warning = f"warning: {step} failed after the day went live: {notes[0].message}"
        if warning not in (record.message or ""):
            record.message = f"{record.message or record.status}; {warning}"
            record_run(engine, record)
        log.warning("finish: run %s %s, with a %s", run_id, record.status, warning)
    else:
        if notes:
            step = notes[0].step
            message = f"{step} failed: {notes[0].message}"
            if state not in FAILED_WORDS:
                message += f" ({_kfp_said(state, group)})"
        elif state in SUCCEEDED_WORDS:  # nothing recorded it: a failure, never a success
            message = f"{_kfp_said(state, group)}, but none recorded the run's outcome"
        else:
            message = f"the run ended {state} in {group or 'its steps'} (no step left a note)"
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
    # A failed run alerts, and so does a day served despite something a person should know:
    # a step that failed after it went live, an unusual day (a spike that only warned, or
    # one accepted by accept_unusual_day), no model promoted for gated_days_to_alert days in
    # a row. A gated day alone was served as designed (by the champion or popularity).
    unusual = (record.metrics or {}).get(DAY_CHECK) in (WARNED, ACCEPTED)
    streak = gated_streak(engine, record.run_date) if record.status is RunStatus.GATED else 0
    stale = gated_days_to_alert > 0 and streak >= gated_days_to_alert
    message = record.message or ""
    if stale:
        message = f"no model promoted for {streak} run days in a row; {message}"
    # With serve_when_gated off a gated day published nothing: yesterday is still served.
    unserved = record.status is RunStatus.GATED and not record.served_by
    if record.status is RunStatus.FAILED or step is not None or unusual or stale or unserved:
        alerts.send(
            alerts.Alert(
                run_id=run_id,
                run_date=record.run_date.isoformat(),
                status=record.status.value,
                step=step,
                message=message,
                code_version=record.code_version,
                link=alerts.run_link(orchestrator_run_id),
                served_by=served_label(record.served_by, record.model_version),
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
    gated_days_to_alert: int = DEFAULTS.gated_days_to_alert,
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
        gated_days_to_alert=gated_days_to_alert,
    )
    return record.status.value
