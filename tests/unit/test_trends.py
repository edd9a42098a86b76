"""The trend page of the last 30 days (burger_recs.trends)."""

from __future__ import annotations

import datetime as dt
import re

import sqlalchemy as sa

from burger_recs import trends
from burger_recs.runs import record_run
from tests.support.database import DAY, run_record

EARLY = dt.datetime(2026, 3, 1, 6, 0, tzinfo=dt.UTC)


def figures(n: int) -> dict:
    """A day's recorded figures, different each day."""
    return {
        "served_precision_at_k": 0.2 + n / 1000,
        "served_precision_at_k_new": 0.1,
        "served_precision_at_k_returning": 0.25,
        "catalogue_coverage": 0.5,
        "churn_mean_jaccard": 0.8,
        "churn_first_changed_share": 0.3,
        "served_share_model": 1.0,
        "served_share_champion": 0.0,
        "served_share_popularity": 0.0,
        "churn_previous_day": "2026-01-01",
    }


def record_days(engine: sa.Engine) -> None:
    """Runs of the 35 days to DAY, but DAY - 3 (no run) and DAY - 5 (failed only); two runs
    of DAY - 1, the later gated and served by popularity."""
    for n in range(35):
        day = DAY - dt.timedelta(days=n)
        if n == 3:
            continue
        status = "failed" if n == 5 else "published"
        finished = EARLY + dt.timedelta(days=35 - n)
        record_run(
            engine, run_record(day, f"run-{n}", status, metrics=figures(n), finished_at=finished)
        )
    later = EARLY + dt.timedelta(days=40)
    popular = figures(1) | {"served_share_model": 0.0, "served_share_popularity": 1.0}
    gated = run_record(
        DAY - dt.timedelta(days=1),
        "run-1-again",
        "gated",
        served_by="popularity",
        metrics=popular,
        finished_at=later,
    )
    record_run(engine, gated)


def test_the_trend_days_are_the_30_days_to_the_run_date_each_with_its_latest_run(engine):
    record_days(engine)

    days = trends.trend_days(engine, DAY)

    assert [d.day for d in days] == [DAY - dt.timedelta(days=n) for n in range(29, -1, -1)]
    by_day = {(DAY - d.day).days: d for d in days}
    assert by_day[0].run_id == "run-0" and by_day[0].value("served_precision_at_k") == 0.2
    assert by_day[1].run_id == "run-1-again"  # the day's latest run
    assert (by_day[1].status, by_day[1].served_by) == ("gated", "popularity")
    assert by_day[3].run_id == "" and by_day[5].run_id == ""  # no run; a failed run only
    assert by_day[29].run_id == "run-29"
    assert by_day[0].value("churn_previous_day") != by_day[0].value("churn_previous_day")  # NaN
    # An earlier run date: its own 30 days, not the newest ones.
    assert trends.trend_days(engine, DAY - dt.timedelta(days=5))[-1].day == DAY - dt.timedelta(5)


def test_the_page_lists_30_days_newest_first_with_four_inline_plots(sqlite_engine):
    record_days(sqlite_engine)

    page = trends.render_trends(trends.trend_days(sqlite_engine, DAY), DAY)

    listed = re.findall(r"<tr><td>(\d{4}-\d{2}-\d{2})</td>", page)
    assert listed == [(DAY - dt.timedelta(days=n)).isoformat() for n in range(30)]
    assert page.count("no published or gated run") == 2
    assert "28 of 30 days have a published or gated run" in page
    assert len(re.findall(r'<img alt="[^"]+" src="data:image/png;base64,[A-Za-z0-9+/=]+">', page))
    assert page.count("data:image/png;base64,") == len(trends.PANELS) == 4
    assert "http" not in page.replace('http-equiv="Content-Security-Policy"', "")
    row = re.search(rf"<tr><td>{DAY}</td>(.*?)</tr>", page)
    assert row is not None
    assert re.findall(r"<td>(.*?)</td>", row.group(1))[:3] == ["published", "challenger", "0.2000"]


def test_days_without_the_new_figures_are_gaps(sqlite_engine):
    record_run(sqlite_engine, run_record(DAY, "old", metrics={"model_precision_at_k": 0.3}))
    days = trends.trend_days(sqlite_engine, DAY, days=3)
    page = trends.render_trends(days, DAY)
    assert page.count("<td>—</td>") == 9  # every figure of the one recorded day
    assert page.count("no published or gated run") == 2


def test_writing_the_page_never_fails_the_step(tmp_path, caplog):
    broken = sa.create_engine(f"sqlite:///{tmp_path / 'missing' / 'nowhere.db'}")
    target = trends.write_trends(broken, DAY, tmp_path / "out" / "trends.html")
    page = target.read_text()
    assert "The results database could not be read" in page
    assert len(re.findall(r"<tr><td>\d{4}-", page)) == 30

    unwritable = tmp_path / "file"
    unwritable.write_text("")
    with caplog.at_level("WARNING"):
        trends.write_trends(broken, DAY, unwritable / "trends.html")  # a file as folder
    assert "not written" in caplog.text
