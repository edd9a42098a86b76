"""`burger-recs backfill`: three generated days run by kfp.local, then nothing left to run."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from burger_recs import db
from burger_recs.backfill import headline
from burger_recs.cli import app
from burger_recs.contract import recommendations
from burger_recs.runs import served_label
from tests.support.database import run_rows
from tests.support.pipeline import FAST_PARAMS, RUN_DATE

pytestmark = pytest.mark.slow  # kfp.local pipeline runs, seconds each

FIRST = RUN_DATE - dt.timedelta(days=2)
DAYS = [FIRST + dt.timedelta(days=i) for i in range(3)]
AFTER = RUN_DATE + dt.timedelta(days=1)  # the shop has no data for it: its run fails


def test_backfill_publishes_each_day_once_and_reports_a_failed_day(
    shop_data, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)  # the runs' folders: ./.local/runs/<run-id>/
    url = f"sqlite:///{tmp_path / 'recs.db'}"
    monkeypatch.setenv(db.DATABASE_URL_ENV, url)  # run_pipeline sets it; put it back after
    params = [f"--param={name}={value}" for name, value in FAST_PARAMS.items()]
    options = ["--data", str(shop_data), "--database-url", url, *params]

    def backfill(last: dt.date) -> object:
        arguments = ["backfill", "--from", FIRST.isoformat(), "--to", last.isoformat()]
        # A margin every model passes: each day publishes.
        return CliRunner().invoke(app, [*arguments, *options, "--param", "quality_margin=-1"])

    first = backfill(RUN_DATE)
    assert first.exit_code == 0, first.output
    engine = db.make_engine(url)
    runs = run_rows(engine)
    assert sorted((r["run_date"], r["status"]) for r in runs.values()) == [
        (day, "published") for day in DAYS
    ]
    with engine.connect() as conn:
        r = recommendations.c
        per_day = dict(
            conn.execute(sa.select(r.run_date, sa.func.count()).group_by(r.run_date)).all()
        )
    assert per_day == {r["run_date"]: r["rows_written"] for r in runs.values()}
    assert all(rows > 0 for rows in per_day.values())
    table = first.stdout.splitlines()
    assert table[1].split()[:6] == ["day", "status", "served", "by", "p@k", "rows"]
    for day, record in sorted((r["run_date"], r) for r in runs.values()):
        row = next(line for line in table if line.startswith(day.isoformat()))
        assert row.split() == [
            day.isoformat(),
            "published",
            *served_label(record["served_by"], record["model_version"]).split(),
            f"{record['metrics']['model_precision_at_k']:.4f}",
            f"{record['rows_written']:,}",
            record["run_id"],
        ]
        assert f".local/runs/{record['run_id']}/run.log" in first.stderr  # pointed at its log
    assert "3 day(s) run: 3 published" in first.stdout

    again = backfill(RUN_DATE)
    assert again.exit_code == 0, again.output
    assert "is done (published or gated): nothing to run" in again.stdout
    assert run_rows(engine) == runs

    # One day more, which has no data: only it runs, fails, and the command says so.
    failing = backfill(AFTER)
    assert failing.exit_code == 1, failing.output
    assert "1 of 4 days to run (3 done, skipped)" in failing.stderr
    (failed,) = [r for r in run_rows(engine).values() if r["run_id"] not in runs]
    assert (failed["run_date"], failed["status"]) == (AFTER, "failed")
    row = next(line for line in failing.stdout.splitlines() if line.startswith(str(AFTER)))
    assert "has no drop for the run date" in headline(failed["message"])
    assert row.split()[:6] == [AFTER.isoformat(), "failed", "-", "-", "0", failed["run_id"]]
    assert row.endswith(headline(failed["message"]))
    assert f"{AFTER} failed: its log is .local/runs/{failed['run_id']}/run.log" in failing.stdout
