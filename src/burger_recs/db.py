"""The results database: connection, schema, retries and the queries the CLI shows.

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
from typing import TypeVar

import psycopg
import sqlalchemy as sa
from tenacity import (
    before_sleep_log,
    retry,
    retry_if_exception,
    stop_after_delay,
    wait_exponential,
)

from burger_recs.contract import (
    menu_items,
    metadata,
    pipeline_runs,
    recommendations,
    sql_identifier,
)

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


class DatabaseNotConfigured(RuntimeError):
    """No DATABASE_URL in the environment."""


class SchemaUnavailable(RuntimeError):
    """The output tables are missing and cannot be created there (a permanent error)."""


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
    """Return the URL with its password hidden, for messages and logs."""
    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "<unparseable database URL>"


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
        def _sqlite_pragmas(dbapi_connection, _record) -> None:
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


def ensure_schema(engine: sa.Engine) -> None:
    """Create the output tables that do not exist yet (existing ones are left alone).

    Raises:
        SchemaUnavailable: a table is missing and cannot be created (no privilege to, or
            the configured schema does not exist); the message names the tables and why.
    """
    try:
        with_retries(lambda: metadata.create_all(engine, checkfirst=True))
    except sa.exc.DBAPIError as exc:
        problem = None if is_transient(exc) else _missing_tables_problem(engine, exc)
        if problem is None:
            raise  # not about missing tables (a wrong password says so itself)
        raise SchemaUnavailable(problem) from exc


def _missing_tables_problem(engine: sa.Engine, exc: sa.exc.DBAPIError) -> str | None:
    """Describe why missing tables cannot be created, or None if no table is missing."""
    schema = (engine.get_execution_options().get("schema_translate_map") or {}).get(None)
    try:
        inspector = sa.inspect(engine)
        tables = metadata.sorted_tables
        missing = [t.name for t in tables if not inspector.has_table(t.name, schema=schema)]
    except sa.exc.SQLAlchemyError:
        return None
    if not missing:
        return None
    where = f"schema {schema} ({SCHEMA_ENV}) of " if schema else ""
    reason = str(exc.orig or exc).strip().splitlines()[0]
    return (
        f"the output table(s) {', '.join(missing)} are missing in {where}"
        f"{engine.url.render_as_string(hide_password=True)} and cannot be created: {reason}"
    )


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


def recent_runs(engine: sa.Engine, limit: int = 20) -> list[sa.Row]:
    """Return the latest recorded pipeline runs, newest first."""
    c = pipeline_runs.c
    query = sa.select(pipeline_runs).order_by(c.finished_at.desc()).limit(limit)
    with engine.connect() as conn:
        return list(conn.execute(query))
