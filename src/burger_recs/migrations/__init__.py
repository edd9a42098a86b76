"""The results database's schema, owned by its migrations (Alembic), applied once per deploy.

No step creates or alters a table: ``burger-recs run`` and ``burger-recs backfill`` migrate the
database before their runs start, and on a cluster the deploy's ``burger-recs-migrate`` Job
(``python -m burger_recs.migrations``, an Argo CD PreSync hook) does, with the owner's
credential. The steps only check that the database is at the revision their code was written
for (:func:`burger_recs.db.require_schema`, one query, no Alembic import).

A new migration: ``.venv/bin/alembic revision -m "what changes"`` (alembic.ini at the
repository's root points here), write its ``upgrade``, then set
:data:`burger_recs.contract.SCHEMA_REVISION` to its revision; tests/unit/test_migrations.py
checks that the head matches it and that the migrated tables are the contract's.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from burger_recs import db
from burger_recs.contract import model_artifacts, models, sql_identifier, step_failures

log = logging.getLogger(__name__)

FOLDER = Path(__file__).resolve().parent
# The role of the steps that only leave failure notes (burger_recs.runs.note_failure): given
# to ``migrate`` (or this variable for the Job), it gets exactly what a note needs.
NOTES_ROLE_ENV = "BURGER_RECS_NOTES_ROLE"
# The role of the steps that read the champion and may leave a failure note (check-inputs,
# evaluate, recommend): :func:`grant_reader`.
READER_ROLE_ENV = "BURGER_RECS_READER_ROLE"


def config() -> Config:
    """Return the Alembic configuration of the project's migrations (no ini file needed)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(FOLDER))
    return cfg


def head() -> str:
    """Return the newest revision of the migrations."""
    revision = ScriptDirectory.from_config(config()).get_current_head()
    assert revision is not None, "the migrations have a head"
    return revision


def current(engine: sa.Engine) -> str | None:
    """Return the revision the database is at, or None before its first migration."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn, opts=_options(engine)).get_current_revision()


def migrate(
    engine: sa.Engine, notes_role: str | None = None, reader_role: str | None = None
) -> str:
    """Bring the database's tables to the newest revision; grant the notes role its rights.

    Safe to run again: a database at the head is left as it is. A database whose tables an
    earlier version created (without a revision) is adopted by the first migration, which
    only creates what is missing.

    Args:
        engine: the results database, connected as the tables' owner.
        notes_role: a PostgreSQL role to grant what a failure note needs and nothing else
            (:func:`grant_notes`); default ``BURGER_RECS_NOTES_ROLE``, if set.
        reader_role: a PostgreSQL role to grant what reading the champion and a failure note
            need (:func:`grant_reader`); default ``BURGER_RECS_READER_ROLE``, if set.

    Returns:
        The revision the database is at.

    Raises:
        burger_recs.db.SchemaUnavailable: the tables cannot be created there (no privilege
            to, or the configured schema does not exist); the message says which and why.
    """
    cfg = config()
    before = None

    def upgrade() -> None:
        nonlocal before
        with engine.begin() as conn:
            before = MigrationContext.configure(conn, opts=_options(engine)).get_current_revision()
            cfg.attributes["connection"] = conn
            cfg.attributes["options"] = _options(engine)
            command.upgrade(cfg, "head")

    try:
        db.with_retries(upgrade)
    except sa.exc.DBAPIError as exc:
        if db.is_transient(exc):
            raise
        raise db.SchemaUnavailable(
            f"cannot migrate the tables of {db.redact(str(engine.url))}"
            f"{_where(engine)}: {db.first_line(exc)}"
        ) from exc
    revision = head()
    if before != revision:
        log.info("migrated %s from %s to %s", db.redact(str(engine.url)), before, revision)
    role = notes_role if notes_role is not None else os.environ.get(NOTES_ROLE_ENV, "")
    if role:
        grant_notes(engine, role)
    role = reader_role if reader_role is not None else os.environ.get(READER_ROLE_ENV, "")
    if role:
        grant_reader(engine, role)
    return revision


def grant_notes(engine: sa.Engine, role: str) -> None:
    """Let ``role`` write failure notes and nothing else (PostgreSQL).

    A note is an upsert into ``step_failures`` (burger_recs.runs.note_failure, a retried step
    replaces its note): INSERT, UPDATE and SELECT on that table, which PostgreSQL 15 needs for
    ``ON CONFLICT DO UPDATE`` (column-level SELECT on the key is refused). No other table is
    granted, so a note's credential can neither read nor change recommendations, models or
    runs, nor alter or create a table.

    Raises:
        ValueError: the role is not a plain identifier, or the database is not PostgreSQL.
    """
    if engine.dialect.name != "postgresql":
        raise ValueError(f"{NOTES_ROLE_ENV}={role}: roles are for PostgreSQL; unset it")
    name = sql_identifier(role, NOTES_ROLE_ENV)
    schema = db.engine_schema(engine)
    qualified = f"{schema}.{step_failures.name}" if schema else step_failures.name
    with engine.begin() as conn:
        if schema:
            conn.exec_driver_sql(f"GRANT USAGE ON SCHEMA {schema} TO {name}")
        conn.exec_driver_sql(f"GRANT SELECT, INSERT, UPDATE ON {qualified} TO {name}")
    log.info("granted %s what a failure note needs, on %s only", name, qualified)


def grant_reader(engine: sa.Engine, role: str) -> None:
    """Let ``role`` read the champion and write failure notes, and nothing else (PostgreSQL).

    What check-inputs, evaluate and recommend do with the database: the schema's revision
    (:func:`burger_recs.db.require_schema`), the champion's row and scorers
    (:mod:`burger_recs.champion`: ``models``, ``model_artifacts``), and a note when they fail
    (:func:`grant_notes`). No recommendations, no runs, no writes but notes.

    Raises:
        ValueError: the role is not a plain identifier, or the database is not PostgreSQL.
    """
    grant_notes(engine, role)  # checks the role and the dialect too
    name = sql_identifier(role, READER_ROLE_ENV)
    schema = db.engine_schema(engine)
    tables = ", ".join(
        f"{schema}.{table}" if schema else table
        for table in ("alembic_version", models.name, model_artifacts.name)
    )
    with engine.begin() as conn:
        conn.exec_driver_sql(f"GRANT SELECT ON {tables} TO {name}")
    log.info("granted %s reading the champion and writing notes, nothing else", name)


def _options(engine: sa.Engine) -> dict:
    """Return the migration context's options: where the revision table lives."""
    schema = db.engine_schema(engine)
    return {"version_table_schema": schema} if schema else {}


def _where(engine: sa.Engine) -> str:
    schema = db.engine_schema(engine)
    return f" in schema {schema} ({db.SCHEMA_ENV})" if schema else ""
