"""Run folders and the run records they name, each read from the database its run used.

A local run's folder (``<root>/runs/<run-id>/``) keeps in ``run.json`` the database its run
used (password hidden, a SQLite path absolute). The page of runs
(:mod:`burger_recs.pipelines.run_index`) and ``burger-recs runs`` read each run's record from
there, so runs of several databases show their true status side by side, and a database
that is gone, or whose password a folder does not keep, is said as such.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from burger_recs import db
from burger_recs.contract import pipeline_runs
from burger_recs.runs import recent_runs

RUN_START = "run.json"
"""The file of a run folder that says how its run was started, the database among it
(:class:`burger_recs.pipelines.local_run.RunStart`)."""
# Records read besides those of the local run folders (a shared database may hold years of
# cluster runs; every local run folder's record is read whatever its age).
MAX_OTHER_RECORDS = 500


def run_folders(root: Path) -> dict[str, Path]:
    """Return the run folders under ``<root>/runs/``, by run id."""
    runs = root / "runs"
    if not runs.is_dir():
        return {}
    return {p.name: p for p in runs.iterdir() if p.is_dir() and not p.name.startswith(".")}


def read_records(
    engine: sa.Engine, run_ids: Iterable[str] = (), newest: int = MAX_OTHER_RECORDS
) -> dict[str, dict]:
    """Return ``pipeline_runs`` records by run id: the ``newest`` ones and those of ``run_ids``.

    A database without the table (nothing recorded yet) has no records.
    """
    if not sa.inspect(engine).has_table(pipeline_runs.name, schema=db.engine_schema(engine)):
        return {}
    records = {r.run_id: dict(r._mapping) for r in recent_runs(engine, newest)} if newest else {}
    missing = sorted(set(run_ids) - set(records))
    with engine.connect() as conn:
        for start in range(0, len(missing), 500):
            query = sa.select(pipeline_runs).where(
                pipeline_runs.c.run_id.in_(missing[start : start + 500])
            )
            records |= {r.run_id: dict(r._mapping) for r in conn.execute(query)}
    return records


def folder_database(folder: Path) -> str | None:
    """Return the database a run folder's ``run.json`` names (password hidden), if any."""
    with contextlib.suppress(OSError, ValueError, TypeError, KeyError):
        return str(json.loads((folder / RUN_START).read_text())["database"]) or None
    return None


def other_databases(root: Path, database_url: str) -> dict[str, int]:
    """Return the other databases than ``database_url`` that runs under ``root`` used.

    Each with how many runs used it, from the run folders' ``run.json`` (passwords hidden).
    """
    own = database_key(database_url)
    found: dict[str, int] = {}
    for folder in run_folders(root).values():
        named = folder_database(folder)
        if named and database_key(named) != own:
            found[named] = found.get(named, 0) + 1
    return found


def database_key(url: str) -> str:
    """Return what two URLs of one database have in common, and no other database's.

    The backend, not the driver; the password hidden; a SQLite file's path absolute.
    """
    try:
        parsed = sa.make_url(db.absolute(url))
    except sa.exc.ArgumentError:
        return url
    backend = parsed.get_backend_name()
    backend = "postgresql" if backend == "postgres" else backend  # the old alias, the same
    return parsed.set(drivername=backend).render_as_string(hide_password=True)


class DatabaseUnreadable(Exception):
    """The database a run folder names cannot be read; the message says why, for its row."""


def open_database(database: str, known: Iterable[str] = ()) -> sa.Engine:
    """Return an engine on the database a run folder names (its password hidden).

    Args:
        database: the URL as the folder keeps it.
        known: full URLs at hand (``DATABASE_URL``, the page's own database): one that is
            the same database opens a URL whose password the folder does not keep.

    Raises:
        DatabaseUnreadable: a SQLite file that is gone (never created again here), or a
            password that no known URL holds.
    """
    try:
        parsed = sa.make_url(database)
    except sa.exc.ArgumentError:
        raise DatabaseUnreadable(f"its database URL {database!r} does not parse") from None
    url = database
    if parsed.password:
        key = database_key(database)
        url = next((k for k in known if k and database_key(k) == key), "")
        if not url:
            raise DatabaseUnreadable(
                f"its database {database} needs a password, which a run folder never keeps: "
                'burger-recs index --database-url "$DATABASE_URL" with that URL reads it'
            )
    elif parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        path = Path(str(parsed.database))
        if not path.is_file():
            raise DatabaseUnreadable(
                f"its database is gone: {path} no longer exists, so its status is unknown"
            )
    # A SQLite file has no schema, whatever BURGER_RECS_DB_SCHEMA says for the page's own.
    sqlite = parsed.get_backend_name() == "sqlite"
    try:
        return db.make_engine(url, schema="" if sqlite else None)
    except ValueError as exc:
        raise DatabaseUnreadable(f"its database {database} could not be opened: {exc}") from None


@dataclass
class Records:
    """The records of the runs, each from the database its folder names.

    Attributes:
        found: ``pipeline_runs`` rows by run id.
        databases: run id -> the database its folder names, for runs of other databases than
            the page's own.
        unread: run id -> why its database could not be read.
    """

    found: dict[str, dict] = field(default_factory=dict)
    databases: dict[str, str] = field(default_factory=dict)
    unread: dict[str, str] = field(default_factory=dict)


def gather_records(folders: Mapping[str, Path], engine: sa.Engine | None) -> Records:
    """Read each run folder's record from the database it names, and ``engine``'s newest.

    ``engine`` is the page's own database (None: it could not be opened). A folder that
    names no database (an older run) is taken to be of ``engine``'s.
    """
    own = engine.url.render_as_string(hide_password=False) if engine is not None else None
    own_key = database_key(own) if own else None
    groups: dict[str | None, list[str]] = {}
    names: dict[str | None, str] = {}
    for run_id, folder in folders.items():
        named = folder_database(folder)
        key = database_key(named) if named else own_key
        groups.setdefault(key, []).append(run_id)
        names.setdefault(key, named or "")
    result = Records()
    if engine is not None:
        result.found |= read_records(engine, groups.pop(own_key, []))
    known = [os.environ.get(db.DATABASE_URL_ENV, ""), own or ""]
    for key, run_ids in sorted(groups.items(), key=lambda item: str(item[0])):
        database = names[key]
        if key is not None:
            result.databases |= dict.fromkeys(run_ids, database)
        try:
            if key is None:
                raise DatabaseUnreadable("")  # the page's own database, already said unread
            other = open_database(database, known)
            try:
                result.found |= read_records(other, run_ids, newest=0)
            finally:
                other.dispose()
        except (DatabaseUnreadable, sa.exc.SQLAlchemyError) as exc:
            why = (
                str(exc)
                if isinstance(exc, DatabaseUnreadable)
                else f"its database {database} could not be read: {db.first_line(exc)}"
            )
            if why:
                result.unread |= dict.fromkeys(run_ids, why)
    return result
