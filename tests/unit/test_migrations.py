"""The schema is the migrations': one owner creates and changes tables, no step does."""

from __future__ import annotations

import contextlib
import datetime as dt

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from burger_recs import db, runs
from burger_recs.contract import SCHEMA_REVISION, metadata
from burger_recs.migrations import current, head, migrate
from burger_recs.steps.publish import publish
from tests.support import workers

CUSTOMERS = 20


@pytest.fixture
def bare(tmp_path) -> sa.Engine:
    """A SQLite database nobody has migrated."""
    engine = db.make_engine(f"sqlite:///{tmp_path / 'bare.db'}")
    yield engine
    engine.dispose()


def test_the_code_needs_the_newest_migration():
    assert head() == SCHEMA_REVISION


def test_the_migrated_tables_are_the_contracts(engine):
    """Types, nullability, keys and indexes: what autogenerate would still have to write."""
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, metadata) == []
    assert current(engine) == SCHEMA_REVISION


def test_migrating_again_changes_nothing_and_keeps_rows(engine):
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO menu_items (item_id, name, ingredients, last_seen) "
                "VALUES ('i1', 'Combo', 'beef', '2026-03-28')"
            )
        )
    assert migrate(engine) == SCHEMA_REVISION
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM menu_items")).scalar() == 1


def test_a_database_an_older_version_made_is_adopted_with_its_rows(bare):
    """Before migrations, steps created the tables; served_by came later, as a new column."""
    with bare.begin() as conn:
        conn.execute(
            sa.text(
                "CREATE TABLE pipeline_runs (run_id VARCHAR(128) PRIMARY KEY, run_date DATE "
                "NOT NULL, status VARCHAR(16) NOT NULL, code_version VARCHAR(80) NOT NULL, "
                "model_version VARCHAR(80), started_at DATETIME, finished_at DATETIME NOT NULL,"
                " metrics JSON, params JSON, rows_written INTEGER NOT NULL, customers INTEGER, "
                "message TEXT, data_uri TEXT)"
            )
        )
        conn.execute(sa.text("CREATE INDEX ix_pipeline_runs_run_date ON pipeline_runs (run_date)"))
        conn.execute(
            sa.text(
                "INSERT INTO pipeline_runs (run_id, run_date, status, code_version, "
                "finished_at, rows_written) VALUES ('old', '2026-03-01', 'published', 'c1', "
                "'2026-03-01 04:00:00', 10)"
            )
        )
    assert current(bare) is None
    migrate(bare)
    assert current(bare) == SCHEMA_REVISION
    columns = {c["name"] for c in sa.inspect(bare).get_columns("pipeline_runs")}
    assert "served_by" in columns
    assert runs.find_run(bare, "old").rows_written == 10
    assert set(metadata.tables) <= set(sa.inspect(bare).get_table_names())


def test_a_step_on_a_database_never_migrated_stops_and_creates_nothing(bare):
    with pytest.raises(db.SchemaUnavailable) as failure:
        publish(bare, workers.record(1, CUSTOMERS), workers.day_recs(1, CUSTOMERS))
    message = str(failure.value)
    assert "has no burger-recs tables" in message and "burger-recs migrate" in message
    assert str(bare.url.database) in message
    assert sa.inspect(bare).get_table_names() == []


def test_a_step_on_another_revision_stops_and_changes_nothing(engine):
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '0099'"))
    with pytest.raises(db.SchemaUnavailable) as failure:
        publish(engine, workers.record(1, CUSTOMERS), workers.day_recs(1, CUSTOMERS))
    assert f"at schema revision 0099, this code needs {SCHEMA_REVISION}" in str(failure.value)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM recommendations")).scalar() == 0
        assert conn.execute(sa.text("SELECT count(*) FROM pipeline_runs")).scalar() == 0


def test_a_configured_schema_is_migrated_and_its_tables_are_there(postgres_url):
    owner = db.make_engine(postgres_url)
    with owner.begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA IF EXISTS shop_migrated CASCADE")
        conn.exec_driver_sql("CREATE SCHEMA shop_migrated")
    engine = db.make_engine(postgres_url, schema="shop_migrated")
    try:
        migrate(engine)
        tables = set(sa.inspect(owner).get_table_names(schema="shop_migrated"))
        assert set(metadata.tables) | {"alembic_version"} <= tables
        db.require_schema(engine)
        rows = publish(engine, workers.record(1, CUSTOMERS), workers.day_recs(1, CUSTOMERS))
        assert rows == len(workers.expected_rows(1, CUSTOMERS))
    finally:
        engine.dispose()
        with owner.begin() as conn:
            conn.exec_driver_sql("DROP SCHEMA shop_migrated CASCADE")
        owner.dispose()


NOTES_ROLE, NOTES_PASSWORD = "burger_notes_test", "notes-pw-3"


@contextlib.contextmanager
def _granted_role(owner, postgres_url, role, password, **grant):
    """A login role made anew, granted by the migration (``grant``: its role argument)."""
    with owner.begin() as conn:
        if conn.exec_driver_sql(f"SELECT 1 FROM pg_roles WHERE rolname = '{role}'").first():
            conn.exec_driver_sql(f"DROP OWNED BY {role}")
        conn.exec_driver_sql(f"DROP ROLE IF EXISTS {role}")
        conn.exec_driver_sql(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'")
    migrate(owner, **grant)
    try:
        url = sa.make_url(postgres_url).set(username=role, password=password)
        yield url.render_as_string(hide_password=False)
    finally:
        with owner.begin() as conn:
            conn.exec_driver_sql(f"DROP OWNED BY {role}")
            conn.exec_driver_sql(f"DROP ROLE {role}")


@pytest.fixture
def notes_url(pg_engine, postgres_url) -> str:
    """A login role that the migration grants what a failure note needs."""
    with _granted_role(
        pg_engine, postgres_url, NOTES_ROLE, NOTES_PASSWORD, notes_role=NOTES_ROLE
    ) as url:
        yield url


def test_the_notes_role_writes_a_note_and_nothing_else(pg_engine, notes_url, monkeypatch):
    # What a step that only notes failures gets on a cluster (components/cluster.py).
    monkeypatch.setenv(runs.NOTES_DATABASE_URL_ENV, notes_url)
    monkeypatch.delenv(db.DATABASE_URL_ENV, raising=False)
    assert runs.note_failure("train", "run-1", "first try failed", expected=False)
    assert runs.note_failure("train", "run-1", "the retry failed too", expected=True)
    notes = runs.failure_notes(pg_engine, "run-1")
    assert [(n.step, n.message, n.expected) for n in notes] == [
        ("train", "the retry failed too", True)
    ]

    notes_engine = db.make_engine(notes_url)
    forbidden = {
        "read recommendations": "SELECT * FROM recommendations",
        "read models": "SELECT * FROM models",
        "read the champion's scorers": "SELECT * FROM model_artifacts",
        "read runs": "SELECT * FROM pipeline_runs",
        "delete notes": "DELETE FROM step_failures",
        "change recommendations": "DELETE FROM recommendations",
        "change models": "UPDATE models SET champion = false",
        "change runs": (
            "INSERT INTO pipeline_runs (run_id, run_date, status, code_version, finished_at, "
            f"rows_written) VALUES ('x', '{dt.date(2026, 3, 1)}', 'published', 'c', now(), 0)"
        ),
        "alter a table": "ALTER TABLE step_failures ADD COLUMN extra TEXT",
        "create a table": "CREATE TABLE sneaky (x INT)",
    }
    refused = r"permission denied|must be owner"
    for what, statement in forbidden.items():
        with pytest.raises(sa.exc.ProgrammingError, match=refused), notes_engine.begin() as conn:
            conn.exec_driver_sql(statement)
            pytest.fail(f"the notes role could {what}")
    notes_engine.dispose()


def test_a_notes_role_is_for_postgresql_only(sqlite_engine):
    with pytest.raises(ValueError, match="roles are for PostgreSQL"):
        migrate(sqlite_engine, notes_role="burger_notes")


def test_a_database_at_an_older_revision_is_brought_to_the_head_with_its_rows(bare):
    from alembic import command

    from burger_recs.migrations import config

    cfg = config()
    with bare.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")
    assert current(bare) == "0001"
    with bare.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO step_failures (run_id, step, message, expected, noted_at) "
                "VALUES ('r1', 'train', 'it broke', 0, '2026-03-01 04:00:00')"
            )
        )
    with pytest.raises(db.SchemaUnavailable, match="at schema revision 0001, this code needs"):
        db.require_schema(bare)
    migrate(bare)
    (note,) = runs.failure_notes(bare, "r1")
    assert (note.message, note.log_tail) == ("it broke", None)
    db.require_schema(bare)


READER_ROLE, READER_PASSWORD = "burger_reader_test", "reader-pw-5"


@pytest.fixture
def reader_url(pg_engine, postgres_url) -> str:
    """A login role that the migration grants reading the champion and writing notes."""
    with _granted_role(
        pg_engine, postgres_url, READER_ROLE, READER_PASSWORD, reader_role=READER_ROLE
    ) as url:
        yield url


def test_the_reader_role_reads_the_champion_writes_notes_and_nothing_else(
    pg_engine, reader_url, monkeypatch
):
    """What check-inputs, evaluate and recommend log in as on a cluster (cluster.READER)."""
    from burger_recs.champion import current_champion

    # A champion with its scorers, as publish leaves it.
    publish(
        pg_engine,
        workers.record(1, CUSTOMERS),
        workers.day_recs(1, CUSTOMERS),
    )
    reader = db.make_engine(reader_url)
    db.require_schema(reader)
    assert current_champion(reader) == current_champion(pg_engine)
    monkeypatch.setenv(db.DATABASE_URL_ENV, reader_url)  # the Secret's key for those steps
    monkeypatch.delenv(runs.NOTES_DATABASE_URL_ENV, raising=False)
    assert runs.note_failure("evaluate", "run-2", "the champion's scorer is gone", False)
    with reader.connect() as conn:
        conn.exec_driver_sql("SELECT model_version FROM models").all()
        conn.exec_driver_sql("SELECT kind FROM model_artifacts").all()
    refused = r"permission denied|must be owner"
    for statement in (
        "SELECT * FROM recommendations",
        "SELECT * FROM pipeline_runs",
        "UPDATE models SET champion = false",
        "DELETE FROM model_artifacts",
        "DELETE FROM recommendations",
        "ALTER TABLE models ADD COLUMN extra TEXT",
    ):
        with pytest.raises(sa.exc.ProgrammingError, match=refused), reader.begin() as conn:
            conn.exec_driver_sql(statement)
            pytest.fail(f"the reader role could: {statement}")
    reader.dispose()
