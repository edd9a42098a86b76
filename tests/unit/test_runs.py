"""Run records (burger_recs.runs): one pipeline_runs row a run, newest first."""

from __future__ import annotations

import datetime as dt

from burger_recs.errors import BadSettings
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


# ---------------------------------------------------------------------------------------------
# Failure notes: what a failed step leaves for the run's final task
# ---------------------------------------------------------------------------------------------
def _use(engine, monkeypatch):
    from burger_recs import db

    monkeypatch.setenv(db.DATABASE_URL_ENV, engine.url.render_as_string(hide_password=False))


def test_an_expected_failure_is_noted_and_ends_the_step_without_a_traceback(
    sqlite_engine, monkeypatch, caplog
):
    import logging

    import pytest

    from burger_recs.errors import BadSettings
    from burger_recs.runs import failure_notes, noted

    _use(sqlite_engine, monkeypatch)
    logger = logging.getLogger("burger_recs")
    logger.addHandler(caplog.handler)  # the project's logger does not propagate
    try:
        with pytest.raises(SystemExit) as stop, noted("train", "uuid-1"):
            raise BadSettings("epochs must be at least 1, got 0")
    finally:
        logger.removeHandler(caplog.handler)
    assert stop.value.code == 1
    (note,) = failure_notes(sqlite_engine, "uuid-1")  # keyed by the orchestrator's run id
    assert (note.step, note.message, note.expected) == (
        "train",
        "epochs must be at least 1, got 0",
        True,
    )
    (logged,) = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert logged.getMessage() == "train failed: epochs must be at least 1, got 0"
    assert logged.exc_info is None  # the message alone, no traceback


def test_an_unexpected_error_is_noted_and_raised_as_it_was(sqlite_engine, monkeypatch):
    import pytest

    from burger_recs.runs import failure_notes, noted

    _use(sqlite_engine, monkeypatch)
    with pytest.raises(KeyError, match="'item_id'"), noted("recommend", "run-1"):
        raise KeyError("item_id")
    (note,) = failure_notes(sqlite_engine, "run-1")
    assert (note.step, note.message, note.expected) == ("recommend", "KeyError: 'item_id'", False)


def test_a_note_is_keyed_by_the_run_id_in_the_environment_before_the_one_given(
    sqlite_engine, monkeypatch
):
    """A cacheable step takes no run id: a cluster's pod has it in its environment."""
    import pytest

    from burger_recs.runs import RUN_ID_ENV, failure_notes, noted, run_key

    _use(sqlite_engine, monkeypatch)
    monkeypatch.delenv(RUN_ID_ENV, raising=False)
    assert run_key("kfp-uuid") == "kfp-uuid" and run_key() == ""
    monkeypatch.setenv(RUN_ID_ENV, "from-the-label")
    assert run_key("kfp-uuid") == run_key() == "from-the-label"
    with pytest.raises(SystemExit), noted("validate"):
        raise BadSettings("orders.csv: 2 problems")
    (note,) = failure_notes(sqlite_engine, "from-the-label")
    assert (note.step, note.message) == ("validate", "orders.csv: 2 problems")


def test_a_database_that_is_away_never_hides_the_step_error(monkeypatch, tmp_path):
    import pytest

    from burger_recs import db, runs

    monkeypatch.setattr(runs, "NOTE_RETRY_SECONDS", 0.5)
    monkeypatch.setenv(db.DATABASE_URL_ENV, "postgresql://nobody@127.0.0.1:1/none")
    with pytest.raises(ZeroDivisionError), runs.noted("evaluate", "run-1"):
        _ = 1 / 0
    monkeypatch.delenv(db.DATABASE_URL_ENV)
    with pytest.raises(ZeroDivisionError), runs.noted("evaluate", "run-1"):
        _ = 1 / 0


def test_a_failure_note_keeps_the_end_of_the_steps_log_and_a_defects_traceback(
    sqlite_engine, monkeypatch
):
    """What `burger-recs logs RUN` shows once the step's pod is gone."""
    import logging

    import pytest

    from burger_recs.logs import TAIL_LINES
    from burger_recs.runs import failure_notes, noted, run_log

    _use(sqlite_engine, monkeypatch)
    step_log = logging.getLogger("burger_recs.steps.validate")
    with pytest.raises(SystemExit), noted("validate", "run-7"):
        for n in range(TAIL_LINES + 40):
            step_log.info("validate: checked file %d", n)
        raise BadSettings("orders.csv: quantity must be at least 1 (2 rows)")
    with pytest.raises(ZeroDivisionError), noted("train", "run-7"):
        step_log.info("train: fitting 3 epochs")
        _ = 1 / 0
    validate, train = sorted(failure_notes(sqlite_engine, "run-7"), key=lambda n: n.step)[::-1]
    lines = validate.log_tail.splitlines()
    assert len(lines) == TAIL_LINES  # bounded: the end, not the whole log
    assert "checked file 41" in lines[0] and "checked file 99" in lines[-2]
    assert lines[-1].endswith(
        "ERROR validate failed: orders.csv: quantity must be at least 1 (2 rows)"
    )
    assert "train: fitting 3 epochs" in train.log_tail
    assert "Traceback (most recent call last)" in train.log_tail
    assert train.log_tail.rstrip().endswith("ZeroDivisionError: division by zero")

    shown = run_log(sqlite_engine, "run-7")
    assert shown.startswith("run run-7\n  no run record")
    assert shown.index("== validate failed") < shown.index("== train failed")
    assert "(bad input or settings)" in shown and "(a defect or an outage)" in shown
    assert "   -- the end of its log --" in shown and "checked file 99" in shown
    assert run_log(sqlite_engine, "another-run") is None
    # Outside a step nothing more is kept.
    assert not [
        h for h in logging.getLogger("burger_recs").handlers if type(h).__name__ == "LogTail"
    ]


def test_who_served_a_day_is_said_one_way_everywhere():
    from burger_recs.runs import served_label

    assert served_label("challenger", "lightfm-07581f51c771") == "challenger (lightfm-07581f51c771)"
    assert served_label("champion", "lightfm-1a2b") == "champion (lightfm-1a2b)"
    assert served_label("popularity", "popularity") == "popularity"
    assert served_label(None, None) is None  # a failed run: each view shows its own blank
    assert served_label("", "lightfm-1") is None
