"""Runs of several results databases in one .local/runs: each shows its own record's status.

A run folder names the database its run used (``run.json``, password hidden); the page reads
each run's record from there (burger_recs.pipelines.run_index.gather_records), and says in the
row when that database is gone or needs a password the folder does not keep.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from burger_recs import db
from burger_recs.cli import app
from burger_recs.migrations import migrate
from burger_recs.pipelines.run_index import index_file, refresh_index
from burger_recs.pipelines.run_records import RUN_START
from burger_recs.runs import record_run
from tests.support.database import DAY, OTHER_DAY, run_record

METRICS = {"model_precision_at_k": 0.1009, "baseline_precision_at_k": 0.0721, "k": 10}


def _status(page: str, run_id: str) -> str:
    start = page.index(f'<tr id="run-{html.escape(run_id)}"')
    row = page[start : page.index("</tr>", start)]
    found = re.search(r'<span class="status [a-z]+">([a-z]+)</span>', row)
    assert found, row
    return found[1]


def _row(page: str, run_id: str) -> str:
    start = page.index(f'<tr id="run-{html.escape(run_id)}"')
    return " ".join(html.unescape(page[start : page.index("</tr>", start)]).split())


def _local_run(tmp_path: Path, monkeypatch, url: str, run_id: str, status: str) -> None:
    """A local run through burger_recs.pipelines.local_run.run_pipeline: its folder, run.json
    and the index it writes at its end; the pipeline stands in by recording the run."""
    from kfp import components

    from burger_recs.pipelines.compile import compiled_pipeline
    from burger_recs.pipelines.local_run import run_pipeline

    def pipeline(**arguments):
        day = DAY if status == "published" else OTHER_DAY
        record = run_record(day, arguments["run_id"], status=status, metrics=METRICS)
        record_run(db.make_engine(url), record)

    monkeypatch.setattr(components, "load_component_from_file", lambda _path: pipeline)
    monkeypatch.setenv(db.DATABASE_URL_ENV, url)  # run_pipeline sets it; put it back after
    run_pipeline(compiled_pipeline(), {"data_uri": str(tmp_path)}, url, tmp_path, run_id=run_id)


def test_runs_of_two_databases_each_show_their_own_status(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    default, other = "sqlite:///recs.db", "sqlite:///other.db"  # relative, as a user types
    _local_run(tmp_path, monkeypatch, default, "r-1-default", "published")
    _local_run(tmp_path, monkeypatch, other, "r-2-other", "gated")

    # Each folder names its database, absolute, so the page reads it from any folder.
    named = json.loads((tmp_path / "runs" / "r-1-default" / RUN_START).read_text())["database"]
    assert named == f"sqlite:///{tmp_path / 'recs.db'}"

    # The page the last run (of other.db) wrote: the default database's run keeps its status.
    page = index_file(tmp_path).read_text()
    assert _status(page, "r-1-default") == "published"
    assert _status(page, "r-2-other") == "gated"
    assert "database recs.db" in _row(page, "r-1-default")
    assert "database other.db" not in _row(page, "r-2-other")  # the page's own database

    # Written again from the default database, from another folder: the same truth.
    monkeypatch.chdir(tmp_path / "runs")
    refresh_index(tmp_path, f"sqlite:///{tmp_path / 'recs.db'}")
    page = index_file(tmp_path).read_text()
    assert (_status(page, "r-1-default"), _status(page, "r-2-other")) == ("published", "gated")
    assert "database other.db" in _row(page, "r-2-other")
    assert "1 other database its runs used" in page

    # A database that is gone: said in its rows, never created again.
    (tmp_path / "other.db").unlink()
    refresh_index(tmp_path, f"sqlite:///{tmp_path / 'recs.db'}")
    page = index_file(tmp_path).read_text()
    assert _status(page, "r-1-default") == "published"
    assert _status(page, "r-2-other") == "unknown"
    assert f"its database is gone: {tmp_path / 'other.db'} no longer exists" in _row(
        page, "r-2-other"
    )
    assert not (tmp_path / "other.db").exists()


def test_the_runs_command_names_the_other_databases_of_local_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    local = tmp_path / ".local"
    _local_run(local, monkeypatch, f"sqlite:///{local / 'recs.db'}", "r-1-default", "published")
    _local_run(local, monkeypatch, "sqlite:///other.db", "r-2-other", "gated")
    monkeypatch.delenv(db.DATABASE_URL_ENV)

    result = CliRunner().invoke(app, ["runs"])
    assert result.exit_code == 0, result.output
    assert "r-1-default" in result.output and "r-2-other" not in result.output
    assert "1 local run used another database" in result.output
    assert f"runs --database-url sqlite:///{tmp_path / 'other.db'}" in result.output

    # A database whose password the folder does not keep: the user gives its URL.
    hidden = local / "runs" / "r-3-hidden"
    hidden.mkdir()
    (hidden / RUN_START).write_text(json.dumps({"database": "postgresql://u:***@db/recs"}))
    listed = CliRunner().invoke(app, ["runs"]).output
    assert "2 local runs used other databases; their runs:" in listed
    assert "runs --database-url URL  (URL: postgresql://u:***@db/recs, password)" in listed
    assert f"runs --database-url sqlite:///{tmp_path / 'other.db'}" in listed
    (hidden / RUN_START).unlink()
    hidden.rmdir()

    followed = result.output.splitlines()[-1].split("burger-recs ", 1)[1].split()
    again = CliRunner().invoke(app, followed)
    assert again.exit_code == 0, again.output
    assert "r-2-other" in again.output and "gated" in again.output


@pytest.mark.postgres
def test_a_database_with_a_password_is_read_with_the_url_at_hand(
    postgres_url, tmp_path, monkeypatch
):
    engine = db.make_engine(postgres_url)
    migrate(engine)
    record_run(engine, run_record(DAY, "r-pg", metrics=METRICS))
    folder = tmp_path / "runs" / "r-pg"
    folder.mkdir(parents=True)
    (folder / RUN_START).write_text(json.dumps({"database": db.redact(postgres_url)}))
    assert sa.make_url(postgres_url).password  # the folder keeps it hidden
    assert sa.make_url(postgres_url).password not in (folder / RUN_START).read_text()
    default = f"sqlite:///{tmp_path / 'recs.db'}"
    migrate(db.make_engine(default))

    monkeypatch.delenv(db.DATABASE_URL_ENV, raising=False)
    refresh_index(tmp_path, default)
    page = index_file(tmp_path).read_text()
    assert _status(page, "r-pg") == "unknown"
    assert "needs a password, which a run folder never keeps" in _row(page, "r-pg")
    assert sa.make_url(postgres_url).password not in page

    monkeypatch.setenv(db.DATABASE_URL_ENV, postgres_url)
    refresh_index(tmp_path, default)
    page = index_file(tmp_path).read_text()
    assert _status(page, "r-pg") == "published"
    assert sa.make_url(postgres_url).password not in page
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM pipeline_runs WHERE run_id = 'r-pg'"))
    engine.dispose()


def test_an_older_run_folder_without_its_database_is_read_from_the_pages(tmp_path):
    engine = db.make_engine(f"sqlite:///{tmp_path / 'recs.db'}")
    migrate(engine)
    record_run(engine, run_record(DAY, "r-old", metrics=METRICS))
    (tmp_path / "runs" / "r-old").mkdir(parents=True)  # no run.json: an older version's run
    page = refresh_index(tmp_path, str(engine.url))
    assert page is not None and _status(page.read_text(), "r-old") == "published"


def test_one_database_is_one_database_whatever_its_spelling(tmp_path, monkeypatch):
    from burger_recs.pipelines.run_records import database_key, gather_records

    assert database_key("postgres://u:pw@db/recs") == database_key(
        "postgresql+psycopg://u:x@db/recs"
    )
    monkeypatch.chdir(tmp_path)
    assert database_key("sqlite:///recs.db") == database_key(f"sqlite:///{tmp_path / 'recs.db'}")
    # A SQLite file a folder names is read without the schema the page's PostgreSQL uses.
    engine = db.make_engine(f"sqlite:///{tmp_path / 'recs.db'}")
    migrate(engine)
    record_run(engine, run_record(DAY, "r-1", metrics=METRICS))
    folder = tmp_path / "runs" / "r-1"
    folder.mkdir(parents=True)
    (folder / RUN_START).write_text(json.dumps({"database": str(engine.url)}))
    monkeypatch.setenv(db.SCHEMA_ENV, "burger")
    found = gather_records({"r-1": folder}, None)
    assert found.found["r-1"]["status"] == "published" and not found.unread
