"""The trend page of the last 30 days (burger_recs.trends)."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import sqlalchemy as sa

from burger_recs import trends
from burger_recs.runs import record_run
from tests.support.browser import chromium, console_lines, run_chromium
from tests.support.database import DAY, run_record

EARLY = dt.datetime(2026, 3, 1, 6, 0, tzinfo=dt.UTC)
VERSION = "lightfm-07581f51c771"


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
        "day_orders": 100 + n,
        "day_orders_expected": 110.0,
        "day_orders_floor": 44.0,
        "day_orders_ceiling": 220.0,
    }


def record_days(engine: sa.Engine) -> None:
    """Runs of the 35 days to DAY, but DAY - 3 (no run) and DAY - 5 (failed only); two runs
    of DAY - 1, the later gated and served by popularity; the others served by VERSION."""
    for n in range(35):
        day = DAY - dt.timedelta(days=n)
        if n == 3:
            continue
        status = "failed" if n == 5 else "published"
        finished = EARLY + dt.timedelta(days=35 - n)
        record = run_record(
            day, f"run-{n}", status, model_version=VERSION, metrics=figures(n), finished_at=finished
        )
        record_run(engine, record)
    later = EARLY + dt.timedelta(days=40)
    popular = figures(1) | {"served_share_model": 0.0, "served_share_popularity": 1.0}
    gated = run_record(
        DAY - dt.timedelta(days=1),
        "run-1-again",
        "gated",
        served_by="popularity",
        model_version="popularity",
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
    assert by_day[0].model_version == VERSION and by_day[3].model_version == ""
    assert by_day[3].run_id == "" and by_day[5].run_id == ""  # no run; a failed run only
    assert by_day[29].run_id == "run-29"
    assert by_day[0].value("churn_previous_day") != by_day[0].value("churn_previous_day")  # NaN
    # An earlier run date: its own 30 days, not the newest ones.
    assert trends.trend_days(engine, DAY - dt.timedelta(days=5))[-1].day == DAY - dt.timedelta(5)


def rows(page: str) -> dict[str, list[str]]:
    """The table's rows: each day's cells after the day, as text, by day, in the page's order."""
    return {
        day: [re.sub(r"<[^>]+>", "", cell) for cell in re.findall(r"<td[^>]*>(.*?)</td>", cells)]
        for day, cells in re.findall(r'<tr><td class="day">([\d-]+)</td>(.*?)</tr>', page)
    }


HEADERS = [
    *("day", "status", "served by", "orders", "precision@k", "coverage", "churn"),
    *("share served by", "day", "median", "all", "new", "returning"),
    *("mean Jaccard of top-k", "first item changed"),
    *("model", "champion", "popularity"),
]


def test_the_page_has_five_inline_plots_and_a_row_per_day_with_a_run_newest_first(
    sqlite_engine,
):
    record_days(sqlite_engine)

    page = trends.render_trends(trends.trend_days(sqlite_engine, DAY), DAY)

    assert list(rows(page)) == [
        (DAY - dt.timedelta(n)).isoformat() for n in range(30) if n not in (3, 5)
    ]
    assert "28 of 30 days have a published or gated run" in page
    # The days without one are no rows, but named in one line.
    assert "No published or gated run on 2 days: 2026-03-23, 2026-03-25." in page
    assert page.count("<tr>") == 2 + 28  # the header's two rows, and the days with a run
    assert len(re.findall(r'<img alt="[^"]+" src="data:image/png;base64,[A-Za-z0-9+/=]+">', page))
    assert page.count("data:image/png;base64,") == len(trends.PANELS) == 5
    assert "http" not in page.replace('http-equiv="Content-Security-Policy"', "")
    # The headers name the figures the panels plot, never their metric keys.
    headers = re.findall(r"<th(?: [^>]*)?>(.*?)</th>", page)
    assert headers == HEADERS
    assert headers[8:] == [
        label for panel in trends.PANELS if len(panel.series) > 1 for label, _ in panel.series
    ]
    assert not {key for panel in trends.PANELS for _, key in panel.series} & set(headers)
    # Who served: the scorer and its model version, as every view says it.
    assert rows(page)[DAY.isoformat()][:5] == [
        *("published", f"challenger ({VERSION})"),
        *("100", "110", "0.2000"),  # orders and their median are counts
    ]
    assert f'title="challenger ({VERSION})"' in page
    assert rows(page)[(DAY - dt.timedelta(1)).isoformat()][:2] == ["gated", "popularity"]


def test_days_without_the_new_figures_are_gaps(sqlite_engine):
    record_run(sqlite_engine, run_record(DAY, "old", metrics={"model_precision_at_k": 0.3}))
    days = trends.trend_days(sqlite_engine, DAY, days=3)
    page = trends.render_trends(days, DAY)
    assert rows(page) == {DAY.isoformat(): ["published", "challenger (model-1)", *["—"] * 11]}
    assert "No published or gated run on 2 days: 2026-03-26, 2026-03-27." in page


def test_every_value_on_the_page_is_escaped(sqlite_engine):
    hostile = '<img src=x onerror="alert(1)">'
    record_run(sqlite_engine, run_record(DAY, "run", model_version=hostile))
    page = trends.render_trends(trends.trend_days(sqlite_engine, DAY, days=2), DAY, note=hostile)
    assert "<img src=x" not in page
    escaped = "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;"
    assert page.count(escaped) == 2  # the note, the served-by cell's title
    assert rows(page)[DAY.isoformat()][1] == f"challenger ({escaped})"  # the cell, as words


def test_writing_the_page_never_fails_the_step(tmp_path, caplog):
    broken = sa.create_engine(f"sqlite:///{tmp_path / 'missing' / 'nowhere.db'}")
    target = trends.write_trends(broken, DAY, tmp_path / "out" / "trends.html")
    page = target.read_text()
    assert "The results database could not be read" in page
    assert "No published or gated run on 30 days: 2026-02-27 to 2026-03-28." in page
    assert "<table" not in page  # no day has a row

    unwritable = tmp_path / "file"
    unwritable.write_text("")
    with caplog.at_level("WARNING"):
        trends.write_trends(broken, DAY, unwritable / "trends.html")  # a file as folder
    assert "not written" in caplog.text


# ---------------------------------------------------------------------------------------------
# In a real browser: Debian's chromium, headless, from file://, in a 1400-pixel-wide window
# ---------------------------------------------------------------------------------------------
WIDTH, HEIGHT = 1400, 1000
MISSED = {2, 9, 10, 17, 23}
"""Days before DAY without a run."""


def record_month(engine: sa.Engine) -> None:
    """Runs as a month of the pipeline records them: every figure the panels plot, models
    retrained each week (long versions), a champion serving two days, and a gated day (DAY - 4)
    served by popularity; no run on the MISSED days."""
    for n in range(30):
        if n in MISSED:
            continue
        day = DAY - dt.timedelta(days=n)
        version = f"lightfm-{(0x07581F51C771 + n // 7 * 0x1D3A5B):012x}"
        served_by, status = "challenger", "published"
        if n in (12, 13):
            served_by, version = "champion", "lightfm-3f9e0c2ab417"
        if n == 4:
            served_by, status, version = "popularity", "gated", "popularity"
        metrics = {
            "served_precision_at_k": 0.1875 + (n % 5) / 97,
            "served_precision_at_k_new": 0.0912 + (n % 3) / 211,
            "served_precision_at_k_returning": 0.2468 - (n % 4) / 173,
            "catalogue_coverage": 0.4213 + (n % 6) / 59,
            "churn_mean_jaccard": 0.7719 - (n % 7) / 83,
            "churn_first_changed_share": 0.2931 + (n % 5) / 67,
            "churn_customers": 1832 + n,
            "served_share_model": float(served_by == "challenger"),
            "served_share_champion": float(served_by == "champion"),
            "served_share_popularity": float(served_by == "popularity"),
            "challenger_version": version,
        }
        finished = EARLY + dt.timedelta(days=30 - n)
        record = run_record(
            day,
            f"daily-{day}",
            status,
            served_by=served_by,
            model_version=version,
            metrics=metrics,
            finished_at=finished,
        )
        record_run(engine, record)


# Written into the page's root element once everything is laid out.
MEASURE = """<script>
addEventListener("load", () => {
  const root = document.documentElement;
  const tables = Array.from(document.querySelectorAll("table"));
  root.dataset.scrollWidth = root.scrollWidth;
  root.dataset.clientWidth = root.clientWidth;
  root.dataset.innerWidth = window.innerWidth;
  root.dataset.tableRight = Math.max(0, ...tables.map((t) => t.getBoundingClientRect().right));
});
</script>"""


@pytest.mark.browser
def test_a_1400_pixel_browser_shows_the_page_without_scrolling_sideways(sqlite_engine, tmp_path):
    chromium()  # skipped without one, before the database is filled
    record_month(sqlite_engine)
    page = trends.write_trends(sqlite_engine, DAY, tmp_path / "trends.html")
    window = f"--window-size={WIDTH},{HEIGHT}"

    # The page's policy forbids scripts: measure a copy without it, with a script of our own.
    policy = r'<meta http-equiv="Content-Security-Policy"[^>]*>'
    measured, found = re.subn(policy, "", page.read_text())
    assert found == 1
    probe = tmp_path / "measured.html"
    probe.write_text(measured.replace("</body>", f"{MEASURE}</body>"), encoding="utf-8")
    browser = run_chromium(tmp_path / "profile", window, "--dump-dom", probe.as_uri())
    assert browser.returncode == 0, browser.stderr[-3000:]
    root = re.search(r"<html[^>]*>", browser.stdout)
    assert root is not None
    px = {k: float(v) for k, v in re.findall(r'data-([a-z-]+)="([\d.]+)"', root.group(0))}
    assert px["inner-width"] == WIDTH  # the window measured is the one asked for
    assert px["scroll-width"] <= px["inner-width"], px
    # The width inside a vertical scrollbar, if any: wider would need one sideways too.
    assert px["scroll-width"] <= px["client-width"], px
    assert 0 < px["table-right"] <= px["client-width"], px

    # The page as it is: a screenshot, and nothing on the console.
    shot = tmp_path / "trends.png"
    browser = run_chromium(
        tmp_path / "profile", window, f"--screenshot={shot}", page.resolve().as_uri()
    )
    assert browser.returncode == 0, browser.stderr[-3000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
    assert console_lines(browser.stderr) == []
