"""Publish: replace one day of recommendations atomically, and record the run.

One transaction deletes the day's old rows, loads the new ones (PostgreSQL: COPY; SQLite:
executemany), refreshes the menu names and writes the ``pipeline_runs`` row. Readers see
the old complete day until the commit and the new complete day after it; a crash before the
commit leaves the old day untouched; re-running the day replaces it, so there is always
exactly one copy. Transient database errors retry the whole transaction.

The run record also carries the day's figures beyond precision (:mod:`burger_recs.metrics`):
catalogue coverage, churn against the previous published day and the shares of customers
each scorer served. The previous day's rows are read before the transaction, so it stays as
short as the load itself. After the commit, ``run`` writes the trend page of the last 30
days (:mod:`burger_recs.trends`).

The sharded pipeline publishes the same way in two phases (:mod:`burger_recs.steps.commit`);
both share the transaction's body and the run's preparation (:mod:`burger_recs.publishing`).
"""

from __future__ import annotations

import logging
import time
from functools import partial

import pandas as pd
import sqlalchemy as sa

from burger_recs import db
from burger_recs.champion import ModelUpdate
from burger_recs.contract import recommendations
from burger_recs.logs import configure as configure_logging
from burger_recs.metrics import record_figures
from burger_recs.publishing import prepare, replace_day
from burger_recs.runs import RunRecord

log = logging.getLogger(__name__)


def publish(
    engine: sa.Engine,
    record: RunRecord,
    recs: pd.DataFrame | None = None,
    menu: pd.DataFrame | None = None,
    challenger: ModelUpdate | None = None,
) -> int:
    """Publish a day: its recommendations, the run and the challenger, in one transaction.

    The day's rows are replaced, the run recorded, and today's model (the challenger)
    recorded and, when it passed the gate, promoted to champion. The record's metrics gain
    the day's coverage, churn and served shares
    (:func:`~burger_recs.metrics.record_figures`).

    Args:
        engine: the results database.
        record: the run's record; ``served_by`` decides whether ``recs`` are written (a
            scorer served the day) or only the record is (nothing served, or failed).
        recs: customer_id, rank, item_id, score rows for ``record.run_date``.
        menu: the menu, so that item names can be shown beside recommendations.
        challenger: today's model for the ``models`` table, promoted to champion when it
            passed the gate.

    Returns:
        The number of recommendation rows written.
    """
    db.require_schema(engine)
    rows = None
    if record.serves:
        if recs is None or recs.empty:
            raise ValueError(f"run {record.run_id}: nothing to publish for {record.run_date}")
        rows = recs.assign(
            run_date=record.run_date,
            model_version=record.model_version,
            code_version=record.code_version,
        )
        rows["rank"] = rows["rank"].astype(int)
        rows["score"] = rows["score"].astype(float)
        record.rows_written = len(rows)
        record.customers = int(rows["customer_id"].nunique())
    record_figures(engine, record, recs if rows is not None else None, menu)
    menu_rows = db.menu_rows(menu, record.run_date) if rows is not None else []
    load = None if rows is None else partial(db.load_rows, table=recommendations, rows=rows)

    def transaction() -> None:
        with engine.begin() as conn:
            replace_day(conn, record, load, menu_rows, challenger)

    started = time.monotonic()
    db.with_retries(transaction)
    log.info(
        "publish: %s %s, %d rows in %.2fs into %s",
        record.status,
        record.run_date,
        record.rows_written,
        time.monotonic() - started,
        engine.url.render_as_string(hide_password=True),
    )
    return record.rows_written


def run(
    recs_path: str,
    data_dir: str,
    evaluation_path: str,
    model_version: str,
    run_id: str,
    data_uri: str,
    started_at: str = "",
    orchestrator_run_id: str = "",
    model_path: str = "",
    eval_model_path: str = "",
    trends_path: str = "",
) -> RunRecord:
    """Publish entry point of the pipeline step (database from ``DATABASE_URL``).

    Publishes the day as served by the scorer evaluate chose (the challenger, the champion
    or popularity), records the challenger and, when it passed the gate, makes it the
    champion. With nothing to serve (``serve_when_gated`` off and the challenger gated),
    only the run is recorded and the published days stay as they are.

    Args:
        recs_path: the recommend step's Parquet file.
        data_dir: the validated data (for the run date and the menu).
        evaluation_path: the evaluate step's JSON.
        model_version: the challenger's version (today's serving model).
        run_id: the run's id, when the caller chose one.
        data_uri: the data root, recorded with the run.
        started_at: when the run started (ISO-8601), if known.
        orchestrator_run_id: the orchestrator's run id, used when ``run_id`` is empty.
        model_path: the challenger's serving model (kept when it becomes the champion).
        eval_model_path: the challenger's evaluation model (likewise).
        trends_path: where to write the trend page of the last 30 days ("" for nowhere).
    """
    configure_logging("publish")
    day = prepare(
        data_dir,
        evaluation_path,
        model_version,
        run_id or orchestrator_run_id,
        data_uri,
        started_at,
        model_path,
        eval_model_path,
    )
    recs = pd.read_parquet(recs_path) if day.record.served_by else None
    publish(day.engine, day.record, recs, day.data.menu, day.challenger)
    return day.done(trends_path)
