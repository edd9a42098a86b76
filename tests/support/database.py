"""Run records to publish, and reads of what the results database holds."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator

import sqlalchemy as sa

from burger_recs.contract import metadata, pipeline_runs, recommendations
from burger_recs.runs import RunRecord

DAY = dt.date(2026, 3, 28)
OTHER_DAY = dt.date(2026, 3, 27)
K = 3  # the top-k of the records' params


def run_record(day: dt.date, run_id: str, status: str = "published", **values) -> RunRecord:
    """A run record of ``day``; ``values`` replace or add fields."""
    fields = {
        "code_version": "code-abc",
        "model_version": "model-1",
        "metrics": {"precision_at_k": 0.25, "baseline_precision_at_k": 0.125},
        "params": {"k": K},
        "data_uri": "gs://shop/drops",
        **values,
    }
    return RunRecord(run_id=run_id, run_date=day, status=status, **fields)


def run_rows(engine: sa.Engine) -> dict[str, dict]:
    """Every pipeline_runs row, by run id."""
    with engine.connect() as conn:
        return {r["run_id"]: dict(r) for r in conn.execute(sa.select(pipeline_runs)).mappings()}


def published_day(engine: sa.Engine, day: dt.date) -> list[tuple]:
    """The day's (customer_id, rank, item_id, score, model_version) rows, in key order."""
    r = recommendations.c
    query = (
        sa.select(r.customer_id, r.rank, r.item_id, r.score, r.model_version)
        .where(r.run_date == day)
        .order_by(r.customer_id, r.rank)
    )
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(query)]


def drop_tables(engine: sa.Engine) -> None:
    """Drop the project's tables and their revision: a database nobody has migrated."""
    metadata.drop_all(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")


@contextlib.contextmanager
def recommendations_refused(engine: sa.Engine) -> Iterator[None]:
    """A SQLite database that refuses every recommendation row while inside: publish fails
    (a fault a rerun or a resume then gets past)."""
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "CREATE TRIGGER refuse BEFORE INSERT ON recommendations "
                "BEGIN SELECT RAISE(ABORT, 'recommendations are read-only today'); END"
            )
        )
    try:
        yield
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text("DROP TRIGGER refuse"))
