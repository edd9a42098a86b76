"""burger_recs.cli.run: `burger-recs run` and `resume` refuse what cannot run, saying why.

The runs themselves are tests/pipelines/ (kfp.local).
"""

from typer.testing import CliRunner

from burger_recs.cli import app


def test_run_refuses_a_data_folder_that_does_not_exist(tmp_path):
    result = CliRunner().invoke(app, ["run", "--data", str(tmp_path / "nowhere")])
    assert result.exit_code == 1
    assert f"--data {tmp_path / 'nowhere'}: no such folder" in result.stderr


def test_run_refuses_a_malformed_or_unknown_parameter(tmp_path):
    malformed = CliRunner().invoke(app, ["run", "--data", str(tmp_path), "--param", "k"])
    assert malformed.exit_code == 1 and "--param 'k': expected NAME=VALUE" in malformed.stderr
    unknown = CliRunner().invoke(app, ["run", "--data", str(tmp_path), "--param", "top=5"])
    assert unknown.exit_code == 1 and "--param top: no such parameter" in unknown.stderr
    typed = CliRunner().invoke(app, ["run", "--data", str(tmp_path), "--param", "k=five"])
    assert typed.exit_code == 1 and "--param k=five: expected int" in typed.stderr


def test_resume_names_a_run_it_cannot_find(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["resume", "20261124-081502-3fa1"])
    assert result.exit_code == 1
    assert "no local run 20261124-081502-3fa1" in result.stderr


def _run_folder(root, run_id: str, database: str) -> None:
    import json

    folder = root / ".local" / "runs" / run_id
    folder.mkdir(parents=True)
    (folder / "arguments.json").write_text(json.dumps({"run_date": "2026-03-28"}))
    started = {"pipeline": "daily_recommendations.yaml", "runner": "subprocess", "registry": None}
    (folder / "run.json").write_text(json.dumps(started | {"database": database}))


def test_resume_takes_the_database_its_run_used_unless_told_otherwise(tmp_path, monkeypatch):
    from burger_recs import db
    from burger_recs.migrations import migrate
    from burger_recs.runs import record_run
    from tests.support.database import DAY, run_record

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(db.DATABASE_URL_ENV, raising=False)
    elsewhere = f"sqlite:///{tmp_path / 'elsewhere.db'}"  # not the default .local/recs.db
    engine = db.make_engine(elsewhere)
    migrate(engine)
    record_run(engine, run_record(DAY, "r-1", status="published"))
    _run_folder(tmp_path, "r-1", elsewhere)

    # Its record is read from the database its folder names: nothing to resume.
    result = CliRunner().invoke(app, ["resume", "r-1"])
    assert result.exit_code == 1
    assert "run r-1 for 2026-03-28 ended published: there is nothing to resume" in result.stderr

    # Told otherwise, it says so, and reads the database it was told.
    other = f"sqlite:///{tmp_path / 'other.db'}"
    migrate(db.make_engine(other))
    told = CliRunner().invoke(app, ["resume", "r-1", "--database-url", other, "--param", "k"])
    assert f"run r-1 used the database {elsewhere}; resuming it on {other}" in told.stderr
    assert "--param 'k': expected NAME=VALUE" in told.stderr  # it went on, to the parameters

    # A password is never kept in the folder: it asks for the URL.
    _run_folder(tmp_path, "r-2", "postgresql://recs:***@db.example/recs")
    asked = CliRunner().invoke(app, ["resume", "r-2"])
    assert asked.exit_code == 1
    assert "whose password a run folder never keeps" in asked.stderr
    assert "--database-url or DATABASE_URL" in asked.stderr
