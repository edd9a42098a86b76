"""The ``burger-recs`` command: one typer app, its commands in modules by group.

Each module parses its commands' options, calls the library and prints; what the commands
share (the app, the options declared once, the helpers) is in :mod:`burger_recs.cli.common`.
"""

import importlib

from burger_recs.cli.common import app

# The groups, in the order `burger-recs --help` lists their commands.
GROUPS = ("run", "data", "backfill", "results", "cluster", "production", "quality")
for _group in GROUPS:
    importlib.import_module(f"burger_recs.cli.{_group}")

__all__ = ["GROUPS", "app"]
