"""The deploy's migration: ``python -m burger_recs.migrations`` (the burger-recs-migrate Job).

Migrates ``DATABASE_URL`` (the tables' owner's credential) to the newest revision and grants
``BURGER_RECS_NOTES_ROLE`` what a failure note needs and ``BURGER_RECS_READER_ROLE`` what
reading the champion needs, when they are set. It runs in the
reconciler's image, which holds no CLI module; ``burger-recs migrate`` is the same call.
"""

import logging
import sys

from burger_recs import db
from burger_recs.errors import ExpectedFailure
from burger_recs.migrations import migrate

logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
try:
    revision = migrate(db.make_engine())
except ExpectedFailure as exc:
    print(f"error: {exc}", file=sys.stderr)
    sys.exit(1)
print(f"schema at revision {revision}")
