"""burger_recs.cli.results: recs, runs, index and diff read the results database and print."""

from typer.testing import CliRunner

from burger_recs import db
from burger_recs.cli import app
from burger_recs.contract import SCHEMA_REVISION
from burger_recs.migrations import migrate
from burger_recs.runs import note_failure, record_run
from tests.support.database import DAY, run_record


def _invoke(url, *args):
    return CliRunner().invoke(app, [*args, "--database-url", url])


def _migrated(tmp_path) -> str:
    url = f"sqlite:///{tmp_path / 'recs.db'}"
    migrate(db.make_engine(url))
    return url


def test_the_reading_commands_on_a_database_never_migrated_say_how_to_create_it(tmp_path):
    url = f"sqlite:///{tmp_path / 'recs.db'}"
    for command in (["runs"], ["recs", "--customer", "c42"], ["diff", "a", "b"], ["index"]):
        result = _invoke(url, *command)
        assert result.exit_code == 1, command
        assert "has no burger-recs tables" in result.stderr
        assert "create them with `burger-recs migrate`" in result.stderr
    migrated = _invoke(url, "migrate").stdout
    assert migrated.endswith(f"migrated from nothing to schema revision {SCHEMA_REVISION}\n")
    again = _invoke(url, "migrate").stdout
    assert again.endswith(f"already at schema revision {SCHEMA_REVISION}\n")
    assert _invoke(url, "runs").stdout == "no runs recorded yet: try `make run`\n"


def test_runs_lists_the_recorded_runs_or_says_there_are_none(tmp_path):
    url = _migrated(tmp_path)
    empty = _invoke(url, "runs")
    assert empty.exit_code == 0 and "no runs recorded yet: try `make run`" in empty.stdout
    engine = db.make_engine(url)
    record_run(engine, run_record(DAY, "run-1", status="published", rows_written=1200))
    listed = _invoke(url, "runs")
    header, line = listed.stdout.splitlines()
    assert header.split()[:4] == ["run", "id", "date", "status"]
    # Who served: the scorer, its model version beside it (runs.served_label).
    assert line.split()[:6] == [
        *("run-1", DAY.isoformat(), "published"),
        *("challenger", "(model-1)", "code-abc"),
    ]
    assert "1,200" in line


def test_recs_and_diff_say_what_they_cannot_find(tmp_path):
    url = _migrated(tmp_path)
    recs = _invoke(url, "recs", "--customer", "c42")
    assert recs.exit_code == 1 and "no recommendations stored for customer 'c42'" in recs.stderr
    bad_day = _invoke(url, "recs", "--customer", "c42", "--date", "28/03/2026")
    assert bad_day.exit_code == 1 and "--date '28/03/2026' is not YYYY-MM-DD" in bad_day.stderr
    diff = _invoke(url, "diff", "run-a", "run-b")
    assert diff.exit_code == 1 and "run-a" in diff.stderr


def test_index_writes_the_page_and_prints_where(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = _invoke(_migrated(tmp_path), "index")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == ".local/runs/index.html"
    assert (tmp_path / ".local" / "runs" / "index.html").is_file()


def test_logs_prints_the_record_and_each_failed_steps_log_or_says_it_knows_none(
    tmp_path, monkeypatch
):
    url = _migrated(tmp_path)
    engine = db.make_engine(url)
    record_run(engine, run_record(DAY, "run-9", status="failed", message="validate failed: x"))
    monkeypatch.setenv(db.DATABASE_URL_ENV, url)
    note_failure("validate", "run-9", "x", expected=True, log_tail="12:00:01 INFO read 3 files")
    shown = _invoke(url, "logs", "run-9")
    assert shown.exit_code == 0, shown.output
    assert shown.stdout.splitlines()[:2] == [
        "run run-9",
        f"  {DAY}  failed: validate failed: x",
    ]
    assert "   12:00:01 INFO read 3 files" in shown.stdout
    unknown = _invoke(url, "logs", "run-0")
    assert (
        unknown.exit_code == 1 and "no record and no failure note of run 'run-0'" in unknown.stderr
    )


def test_recs_keeps_its_columns_aligned_whatever_the_item_names(tmp_path):
    from burger_recs.contract import menu_items, recommendations

    url = _migrated(tmp_path)
    names = ["Classic", "The Triple-Decker Smoky Bacon Jalapeño Cheeseburger Deluxe", None]
    with db.make_engine(url).begin() as conn:
        for rank, name in enumerate(names, start=1):
            item = f"i{rank:03d}"
            conn.execute(
                recommendations.insert().values(
                    run_date=DAY,
                    customer_id="c42",
                    rank=rank,
                    item_id=item,
                    score=1.0 / rank,
                    model_version="model-1",
                    code_version="code-abc",
                )
            )
            if name:
                conn.execute(
                    menu_items.insert().values(
                        item_id=item, name=name, ingredients="bun, beef", last_seen=DAY
                    )
                )
    shown = _invoke(url, "recs", "--customer", "c42")
    assert shown.exit_code == 0, shown.output
    lines = [line for line in shown.stdout.splitlines() if line.startswith("   ")]
    assert len(lines) == 3
    # The item id and the score start in the same column on every line.
    assert len({line.index("[i00") for line in lines}) == 1, lines
    assert len({line.index("score") for line in lines}) == 1, lines
    assert names[1] in lines[1] and "i003" in lines[2]  # no name: its id stands for it


def test_rollback_asks_then_undoes_the_newest_promotion(tmp_path):
    import datetime as dt

    import numpy as np

    from burger_recs.champion import EVALUATION, SERVING, StoredScorer, record_model
    from burger_recs.scoring import Factors

    url = _migrated(tmp_path)
    none = _invoke(url, "rollback", "--yes")
    assert none.exit_code == 1 and "there is no champion to roll back" in none.stderr
    engine = db.make_engine(url)
    for n, version in enumerate(("lightfm-good", "lightfm-bad")):
        day = DAY + dt.timedelta(days=n)
        factors = Factors(np.ones((1, 2), np.float32), np.ones((1, 2), np.float32), np.zeros(1))
        kept = StoredScorer(version, np.array(["c1"]), np.array(["i1"]), factors, day)
        row = {"model_version": version, "run_id": f"run-{n}", "run_date": day}
        row |= {"trained_until": day, "code_version": "abc", "metrics": {}, "params": {}}
        with engine.begin() as conn:
            record_model(conn, row, promote=True, scorers={SERVING: kept, EVALUATION: kept})
    kept_on = CliRunner().invoke(app, ["rollback", "--database-url", url], input="n\n")
    assert kept_on.exit_code == 1 and "roll back champion lightfm-bad?" in kept_on.stdout
    done = _invoke(url, "rollback", "--yes")
    assert done.exit_code == 0, done.output
    assert "model lightfm-bad is no longer a champion; the champion is now lightfm-good" in (
        done.stdout
    )
