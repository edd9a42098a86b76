"""Guarantee 3 (database): transient faults are retried, permanent ones fail fast and clearly.

The transient fault is real: the PostgreSQL server is stopped (``pg_ctl stop -m fast``, which
ends the open sessions) while a publishing process is in the middle of its COPY, and started
again once the publisher has been refused at least once. The retry budget is kept small
(``BURGER_RECS_DB_RETRY_SECONDS``). These tests stop and start a private server of their own
(tests/reliability/conftest.py), never the shared one.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from burger_recs import db
from burger_recs.migrations import migrate
from burger_recs.steps.publish import publish
from tests.support import figures, workers
from tests.support.database import drop_tables, published_day
from tests.support.services import PrivateServer
from tests.support.workers import CONTEXT, Stop

pytestmark = pytest.mark.postgres

CUSTOMERS = 100


@pytest.fixture
def server(private_postgres: PrivateServer) -> Iterator[PrivateServer]:
    """The private server, running, its tables dropped and migrated anew; running afterwards."""
    private_postgres.start_if_stopped()
    engine = db.make_engine(private_postgres.url)
    drop_tables(engine)
    migrate(engine)
    engine.dispose()
    yield private_postgres
    private_postgres.start_if_stopped()


def _publish_v0(url: str) -> sa.Engine:
    engine = db.make_engine(url)
    publish(engine, workers.record(0, CUSTOMERS), workers.day_recs(0, CUSTOMERS), workers.MENU)
    engine.dispose()
    return engine


def _state(engine: sa.Engine) -> set[str]:
    return {r[4] for r in published_day(engine, workers.DAY)}


def test_the_server_going_away_mid_publish_is_retried_until_it_is_back(server):
    engine = _publish_v0(server.url)
    release = CONTEXT.Value("q", 0)
    # The publisher holds in the middle of its COPY until the server is down.
    child = workers.start(
        workers.publisher,
        server.url,
        1,
        CUSTOMERS,
        Stop("load", row=len(workers.expected_rows(1, CUSTOMERS)) // 2, hold=1),
        reads=release,
        retry_seconds=60,
    )
    assert child.wait_for("holding")[0] == "holding", child.messages
    server.stop()
    with release.get_lock():
        release.value += 1
    first = child.wait_for("retry")
    second = child.wait_for("retry")  # the server is still down: refused, retried again
    assert first[0] == second[0] == "retry", child.messages
    server.start()
    assert child.finish() == 0, child.messages

    retries = [m[1] for m in child.messages if m[0] == "retry"]
    assert "OperationalError" in retries[0]
    assert any("refused" in r.lower() for r in retries[1:]), retries
    assert _state(engine) == {workers.model_version(1)}
    assert set(published_day(engine, workers.DAY)) == workers.expected_rows(1, CUSTOMERS)
    assert workers.run_records(engine)[workers.run_id(1)][1] == "published"
    figures.add(
        "server stopped mid-publish (postgresql)",
        **{"retries": len(retries)},
        **{"publish completed": 1},
        lost=0,
    )


def test_a_server_away_longer_than_the_retry_budget_fails_and_keeps_the_old_day(server):
    engine = _publish_v0(server.url)
    release = CONTEXT.Value("q", 0)
    child = workers.start(
        workers.publisher,
        server.url,
        1,
        CUSTOMERS,
        Stop("deleted", hold=1),
        reads=release,
        retry_seconds=1.5,
    )
    assert child.wait_for("holding")[0] == "holding", child.messages
    server.stop()
    with release.get_lock():
        release.value += 1
    error = child.wait_for("error")
    assert child.finish() != 0
    server.start()

    assert error[0] == "error", child.messages
    assert error[1].startswith("OperationalError"), error
    assert any(m[0] == "retry" for m in child.messages), child.messages
    assert _state(engine) == {workers.model_version(0)}
    assert set(published_day(engine, workers.DAY)) == workers.expected_rows(0, CUSTOMERS)
    assert workers.run_id(1) not in workers.run_records(engine)


def test_a_wrong_password_fails_at_once_and_says_so(server, no_sleep):
    wrong = sa.make_url(server.url).set(password="not-the-password-42")
    engine = db.make_engine(wrong.render_as_string(hide_password=False))
    with pytest.raises(sa.exc.OperationalError) as failure:
        publish(engine, workers.record(1, CUSTOMERS), workers.day_recs(1, CUSTOMERS))
    message = str(failure.value)
    assert "password authentication failed for user" in message
    assert "not-the-password-42" not in message
    assert no_sleep == []  # not retried


def test_a_role_that_may_not_create_tables_cannot_migrate_and_its_steps_name_the_fix(
    server, no_sleep
):
    """A role that may write rows but not create tables: only the owner migrates."""
    owner = db.make_engine(server.url)
    drop_tables(owner)  # a database nobody has migrated
    role, password = "burger_writer", "writer-pw-7"
    url = sa.make_url(server.url).set(username=role, password=password)
    with owner.begin() as conn:
        conn.exec_driver_sql(f"DROP ROLE IF EXISTS {role}")
        conn.exec_driver_sql(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'")
    try:
        writer = db.make_engine(url.render_as_string(hide_password=False))
        with pytest.raises(db.SchemaUnavailable) as failure:
            publish(writer, workers.record(1, CUSTOMERS), workers.day_recs(1, CUSTOMERS))
        message = str(failure.value)
        assert "has no burger-recs tables" in message and "burger-recs migrate" in message
        assert f"{role}:***@" in message and password not in message
        with pytest.raises(db.SchemaUnavailable) as failure:
            migrate(writer)
        message = str(failure.value)
        assert "cannot migrate" in message and "permission denied for schema public" in message
        assert f"{role}:***@" in message and password not in message
        assert no_sleep == []
        writer.dispose()

        # Once the owner migrated and granted rows, the same role publishes fine.
        migrate(owner)
        with owner.begin() as conn:
            conn.exec_driver_sql(
                f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}"
            )
        rows = publish(writer, workers.record(1, CUSTOMERS), workers.day_recs(1, CUSTOMERS))
        assert rows == len(workers.expected_rows(1, CUSTOMERS))
        writer.dispose()
    finally:
        with owner.begin() as conn:
            conn.exec_driver_sql(f"DROP OWNED BY {role}")
            conn.exec_driver_sql(f"DROP ROLE {role}")
        owner.dispose()


def test_a_configured_schema_that_does_not_exist_fails_at_once_and_is_named(server, no_sleep):
    engine = db.make_engine(server.url, schema="shop_recs_missing")
    with pytest.raises(db.SchemaUnavailable) as failure:
        publish(engine, workers.record(1, CUSTOMERS), workers.day_recs(1, CUSTOMERS))
    message = str(failure.value)
    assert "(schema shop_recs_missing, BURGER_RECS_DB_SCHEMA)" in message
    assert "has no burger-recs tables" in message
    with pytest.raises(db.SchemaUnavailable) as failure:
        migrate(engine)
    message = str(failure.value)
    assert "in schema shop_recs_missing (BURGER_RECS_DB_SCHEMA)" in message
    assert 'schema "shop_recs_missing" does not exist' in message
    assert no_sleep == []
