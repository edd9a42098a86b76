"""The results database: connection, schema, retries, bulk loads and the queries the CLI shows.

The URL comes from the ``DATABASE_URL`` environment variable (a Kubernetes Secret on a
cluster), never from a pipeline parameter, and it is only ever shown with the password
hidden. SQLite runs in WAL mode so that readers keep reading the previous day while a new
one is written; PostgreSQL gives the same through MVCC. On PostgreSQL the output tables may
live in a schema of their own (``BURGER_RECS_DB_SCHEMA``, a validated plain identifier).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar, overload

import numpy as np
import pandas as pd
import psycopg
import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.pool import ConnectionPoolEntry
from tenacity import (
    before_sleep_log,
    retry,
    retry_if_exception,
    stop_after_delay,
    wait_exponential,
)

from burger_recs.contract import (
    SCHEMA_REVISION,
    menu_items,
    recommendations,
    sql_identifier,
)
from burger_recs.errors import ExpectedFailure

log = logging.getLogger(__name__)

DATABASE_URL_ENV = "DATABASE_URL"
# How long a publish keeps retrying a database that went away, in seconds.
RETRY_SECONDS_ENV = "BURGER_RECS_DB_RETRY_SECONDS"
DEFAULT_RETRY_SECONDS = 120.0
# The PostgreSQL schema of the output tables (default: the connection's search path).
SCHEMA_ENV = "BURGER_RECS_DB_SCHEMA"

# SQLSTATE classes and codes that a retry can cure: connection exceptions, the server
# shutting down or starting up, serialization failures and deadlocks.
_TRANSIENT_SQLSTATE_PREFIXES = ("08",)
_TRANSIENT_SQLSTATES = {"57P01", "57P02", "57P03", "40001", "40P01", "53300"}
_TRANSIENT_MESSAGES = (
    "connection refused",
    "could not connect",
    "server closed the connection",
    "connection timeout",
    "timeout expired",
    "terminating connection",
    "the database system is starting up",
    "the database system is shutting down",
    "database is locked",
    "consuming input failed",
    "connection is lost",
)

T = TypeVar("T")


class DatabaseNotConfigured(ExpectedFailure, RuntimeError):
    """No DATABASE_URL in the environment."""


class SchemaUnavailable(ExpectedFailure, RuntimeError):
    """The output tables are missing, cannot be created there or are at another revision."""


@overload
def utc(value: dt.datetime) -> dt.datetime: ...
@overload
def utc(value: None) -> None: ...
def utc(value: dt.datetime | None) -> dt.datetime | None:
    """Return a recorded time in UTC (SQLite gives back naive times, written in UTC)."""
    if value is None:
        return None
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def database_url(url: str | None = None) -> str:
    """Return ``url`` or the ``DATABASE_URL`` environment variable.

    Raises:
        DatabaseNotConfigured: neither is set.
    """
    url = url or os.environ.get(DATABASE_URL_ENV, "")
    if not url:
        raise DatabaseNotConfigured(
            f"no database configured: set {DATABASE_URL_ENV} "
            "(e.g. sqlite:////abs/path/recs.db or postgresql://user@host/db)"
        )
    return url


def redact(url: str) -> str:
    """Return the URL with its password hidden, for messages and logs.

    Also a password given in the URL's query string, which psycopg takes too.
    """
    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError:
        return "<unparseable database URL>"
    if "password" in parsed.query:
        parsed = parsed.update_query_dict({"password": "***"})
    return parsed.render_as_string(hide_password=True)


def absolute(url: str) -> str:
    """Return ``url`` with a SQLite file's path made absolute: the same file from any folder.

    Other URLs, and one that does not parse, come back as they are.
    """
    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError:
        return url
    path = parsed.database
    if parsed.get_backend_name() != "sqlite" or not path or path == ":memory:":
        return url
    if Path(path).is_absolute():
        return url
    return parsed.set(database=str(Path(path).resolve())).render_as_string(hide_password=False)


def table_schema(schema: str | None = None) -> str | None:
    """Return the schema of the output tables: ``schema`` or ``BURGER_RECS_DB_SCHEMA``.

    Returns:
        The schema, or None for the connection's default (an empty setting).

    Raises:
        ValueError: the name is not a plain SQL identifier.
    """
    name = schema if schema is not None else os.environ.get(SCHEMA_ENV, "")
    return sql_identifier(name, SCHEMA_ENV) if name else None


def make_engine(url: str | None = None, schema: str | None = None) -> sa.Engine:
    """Create an engine for ``url`` (default: ``DATABASE_URL``).

    ``postgresql://`` URLs use psycopg 3. SQLite files get their folder created, WAL mode
    and a busy timeout.

    Args:
        url: the database URL.
        schema: the PostgreSQL schema of the output tables (default:
            ``BURGER_RECS_DB_SCHEMA``, else the connection's default). It must exist.

    Raises:
        ValueError: the schema is not a plain SQL identifier, or is set for SQLite.
    """
    parsed = sa.make_url(database_url(url))
    schema = table_schema(schema)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() == "sqlite":
        if schema:
            raise ValueError(
                f"{SCHEMA_ENV}={schema}: schemas of the output tables are for PostgreSQL; "
                "unset it for SQLite"
            )
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(parsed, connect_args={"timeout": 30})

        @sa.event.listens_for(engine, "connect")
        def _sqlite_pragmas(
            dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry
        ) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    engine = sa.create_engine(parsed, pool_pre_ping=True)
    if schema:
        # Every statement names the tables schema-qualified; the name is a checked identifier.
        engine = engine.execution_options(schema_translate_map={None: schema})
    return engine


def engine_schema(engine: sa.Engine) -> str | None:
    """Return the schema an engine's tables live in (:func:`make_engine`), or None: the default."""
    return (engine.get_execution_options().get("schema_translate_map") or {}).get(None)


def first_line(exc: BaseException) -> str:
    """Return the first line of a database error, as its driver said it."""
    orig = getattr(exc, "orig", None) or exc
    return str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__


# The table Alembic records the database's revision in (burger_recs.migrations).
_revisions = sa.Table(
    "alembic_version", sa.MetaData(), sa.Column("version_num", sa.String(32), primary_key=True)
)


def require_schema(engine: sa.Engine, retry_seconds: float | None = None) -> None:
    """Check that the tables are at the revision this code was written for (one query).

    Steps and reading commands never create or alter a table: the schema is the migrations'
    (:mod:`burger_recs.migrations`, run by ``burger-recs migrate``, by ``burger-recs run``
    before its runs, and by the deploy's Job on a cluster).

    Args:
        engine: the results database.
        retry_seconds: how long to retry a database that went away (default: as
            :func:`with_retries`).

    Raises:
        SchemaUnavailable: the database was never migrated, or is at another revision; the
            message names the database and the command that fixes it.
    """

    def read() -> list[str]:
        with engine.connect() as conn:
            return list(conn.execute(sa.select(_revisions.c.version_num)).scalars())

    where = redact(str(engine.url))
    schema = engine_schema(engine)
    if schema:
        where += f" (schema {schema}, {SCHEMA_ENV})"
    try:
        revisions = with_retries(read, retry_seconds)
    except sa.exc.DBAPIError as exc:
        if not _no_such_table(exc):
            raise  # a wrong password, a server away...: says so itself
        raise SchemaUnavailable(
            f"the results database {where} has no burger-recs tables "
            f"({first_line(exc)}): create them with `burger-recs migrate` (`burger-recs run` "
            "does before its run; on a cluster the deploy's burger-recs-migrate Job does)"
        ) from exc
    if revisions != [SCHEMA_REVISION]:
        found = ", ".join(revisions) or "none"
        raise SchemaUnavailable(
            f"the results database {where} is at schema revision {found}, this code needs "
            f"{SCHEMA_REVISION}: run `burger-recs migrate` with this version (on a cluster "
            "the deploy's burger-recs-migrate Job does)"
        )


# SQLSTATEs of a table or schema that does not exist (PostgreSQL's undefined_table and
# invalid_schema_name); SQLite says "no such table".
_MISSING_SQLSTATES = {"42P01", "3F000"}


def _no_such_table(exc: sa.exc.DBAPIError) -> bool:
    """Tell whether a database error says that a table (or its schema) does not exist."""
    orig = exc.orig or exc
    sqlstate = getattr(orig, "sqlstate", None)
    return sqlstate in _MISSING_SQLSTATES or "no such table" in str(orig)


def is_transient(exc: BaseException) -> bool:
    """Tell whether a database error may go away on retry (the server went away...).

    Takes SQLAlchemy's wrapped errors and the drivers' own (psycopg raises its errors
    directly from COPY). Wrong passwords, missing databases or tables and SQL errors are
    permanent.
    """
    if isinstance(exc, sa.exc.DBAPIError):
        if exc.connection_invalidated:
            return True
        orig: BaseException = exc.orig or exc
        operational = isinstance(exc, sa.exc.OperationalError)
    elif isinstance(exc, psycopg.Error | sqlite3.Error):
        orig = exc
        operational = isinstance(exc, psycopg.OperationalError | sqlite3.OperationalError)
    else:
        return False
    sqlstate = getattr(orig, "sqlstate", None)
    if sqlstate:
        return sqlstate.startswith(_TRANSIENT_SQLSTATE_PREFIXES) or sqlstate in (
            _TRANSIENT_SQLSTATES
        )
    message = str(orig).lower()
    return operational and any(m in message for m in _TRANSIENT_MESSAGES)


def with_retries(action: Callable[[], T], seconds: float | None = None) -> T:
    """Run ``action``, retrying transient database errors with exponential backoff.

    Args:
        action: the whole unit of work (a transaction), so a retry redoes all of it.
        seconds: the retry budget (default ``BURGER_RECS_DB_RETRY_SECONDS`` or 120).
    """
    budget = (
        seconds
        if seconds is not None
        else float(os.environ.get(RETRY_SECONDS_ENV, DEFAULT_RETRY_SECONDS))
    )
    retrying = retry(
        retry=retry_if_exception(is_transient),
        stop=stop_after_delay(budget),
        wait=wait_exponential(multiplier=0.5, max=10),
        before_sleep=before_sleep_log(log, logging.WARNING),
        reraise=True,
    )
    return retrying(action)()


def customer_recommendations(
    engine: sa.Engine, customer_id: str, run_date: dt.date | None = None
) -> tuple[dt.date | None, list[sa.Row]]:
    """Return a customer's recommendations for ``run_date`` (default: their latest day).

    Returns:
        The day shown and its rows (rank, item_id, name, ingredients, score,
        model_version, code_version), best first.
    """
    r, m = recommendations.c, menu_items.c
    with engine.connect() as conn:
        if run_date is None:
            run_date = conn.execute(
                sa.select(sa.func.max(r.run_date)).where(r.customer_id == customer_id)
            ).scalar()
        if run_date is None:
            return None, []
        query = (
            sa.select(
                r.rank,
                r.item_id,
                m.name,
                m.ingredients,
                r.score,
                r.model_version,
                r.code_version,
            )
            .select_from(recommendations.outerjoin(menu_items, m.item_id == r.item_id))
            .where(r.customer_id == customer_id, r.run_date == run_date)
            .order_by(r.rank)
        )
        return run_date, list(conn.execute(query))


# ---------------------------------------------------------------------------------------------
# Writing rows: upserts and bulk loads (COPY on PostgreSQL, executemany on SQLite)
# ---------------------------------------------------------------------------------------------
def upsert(conn: sa.Connection, table: sa.Table, rows: list[dict]) -> None:
    """Insert ``rows`` into ``table``, replacing the rows with the same primary key."""
    if not rows:
        return
    insert = pg_insert if conn.engine.dialect.name == "postgresql" else sqlite_insert
    stmt = insert(table)
    keys = [c.name for c in table.primary_key.columns]
    stmt = stmt.on_conflict_do_update(
        index_elements=keys,
        set_={c: stmt.excluded[c] for c in rows[0] if c not in keys},
    )
    conn.execute(stmt, rows)


def copy_statement(conn: sa.Connection, table: sa.Table) -> str:
    """Return ``COPY <table> (<columns>) FROM STDIN``: checked, quoted identifiers, no values.

    The table's schema comes from configuration (``BURGER_RECS_DB_SCHEMA``), so every name is
    checked to be a plain identifier again here, where it is put into SQL text.
    """
    quote = conn.dialect.identifier_preparer.quote
    schema = conn.schema_for_object(table)
    name = quote(sql_identifier(table.name))
    if schema is not None:
        name = f"{quote(sql_identifier(schema, 'schema'))}.{name}"
    columns = ", ".join(quote(sql_identifier(c.name)) for c in table.columns)
    return f"COPY {name} ({columns}) FROM STDIN"


# Rows converted and handed to the driver at a time.
LOAD_CHUNK = 1 << 16


def load_rows(conn: sa.Connection, table: sa.Table, rows: pd.DataFrame) -> None:
    """Write a frame's rows into ``table`` inside ``conn``'s transaction.

    On PostgreSQL the rows go through COPY one ``write_row`` at a time, every value as text;
    on SQLite through ``executemany``. They reach the driver in chunks of
    :data:`LOAD_CHUNK`, each converted from whole columns through Arrow
    (:func:`_driver_values`), never through per-row dicts or ``itertuples``, whose cost
    rivalled the database's own work.
    """
    copy = conn.engine.dialect.name == "postgresql"
    names = [c.name for c in table.columns]
    chunks = (
        [_driver_values(rows[name].iloc[start : start + LOAD_CHUNK], copy) for name in names]
        for start in range(0, len(rows), LOAD_CHUNK)
    )
    driver = conn.connection.driver_connection
    assert driver is not None, "a connection in use always has its driver's connection"
    if copy:
        cursor = driver.cursor()
        with cursor.copy(copy_statement(conn, table)) as writer:
            for columns in chunks:
                for row in zip(*columns, strict=True):
                    writer.write_row(row)
    else:
        insert = str(sa.insert(table).compile(dialect=conn.dialect))
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


def menu_rows(menu: pd.DataFrame | None, run_date: dt.date) -> list[dict]:
    """Return the ``menu_items`` rows of the items on the menu on ``run_date``.

    Items that have left the menu (``on_menu`` False) keep the ``last_seen`` of the last
    day they were on it.
    """
    if menu is None:
        return []
    if "on_menu" in menu.columns:
        menu = menu[menu["on_menu"].astype(bool)]
    return [
        {
            "item_id": str(item.item_id),
            "name": str(item.name),
            "ingredients": str(item.ingredients),
            # pandas-stubs types a row field as any scalar; the price column is numeric.
            "price": float(item.price),  # type: ignore[arg-type]
            "last_seen": run_date,
        }
        for item in menu.itertuples(index=False)
    ]


def first_customer(engine: sa.Engine, run_date: dt.date) -> str | None:
    """Return the first customer (by id) with recommendations on ``run_date``, if any."""
    with engine.connect() as conn:
        return conn.execute(
            sa.select(recommendations.c.customer_id)
            .where(recommendations.c.run_date == run_date)
            .order_by(recommendations.c.customer_id)
            .limit(1)
        ).scalar()
