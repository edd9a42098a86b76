"""Run records (burger_recs.runs): one pipeline_runs row a run, newest first."""

from __future__ import annotations

import datetime as dt

from burger_recs.runs import recent_runs, record_run
from tests.support.database import DAY, OTHER_DAY, run_record, run_rows


def test_record_run_upserts_by_run_id(engine):
    record_run(engine, run_record(DAY, "run-1", status="failed", message="train crashed"))
    record_run(engine, run_record(OTHER_DAY, "run-0", status="gated"))
    again = run_record(
        DAY, "run-1", status="published", message=None, metrics={"precision_at_k": 0.5}
    )
    record_run(engine, again)

    runs = run_rows(engine)
    assert sorted(runs) == ["run-0", "run-1"]
    assert runs["run-1"]["status"] == "published"
    assert runs["run-1"]["message"] is None
    assert runs["run-1"]["metrics"] == {"precision_at_k": 0.5}
    assert runs["run-0"]["status"] == "gated"


def test_recent_runs_lists_the_newest_first(engine):
    base = dt.datetime(2026, 3, 28, 6, 0, tzinfo=dt.UTC)
    for run_id, hours in [("b", 2), ("a", 0), ("d", 5), ("c", 3)]:
        finished = base + dt.timedelta(hours=hours)
        record_run(engine, run_record(DAY, run_id, status="gated", finished_at=finished))

    assert [r.run_id for r in recent_runs(engine)] == ["d", "c", "b", "a"]
    assert [r.run_id for r in recent_runs(engine, limit=2)] == ["d", "c"]
