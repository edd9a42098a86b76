"""Comparing two recorded runs (burger_recs.diff) and the ``burger-recs diff`` command."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from burger_recs import diff
from burger_recs.cli import app
from burger_recs.diff import ABSENT, MetricChange, ParamChange, RunNotFound
from burger_recs.runs import record_run
from burger_recs.steps.publish import publish
from tests.support.database import DAY, OTHER_DAY, run_record

EARLY = dt.datetime(2026, 3, 28, 6, 0, tzinfo=dt.UTC)

# Day A (OTHER_DAY) and day B (DAY): each customer's top 3, best first. Hand-computed:
#   c1  {i1,i2,i3} -> {i2,i1,i3}  Jaccard 3/3 = 1    first item changed (i1 -> i2)
#   c2  {i1,i2,i3} -> {i1,i4,i5}  Jaccard 1/5 = 0.2  first item kept
#   c3  {i1,i4,i5} -> {i5,i4,i2}  Jaccard 2/4 = 0.5  first item changed (i1 -> i5)
#   c9 only on day A; c7 and c8 only on day B.
# Mean Jaccard (1 + 0.2 + 0.5) / 3 = 0.5667; first item changed for 2 of 3 customers.
TOP_A = {
    "c1": ["i1", "i2", "i3"],
    "c2": ["i1", "i2", "i3"],
    "c3": ["i1", "i4", "i5"],
    "c9": ["i1", "i2", "i3"],
}
TOP_B = {
    "c1": ["i2", "i1", "i3"],
    "c2": ["i1", "i4", "i5"],
    "c3": ["i5", "i4", "i2"],
    "c7": ["i1", "i2", "i3"],
    "c8": ["i3", "i2", "i1"],
}
MEAN_JACCARD = (1 + 0.2 + 0.5) / 3
PUBLISHED_FIGURES = ("churn_", "served_share_", "catalogue_coverage")


def recs(tops: dict[str, list[str]]) -> pd.DataFrame:
    """customer_id, rank, item_id, score rows of each customer's top items, in reverse order."""
    rows = [
        {"customer_id": customer, "rank": rank, "item_id": item, "score": 1.0 - rank / 10}
        for customer, items in tops.items()
        for rank, item in enumerate(items, start=1)
    ]
    return pd.DataFrame(rows[::-1])


def publish_two_days(engine: sa.Engine) -> None:
    """Run A (OTHER_DAY, published) and run B (DAY, published), as the tests compare them."""
    run_a = run_record(
        OTHER_DAY,
        "run-a",
        finished_at=EARLY - dt.timedelta(days=1),
        params={"k": 3, "epochs": 10, "loss": "warp", "seed": 1},
        metrics={"model_auc": 0.8, "baseline_auc": 0.0, "k": 3, "eval_customers": 200},
    )
    run_b = run_record(
        DAY,
        "run-b",
        finished_at=EARLY,
        code_version="code-def",
        model_version="model-2",
        data_uri="gs://shop/other-drops",
        params={"k": 3, "epochs": 20, "seed": 1, "learning_rate": 0.05},
        metrics={"model_auc": 0.9, "baseline_auc": 0.5, "k": 3, "new_metric": 1.5},
    )
    publish(engine, run_a, recs(TOP_A))
    publish(engine, run_b, recs(TOP_B))


def test_diff_runs_compares_code_parameters_metrics_and_recommendations(engine):
    publish_two_days(engine)

    result = diff.diff_runs(engine, "run-a", "run-b")

    a, b = result.a.record, result.b.record
    assert (a.run_id, b.run_id) == ("run-a", "run-b")
    assert (a.code_version, b.code_version) == ("code-abc", "code-def")
    assert (a.rows_written, a.customers, b.rows_written, b.customers) == (12, 4, 15, 5)
    assert result.params == [
        ParamChange("epochs", 10, 20),
        ParamChange("learning_rate", ABSENT, 0.05),
        ParamChange("loss", "warp", ABSENT),
    ]
    # Publishing added the days' own figures (burger_recs.metrics); the evaluation's first.
    assert [m for m in result.metrics if not m.name.startswith(PUBLISHED_FIGURES)] == [
        MetricChange("baseline_auc", 0.0, 0.5, 0.5, None),  # no relative change from zero
        MetricChange("eval_customers", 200, None, None, None),
        MetricChange("k", 3, 3, 0.0, 0.0),
        MetricChange("model_auc", 0.8, 0.9, pytest.approx(0.1), pytest.approx(0.125)),
        MetricChange("new_metric", None, 1.5, None, None),
    ]
    moved = result.movement
    assert result.movement_note is None
    assert moved is not None
    assert (moved.day_a, moved.day_b) == (OTHER_DAY, DAY)
    assert (moved.customers_a, moved.customers_b, moved.common) == (4, 5, 3)
    assert (moved.only_a, moved.only_b) == (1, 2)
    assert moved.mean_jaccard == pytest.approx(MEAN_JACCARD)
    assert moved.first_changed == 2
    assert moved.first_changed_share == pytest.approx(2 / 3)
    # Day B's publish recorded the same churn against day A, its previous published day.
    assert b.metrics is not None
    assert b.metrics["churn_mean_jaccard"] == pytest.approx(MEAN_JACCARD, abs=1e-6)
    assert b.metrics["churn_first_changed_share"] == pytest.approx(2 / 3, abs=1e-6)
    assert b.metrics["churn_customers"] == 3
    assert b.metrics["churn_previous_day"] == OTHER_DAY.isoformat()
    assert a.metrics is not None and "churn_mean_jaccard" not in a.metrics  # no day before


def test_a_day_names_its_latest_published_run_else_its_latest_run(engine):
    def record(day: dt.date, run_id: str, status: str, hours: int) -> None:
        finished = EARLY + dt.timedelta(hours=hours)
        record_run(engine, run_record(day, run_id, status=status, finished_at=finished))

    record(DAY, "published-early", "published", 0)
    record(DAY, "published-late", "published", 1)
    record(DAY, "gated-later", "gated", 2)  # later, but not published
    record(OTHER_DAY, "failed", "failed", -30)
    record(OTHER_DAY, "gated", "gated", -29)  # no published run that day: the latest

    by_day = diff.resolve_run(engine, DAY.isoformat())
    assert (by_day.record.run_id, by_day.by_day) == ("published-late", True)
    assert diff.resolve_run(engine, OTHER_DAY.isoformat()).record.run_id == "gated"
    by_id = diff.resolve_run(engine, "gated-later")
    assert (by_id.record.run_id, by_id.by_day) == ("gated-later", False)


def test_a_day_without_a_run_names_the_days_that_have_one(engine):
    start = dt.date(2026, 3, 1)
    for n in (0, 1, 2, 5, 6, 7, 20):
        record_run(engine, run_record(start + dt.timedelta(days=n), f"run-{n}"))
    with pytest.raises(RunNotFound) as missing:
        diff.resolve_run(engine, "2026-03-05")
    assert str(missing.value).endswith(
        "; the days with a run: 2026-03-01..2026-03-21 (7 days), the nearest "
        "2026-03-03, 2026-03-06, 2026-03-07"
    )


def test_a_day_on_an_empty_database_says_no_run_is_recorded_yet(engine):
    with pytest.raises(RunNotFound, match="no run is recorded there yet"):
        diff.resolve_run(engine, "2026-03-05")


def test_a_run_id_spelled_as_a_day_is_that_run(engine):
    record_run(engine, run_record(DAY, OTHER_DAY.isoformat()))
    assert diff.resolve_run(engine, OTHER_DAY.isoformat()).by_day is False


def test_a_missing_run_or_day_is_named_with_the_database(engine):
    record_run(engine, run_record(DAY, "run-1"))
    where = engine.url.render_as_string(hide_password=True)

    with pytest.raises(RunNotFound) as missing:
        diff.diff_runs(engine, "run-1", "nope")
    assert str(missing.value) == f"no run 'nope' recorded in {where}"
    with pytest.raises(RunNotFound) as no_day:
        diff.diff_runs(engine, "2026-03-04", "run-1")
    assert str(no_day.value) == (
        f"no run recorded for 2026-03-04 in {where}; the days with a run: {DAY}"
    )
    with pytest.raises(RunNotFound, match="'2026-02-30' is neither a recorded run id nor a valid"):
        diff.resolve_run(engine, "2026-02-30")


def test_two_runs_of_the_same_day_are_not_compared_by_their_recommendations(engine):
    publish(engine, run_record(DAY, "run-1"), recs(TOP_A))
    publish(engine, run_record(DAY, "run-2", model_version="model-2"), recs(TOP_B))

    result = diff.diff_runs(engine, "run-1", "run-2")

    assert result.movement is None
    assert result.movement_note is not None
    assert "holds only the day's latest publication" in result.movement_note
    assert result.metrics[0].change == 0.0  # the rest is compared as usual


def test_a_day_without_published_recommendations_is_named(engine):
    publish(engine, run_record(OTHER_DAY, "run-a"), recs(TOP_A))
    record_run(engine, run_record(DAY, "run-b", status="gated"))

    result = diff.diff_runs(engine, "run-a", "run-b")

    assert result.movement is None
    assert result.movement_note == f"no recommendations published for {DAY}"


def test_compare_days_without_common_customers_has_no_means():
    moved = diff.compare_days(
        recs({"c1": ["i1"]})[["customer_id", "rank", "item_id"]],
        recs({"c2": ["i1"]})[["customer_id", "rank", "item_id"]],
        OTHER_DAY,
        DAY,
    )
    assert (moved.common, moved.only_a, moved.only_b) == (0, 1, 1)
    assert moved.mean_jaccard is None
    assert (moved.first_changed, moved.first_changed_share) == (0, None)


def test_parameters_that_are_equal_are_left_out_and_text_metrics_have_no_change():
    assert diff.param_changes({"k": 3, "seed": None}, {"k": 3}) == [
        ParamChange("seed", None, ABSENT)  # None is a value, not an absent parameter
    ]
    assert diff.param_changes(None, None) == []
    assert diff.metric_changes({"loss": "warp", "ok": True}, {"loss": "bpr", "ok": False}) == [
        MetricChange("loss", "warp", "bpr", None, None),
        MetricChange("ok", True, False, None, None),
    ]


# ---------------------------------------------------------------------------------------------
# The command: burger-recs diff RUN_A RUN_B
# ---------------------------------------------------------------------------------------------
def _url(engine: sa.Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def test_diff_command_prints_every_section_for_two_days(sqlite_engine, monkeypatch):
    publish_two_days(sqlite_engine)
    record_run(sqlite_engine, run_record(DAY, "gated-later", status="gated", finished_at=EARLY))
    monkeypatch.setenv("DATABASE_URL", _url(sqlite_engine))  # as runs and recs take it

    result = CliRunner().invoke(app, ["diff", OTHER_DAY.isoformat(), DAY.isoformat()])

    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "A  run run-a  (2026-03-27: the day's latest published run)" in out
    assert "B  run run-b  (2026-03-28: the day's latest published run)" in out
    for section in (
        "\ncode versions",
        "\nparameters that differ",
        "\ndata window and row counts",
        "\nmetrics",
        "\npublished recommendations",
    ):
        assert section in out
    lines = [line.split() for line in out.splitlines()]
    assert ["code", "version", "code-abc", "code-def", "differs"] in lines
    assert ["model", "model-1", "model-2", "differs"] in lines
    assert ["epochs", "10", "20", "differs"] in lines
    assert ["learning_rate", "(absent)", "0.05", "differs"] in lines
    assert ["seed"] not in [line[:1] for line in lines]  # equal: left out
    assert ["run", "date", "2026-03-27", "2026-03-28", "differs"] in lines
    assert ["data", "gs://shop/drops", "gs://shop/other-drops", "differs"] in lines
    assert ["rows", "written", "12", "15", "differs"] in lines
    assert ["customers", "4", "5", "differs"] in lines
    assert ["status", "published", "published"] in lines
    assert ["model_auc", "0.8000", "0.9000", "+0.1000", "+12.5%"] in lines
    assert ["baseline_auc", "0.0000", "0.5000", "+0.5000", "-"] in lines
    assert ["k", "3", "3", "+0", "+0.0%"] in lines
    assert ["eval_customers", "200", "-", "-", "-"] in lines
    assert "2026-03-27 (A) -> 2026-03-28 (B)" in out
    assert "customers in both days  3  (1 only on 2026-03-27, 2 only on 2026-03-28)" in out
    assert f"mean Jaccard of top-k   {MEAN_JACCARD:.4f}" in out
    assert "first item changed      2 of 3 customers (66.7%)" in out


def test_diff_command_says_why_two_runs_of_one_day_have_no_movement(sqlite_engine):
    publish(sqlite_engine, run_record(DAY, "run-1", finished_at=EARLY), recs(TOP_A))
    later = EARLY + dt.timedelta(hours=1)
    publish(sqlite_engine, run_record(DAY, "run-2", finished_at=later), recs(TOP_B))

    result = CliRunner().invoke(
        app, ["diff", "run-1", DAY.isoformat(), "--database-url", _url(sqlite_engine)]
    )

    assert result.exit_code == 0, result.output
    assert "B  run run-2  (2026-03-28: the day's latest published run)" in result.stdout
    assert "parameters that differ\n  none: all 1 parameters are the same" in result.stdout
    assert "holds only the day's latest publication" in result.stdout
    assert "mean Jaccard" not in result.stdout


def test_diff_command_fails_clearly_on_a_missing_run(sqlite_engine):
    record_run(sqlite_engine, run_record(DAY, "run-1"))
    url = _url(sqlite_engine)

    missing = CliRunner().invoke(app, ["diff", "run-1", "nope", "--database-url", url])
    no_day = CliRunner().invoke(app, ["diff", "2026-03-04", "run-1", "--database-url", url])

    assert missing.exit_code == 1
    assert f"error: no run 'nope' recorded in {url}" in missing.stderr
    assert missing.stdout == ""
    assert no_day.exit_code == 1
    assert "error: no run recorded for 2026-03-04 in " in no_day.stderr
