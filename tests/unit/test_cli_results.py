"""burger_recs.cli.results: recs, runs, index and diff read the results database and print."""

from typer.testing import CliRunner

from burger_recs import db
from burger_recs.cli import app
from burger_recs.runs import record_run
from tests.support.database import DAY, run_record


def _invoke(url, *args):
    return CliRunner().invoke(app, [*args, "--database-url", url])


def test_runs_lists_the_recorded_runs_or_says_there_are_none(tmp_path):
    url = f"sqlite:///{tmp_path / 'recs.db'}"
    empty = _invoke(url, "runs")
    assert empty.exit_code == 0 and "no runs recorded yet: try `make run`" in empty.stdout
    engine = db.make_engine(url)
    record_run(engine, run_record(DAY, "run-1", status="published", rows_written=1200))
    listed = _invoke(url, "runs")
    header, line = listed.stdout.splitlines()
    assert header.split()[:4] == ["run", "id", "date", "status"]
    assert line.split()[:5] == ["run-1", DAY.isoformat(), "published", "challenger", "code-abc"]
    assert "1,200" in line


def test_recs_and_diff_say_what_they_cannot_find(tmp_path):
    url = f"sqlite:///{tmp_path / 'recs.db'}"
    recs = _invoke(url, "recs", "--customer", "c42")
    assert recs.exit_code == 1 and "no recommendations stored for customer 'c42'" in recs.stderr
    bad_day = _invoke(url, "recs", "--customer", "c42", "--date", "28/03/2026")
    assert bad_day.exit_code == 1 and "--date '28/03/2026' is not YYYY-MM-DD" in bad_day.stderr
    diff = _invoke(url, "diff", "run-a", "run-b")
    assert diff.exit_code == 1 and "run-a" in diff.stderr


def test_index_writes_the_page_and_prints_where(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = _invoke(f"sqlite:///{tmp_path / 'recs.db'}", "index")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == ".local/runs/index.html"
    assert (tmp_path / ".local" / "runs" / "index.html").is_file()
