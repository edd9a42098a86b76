"""The tables of the first release: recommendations, runs, notes, menu, models and scorers.

Revision ID: 0001
Revises:
Create Date: 2026-12-07

Before migrations, each step created the tables it missed and added the nullable columns a
newer version brought (``pipeline_runs.served_by``). This revision adopts such a database:
it creates only the tables that are missing and adds that column where it lacks.

The columns are written out here, not taken from burger_recs.contract: a revision must keep
meaning what it meant when the contract moves on (tests/unit/test_migrations.py checks that
the head migrates to exactly the contract's tables).
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the missing tables; add pipeline_runs.served_by where an older version lacks it."""
    bind = op.get_bind()
    # The configured schema (burger_recs.db.make_engine's translate map), named explicitly:
    # Alembic's ALTER statements do not go through the map.
    schema = (bind.get_execution_options().get("schema_translate_map") or {}).get(None)
    inspector = sa.inspect(bind)
    present = set(inspector.get_table_names(schema=schema))

    def create(name: str, *columns: sa.Column, indexed: tuple[str, ...] = ()) -> None:
        if name in present:
            return
        op.create_table(name, *columns, schema=schema)
        for column in indexed:
            op.create_index(f"ix_{name}_{column}", name, [column], schema=schema)

    create(
        "recommendations",
        sa.Column("run_date", sa.Date, primary_key=True),
        sa.Column("customer_id", sa.String(64), primary_key=True),
        sa.Column("rank", sa.SmallInteger, primary_key=True),
        sa.Column("item_id", sa.String(64), nullable=False),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("model_version", sa.String(80), nullable=False),
        sa.Column("code_version", sa.String(80), nullable=False),
    )
    create(
        "pipeline_runs",
        sa.Column("run_id", sa.String(128), primary_key=True),
        sa.Column("run_date", sa.Date, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("code_version", sa.String(80), nullable=False),
        sa.Column("model_version", sa.String(80)),
        sa.Column("started_at", sa.DateTime(timezone=True)),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("metrics", sa.JSON),
        sa.Column("params", sa.JSON),
        sa.Column("rows_written", sa.Integer, nullable=False),
        sa.Column("customers", sa.Integer),
        sa.Column("message", sa.Text),
        sa.Column("data_uri", sa.Text),
        sa.Column("served_by", sa.String(16)),
        indexed=("run_date",),
    )
    if "pipeline_runs" in present:
        columns = {c["name"] for c in inspector.get_columns("pipeline_runs", schema=schema)}
        if "served_by" not in columns:
            op.add_column("pipeline_runs", sa.Column("served_by", sa.String(16)), schema=schema)
    create(
        "step_failures",
        sa.Column("run_id", sa.String(128), primary_key=True),
        sa.Column("step", sa.String(64), primary_key=True),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("expected", sa.Boolean, nullable=False),
        sa.Column("noted_at", sa.DateTime(timezone=True), nullable=False),
    )
    create(
        "menu_items",
        sa.Column("item_id", sa.String(64), primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("ingredients", sa.Text, nullable=False),
        sa.Column("price", sa.Float),
        sa.Column("last_seen", sa.Date, nullable=False),
    )
    create(
        "models",
        sa.Column("model_version", sa.String(80), primary_key=True),
        sa.Column("run_id", sa.String(128), nullable=False),
        sa.Column("run_date", sa.Date, nullable=False),
        sa.Column("trained_until", sa.Date, nullable=False),
        sa.Column("code_version", sa.String(80), nullable=False),
        sa.Column("metrics", sa.JSON),
        sa.Column("params", sa.JSON),
        sa.Column("location", sa.Text),
        sa.Column("champion", sa.Boolean, nullable=False),
        sa.Column("promoted_at", sa.DateTime(timezone=True)),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    )
    create(
        "model_artifacts",
        sa.Column("model_version", sa.String(80), primary_key=True),
        sa.Column("kind", sa.String(16), primary_key=True),
        sa.Column("data", sa.LargeBinary, nullable=False),
    )
    create(
        "recommendation_stages",
        sa.Column("run_id", sa.String(128), primary_key=True),
        sa.Column("shard", sa.Integer, primary_key=True),
        sa.Column("shards", sa.Integer, nullable=False),
        sa.Column("table_name", sa.String(63), nullable=False),
        sa.Column("rows", sa.Integer, nullable=False),
        sa.Column("customers", sa.Integer, nullable=False),
        sa.Column("staged_at", sa.DateTime(timezone=True), nullable=False),
    )
