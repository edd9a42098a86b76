"""The results database helpers (burger_recs.db): URLs, engines, error triage and retries."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from burger_recs import db


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port of 127.0.0.1 that is bound but not listening: connecting to it is refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


def connect_to(url: str) -> None:
    engine = db.make_engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    finally:
        engine.dispose()


def error_of(action) -> BaseException:
    with pytest.raises(sa.exc.DBAPIError) as info:
        action()
    return info.value


def test_redact_hides_the_password_and_keeps_the_rest():
    shown = db.redact("postgresql://burger:s3cr%40t@db.internal:5432/recs")
    assert "s3cr" not in shown
    assert shown == "postgresql://burger:***@db.internal:5432/recs"
    assert db.redact("sqlite:////data/recs.db") == "sqlite:////data/recs.db"
    assert db.redact("not a url") == "<unparseable database URL>"
    # psycopg also takes a password as a query parameter: hidden too.
    query = db.redact("postgresql://burger@db.internal/recs?password=s3cret&sslmode=require")
    assert "s3cret" not in query and "password=%2A%2A%2A" in query and "sslmode=require" in query


def test_database_url_prefers_the_argument_then_the_environment(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "sqlite:////env/recs.db")
    assert db.database_url() == "sqlite:////env/recs.db"
    assert db.database_url("sqlite:////arg/recs.db") == "sqlite:////arg/recs.db"


def test_database_url_without_configuration_names_database_url(monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    with pytest.raises(db.DatabaseNotConfigured, match="DATABASE_URL"):
        db.database_url()
    monkeypatch.setenv("DATABASE_URL", "")
    with pytest.raises(db.DatabaseNotConfigured, match="DATABASE_URL"):
        db.make_engine()


def test_postgresql_urls_use_psycopg_3():
    engine = db.make_engine("postgresql://burger@127.0.0.1:5432/recs")
    assert engine.dialect.driver == "psycopg"
    assert db.make_engine("postgres://burger@127.0.0.1/recs").dialect.driver == "psycopg"


def test_sqlite_runs_in_wal_mode_and_gets_its_folder(tmp_path):
    path = tmp_path / "nested" / "folder" / "recs.db"
    engine = db.make_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
    finally:
        engine.dispose()
    assert path.is_file()


def test_a_refused_connection_is_transient(closed_port):
    error = error_of(lambda: connect_to(f"postgresql://burger:pw@127.0.0.1:{closed_port}/db"))
    assert isinstance(error, sa.exc.OperationalError)
    assert db.is_transient(error)


def test_raw_driver_errors_are_classified_too(closed_port):
    # psycopg raises its own errors from COPY, unwrapped by SQLAlchemy.
    import psycopg

    with pytest.raises(psycopg.OperationalError) as info:
        psycopg.connect(f"host=127.0.0.1 port={closed_port} user=x")
    refused = info.value
    assert db.is_transient(refused)
    assert not db.is_transient(psycopg.errors.UniqueViolation("duplicate key"))


@pytest.mark.postgres
def test_a_wrong_password_is_permanent(postgres_url):
    wrong = sa.make_url(postgres_url).set(password="not-the-password")
    error = error_of(lambda: connect_to(wrong.render_as_string(hide_password=False)))
    assert "password authentication failed" in str(error)
    assert not db.is_transient(error)


def test_a_missing_table_is_permanent(engine):
    def query() -> None:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT * FROM no_such_table"))

    assert not db.is_transient(error_of(query))


def test_errors_that_are_not_database_errors_are_not_transient():
    assert not db.is_transient(ValueError("connection refused"))
    assert not db.is_transient(ConnectionRefusedError())


def test_with_retries_retries_a_transient_error_until_it_succeeds(closed_port, no_sleep):
    calls = []

    def action() -> str:
        calls.append(1)
        if len(calls) <= 2:
            connect_to(f"postgresql://burger:pw@127.0.0.1:{closed_port}/db")
        return "done"

    assert db.with_retries(action, seconds=60) == "done"
    assert len(calls) == 3
    assert len(no_sleep) == 2
    assert no_sleep[1] > no_sleep[0]  # exponential backoff


def test_with_retries_does_not_retry_a_permanent_error(sqlite_engine, no_sleep):
    calls = []

    def action() -> None:
        calls.append(1)
        with sqlite_engine.connect() as conn:
            conn.execute(sa.text("SELECT * FROM no_such_table"))

    with pytest.raises(sa.exc.OperationalError, match="no such table"):
        db.with_retries(action, seconds=60)
    assert calls == [1]
    assert no_sleep == []


def test_with_retries_gives_up_when_the_budget_is_spent(closed_port, no_sleep):
    calls = []

    def action() -> None:
        calls.append(1)
        connect_to(f"postgresql://burger:pw@127.0.0.1:{closed_port}/db")

    with pytest.raises(sa.exc.OperationalError):
        db.with_retries(action, seconds=0)
    assert calls == [1]
