"""Guarantee 6 (SQL): configured identifiers are validated, values are always bound parameters.

The one SQL identifier that comes from configuration is the schema of the output tables
(``BURGER_RECS_DB_SCHEMA``, PostgreSQL). It must be a plain identifier wherever it enters a
statement. Values never enter SQL text: hostile values (quotes, semicolons, SQL, COPY's
escape and end-of-data sequences, placeholders) round-trip unchanged and harm nothing, and on
PostgreSQL no value appears in any statement the driver is given. A static check keeps SQL
built from strings down to functions that check their identifiers.
"""

from __future__ import annotations

import ast
import datetime as dt
import re
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from burger_recs import db
from burger_recs.contract import metadata, pipeline_runs, recommendations, sql_identifier
from burger_recs.migrations import migrate
from burger_recs.runs import RunRecord, recent_runs
from burger_recs.steps.publish import publish
from tests.support.database import drop_tables

SRC = Path(__file__).resolve().parents[2] / "src" / "burger_recs"
DAY = dt.date(2026, 3, 28)
MARK = "hostile-7f3a"
HOSTILE = [
    f"{MARK}'); DROP TABLE recommendations; --",
    f'{MARK}" OR "1"="1',
    f"{MARK}\\.\n\\.",  # COPY's end-of-data marker, and a newline
    f"{MARK}\ttab\\N",  # COPY's field separator and its NULL
    f"{MARK} %s %(x)s :x ?",  # placeholders of every paramstyle
    f"{MARK} jalapeño 🍔 ",  # and ends with a space
]


@pytest.mark.parametrize(
    "name", ["recs", "shop_recs", "_private", "a1", "x" * 63, "user", "select"]
)
def test_plain_identifiers_are_accepted(name):
    assert sql_identifier(name) == name


@pytest.mark.parametrize(
    "name",
    [
        "",
        "Shop",
        "shop-recs",
        "shop recs",
        "shop.recs",
        'shop"; DROP TABLE recommendations; --',
        "shop'",
        "1shop",
        "x" * 64,
        "shöp",
        "shop\n",
        " shop",
        None,
    ],
)
def test_other_identifiers_are_refused(name, monkeypatch):
    with pytest.raises(ValueError, match="not a plain SQL identifier"):
        sql_identifier(name)
    if name:
        with pytest.raises(ValueError, match=f"{db.SCHEMA_ENV} .* not a plain SQL identifier"):
            db.make_engine("postgresql://burger@127.0.0.1/recs", schema=name)
        monkeypatch.setenv(db.SCHEMA_ENV, name)
        with pytest.raises(ValueError, match=db.SCHEMA_ENV):
            db.make_engine("postgresql://burger@127.0.0.1/recs")


def test_a_schema_is_refused_for_sqlite(tmp_path):
    with pytest.raises(ValueError, match=f"{db.SCHEMA_ENV}=shop.*PostgreSQL"):
        db.make_engine(f"sqlite:///{tmp_path / 'recs.db'}", schema="shop")


@pytest.mark.postgres
def test_the_copy_statement_checks_the_schema_it_is_given(pg_engine):
    # A schema that bypassed make_engine's check is still refused where it enters SQL text.
    hostile = pg_engine.execution_options(
        schema_translate_map={None: 'x"; DROP TABLE pipeline_runs; --'}
    )
    with hostile.connect() as conn, pytest.raises(ValueError, match="not a plain SQL"):
        db.copy_statement(conn, recommendations)
    with pg_engine.execution_options(schema_translate_map={None: "user"}).connect() as conn:
        assert db.copy_statement(conn, recommendations).startswith('COPY "user".recommendations (')


@pytest.mark.postgres
def test_the_tables_live_in_the_configured_schema(pg_engine, postgres_url, monkeypatch):
    with pg_engine.begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA IF EXISTS shop_recs CASCADE")
        conn.exec_driver_sql("CREATE SCHEMA shop_recs")
    monkeypatch.setenv(db.SCHEMA_ENV, "shop_recs")
    engine = db.make_engine(postgres_url)
    drop_tables(pg_engine)  # so that only the configured schema has them
    migrate(engine)
    try:
        recs = pd.DataFrame(
            {"customer_id": ["c1", "c1"], "rank": [1, 2], "item_id": ["i1", "i2"], "score": [2, 1]}
        )
        publish(engine, RunRecord("run-1", DAY, "published", model_version="m1"), recs)
        day, rows = db.customer_recommendations(engine, "c1")
        assert day == DAY and [r.item_id for r in rows] == ["i1", "i2"]
        assert [r.run_id for r in recent_runs(engine)] == ["run-1"]
        inspector = sa.inspect(pg_engine)
        names = {t.name for t in metadata.sorted_tables}
        assert names <= set(inspector.get_table_names(schema="shop_recs"))
        assert not names & set(inspector.get_table_names(schema="public"))
    finally:
        engine.dispose()
        with pg_engine.begin() as conn:
            conn.exec_driver_sql("DROP SCHEMA shop_recs CASCADE")


def _hostile_day() -> tuple[pd.DataFrame, RunRecord]:
    recs = pd.DataFrame(
        {
            "customer_id": HOSTILE,
            "rank": [1] * len(HOSTILE),
            "item_id": list(reversed(HOSTILE)),
            "score": [0.5] * len(HOSTILE),
        }
    )
    record = RunRecord(
        run_id=HOSTILE[0],
        run_date=DAY,
        status="published",
        model_version=HOSTILE[1][:80],
        message=HOSTILE[2],
        params={"note": HOSTILE[3]},
        data_uri=HOSTILE[4],
    )
    return recs, record


def test_hostile_values_round_trip_and_harm_nothing(engine):
    recs, record = _hostile_day()
    menu = pd.DataFrame(
        {"item_id": HOSTILE, "name": HOSTILE, "ingredients": HOSTILE, "price": [1.0] * 6}
    )
    assert publish(engine, record, recs, menu) == len(HOSTILE)

    with engine.connect() as conn:
        stored = {
            (r.customer_id, r.item_id, r.model_version)
            for r in conn.execute(sa.select(recommendations))
        }
        run = conn.execute(sa.select(pipeline_runs)).one()
    assert stored == {(c, i, HOSTILE[1][:80]) for c, i in zip(HOSTILE, HOSTILE[::-1], strict=True)}
    assert (run.run_id, run.message, run.params, run.data_uri) == (
        HOSTILE[0],
        HOSTILE[2],
        {"note": HOSTILE[3]},
        HOSTILE[4],
    )
    for n, customer in enumerate(HOSTILE):
        day, rows = db.customer_recommendations(engine, customer)
        assert day == DAY and [r.name for r in rows] == [HOSTILE[-1 - n]]  # its item's name
    assert {"recommendations", "pipeline_runs", "menu_items"} <= set(
        sa.inspect(engine).get_table_names()
    )


@pytest.mark.postgres
def test_no_value_reaches_the_sql_text_the_driver_is_given(pg_engine, monkeypatch):
    import psycopg

    statements: list[str] = []
    parameters: list[str] = []
    for method in ("execute", "executemany", "copy"):
        real = getattr(psycopg.Cursor, method)

        def spy(self, query, params=None, *args, _real=real, **kwargs):
            statements.append(str(query))
            parameters.append(repr(params))
            return _real(self, query, params, *args, **kwargs)

        monkeypatch.setattr(psycopg.Cursor, method, spy)
    real_write_row = psycopg.Copy.write_row

    def spy_row(self, row):
        parameters.append(repr(row))
        return real_write_row(self, row)

    monkeypatch.setattr(psycopg.Copy, "write_row", spy_row)
    recs, record = _hostile_day()
    publish(pg_engine, record, recs)
    db.customer_recommendations(pg_engine, HOSTILE[0])

    assert any(s.startswith("COPY ") for s in statements)
    assert sum(MARK in p for p in parameters) >= len(HOSTILE)  # the values went as parameters
    assert [s for s in statements if MARK in s] == []  # and never as SQL text


SQL_START = re.compile(r"^\s*(SELECT|INSERT|UPDATE|DELETE|COPY|CREATE|DROP|ALTER|TRUNCATE|WITH)\b")


class _SqlBuilders(ast.NodeVisitor):
    """Find every SQL string made by f-string, str.format or %, with its enclosing function."""

    def __init__(self) -> None:
        self.stack: list[ast.AST] = []
        self.found: list[tuple[ast.AST, ast.AST | None]] = []

    def _function(self, node: ast.AST) -> None:
        self.stack.append(node)
        self.generic_visit(node)
        self.stack.pop()

    visit_FunctionDef = visit_AsyncFunctionDef = _function

    def _check(self, node: ast.AST, text: object) -> None:
        if isinstance(text, str) and SQL_START.match(text):
            self.found.append((node, self.stack[-1] if self.stack else None))

    def visit_JoinedStr(self, node: ast.JoinedStr) -> None:
        first = node.values[0] if node.values else None
        self._check(node, first.value if isinstance(first, ast.Constant) else None)
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        if (
            isinstance(func, ast.Attribute)
            and func.attr == "format"
            and isinstance(func.value, ast.Constant)
        ):
            self._check(node, func.value.value)
        self.generic_visit(node)

    def visit_BinOp(self, node: ast.BinOp) -> None:
        if isinstance(node.op, ast.Mod | ast.Add) and isinstance(node.left, ast.Constant):
            self._check(node, node.left.value)
        self.generic_visit(node)


def _unchecked(tree: ast.AST) -> tuple[int, list[str]]:
    """Count the SQL strings built from parts; list those whose function checks nothing."""
    finder = _SqlBuilders()
    finder.visit(tree)
    unchecked = []
    for node, function in finder.found:
        calls = {
            c.func.id if isinstance(c.func, ast.Name) else getattr(c.func, "attr", "")
            for c in ast.walk(function or tree)
            if isinstance(c, ast.Call)
        }
        if "sql_identifier" not in calls:
            unchecked.append(f"line {node.lineno} ({getattr(function, 'name', 'module')})")
    return len(finder.found), unchecked


def test_the_static_check_finds_sql_built_from_values():
    snippet = """
def delete_day(conn, day):
    conn.exec_driver_sql(f"DELETE FROM recommendations WHERE run_date = '{day}'")

def find(conn, customer):
    return conn.execute(sa.text("SELECT * FROM recommendations WHERE c = '%s'" % customer))

def copy_statement(quote, name):
    return f"COPY {quote(sql_identifier(name))} (a) FROM STDIN"
"""
    assert _unchecked(ast.parse(snippet)) == (3, ["line 3 (delete_day)", "line 6 (find)"])


def test_sql_text_is_built_only_where_identifiers_are_checked():
    """Every SQL string built from parts sits in a function that checks its identifiers."""
    built = 0
    for path in sorted(SRC.rglob("*.py")):
        count, unchecked = _unchecked(ast.parse(path.read_text()))
        built += count
        assert unchecked == [], (
            f"{path.relative_to(SRC)}: SQL text built from parts without checking them with "
            f"contract.sql_identifier at {', '.join(unchecked)}; bind values as parameters"
        )
    assert built >= 1  # the COPY statement, at least: the check does look
