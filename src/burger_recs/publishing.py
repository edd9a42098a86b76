"""Publishing a day: what the publish step and the sharded commit share.

Both make one day of recommendations visible in one transaction, from the evaluate step's
outcome: :func:`prepare` reads what the day records (the run's record and today's model,
the challenger), :func:`replace_day` is the body of the transaction (the day's rows, the
menu names, the challenger and the run record), and :meth:`Day.done` writes the trend page
of the last 30 days. The publish step loads one frame of rows
(:mod:`burger_recs.steps.publish`); the commit inserts the rows its shards staged
(:mod:`burger_recs.steps.commit`). :func:`logged_outputs` is what both log to KFP.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa

from burger_recs import db
from burger_recs.champion import ModelUpdate, challenger_update, record_model
from burger_recs.contract import menu_items, pipeline_runs, recommendations
from burger_recs.day_checks import ACCEPTED, NOT_JUDGED, WARNED, DayCheck
from burger_recs.evaluation import Evaluation
from burger_recs.metrics import logged_figures
from burger_recs.runs import RunRecord, evaluated_record
from burger_recs.trends import write_trends
from burger_recs.validated import ValidatedData


@dataclass
class Day:
    """A day about to be published, as the evaluate step decided it.

    Attributes:
        data: the validated data (the run date and the menu).
        record: the run's record, published or gated.
        challenger: today's model for the ``models`` table, promoted when it passed.
        engine: the results database.
    """

    data: ValidatedData
    record: RunRecord
    challenger: ModelUpdate | None
    engine: sa.Engine

    def done(self, trends_path: str = "") -> RunRecord:
        """Write the trend page of the last 30 days (if asked); return the run's record."""
        if trends_path:
            write_trends(self.engine, self.record.run_date, trends_path)
        return self.record


def prepare(
    data_dir: str,
    evaluation_path: str,
    model_version: str,
    run_id: str,
    data_uri: str,
    started_at: str = "",
    model_path: str = "",
    eval_model_path: str = "",
    engine: sa.Engine | None = None,
) -> Day:
    """Return the day to publish: its data, the run's record and the challenger's update.

    Args:
        data_dir: the validated data (for the run date and the menu).
        evaluation_path: the evaluate step's JSON.
        model_version: the challenger's version (today's serving model).
        run_id: the run's id.
        data_uri: the data root, recorded with the run.
        started_at: when the run started (ISO-8601), if known.
        model_path: the challenger's serving model (kept when it becomes the champion).
        eval_model_path: the challenger's evaluation model (likewise).
        engine: the results database (default: ``DATABASE_URL``).
    """
    data = ValidatedData.load(data_dir)
    evaluation = Evaluation.load(evaluation_path)
    record = evaluated_record(
        evaluation, data.run_date, model_version, run_id, data_uri, started_at
    )
    if data.day_check:  # the run date against the recent past, as validate found it
        checked = DayCheck.from_dict(data.day_check)
        record.metrics = (record.metrics or {}) | checked.metrics()
        if checked.verdict in (WARNED, ACCEPTED, NOT_JUDGED):
            record.message = f"{record.message}; {checked.summary()}"
    update = challenger_update(evaluation, record, model_version, model_path, eval_model_path)
    return Day(data, record, update, engine if engine is not None else db.make_engine())


def replace_day(
    conn: sa.Connection,
    record: RunRecord,
    load: Callable[[sa.Connection], None] | None,
    menu_rows: list[dict],
    challenger: ModelUpdate | None,
) -> None:
    """Publish a day inside the caller's transaction.

    With ``load`` (the day is served), the day's old rows are deleted, ``load`` inserts the
    new ones and the menu names are refreshed; then the challenger is recorded (and promoted
    when it passed) and the run recorded. The delete is the first statement: SQLite's driver
    opens the transaction on a DML statement, so any DDL after it is part of it too.
    """
    if load is not None:
        conn.execute(
            sa.delete(recommendations).where(recommendations.c.run_date == record.run_date)
        )
        load(conn)
        db.upsert(conn, menu_items, menu_rows)
    if challenger is not None:
        record_model(conn, challenger.row, challenger.promote, challenger.scorers)
    db.upsert(conn, pipeline_runs, [record.row()])


def logged_outputs(record: RunRecord) -> tuple[dict[str, float], dict[str, str]]:
    """Return what a publishing step logs to KFP: its figures and its metadata."""
    figures: dict[str, float] = {
        "rows_written": record.rows_written,
        "customers": record.customers or 0,
    }
    figures |= logged_figures(record.metrics)  # coverage, churn, shares
    metadata = {
        "status": record.status.value,
        "served_by": record.served_by or "nobody",
        "code_version": record.code_version,
    }
    return figures, metadata
