"""A failure note keeps the end of its step's log: step_failures.log_tail.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-07

A failed step's log lived only in its pod (and, on a cluster, in Argo's log archive): the
note now carries its last lines, so ``burger-recs logs RUN`` reads them from the project's
own records, on every runner, long after the pods and the Workflow are gone.
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the nullable column step_failures.log_tail."""
    # The configured schema, named explicitly (Alembic's ALTER ignores the translate map).
    schema = (op.get_bind().get_execution_options().get("schema_translate_map") or {}).get(None)
    op.add_column("step_failures", sa.Column("log_tail", sa.Text), schema=schema)
