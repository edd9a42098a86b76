"""Broken drops of tests/data/bad_inputs/ stop the compiled pipeline at validate.

Run through kfp.local like a real day: the run fails with a message naming what is wrong,
nothing is trained, and the database keeps exactly what it had (plus the failed run's record).
Every case's message is checked by tests/unit/test_validate.py through the ingest and validate
steps; here a few representative ones take the whole way, one for each path a problem takes
(REPRESENTATIVE).
"""

import datetime as dt

import pandas as pd
import pytest
import sqlalchemy as sa

from burger_recs import db
from burger_recs.contract import pipeline_runs, recommendations
from burger_recs.migrations import migrate
from burger_recs.pipelines.compile import compiled_pipeline
from burger_recs.pipelines.local_run import RunFailed, run_pipeline
from burger_recs.runs import RunRecord
from burger_recs.steps.publish import publish
from tests.support.drops import CASES_DIR, RUN_DATE, WINDOW_DAYS, expected_lines

pytestmark = pytest.mark.slow  # a kfp.local pipeline run each

REPRESENTATIVE = {
    "missing_column": "found by ingest in a file's header (orders of one day)",
    "gzip_named_csv": "found by ingest: a file it cannot read",
    "unknown_item": "found by validate across files, with the example line",
    "header_only_window": "found by validate over the whole window: no orders at all",
}


@pytest.fixture(scope="module")
def database(tmp_path_factory):
    """A database that already serves yesterday's recommendations."""
    root = tmp_path_factory.mktemp("bad-inputs")
    url = f"sqlite:///{root / 'recs.db'}"
    recs = pd.DataFrame(
        {
            "customer_id": ["C1", "C1", "C2", "C2"],
            "rank": [1, 2, 1, 2],
            "item_id": ["I1", "I2", "I2", "I1"],
            "score": [2.0, 1.0, 2.0, 1.0],
        }
    )
    record = RunRecord("yesterday", dt.date(2026, 3, 3), "published", model_version="m0")
    engine = db.make_engine(url)
    migrate(engine)
    publish(engine, record, recs)
    return root, url


def _snapshot(url):
    with db.make_engine(url).connect() as conn:
        recs = conn.execute(
            sa.select(recommendations).order_by(
                recommendations.c.run_date, recommendations.c.customer_id, recommendations.c.rank
            )
        ).all()
        runs = conn.execute(sa.select(pipeline_runs.c.run_id, pipeline_runs.c.status)).all()
    return recs, set(runs)


@pytest.mark.parametrize("case", sorted(REPRESENTATIVE))
def test_broken_drop_fails_at_validate_and_changes_nothing(case, database):
    root, url = database
    recs_before, runs_before = _snapshot(url)
    arguments = {
        "data_uri": str(CASES_DIR / case),
        "run_date": RUN_DATE.isoformat(),
        "window_days": WINDOW_DAYS,
        "holdout_days": 1,
        "epochs": 1,
    }
    with pytest.raises(RunFailed) as failure:
        run_pipeline(compiled_pipeline(), arguments, url, root, quiet=True)
    message = str(failure.value)
    assert "Inner task failed: 'validate'" in message
    for expected in expected_lines(CASES_DIR / case):
        assert expected in message
    run = failure.value.result
    assert run.artifact("train", "model") is None
    assert "nothing was trained or published" in (run.folder / "validation.md").read_text()
    recs_after, runs_after = _snapshot(url)
    assert recs_after == recs_before
    assert runs_after == runs_before | {(run.run_id, "failed")}
    # Recorded by the pipeline's final task, naming the step that stopped the run.
    assert run.record.status == "failed"
    assert run.record.message.startswith("validate failed: ")
