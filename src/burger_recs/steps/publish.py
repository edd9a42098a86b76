"""Publish: replace one day of recommendations atomically, and record the run.

One transaction deletes the day's old rows, loads the new ones (PostgreSQL: COPY; SQLite:
executemany), refreshes the menu names and writes the ``pipeline_runs`` row. Readers see
the old complete day until the commit and the new complete day after it; a crash before the
commit leaves the old day untouched; re-running the day replaces it, so there is always
exactly one copy. Transient database errors retry the whole transaction.

The sharded pipeline publishes the same way in two phases: each shard stages its rows
(:func:`stage`, a table per run and shard, replaced whole when the shard runs again), then
one :func:`commit` transaction makes the whole day visible from the staged shards.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import time
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from burger_recs import db
from burger_recs.contract import menu_items, pipeline_runs, recommendations, sql_identifier
from burger_recs.logs import configure as configure_logging
from burger_recs.scoring import check_shard
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


def _copy_statement(conn: sa.Connection) -> str:
    """Return the COPY of the recommendations: checked, quoted identifiers and no values.

    The table's schema comes from configuration (``BURGER_RECS_DB_SCHEMA``), so every name is
    checked to be a plain identifier again here, where it is put into SQL text.
    """
    quote = conn.dialect.identifier_preparer.quote
    schema = conn.schema_for_object(recommendations)
    table = quote(sql_identifier(recommendations.name))
    if schema is not None:
        table = f"{quote(sql_identifier(schema, 'schema'))}.{table}"
    columns = ", ".join(quote(sql_identifier(c)) for c in _REC_COLUMNS)
    return f"COPY {table} ({columns}) FROM STDIN"


# Rows converted and handed to the driver at a time.
_LOAD_CHUNK = 1 << 16


def _load(conn: sa.Connection, rows: pd.DataFrame) -> None:
    """Load recommendation rows: COPY on PostgreSQL, one executemany per chunk on SQLite."""
    postgresql = conn.engine.dialect.name == "postgresql"
    _write_rows(conn, recommendations, rows, _copy_statement(conn) if postgresql else None)


def _write_rows(
    conn: sa.Connection, table: sa.Table, rows: pd.DataFrame, copy_statement: str | None
) -> None:
    """Write a frame's rows into ``table`` inside ``conn``'s transaction.

    With ``copy_statement`` (PostgreSQL) the rows go through COPY one ``write_row`` at a
    time, every value as text; without it (SQLite) through ``executemany``. They reach the
    driver in chunks of :data:`_LOAD_CHUNK`, each converted from whole columns through Arrow
    (:func:`_driver_values`), never through per-row dicts or ``itertuples``, whose cost
    rivalled the database's own work.
    """
    names = [c.name for c in table.columns]
    chunks = (
        [
            _driver_values(rows[name].iloc[start : start + _LOAD_CHUNK], copy_statement is not None)
            for name in names
        ]
        for start in range(0, len(rows), _LOAD_CHUNK)
    )
    if copy_statement is not None:
        cursor = conn.connection.driver_connection.cursor()
        with cursor.copy(copy_statement) as copy:
            for columns in chunks:
                for row in zip(*columns, strict=True):
                    copy.write_row(row)
    else:
        insert = str(sa.insert(table).compile(dialect=conn.dialect))
        driver = conn.connection.driver_connection
        for columns in chunks:
            driver.executemany(insert, zip(*columns, strict=True))


def _driver_values(values: pd.Series, as_text: bool) -> list:
    """Return a column as a list of the driver's values.

    Text and dates (pandas' Arrow-backed text, or Python objects) are dictionary-encoded
    through Arrow, so each distinct value becomes one Python object that the rows share;
    dates become ISO text (``YYYY-MM-DD``, as SQLAlchemy's SQLite ``Date`` stores them).
    Numbers stay numbers, unless ``as_text`` (PostgreSQL's COPY): then they are formatted
    by Arrow, floats in their shortest round-trip form, which psycopg copies as they are
    instead of dumping each ``float`` or ``int`` itself (about half of ``write_row``'s time;
    docs/benchmarks.md).
    """
    if values.dtype.kind in "iufb" and not as_text:
        return values.tolist()
    array = pa.array(values)
    if isinstance(array, pa.ChunkedArray):  # a frame concatenated from several
        array = array.combine_chunks()
    if not pa.types.is_string(array.type) and not pa.types.is_large_string(array.type):
        array = array.cast(pa.string())
    if array.null_count or values.dtype.kind == "f":  # every value its own: no dictionary
        return array.to_pylist()
    encoded = array.dictionary_encode()
    uniques = np.asarray(encoded.dictionary.to_pylist(), dtype=object)
    return uniques[encoded.indices.to_numpy()].tolist()


def _menu_rows(menu: pd.DataFrame | None, run_date: dt.date) -> list[dict]:
    """Return the ``menu_items`` rows of a menu, seen on ``run_date``."""
    if menu is None:
        return []
    return [
        {
            "item_id": str(item.item_id),
            "name": str(item.name),
            "ingredients": str(item.ingredients),
            "price": float(item.price),
            "last_seen": run_date,
        }
        for item in menu.itertuples(index=False)
    ]


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
    menu_rows = _menu_rows(menu, record.run_date) if rows is not None else []

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
    run_id = run_id or orchestrator_run_id
    record, data = _run_record(
        data_dir, evaluation_path, model_version, run_id, data_uri, started_at
    )
    recs = pd.read_parquet(recs_path) if record.status == "published" else None
    publish(db.make_engine(), record, recs, data.menu)
    return record


def _run_record(
    data_dir: str,
    evaluation_path: str,
    model_version: str,
    run_id: str,
    data_uri: str,
    started_at: str,
) -> tuple[RunRecord, ValidatedData]:
    """Load the validated data and the evaluation of a run that reached publishing.

    Returns the run's record (``published`` if the evaluation passed the gate, else
    ``gated``) and the validated data.
    """
    evaluation = Evaluation.load(evaluation_path)
    data = ValidatedData.load(data_dir)
    record = RunRecord(
        run_id=run_id,
        run_date=data.run_date,
        started_at=dt.datetime.fromisoformat(started_at) if started_at else None,
        status="published" if evaluation.publishable else "gated",
        model_version=model_version,
        metrics=evaluation.metrics(),
        params=evaluation.params,
        message=evaluation.reason,
        data_uri=data_uri,
    )
    return record, data


# ---------------------------------------------------------------------------------------------
# Sharded publishing: each shard stages its rows, then one commit makes the day visible.
# ---------------------------------------------------------------------------------------------
# Staging is bookkeeping of the pipeline, not output: its tables live beside the output tables
# (same database, same schema) but outside the contract's metadata.
staging_metadata = sa.MetaData()

recommendation_stages = sa.Table(
    "recommendation_stages",
    staging_metadata,
    sa.Column("run_id", sa.String(128), primary_key=True),
    sa.Column("shard", sa.Integer, primary_key=True),
    sa.Column("shards", sa.Integer, nullable=False),
    sa.Column("table_name", sa.String(63), nullable=False),
    sa.Column("rows", sa.Integer, nullable=False),
    sa.Column("customers", sa.Integer, nullable=False),
    sa.Column("staged_at", sa.DateTime(timezone=True), nullable=False),
)
"""One row per staged shard: which table holds its rows, and how many rows and customers."""

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


def _ensure_staging(engine: sa.Engine) -> None:
    db.with_retries(lambda: staging_metadata.create_all(engine, checkfirst=True))


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
    _ensure_staging(engine)
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
            _load_into(conn, table, rows)
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


def _load_into(conn: sa.Connection, table: sa.Table, rows: pd.DataFrame) -> None:
    """Load rows into a staging table: COPY on PostgreSQL, executemany on SQLite."""
    postgresql = conn.engine.dialect.name == "postgresql"
    _write_rows(conn, table, rows, _copy_into_statement(conn, table) if postgresql else None)


def _copy_into_statement(conn: sa.Connection, table: sa.Table) -> str:
    """Return ``COPY <table> (<columns>) FROM STDIN`` with checked, quoted identifiers."""
    quote = conn.dialect.identifier_preparer.quote
    schema = conn.schema_for_object(table)
    name = quote(sql_identifier(table.name))
    if schema is not None:
        name = f"{quote(sql_identifier(schema, 'schema'))}.{name}"
    columns = ", ".join(quote(sql_identifier(c.name)) for c in table.columns)
    return f"COPY {name} ({columns}) FROM STDIN"


def commit(
    engine: sa.Engine,
    record: RunRecord,
    shards: int,
    menu: pd.DataFrame | None = None,
    staged_rows: list[int] | None = None,
) -> int:
    """Make a sharded day visible: one transaction, as :func:`publish` does for one frame.

    For a ``published`` record the transaction checks that shards ``0 .. shards - 1`` are
    all staged, deletes the day, inserts every shard's staged rows (checking each count),
    refreshes the menu names, drops the run's staging and writes the ``pipeline_runs`` row.
    A failure anywhere rolls all of it back: readers keep the previous day and the staging
    stays for the next attempt. For a ``gated`` or ``failed`` record only the run is recorded
    and its staging dropped. Committing a run that is already committed (a retry after a
    lost acknowledgement) changes nothing.

    Args:
        engine: the results database.
        record: the run's record (its run_id names the staging).
        shards: how many shards the run has.
        menu: the menu, so that item names can be shown beside recommendations.
        staged_rows: what each shard's stage step reported, when known; checked against the
            staging.

    Returns:
        The number of recommendation rows written.

    Raises:
        ShardsNotStaged: a shard is missing, or its staged rows are not what it reported.
    """
    check_shard(0, shards)
    db.ensure_schema(engine)
    _ensure_staging(engine)
    menu_rows = _menu_rows(menu, record.run_date)
    stages = recommendation_stages.c

    def transaction() -> None:
        with engine.begin() as conn:
            staged = conn.execute(
                sa.select(recommendation_stages)
                .where(stages.run_id == record.run_id)
                .order_by(stages.shard)
            ).all()
            if record.status == "published":
                if not staged and _committed(conn, record):
                    log.info("commit: run %s is already committed", record.run_id)
                    return
                shard_rows = _complete_shards(record, shards, staged, staged_rows)
                record.rows_written = sum(s.rows for s in shard_rows)
                record.customers = sum(s.customers for s in shard_rows)
                # DML before any DDL: SQLite's driver opens the transaction on it.
                conn.execute(
                    sa.delete(recommendations).where(recommendations.c.run_date == record.run_date)
                )
                for entry in shard_rows:
                    _insert_staged(conn, record, entry)
                _upsert(conn, menu_items, menu_rows)
            conn.execute(sa.delete(recommendation_stages).where(stages.run_id == record.run_id))
            for entry in staged:
                stage_table(record.run_id, entry.shard).drop(conn, checkfirst=True)
            _upsert(conn, pipeline_runs, [asdict(record)])

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


def _committed(conn: sa.Connection, record: RunRecord) -> bool:
    """Tell whether the run is already recorded as published for its day."""
    c = pipeline_runs.c
    found = conn.execute(
        sa.select(c.status, c.run_date, c.rows_written, c.customers).where(
            c.run_id == record.run_id
        )
    ).first()
    if found is None or found.status != "published" or found.run_date != record.run_date:
        return False
    record.rows_written, record.customers = found.rows_written, found.customers
    return True


def _complete_shards(
    record: RunRecord, shards: int, staged: list[sa.Row], staged_rows: list[int] | None
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


def _insert_staged(conn: sa.Connection, record: RunRecord, entry: sa.Row) -> None:
    """Insert one shard's staged rows into the day, stamped with the run's versions."""
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
) -> RunRecord:
    """Commit entry point of the pipeline's sharded path (database from ``DATABASE_URL``).

    Commits the staged shards when the evaluation passed the quality gate; otherwise records
    the run as ``gated``, drops its staging and leaves the published days as they are.

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
    """
    configure_logging("commit")
    run_id = run_id or orchestrator_run_id
    record, data = _run_record(
        data_dir, evaluation_path, model_version, run_id, data_uri, started_at
    )
    commit(db.make_engine(), record, shards, data.menu, staged_rows)
    return record
