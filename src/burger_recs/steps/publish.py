"""Publish: replace one day of recommendations atomically, and record the run.

One transaction deletes the day's old rows, loads the new ones (PostgreSQL: COPY; SQLite:
one executemany), refreshes the menu names and writes the ``pipeline_runs`` row. Readers see
the old complete day until the commit and the new complete day after it; a crash before the
commit leaves the old day untouched; re-running the day replaces it, so there is always
exactly one copy. Transient database errors retry the whole transaction.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import asdict, dataclass, field

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from burger_recs import db
from burger_recs.contract import menu_items, pipeline_runs, recommendations
from burger_recs.logs import configure as configure_logging
from burger_recs.steps.evaluate import Evaluation
from burger_recs.validated import ValidatedData
from burger_recs.version import code_version

log = logging.getLogger(__name__)

_REC_COLUMNS = [c.name for c in recommendations.columns]


@dataclass
class RunRecord:
    """One row of ``pipeline_runs``.

    Attributes:
        run_id: the run's id (unique; re-recording the same id replaces the row).
        run_date: the day the run is for.
        status: published, gated or failed.
        code_version: the code that ran.
        model_version: the model that produced the rows, if any.
        started_at: when the run started, if known.
        finished_at: when the run ended.
        metrics: evaluation figures.
        params: the run's parameters.
        rows_written: recommendation rows published.
        customers: customers with recommendations.
        message: the gate's reason or the failure's message.
        data_uri: where the input came from.
    """

    run_id: str
    run_date: dt.date
    status: str
    code_version: str = field(default_factory=code_version)
    model_version: str | None = None
    started_at: dt.datetime | None = None
    finished_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    metrics: dict | None = None
    params: dict | None = None
    rows_written: int = 0
    customers: int | None = None
    message: str | None = None
    data_uri: str | None = None


def _insert(engine: sa.Engine):
    return pg_insert if engine.dialect.name == "postgresql" else sqlite_insert


def _upsert(conn: sa.Connection, table: sa.Table, rows: list[dict]) -> None:
    if not rows:
        return
    stmt = _insert(conn.engine)(table)
    keys = [c.name for c in table.primary_key.columns]
    stmt = stmt.on_conflict_do_update(
        index_elements=keys,
        set_={c: stmt.excluded[c] for c in rows[0] if c not in keys},
    )
    conn.execute(stmt, rows)


def _load(conn: sa.Connection, rows: pd.DataFrame) -> None:
    """Load recommendation rows: COPY on PostgreSQL, one executemany on SQLite."""
    if conn.engine.dialect.name == "postgresql":
        columns = ", ".join(_REC_COLUMNS)
        cursor = conn.connection.driver_connection.cursor()
        with cursor.copy(f"COPY {recommendations.name} ({columns}) FROM STDIN") as copy:
            for row in rows[_REC_COLUMNS].itertuples(index=False, name=None):
                copy.write_row(row)
    else:
        conn.execute(sa.insert(recommendations), rows[_REC_COLUMNS].to_dict("records"))


def record_run(engine: sa.Engine, record: RunRecord) -> None:
    """Write (or replace) one ``pipeline_runs`` row on its own."""
    db.ensure_schema(engine)

    def transaction() -> None:
        with engine.begin() as conn:
            _upsert(conn, pipeline_runs, [asdict(record)])

    db.with_retries(transaction)


def publish(
    engine: sa.Engine,
    record: RunRecord,
    recs: pd.DataFrame | None = None,
    menu: pd.DataFrame | None = None,
) -> int:
    """Publish a day: replace its recommendations and record the run, in one transaction.

    Args:
        engine: the results database.
        record: the run's record; its status decides whether ``recs`` are written
            (``published``) or only the record is (``gated``, ``failed``).
        recs: customer_id, rank, item_id, score rows for ``record.run_date``.
        menu: the menu, so that item names can be shown beside recommendations.

    Returns:
        The number of recommendation rows written.
    """
    db.ensure_schema(engine)
    rows = None
    if record.status == "published":
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
    menu_rows = (
        [
            {
                "item_id": str(item.item_id),
                "name": str(item.name),
                "ingredients": str(item.ingredients),
                "price": float(item.price),
                "last_seen": record.run_date,
            }
            for item in menu.itertuples(index=False)
        ]
        if menu is not None and rows is not None
        else []
    )

    def transaction() -> None:
        with engine.begin() as conn:
            if rows is not None:
                conn.execute(
                    sa.delete(recommendations).where(recommendations.c.run_date == record.run_date)
                )
                _load(conn, rows)
                _upsert(conn, menu_items, menu_rows)
            _upsert(conn, pipeline_runs, [asdict(record)])

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
) -> RunRecord:
    """Publish entry point of the pipeline step (database from ``DATABASE_URL``).

    Publishes when the evaluation passed the quality gate; otherwise records the run as
    ``gated`` and leaves the published days as they are.

    Args:
        recs_path: the recommend step's Parquet file.
        data_dir: the validated data (for the run date and the menu).
        evaluation_path: the evaluate step's JSON.
        model_version: the serving model's version.
        run_id: the run's id, when the caller chose one.
        data_uri: the data root, recorded with the run.
        started_at: when the run started (ISO-8601), if known.
        orchestrator_run_id: the orchestrator's run id, used when ``run_id`` is empty.
    """
    configure_logging("publish")
    evaluation = Evaluation.load(evaluation_path)
    data = ValidatedData.load(data_dir)
    record = RunRecord(
        run_id=run_id or orchestrator_run_id,
        run_date=data.run_date,
        started_at=dt.datetime.fromisoformat(started_at) if started_at else None,
        status="published" if evaluation.publishable else "gated",
        model_version=model_version,
        metrics=evaluation.metrics(),
        params=evaluation.params,
        message=evaluation.reason,
        data_uri=data_uri,
    )
    recs = pd.read_parquet(recs_path) if evaluation.publishable else None
    publish(db.make_engine(), record, recs, data.menu)
    return record
