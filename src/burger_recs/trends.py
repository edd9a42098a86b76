"""The trend page: a run's last 30 days of figures, from the results database, as small plots.

Written by the publishing steps (publish, or commit when sharded) as their ``trends`` HTML
artifact, beside the run report that evaluate writes. Why there and not in the run report:
evaluate runs before the day is published, and kfp.local or KFP may serve it from the cache,
so its report must depend on its inputs alone, not on what the database holds that day; and
the day's own coverage and churn exist only once publish has computed them. The publishing
steps always run (they are never cached), already hold the database, and run after the
day's record is committed, so the page includes the day itself. Why not the local run index
(``burger_recs.pipelines.run_index``): it exists only on the machine that ran ``make run``;
the trend page is an artifact of every run, on a cluster as locally, shown in the KFP UI.

The page plots, for each day of the 30 days up to the run date, the figures of that day's
latest published or gated run (``pipeline_runs``): the day's orders, the recent median and
the band validate held them to (:mod:`burger_recs.day_checks`), precision@k of the scorer that
served the day (all, new and returning customers), catalogue coverage, churn against the previous
published day (mean Jaccard, first item changed) and the shares of customers served by the
model, the champion and popularity. A day without a run is a gap, so a bad or a missed day
stands out; the run date is shaded. Every plot is an inline PNG (matplotlib, as the run
report): no script, no font, no request to any host.

Below the plots, a table of the days that have a run, newest first: its status, who served
it (the scorer and its model version, as every view says it) and the figures the plots show,
headed by each panel's short name over its series' labels. The days without a run are not
rows: one line above the table names them. The page fits a 1400-pixel-wide window without
scrolling sideways (``tests/unit/test_trends.py`` measures it in a headless browser).
"""

from __future__ import annotations

import datetime as dt
import html
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display in containers or CI
import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import pandas as pd
import sqlalchemy as sa

from burger_recs import db
from burger_recs.contract import pipeline_runs
from burger_recs.day_checks import (
    DAY_ORDERS,
    DAY_ORDERS_CEILING,
    DAY_ORDERS_EXPECTED,
    DAY_ORDERS_FLOOR,
)
from burger_recs.evaluation import (
    CHALLENGER,
    CHAMPION,
    POPULARITY,
    PRECISION,
    SERVED,
    SERVED_PRECISION,
    figure,
)
from burger_recs.metrics import (
    CHURN_FIRST_CHANGED,
    CHURN_JACCARD,
    COVERAGE,
    NEW,
    RETURNING,
    SERVED_SHARES,
)
from burger_recs.report import png_base64
from burger_recs.runs import RunStatus, served_label

log = logging.getLogger(__name__)

TREND_DAYS = 30
"""How many days the page covers, the run date included."""


@dataclass(frozen=True)
class Panel:
    """One small plot: a title and its series (label, ``pipeline_runs.metrics`` key).

    Attributes:
        title: what it shows.
        heading: its short name, over its series' labels in the table's header.
        series: (label, metric key) pairs, one line each; the labels name the table's columns.
        stacked: draw the series as stacked bars (shares that add up to 1).
        share: the figures are shares: the axis goes to 1 whatever they are.
        decimals: how the table shows its figures (0: counts).
        band: the (floor, ceiling) metric keys of a band to shade behind the lines, if any;
            the table does not show it.
    """

    title: str
    heading: str
    series: tuple[tuple[str, str], ...]
    stacked: bool = False
    share: bool = False
    decimals: int = 4
    band: tuple[str, str] | None = None


PANELS = (
    Panel(
        "orders of the day, the recent median and its band",
        "orders",
        (("day", DAY_ORDERS), ("median", DAY_ORDERS_EXPECTED)),
        decimals=0,
        band=(DAY_ORDERS_FLOOR, DAY_ORDERS_CEILING),
    ),
    Panel(
        "precision@k of the scorer that served",
        "precision@k",
        (
            ("all", SERVED_PRECISION),
            ("new", figure(SERVED, PRECISION, NEW)),
            ("returning", figure(SERVED, PRECISION, RETURNING)),
        ),
    ),
    Panel(
        "catalogue coverage (share of the menu recommended)",
        "coverage",
        (("coverage", COVERAGE),),
        share=True,
    ),
    Panel(
        "churn against the previous published day",
        "churn",
        (("mean Jaccard of top-k", CHURN_JACCARD), ("first item changed", CHURN_FIRST_CHANGED)),
        share=True,
    ),
    Panel(
        "share of customers served by",
        "share served by",
        (
            ("model", SERVED_SHARES[CHALLENGER]),
            ("champion", SERVED_SHARES[CHAMPION]),
            ("popularity", SERVED_SHARES[POPULARITY]),
        ),
        stacked=True,
        share=True,
    ),
)
"""The plots of the page, in order."""


@dataclass(frozen=True)
class TrendDay:
    """A day of the page and the run that stands for it.

    Attributes:
        day: the run date.
        run_id: the day's latest published or gated run ("" when there was none).
        status: its status ("" when there was none).
        served_by: the scorer that served the day ("" when none did).
        model_version: the version of the model that served it (``pipeline_runs``).
        metrics: its recorded figures.
    """

    day: dt.date
    run_id: str = ""
    status: str = ""
    served_by: str = ""
    model_version: str = ""
    metrics: Mapping[str, object] = field(default_factory=dict)

    def value(self, key: str) -> float:
        """Return a figure as a float, NaN when the run lacks it (a gap in the plot)."""
        found = self.metrics.get(key)
        if isinstance(found, bool) or not isinstance(found, int | float):
            return math.nan
        return float(found)


def trend_days(engine: sa.Engine, until: dt.date, days: int = TREND_DAYS) -> list[TrendDay]:
    """Return the ``days`` days up to ``until``, oldest first, each with its run's figures.

    A day's run is its latest (by ``finished_at``) published or gated run; failed runs
    published nothing and are left out. A day without one has an empty :class:`TrendDay`.
    """
    first = until - dt.timedelta(days=days - 1)
    c = pipeline_runs.c
    query = (
        sa.select(c.run_id, c.run_date, c.status, c.served_by, c.model_version, c.metrics)
        .where(
            c.run_date >= first,
            c.run_date <= until,
            c.status.in_([RunStatus.PUBLISHED.value, RunStatus.GATED.value]),
        )
        .order_by(c.run_date, c.finished_at, c.run_id)
    )

    def read() -> list[sa.Row]:
        with engine.connect() as conn:
            return list(conn.execute(query))

    latest = {
        row.run_date: TrendDay(
            row.run_date,
            run_id=row.run_id,
            status=row.status,
            served_by=row.served_by or "",
            model_version=row.model_version or "",
            metrics=dict(row.metrics or {}),
        )
        for row in db.with_retries(read)  # ordered: each day's latest run comes last
    }
    return [
        latest.get(day, TrendDay(day))
        for day in (first + dt.timedelta(days=n) for n in range(days))
    ]


def panel_figure(panel: Panel, days: list[TrendDay], today: dt.date) -> plt.Figure:
    """Plot one panel's series over the days; a day without the figure is a gap."""
    index = pd.to_datetime([d.day for d in days])
    fig, ax = plt.subplots(figsize=(4.6, 2.3))
    seen: list[float] = []
    if panel.stacked:
        bottom = pd.Series(0.0, index=index)
        for label, key in panel.series:
            values = pd.Series([d.value(key) for d in days], index=index).fillna(0.0)
            ax.bar(index, values, bottom=bottom, width=0.8, label=label)
            bottom += values
    else:
        if panel.band is not None:  # the band the day was held to: stops below, warns above
            floor, ceiling = ([d.value(key) for d in days] for key in panel.band)
            ax.fill_between(index, floor, ceiling, color="tab:green", alpha=0.12, label="band")
            seen += [v for v in ceiling if not math.isnan(v)]
        for label, key in panel.series:
            line = [d.value(key) for d in days]
            ax.plot(index, line, marker="o", markersize=3, linewidth=1.4, label=label)
            seen += [v for v in line if not math.isnan(v)]
    top = 1.0 if panel.share else max(seen, default=0.0) or 1.0
    # Room above the data for the legend, in one row.
    ax.set_ylim(0, top * (1.3 if len(panel.series) > 1 else 1.08))
    # Matplotlib's date axis counts days: the whole window, a day's margin each side.
    first, last = (float(mdates.date2num(days[i].day)) for i in (0, -1))
    ax.set_xlim(first - 1, last + 1)
    today_at = float(mdates.date2num(today))
    ax.axvspan(today_at - 0.5, today_at + 0.5, color="grey", alpha=0.2)
    ax.set_title(panel.title, fontsize=9)
    ax.tick_params(labelsize=7)
    ax.grid(alpha=0.3)
    if len(panel.series) > 1:
        ncol = len(panel.series) + (panel.band is not None)
        ax.legend(fontsize=7, loc="upper center", ncol=ncol, frameon=False)
    fig.autofmt_xdate()
    return fig


# Nothing to load but the page's own images and style: no script, no font, no request.
_POLICY = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
# The table fits the body's width: its columns are narrow figures under short headings that
# may wrap, and the served-by label may wrap at its spaces only (never inside a model
# version, at its hyphen); dates never wrap.
_CSS = (
    "body{font-family:sans-serif;max-width:1000px;margin:1em auto;padding:0 1em}"
    ".plots img{width:48%;min-width:320px}"
    "table{border-collapse:collapse;font-size:.85em;font-variant-numeric:tabular-nums}"
    "td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}"
    "th{vertical-align:bottom}"
    "th[colspan]{text-align:center}"
    ".day,.served span{white-space:nowrap}"
    ".day,.status,.served{text-align:left}"
)


def _spans(days: list[dt.date]) -> list[str]:
    """Return sorted days as text, each run of consecutive days as ``first to last``."""
    spans: list[list[dt.date]] = []
    for day in sorted(days):
        if spans and day - spans[-1][-1] == dt.timedelta(days=1):
            spans[-1].append(day)
        else:
            spans.append([day])
    return [f"{s[0]} to {s[-1]}" if len(s) > 2 else ", ".join(map(str, s)) for s in spans]


def _without_runs(days: list[TrendDay]) -> str:
    """Return the line that names the days without a run ("" when every day has one)."""
    missing = [d.day for d in days if not d.run_id]
    if not missing:
        return ""
    count = f"{len(missing)} day{'s' if len(missing) > 1 else ''}"
    listed = html.escape(", ".join(_spans(missing)))
    return f'<p class="missing">No published or gated run on {count}: {listed}.</p>'


def _table(days: list[TrendDay]) -> str:
    """Return the table of the days with a run, newest first ("" when none has one).

    The header names every figure: each panel's heading over its series' labels (a panel
    of one series has its heading alone).
    """
    ran = [d for d in reversed(days) if d.run_id]
    if not ran:
        return ""
    top = "".join(
        f'<th colspan="{len(panel.series)}">{html.escape(panel.heading)}</th>'
        if len(panel.series) > 1
        else f'<th rowspan="2">{html.escape(panel.heading)}</th>'
        for panel in PANELS
    )
    labels = "".join(
        f"<th>{html.escape(label)}</th>"
        for panel in PANELS
        if len(panel.series) > 1
        for label, _ in panel.series
    )
    head = (
        '<tr><th class="day" rowspan="2">day</th><th class="status" rowspan="2">status</th>'
        f'<th class="served" rowspan="2">served by</th>{top}</tr><tr>{labels}</tr>'
    )
    rows = []
    for day in ran:
        served = served_label(day.served_by, day.model_version) or "—"
        words = " ".join(f"<span>{html.escape(word)}</span>" for word in served.split(" "))
        cells = "".join(
            f"<td>{value:.{panel.decimals}f}</td>"
            if not math.isnan(value := day.value(key))
            else "<td>—</td>"
            for panel in PANELS
            for _, key in panel.series
        )
        rows.append(
            f'<tr><td class="day">{day.day}</td>'
            f'<td class="status">{html.escape(day.status)}</td>'
            f'<td class="served" title="{html.escape(served)}">{words}</td>{cells}</tr>'
        )
    return f"<table><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>"


def render_trends(days: list[TrendDay], today: dt.date, note: str = "") -> str:
    """Return the trend page: the panels' plots, then the days with a run, newest first.

    The days without a run are named in one line above the table, not as rows of it.

    Args:
        days: the days, oldest first (:func:`trend_days`).
        today: the run date, shaded in every plot.
        note: a warning shown above the plots (e.g. the database could not be read).
    """
    images = "".join(
        f'<img alt="{html.escape(panel.title)}" '
        f'src="data:image/png;base64,{png_base64(panel_figure(panel, days, today))}">'
        for panel in PANELS
    )
    with_runs = sum(1 for d in days if d.run_id)
    warning = f"<p><strong>{html.escape(note)}</strong></p>" if note else ""
    return f"""<!doctype html>
<html><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{_POLICY}">
<title>burger-recs trends to {today}</title><style>{_CSS}</style></head>
<body>
<h1>burger-recs: the {len(days)} days to {today}</h1>
<p>{with_runs} of {len(days)} days have a published or gated run; each day shows its latest.
The run date is shaded; a gap is a day without the figure.</p>
{warning}<div class="plots">{images}</div>
{_without_runs(days)}{_table(days)}
</body></html>
"""


def write_trends(
    engine: sa.Engine, until: dt.date, path: str | Path, days: int = TREND_DAYS
) -> Path:
    """Write the trend page of the ``days`` days up to ``until`` to ``path``; never raise.

    The page is an extra: when the database cannot be read it says so, and when even that
    cannot be written a warning is logged, so the day that was published stays published.
    """
    target = Path(path)
    try:
        try:
            page = render_trends(trend_days(engine, until, days), until)
        except sa.exc.SQLAlchemyError as exc:
            log.warning("trends: the database could not be read (%s)", type(exc).__name__)
            empty = [TrendDay(until - dt.timedelta(days=n)) for n in range(days - 1, -1, -1)]
            note = f"The results database could not be read ({type(exc).__name__})."
            page = render_trends(empty, until, note)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(page, encoding="utf-8")
    except Exception as exc:
        log.warning("trends: %s not written (%s: %s)", target, type(exc).__name__, exc)
    return target
