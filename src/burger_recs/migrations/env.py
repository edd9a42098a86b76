"""Alembic's environment: migrations run on the connection ``burger_recs.migrations`` hands over.

``alembic`` commands (alembic.ini at the repository's root) use ``DATABASE_URL`` instead.
"""

from alembic import context

from burger_recs import db
from burger_recs.contract import metadata

cfg = context.config
connection = cfg.attributes.get("connection")
options = cfg.attributes.get("options", {})

if connection is None:
    engine = db.make_engine()
    schema = db.engine_schema(engine)
    options = {"version_table_schema": schema} if schema else {}
    with engine.begin() as conn:
        context.configure(connection=conn, target_metadata=metadata, **options)
        with context.begin_transaction():
            context.run_migrations()
else:
    context.configure(connection=connection, target_metadata=metadata, **options)
    with context.begin_transaction():
        context.run_migrations()
