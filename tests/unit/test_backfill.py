"""Backfill (burger_recs.backfill): which days of a range run, from what pipeline_runs holds."""

from __future__ import annotations

import datetime as dt

import pytest

from burger_recs.backfill import (
    MAX_DAYS,
    ClusterRun,
    DayState,
    Reprocess,
    cluster_outcome,
    cluster_run_ids,
    day_range,
    day_states,
    days_to_run,
    headline,
    outcome,
    parse_day,
    select_days,
)
from burger_recs.pipelines.local_run import LocalRun
from burger_recs.runs import RunStatus, record_run
from tests.support.database import run_record

FIRST = dt.date(2026, 3, 23)
LAST = dt.date(2026, 3, 29)
WEEK = [FIRST + dt.timedelta(days=i) for i in range(7)]
MORNING = dt.datetime(2026, 3, 30, 6, 0, tzinfo=dt.UTC)


def _record(engine, day: dt.date, run_id: str, status: str, hours: int = 0) -> None:
    """Record a run of ``day`` that finished ``hours`` after MORNING."""
    finished = MORNING + dt.timedelta(hours=hours)
    record_run(engine, run_record(day, run_id, status=status, finished_at=finished))


@pytest.fixture
def week(sqlite_engine):
    """A week in which each kind of day occurs once.

    23 published; 24 gated; 25 only failed; 26 nothing; 27 published, then failed;
    28 failed, then published; 29 failed, then gated. Runs of the days around it as well.
    """
    engine = sqlite_engine
    _record(engine, WEEK[0], "published-23", "published")
    _record(engine, WEEK[1], "gated-24", "gated")
    _record(engine, WEEK[2], "failed-25a", "failed")
    _record(engine, WEEK[2], "failed-25b", "failed", hours=1)
    _record(engine, WEEK[4], "published-27", "published")
    _record(engine, WEEK[4], "failed-27", "failed", hours=1)
    _record(engine, WEEK[5], "failed-28", "failed")
    _record(engine, WEEK[5], "published-28", "published", hours=1)
    _record(engine, WEEK[6], "failed-29", "failed")
    _record(engine, WEEK[6], "gated-29", "gated", hours=1)
    _record(engine, FIRST - dt.timedelta(days=1), "failed-before", "failed")
    _record(engine, LAST + dt.timedelta(days=1), "failed-after", "failed")
    return engine


def _day(number: int) -> dt.date:
    return dt.date(2026, 3, number)


def test_missing_runs_the_days_without_a_published_or_gated_run(week):
    assert days_to_run(week, FIRST, LAST) == [_day(25), _day(26)]
    assert days_to_run(week, FIRST, LAST, Reprocess.MISSING) == [_day(25), _day(26)]


def test_failed_runs_the_missing_days_and_those_whose_latest_run_failed(week):
    assert days_to_run(week, FIRST, LAST, Reprocess.FAILED) == [_day(25), _day(26), _day(27)]


def test_all_runs_every_day_oldest_first(week):
    assert days_to_run(week, FIRST, LAST, Reprocess.ALL) == WEEK
    assert days_to_run(week, LAST, LAST, Reprocess.ALL) == [LAST]


def test_runs_outside_the_range_do_not_count(week):
    before, after = FIRST - dt.timedelta(days=1), LAST + dt.timedelta(days=1)
    assert days_to_run(week, before, before) == [before]
    assert days_to_run(week, _day(24), _day(24)) == []
    assert days_to_run(week, after, after, Reprocess.FAILED) == [after]


def test_a_backfill_that_went_through_leaves_nothing_to_run(week):
    for reprocess in Reprocess:
        for day in days_to_run(week, FIRST, LAST, reprocess):
            _record(week, day, f"backfill-{day}", "published", hours=2)
    assert days_to_run(week, FIRST, LAST) == []
    assert days_to_run(week, FIRST, LAST, Reprocess.FAILED) == []
    assert days_to_run(week, FIRST, LAST, Reprocess.ALL) == WEEK


def test_a_day_that_failed_again_is_run_again(week):
    _record(week, _day(26), "failed-26", "failed", hours=2)
    assert days_to_run(week, _day(26), _day(26)) == [_day(26)]
    _record(week, _day(26), "gated-26", "gated", hours=3)
    assert days_to_run(week, _day(26), _day(26)) == []


def test_day_states_say_whether_a_day_is_done_and_how_its_latest_run_ended(week):
    states = day_states(week, WEEK)
    assert list(states) == WEEK
    assert states[_day(26)] == DayState(_day(26))
    assert states[_day(27)] == DayState(_day(27), True, RunStatus.FAILED, "failed-27")
    assert states[_day(28)] == DayState(_day(28), True, RunStatus.PUBLISHED, "published-28")
    assert states[_day(25)] == DayState(_day(25), False, RunStatus.FAILED, "failed-25b")
    assert day_states(week, []) == {}


def test_select_days_sorts_and_takes_the_reprocess_value():
    states = {d: DayState(d) for d in reversed(WEEK[:3])}
    assert select_days(states, Reprocess("missing")) == WEEK[:3]


def test_day_range_covers_both_ends_and_refuses_reversed_or_long_ranges():
    assert day_range(FIRST, LAST) == WEEK
    assert day_range(LAST, LAST) == [LAST]
    assert len(day_range(dt.date(2028, 1, 1), dt.date(2028, 12, 31))) == MAX_DAYS
    with pytest.raises(ValueError, match="first day 2026-03-29 is after the last day 2026-03-23"):
        day_range(LAST, FIRST)
    with pytest.raises(ValueError, match="367 days; a backfill covers at most 366"):
        day_range(dt.date(2026, 1, 1), dt.date(2027, 1, 2))


def test_headline_is_the_first_line_and_the_first_item_of_a_list_it_announces():
    assert headline(None) == headline(" \n ") == ""
    assert headline("\n train failed: epochs must be at least 1\n  more\n") == (
        "train failed: epochs must be at least 1"
    )
    broken = "validate failed: the contract in 2 way(s):\n  - orders.csv: bad\n  - menu.csv: bad"
    assert headline(broken) == "validate failed: the contract in 2 way(s): orders.csv: bad"


def test_parse_day_names_the_option_of_a_bad_day():
    assert parse_day(" 2026-03-23 ", "--from") == FIRST
    with pytest.raises(ValueError, match="--to '2026-02-30' is not a day of the form YYYY-MM-DD"):
        parse_day("2026-02-30", "--to")


def test_an_outcome_takes_the_run_record_and_a_failure_its_first_line(tmp_path):
    published = LocalRun("run-1", tmp_path / "run-1", status=RunStatus.PUBLISHED)
    published.record = run_record(
        FIRST,
        "run-1",
        model_version="lightfm-1",
        metrics={"model_precision_at_k": 0.125, "k": 10},
        rows_written=4000,
        message="model p@k 0.125 >= baseline 0.1 x 1.1 = 0.11",
    )
    day = outcome(FIRST, published, seconds=12.0)
    assert (day.status, day.model_version, day.precision_at_k, day.rows_written) == (
        "published",
        "lightfm-1",
        0.125,
        4000,
    )
    assert not day.failed and day.log_file == tmp_path / "run-1" / "run.log"

    failed = LocalRun(
        "run-2", tmp_path / "run-2", status=RunStatus.FAILED, message="KFP said no\n-"
    )
    failed.record = run_record(
        FIRST,
        "run-2",
        status="failed",
        model_version=None,
        metrics=None,
        message="\nvalidate failed: 2 problems\n  orders.csv: ...",
    )
    day = outcome(FIRST, failed)
    assert day.failed and day.model_version is None and day.precision_at_k is None
    assert headline(day.message) == "validate failed: 2 problems"
    unrecorded = outcome(
        FIRST, LocalRun("run-3", tmp_path, status=RunStatus.FAILED, message="boom")
    )
    assert unrecorded.message == "boom" and unrecorded.rows_written == 0


def test_cluster_run_ids_are_distinct_and_sort_by_backfill_then_day():
    started = dt.datetime(2026, 11, 24, 8, 15, 2, tzinfo=dt.UTC)
    ids = cluster_run_ids(reversed(WEEK), started)
    assert list(ids) == list(reversed(WEEK))
    assert ids[FIRST].startswith("20261124-081502-") and ids[FIRST].endswith("-20260323")
    assert sorted(ids.values()) == [ids[day] for day in WEEK]
    later = cluster_run_ids(WEEK, started + dt.timedelta(seconds=1))
    assert max(ids.values()) < min(later.values())


def test_a_cluster_outcome_is_the_record_else_kfps_state():
    run = ClusterRun(FIRST, "backfill-1", "kfp-1", "http://ui/#/runs/details/kfp-1")
    record = run_record(
        FIRST,
        "backfill-1",
        status="gated",
        model_version="lightfm-2",
        metrics={"model_precision_at_k": 0.1},
        rows_written=0,
        message="model p@k 0.1 < baseline 0.2 x 1.1",
    )
    gated = cluster_outcome(run, {"state": "SUCCEEDED"}, record, seconds=30.0)
    assert (gated.status, gated.model_version, gated.precision_at_k) == ("gated", "lightfm-2", 0.1)
    assert not gated.failed and gated.link == run.link and gated.log_file is None

    failed = cluster_outcome(run, {"state": "FAILED", "error": {"message": "pod OOMKilled"}}, None)
    assert failed.failed and failed.status == "FAILED"
    assert failed.message.startswith("KFP says FAILED: pod OOMKilled; the run left no record")
    lost = cluster_outcome(run, {"state": "SUCCEEDED"}, None)
    assert lost.failed and "no record of run backfill-1" in lost.message
    slow = cluster_outcome(run, {"state": "RUNNING"}, None, problem="still RUNNING after 60s")
    assert (slow.status, slow.message) == ("RUNNING", "still RUNNING after 60s")
