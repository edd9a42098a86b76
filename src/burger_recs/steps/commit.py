"""Commit: publish a sharded day in two phases, staged shards then one atomic commit.

Each shard stages its rows (:func:`stage`, a table per run and shard, replaced whole when the
shard runs again), then one :func:`commit` transaction makes the whole day visible from the
staged shards, exactly as :mod:`burger_recs.steps.publish` does for one frame: readers see the
previous complete day or the new complete day, never a mix. The run-scoped staging tables,
dropped by the commit, are the only tables a step creates (the schema's own tables are the
migrations'), so a sharded day's credential needs CREATE on the tables' schema.

Before that transaction the commit reads the staged rows and the previous published day, for
the run record's coverage, churn and served shares (:func:`burger_recs.metrics.record_figures`),
so the transaction stays as short as publish's. After it, ``commit_run`` writes the trend
page of the last 30 days (:mod:`burger_recs.trends`). The transaction's body and the run's
preparation are publish's own (:mod:`burger_recs.publishing`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import time
from collections.abc import Sequence
from functools import partial

import pandas as pd
import sqlalchemy as sa

from burger_recs import db
from burger_recs.champion import ModelUpdate
from burger_recs.contract import (
    pipeline_runs,
    recommendation_stages,
    recommendations,
    sql_identifier,
)
from burger_recs.logs import configure as configure_logging
from burger_recs.metrics import record_figures, top_k_rows
from burger_recs.publishing import prepare, replace_day
from burger_recs.runs import RunRecord
from burger_recs.scoring import check_shard

log = logging.getLogger(__name__)

STAGE_PREFIX = "recommendations_stage_"
_STAGE_COLUMNS = ["customer_id", "rank", "item_id", "score"]


class ShardsNotStaged(RuntimeError):
    """The commit found shards of the run that are not staged (or not staged whole)."""


def stage_table(run_id: str, shard: int) -> sa.Table:
    """Return the staging table of one shard of a run (in a MetaData of its own).

    Its name is ``recommendations_stage_<16 hex digits of the run id's SHA-256>_<shard>``:
    fixed characters only, whatever the run id, and a checked plain identifier.
    """
    key = hashlib.sha256(run_id.encode()).hexdigest()[:16]
    name = sql_identifier(f"{STAGE_PREFIX}{key}_{int(shard)}", "staging table")
    return sa.Table(
        name,
        sa.MetaData(),
        sa.Column("customer_id", recommendations.c.customer_id.type, nullable=False),
        sa.Column("rank", recommendations.c.rank.type, nullable=False),
        sa.Column("item_id", recommendations.c.item_id.type, nullable=False),
        sa.Column("score", recommendations.c.score.type, nullable=False),
    )


def stage(engine: sa.Engine, run_id: str, shard: int, shards: int, recs: pd.DataFrame) -> int:
    """Stage one shard's recommendations, replacing whatever that shard staged before.

    One transaction forgets the shard's earlier staging, drops and recreates its staging
    table, loads the rows (PostgreSQL: COPY; SQLite: one executemany) and records the shard
    in ``recommendation_stages``. A shard that failed or is run again therefore leaves
    exactly its latest rows staged, and nothing of it is visible to readers until
    :func:`commit`.

    Args:
        engine: the results database.
        run_id: the run the shard belongs to.
        shard: the shard, from 0.
        shards: how many shards the run has.
        recs: the shard's customer_id, rank, item_id, score rows (may be empty).

    Returns:
        The number of rows staged.
    """
    check_shard(shard, shards)
    db.require_schema(engine)
    table = stage_table(run_id, shard)
    rows = recs[_STAGE_COLUMNS].astype({"rank": int, "score": float})
    entry = {
        "run_id": run_id,
        "shard": shard,
        "shards": shards,
        "table_name": table.name,
        "rows": len(rows),
        "customers": int(rows["customer_id"].nunique()),
    }
    stages = recommendation_stages.c

    def transaction() -> None:
        with engine.begin() as conn:
            # A DML statement first: SQLite's driver opens the transaction on it, so the DDL
            # below is part of it too (PostgreSQL's DDL is transactional anyway).
            conn.execute(
                sa.delete(recommendation_stages).where(
                    stages.run_id == run_id, stages.shard == shard
                )
            )
            table.drop(conn, checkfirst=True)
            table.create(conn)
            db.load_rows(conn, table, rows)
            conn.execute(
                sa.insert(recommendation_stages),
                [entry | {"staged_at": dt.datetime.now(dt.UTC)}],
            )

    started = time.monotonic()
    db.with_retries(transaction)
    log.info(
        "stage: run %s shard %d of %d, %d rows in %.2fs into %s",
        run_id,
        shard,
        shards,
        len(rows),
        time.monotonic() - started,
        table.name,
    )
    return len(rows)


def commit(
    engine: sa.Engine,
    record: RunRecord,
    shards: int,
    menu: pd.DataFrame | None = None,
    staged_rows: list[int] | None = None,
    challenger: ModelUpdate | None = None,
) -> int:
    """Make a sharded day visible: one transaction, as :func:`publish` does for one frame.

    For a record whose day was served (``served_by``) the transaction checks that shards
    ``0 .. shards - 1`` are all staged, deletes the day, inserts every shard's staged rows
    (checking each count), refreshes the menu names, records the challenger (promoting it
    when it passed), drops the run's staging and writes the ``pipeline_runs`` row. A failure
    anywhere rolls all of it back: readers keep the previous day and champion, and the
    staging stays for the next attempt. For a day nobody served, or a ``failed`` record,
    only the run (and the challenger) is recorded and its staging dropped. Committing a run
    that is already committed (a retry after a lost acknowledgement) changes nothing.

    Args:
        engine: the results database.
        record: the run's record (its run_id names the staging).
        shards: how many shards the run has.
        menu: the menu, so that item names can be shown beside recommendations.
        staged_rows: what each shard's stage step reported, when known; checked against the
            staging.
        challenger: today's model for the ``models`` table (:func:`record_model`).

    Returns:
        The number of recommendation rows written.

    Raises:
        ShardsNotStaged: a shard is missing, or its staged rows are not what it reported.
    """
    check_shard(0, shards)
    db.require_schema(engine)
    menu_rows = db.menu_rows(menu, record.run_date)
    if not record.serves:
        record_figures(engine, record, None, menu)
    elif (rows := staged_day(engine, record.run_id, shards)) is not None and not rows.empty:
        record_figures(engine, record, rows, menu)
    stages = recommendation_stages.c

    def transaction() -> None:
        with engine.begin() as conn:
            staged = conn.execute(
                sa.select(recommendation_stages)
                .where(stages.run_id == record.run_id)
                .order_by(stages.shard)
            ).all()
            load = None
            if record.serves:
                if not staged and _committed(conn, record):
                    log.info("commit: run %s is already committed", record.run_id)
                    return
                shard_rows = _complete_shards(record, shards, staged, staged_rows)
                record.rows_written = sum(s.rows for s in shard_rows)
                record.customers = sum(s.customers for s in shard_rows)
                load = partial(_insert_staged, record=record, shard_rows=shard_rows)
            replace_day(conn, record, load, menu_rows, challenger)
            # The staging goes with the same commit (DML above, so this DDL is part of it).
            conn.execute(sa.delete(recommendation_stages).where(stages.run_id == record.run_id))
            for entry in staged:
                stage_table(record.run_id, entry.shard).drop(conn, checkfirst=True)

    started = time.monotonic()
    db.with_retries(transaction)
    log.info(
        "commit: %s %s, %d rows from %d shard(s) in %.2fs into %s",
        record.status,
        record.run_date,
        record.rows_written,
        shards,
        time.monotonic() - started,
        engine.url.render_as_string(hide_password=True),
    )
    return record.rows_written


def staged_day(engine: sa.Engine, run_id: str, shards: int) -> pd.DataFrame | None:
    """Return the (customer_id, rank, item_id) rows the run's shards staged, for its figures.

    Read before the commit's transaction, on a connection of its own. None when the staging
    cannot be read (a table gone): the commit then goes on without the day's figures, and
    its own transaction decides whether the staging is complete.
    """
    stages = recommendation_stages.c

    def read() -> pd.DataFrame:
        with engine.connect() as conn:
            shard_numbers = conn.execute(
                sa.select(stages.shard).where(stages.run_id == run_id, stages.shards == shards)
            ).scalars()
            frames = [top_k_rows(conn, stage_table(run_id, shard)) for shard in shard_numbers]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    try:
        return db.with_retries(read)
    except sa.exc.DBAPIError as exc:
        log.warning("commit: run %s's staging not read (%s): no figures", run_id, exc)
        return None


def _committed(conn: sa.Connection, record: RunRecord) -> bool:
    """Tell whether the run is already recorded with its day's rows published."""
    c = pipeline_runs.c
    found = conn.execute(
        sa.select(c.served_by, c.run_date, c.rows_written, c.customers).where(
            c.run_id == record.run_id
        )
    ).first()
    if found is None or not found.served_by or found.run_date != record.run_date:
        return False
    record.rows_written, record.customers = found.rows_written, found.customers
    return True


def _complete_shards(
    record: RunRecord, shards: int, staged: Sequence[sa.Row], staged_rows: list[int] | None
) -> list[sa.Row]:
    """Return the staged shards of the run, or raise ShardsNotStaged if any is missing."""
    current = [s for s in staged if s.shards == shards]
    missing = sorted(set(range(shards)) - {s.shard for s in current})
    if missing:
        raise ShardsNotStaged(
            f"run {record.run_id}: shard(s) {', '.join(map(str, missing))} of {shards} are "
            "not staged; run them (again) before the commit"
        )
    if staged_rows is not None and sorted(staged_rows) != sorted(s.rows for s in current):
        raise ShardsNotStaged(
            f"run {record.run_id}: the shards reported {staged_rows} rows but staged "
            f"{[s.rows for s in current]}; run them again"
        )
    if not sum(s.rows for s in current):
        raise ValueError(f"run {record.run_id}: nothing to publish for {record.run_date}")
    return current


def _insert_staged(conn: sa.Connection, record: RunRecord, shard_rows: list[sa.Row]) -> None:
    """Insert the shards' staged rows into the day, stamped with the run's versions."""
    for entry in shard_rows:
        _insert_shard(conn, record, entry)


def _insert_shard(conn: sa.Connection, record: RunRecord, entry: sa.Row) -> None:
    """Insert one shard's staged rows into the day, checking their count."""
    table = stage_table(record.run_id, entry.shard)
    values = {
        "run_date": sa.literal(record.run_date, recommendations.c.run_date.type),
        "customer_id": table.c.customer_id,
        "rank": table.c.rank,
        "item_id": table.c.item_id,
        "score": table.c.score,
        "model_version": sa.literal(record.model_version, recommendations.c.model_version.type),
        "code_version": sa.literal(record.code_version, recommendations.c.code_version.type),
    }
    inserted = conn.execute(
        sa.insert(recommendations).from_select(list(values), sa.select(*values.values())),
        execution_options={"preserve_rowcount": True},
    ).rowcount
    if inserted != entry.rows:
        raise ShardsNotStaged(
            f"run {record.run_id}: shard {entry.shard} recorded {entry.rows} rows but its "
            f"staging table {table.name} holds {inserted}; run the shard again"
        )


def stage_run(
    recs_path: str, run_id: str, orchestrator_run_id: str, shard: int, shards: int
) -> int:
    """Stage entry point of the pipeline's per-shard step (database from ``DATABASE_URL``).

    Args:
        recs_path: the shard's recommendations (the recommend step's Parquet file).
        run_id: the run's id, when the caller chose one.
        orchestrator_run_id: the orchestrator's run id, used when ``run_id`` is empty.
        shard: the shard, from 0.
        shards: how many shards the run has.

    Returns:
        The number of rows staged.
    """
    configure_logging("stage")
    return stage(
        db.make_engine(), run_id or orchestrator_run_id, shard, shards, pd.read_parquet(recs_path)
    )


def commit_run(
    data_dir: str,
    evaluation_path: str,
    model_version: str,
    run_id: str,
    data_uri: str,
    shards: int,
    staged_rows: list[int] | None = None,
    started_at: str = "",
    orchestrator_run_id: str = "",
    model_path: str = "",
    eval_model_path: str = "",
    trends_path: str = "",
) -> RunRecord:
    """Commit entry point of the pipeline's sharded path (database from ``DATABASE_URL``).

    Commits the staged shards as served by the scorer evaluate chose, and records the
    challenger (the champion when it passed), as :func:`~burger_recs.steps.publish.run`
    does for one shard.

    Args:
        data_dir: the validated data (for the run date and the menu).
        evaluation_path: the evaluate step's JSON.
        model_version: the serving model's version.
        run_id: the run's id, when the caller chose one.
        data_uri: the data root, recorded with the run.
        shards: how many shards the run has.
        staged_rows: the row counts the stage steps reported, checked against the staging.
        started_at: when the run started (ISO-8601), if known.
        orchestrator_run_id: the orchestrator's run id, used when ``run_id`` is empty.
        model_path: the challenger's serving model (kept when it becomes the champion).
        eval_model_path: the challenger's evaluation model (likewise).
        trends_path: where to write the trend page of the last 30 days ("" for nowhere).
    """
    configure_logging("commit")
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
    commit(day.engine, day.record, shards, day.data.menu, staged_rows, day.challenger)
    return day.done(trends_path)
