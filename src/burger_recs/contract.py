"""The data contract: what the shop drops every day, and the tables the pipeline writes.

Input, one folder per day under a data root (a local folder or ``gs://bucket/prefix``)::

    <root>/date=YYYY-MM-DD/orders.csv      order_id, customer_id, item_id, quantity, ordered_at
    <root>/date=YYYY-MM-DD/menu.csv        item_id, name, ingredients (';'-separated), price
    <root>/date=YYYY-MM-DD/customers.csv   customer_id, signup_date, ...

    <root>/date=YYYY-MM-DD/manifest.json   {"orders_rows": N}   (optional: what the export wrote)

``.parquet`` files with the same columns are accepted. ``menu`` and ``customers`` are full
snapshots and optional on any day; a run for date D uses the newest customers snapshot at or
before D. A menu snapshot is in force from its day until the next one: each day's orders name
items of the menu in force on that day (the newest snapshot at or before it), and only items of
D's menu are recommended. IDs are strings. Extra columns are kept.

Output: the SQLAlchemy tables ``recommendations``, ``pipeline_runs`` and ``menu_items``;
``models`` and ``model_artifacts``, the trained models and the champion's scorers; and
``step_failures``, the notes failed steps leave for the run's final task; and
``recommendation_stages``, a sharded day's staged shards until its commit. Their schema is the
migrations' (burger_recs.migrations): no step creates or alters a table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import sqlalchemy as sa

DAY_FOLDER_PREFIX = "date="
DAY_FOLDER_PATTERN = re.compile(r"^date=(\d{4}-\d{2}-\d{2})$")
INGREDIENT_SEPARATOR = ";"


@dataclass(frozen=True)
class DropFile:
    """One kind of file in a daily drop."""

    name: str
    required_columns: tuple[str, ...]
    snapshot: bool

    def file_names(self) -> tuple[str, str]:
        """Return the accepted file names, CSV first."""
        return (f"{self.name}.csv", f"{self.name}.parquet")


ORDERS = DropFile(
    "orders", ("order_id", "customer_id", "item_id", "quantity", "ordered_at"), snapshot=False
)
MENU = DropFile("menu", ("item_id", "name", "ingredients", "price"), snapshot=True)
CUSTOMERS = DropFile("customers", ("customer_id", "signup_date"), snapshot=True)

DAY_MANIFEST = "manifest.json"
"""An optional file of a day's folder in which the shop's export says what it wrote:
``{"orders_rows": N}``, the number of order rows (the header not counted). Validate holds the
day's orders file against it, so an export cut short is caught exactly."""
MANIFEST_ORDERS_ROWS = "orders_rows"

# The largest quantity of one item in one order that is taken as real, not a typo.
MAX_QUANTITY = 100

# ---------------------------------------------------------------------------------------------
# Output tables
# ---------------------------------------------------------------------------------------------
SCHEMA_REVISION = "0002"
"""The migration (burger_recs/migrations/versions) these tables are: what the code needs."""

metadata = sa.MetaData()

recommendations = sa.Table(
    "recommendations",
    metadata,
    sa.Column("run_date", sa.Date, primary_key=True),
    sa.Column("customer_id", sa.String(64), primary_key=True),
    sa.Column("rank", sa.SmallInteger, primary_key=True),
    sa.Column("item_id", sa.String(64), nullable=False),
    sa.Column("score", sa.Float, nullable=False),
    sa.Column("model_version", sa.String(80), nullable=False),
    sa.Column("code_version", sa.String(80), nullable=False),
)

pipeline_runs = sa.Table(
    "pipeline_runs",
    metadata,
    sa.Column("run_id", sa.String(128), primary_key=True),
    sa.Column("run_date", sa.Date, nullable=False, index=True),
    sa.Column("status", sa.String(16), nullable=False),  # published | gated | failed
    sa.Column("code_version", sa.String(80), nullable=False),
    sa.Column("model_version", sa.String(80)),
    sa.Column("started_at", sa.DateTime(timezone=True)),
    sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("metrics", sa.JSON),
    sa.Column("params", sa.JSON),
    sa.Column("rows_written", sa.Integer, nullable=False, default=0),
    sa.Column("customers", sa.Integer),
    sa.Column("message", sa.Text),
    sa.Column("data_uri", sa.Text),
    # Which scorer served the day's rows: challenger, champion or popularity (None: no rows).
    sa.Column("served_by", sa.String(16)),
)

step_failures = sa.Table(
    "step_failures",
    metadata,
    sa.Column("run_id", sa.String(128), primary_key=True),
    sa.Column("step", sa.String(64), primary_key=True),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("expected", sa.Boolean, nullable=False),
    sa.Column("noted_at", sa.DateTime(timezone=True), nullable=False),
    # The step's last log lines (and a defect's traceback): its log outlives its pod.
    sa.Column("log_tail", sa.Text),
)
"""What a failed step left for its run's final task: the step, its error, whether expected,
and the end of its log (``burger-recs logs RUN``)."""

menu_items = sa.Table(
    "menu_items",
    metadata,
    sa.Column("item_id", sa.String(64), primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("ingredients", sa.Text, nullable=False),
    sa.Column("price", sa.Float),
    sa.Column("last_seen", sa.Date, nullable=False),
)


models = sa.Table(
    "models",
    metadata,
    sa.Column("model_version", sa.String(80), primary_key=True),
    sa.Column("run_id", sa.String(128), nullable=False),
    sa.Column("run_date", sa.Date, nullable=False),
    sa.Column("trained_until", sa.Date, nullable=False),
    sa.Column("code_version", sa.String(80), nullable=False),
    sa.Column("metrics", sa.JSON),
    sa.Column("params", sa.JSON),
    # Where its scorer is kept: "model_artifacts" (this database) while it is the champion;
    # None once another model replaced it (its artifacts are deleted).
    sa.Column("location", sa.Text),
    sa.Column("champion", sa.Boolean, nullable=False, default=False),
    sa.Column("promoted_at", sa.DateTime(timezone=True)),
    sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
)
"""Every model a run trained (its challenger), with its evaluation; at most one champion."""

model_artifacts = sa.Table(
    "model_artifacts",
    metadata,
    sa.Column("model_version", sa.String(80), primary_key=True),
    sa.Column("kind", sa.String(16), primary_key=True),  # serving | evaluation
    sa.Column("data", sa.LargeBinary, nullable=False),
)
"""The champion's scorers (burger_recs.champion.StoredScorer), where every runner reads them."""


recommendation_stages = sa.Table(
    "recommendation_stages",
    metadata,
    sa.Column("run_id", sa.String(128), primary_key=True),
    sa.Column("shard", sa.Integer, primary_key=True),
    sa.Column("shards", sa.Integer, nullable=False),
    sa.Column("table_name", sa.String(63), nullable=False),
    sa.Column("rows", sa.Integer, nullable=False),
    sa.Column("customers", sa.Integer, nullable=False),
    sa.Column("staged_at", sa.DateTime(timezone=True), nullable=False),
)
"""Bookkeeping of a sharded day (burger_recs.steps.commit): one row per staged shard, which
table holds its rows, and how many rows and customers; empty once the day is committed."""


# SQL identifiers that come from configuration (the schema of the output tables) must be
# plain names before they get near a statement; values are always bound parameters.
SQL_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def sql_identifier(name: str, what: str = "SQL identifier") -> str:
    """Return ``name`` when it is a plain lower-case SQL identifier, else raise ValueError.

    Plain means what PostgreSQL and SQLite take unquoted and unchanged: a lower-case letter or
    an underscore, then lower-case letters, digits or underscores, at most 63 characters
    (PostgreSQL's limit). Quotes, dots, spaces, semicolons, dashes and upper case are refused,
    so a configured name can never change what a statement does.

    Args:
        name: the identifier.
        what: what the name is (a setting's name), for the error message.
    """
    if not isinstance(name, str) or not SQL_IDENTIFIER.fullmatch(name):
        raise ValueError(
            f"{what} {name!r} is not a plain SQL identifier: use 1 to 63 lower-case letters, "
            "digits and underscores, not starting with a digit"
        )
    return name


@dataclass(frozen=True)
class Violation:
    """One way the input breaks the contract, with where and how often.

    Attributes:
        file: the file (URI) or folder the problem is in.
        column: the column concerned, or "" when the problem is the whole file.
        rule: the rule that is broken, in words.
        count: how many rows break it (0 when rows do not apply).
        examples: a few offending rows, as ``line N: value`` strings.

    """

    file: str
    column: str
    rule: str
    count: int = 0
    examples: tuple[str, ...] = ()

    def describe(self) -> str:
        """Return one readable line: file, column, rule, count and examples.

        The examples come last, after :data:`EXAMPLES_MARK`, so that what may not carry row
        contents (an alert) can leave them out (:func:`without_row_contents`).
        """
        where = f"{self.file} [{self.column}]" if self.column else self.file
        count = f" ({self.count} rows)" if self.count else ""
        examples = f"{EXAMPLES_MARK}{', '.join(self.examples)}" if self.examples else ""
        return f"{where}: {self.rule}{count}{examples}"


EXAMPLES_MARK = "; e.g. "
"""What a violation's line puts before its example rows (:meth:`Violation.describe`)."""


def without_row_contents(message: str) -> str:
    """Return a message with the example rows of its violations left out, line by line.

    What is left names files, columns, rules and counts; the rows stay in the validation
    report, where the run keeps them.
    """
    lines = []
    for line in message.splitlines():
        head, mark, _ = line.partition(EXAMPLES_MARK)
        lines.append(f"{head} (examples in the validation report)" if mark else line)
    return "\n".join(lines)
