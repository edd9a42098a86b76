"""The page that lists a machine's runs: ``<root>/runs/index.html``.

One row a run, newest first: its id, day, status, the model that served it, the code that ran,
model and baseline precision@k, how long each step took (from the run's ``run.log``) and
links to its report, validation report, log and artifacts. Runs come from the results
database (``pipeline_runs``) joined with the run folders under ``<root>/runs/``: a folder
without a record (a run that stopped before recording) shows as ``unknown``, a record without
a folder (a cluster run in the same database) shows without links. Each run folder names the
database its run used (``run.json``), and its record is read from there, so runs of several
databases show their true status side by side; a database that is gone, or whose password a
folder does not keep, is said in the run's row (:mod:`burger_recs.pipelines.run_records`).
A small inline SVG plots model and baseline precision@k over the run days.

The page is one self-contained HTML file: no script, no font, no request to any host, so it
reads the same from ``file://`` without a server or network. Every value is escaped.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import html
import json
import logging
import math
import os
import re
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import sqlalchemy as sa

from burger_recs import db
from burger_recs.evaluation import BASELINE_PRECISION, MODEL_PRECISION, K
from burger_recs.pipelines.run_records import Records, gather_records, run_folders
from burger_recs.runs import served_label
from burger_recs.version import code_version

log = logging.getLogger(__name__)

INDEX_NAME = "index.html"
UNKNOWN = "unknown"
NONE = "—"
# What a run folder may hold, in the order the page links it: file name, link text.
LINKED_FILES = (
    ("report.html", "report"),
    ("validation.md", "validation"),
    ("trends.html", "trends"),
    ("run.log", "log"),
    ("artifacts", "artifacts"),
)


def index_file(root: Path) -> Path:
    """Return where the page of the runs under ``root`` is: ``<root>/runs/index.html``."""
    return root / "runs" / INDEX_NAME


# ---------------------------------------------------------------------------------------------
# The run log: kfp.local's lines about each task
# ---------------------------------------------------------------------------------------------
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
# kfp.local (kfp/local/logging_utils.py, task_dispatcher.py at 2.17.0) logs, at the start of a
# line: "HH:MM:SS.mmm - INFO - Executing task 'ingest'" and "... - Task 'ingest' finished with
# status SUCCESS" (task names and statuses in ANSI colours). The steps' own output is indented.
_KFP_LINE = re.compile(r"^(\d\d):(\d\d):(\d\d)\.(\d{3}) - [A-Z]+ - (.*)$")
_EXECUTING = re.compile(r"^Executing task '([^']+)'")
_FINISHED = re.compile(r"^Task '([^']+)' finished with status (\w+)")
# A task served from kfp.local's cache never executes; kfp/local/orchestrator/task_executor.py
# logs "Task ingest cache hit (key=0123456789ab); skipping execution." through the root
# logger, so it reaches the log only when that logger is at INFO, in the root logger's format.
_CACHE_HIT = re.compile(r"\bTask '?([\w.-]+)'? cache hit\b")


@dataclass
class StepTiming:
    """What the run log says about one step (a task name; shards run it several times).

    Attributes:
        name: the task's name.
        executions: how many times it was executed.
        seconds: the executions' total duration, of those that finished.
        cached: how many times kfp.local's cache served it instead.
        failed: whether an execution finished with a status other than SUCCESS.
        unfinished: executions started that never finished (the run stopped).
    """

    name: str
    executions: int = 0
    seconds: float = 0.0
    cached: int = 0
    failed: bool = False
    unfinished: int = 0


@dataclass
class LogSummary:
    """The steps of a run log, in the order they started, and the run's duration."""

    steps: list[StepTiming] = field(default_factory=list)
    seconds: float | None = None


def summarize_log(text: str) -> LogSummary:
    """Return each step's duration and cache use, and the run's duration, from a run log.

    Timestamps are times of day: a run that passes midnight is counted on.
    """
    steps: dict[str, StepTiming] = {}
    started: dict[str, list[float]] = {}
    first = last = None
    day_offset = 0.0
    for raw in text.splitlines():
        line = _ANSI.sub("", raw)
        match = _KFP_LINE.match(line)
        if match is None:
            hit = None if line[:1].isspace() else _CACHE_HIT.search(line)
            if hit:
                steps.setdefault(hit[1], StepTiming(hit[1])).cached += 1
            continue
        hours, minutes, seconds, millis, message = match.groups()
        when = int(hours) * 3600 + int(minutes) * 60 + int(seconds) + int(millis) / 1000
        if last is not None and when + day_offset < last:
            day_offset += 86400.0
        when += day_offset
        first = when if first is None else first
        last = when
        if executing := _EXECUTING.match(message):
            name = executing[1]
            steps.setdefault(name, StepTiming(name)).executions += 1
            started.setdefault(name, []).append(when)
        elif finished := _FINISHED.match(message):
            name, status = finished.groups()
            step = steps.setdefault(name, StepTiming(name))
            if started.get(name):
                step.seconds += when - started[name].pop(0)
            step.failed |= status != "SUCCESS"
        elif hit := _CACHE_HIT.search(message):
            steps.setdefault(hit[1], StepTiming(hit[1])).cached += 1
    for name, pending in started.items():
        steps[name].unfinished = len(pending)
    total = last - first if first is not None and last is not None else None
    return LogSummary(list(steps.values()), total)


# ---------------------------------------------------------------------------------------------
# The runs: database records joined with run folders
# ---------------------------------------------------------------------------------------------
@dataclass
class IndexRow:
    """One run as the page shows it.

    Attributes:
        run_id: the run's id.
        run_date: the day it ran for, if known.
        status: published, gated, failed, or unknown (a folder without a record).
        served_by: who served the day (:func:`burger_recs.runs.served_label`), if any.
        code_version: the code that ran, if recorded.
        metrics: the recorded evaluation figures.
        message: the gate's reason or the failure's message.
        ended: when it finished (recorded), else when its folder last changed; UTC.
        links: link text -> path relative to the page, for the files its folder holds.
        log: what its run log says, for a run with a folder.
        database: the database it used (password hidden), when not the page's own.
    """

    run_id: str
    run_date: dt.date | None
    status: str
    served_by: str | None = None
    code_version: str | None = None
    metrics: dict = field(default_factory=dict)
    message: str | None = None
    ended: dt.datetime | None = None
    links: dict[str, str] = field(default_factory=dict)
    log: LogSummary | None = None
    database: str | None = None


def _folder_day(folder: Path) -> dt.date | None:
    """Return the day a run folder's ``arguments.json`` asked for, if it names one."""
    with contextlib.suppress(OSError, ValueError, TypeError, KeyError):
        return dt.date.fromisoformat(
            json.loads((folder / "arguments.json").read_text())["run_date"]
        )
    return None


def _folder_changed(folder: Path) -> dt.datetime:
    """Return when a run folder, or its log, last changed."""
    times = [folder.stat().st_mtime]
    with contextlib.suppress(OSError):
        times.append((folder / "run.log").stat().st_mtime)
    return dt.datetime.fromtimestamp(max(times), dt.UTC)


def collect_runs(
    folders: Mapping[str, Path], records: Mapping[str, Mapping] | Records
) -> list[IndexRow]:
    """Join run folders with run records, newest first (by ``ended``, then run id).

    Args:
        folders: run folders by run id (:func:`run_folders`).
        records: ``pipeline_runs`` rows by run id (:func:`read_records`), or those of every
            database with what could not be read (:func:`gather_records`).
    """
    if not isinstance(records, Records):
        records = Records({run_id: dict(record) for run_id, record in records.items()})
    unread, databases = records.unread, records.databases
    records = records.found
    rows = []
    for run_id in folders.keys() | records.keys():
        record, folder = records.get(run_id), folders.get(run_id)
        if record is not None:
            row = IndexRow(
                run_id=run_id,
                run_date=record.get("run_date"),
                status=str(record.get("status") or UNKNOWN),
                served_by=served_label(record.get("served_by"), record.get("model_version")),
                code_version=record.get("code_version"),
                metrics=dict(record.get("metrics") or {}),
                message=record.get("message"),
                ended=db.utc(record.get("finished_at")),
            )
        else:
            assert folder is not None
            row = IndexRow(
                run_id=run_id,
                run_date=_folder_day(folder),
                status=UNKNOWN,
                message=unread.get(run_id),
            )
        row.database = databases.get(run_id)
        if folder is not None:
            row.ended = row.ended or _folder_changed(folder)
            row.links = {
                text: f"{quote(run_id)}/{name}{'/' if (folder / name).is_dir() else ''}"
                for name, text in LINKED_FILES
                if (folder / name).exists()
            }
            with contextlib.suppress(OSError):
                row.log = summarize_log((folder / "run.log").read_text(errors="replace"))
        rows.append(row)
    oldest = dt.datetime.min.replace(tzinfo=dt.UTC)
    return sorted(rows, key=lambda r: (r.ended or oldest, r.run_id), reverse=True)


# ---------------------------------------------------------------------------------------------
# The page
# ---------------------------------------------------------------------------------------------
_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:1.5em;color:#1c1c1c}
h1{font-size:1.4em;margin:0 0 .2em}
p.meta{color:#555;margin:.2em 0 1em;font-size:.9em}
.note{background:#fff4e0;border:1px solid #e8c27a;padding:.5em .8em;border-radius:4px}
table{border-collapse:collapse;font-size:.9em;width:100%}
th,td{text-align:left;padding:.35em .6em;border-bottom:1px solid #e2e2e2;vertical-align:top}
th{background:#f3f3f3;position:sticky;top:0}
tbody tr:hover{background:#f8fbff}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
code{font-size:.95em}
.status{display:inline-block;padding:0 .45em;border-radius:3px;font-weight:600}
.published{background:#dff3e3;color:#17612b}
.gated{background:#fff1cc;color:#7a5300}
.failed{background:#fbe0e0;color:#9b1c1c}
.unknown{background:#ececec;color:#555}
.msg{color:#555;font-size:.85em;max-width:28em;margin-top:.2em}
.steps{margin:0;padding:0;list-style:none;font-size:.85em;white-space:nowrap}
.steps .fail{color:#9b1c1c;font-weight:600}
.steps .cached{color:#1f5fa8}
.links a{margin-right:.6em}
.nowrap{white-space:nowrap}
.when{color:#777;font-size:.8em;white-space:nowrap}
.muted{color:#777}
figure{margin:0 0 1.2em}
figcaption{font-size:.85em;color:#555}
"""


def render_index(rows: list[IndexRow], source: str = "", note: str = "") -> str:
    """Return the page listing ``rows`` (newest first), with the plot of precision@k.

    Args:
        rows: the runs, as :func:`collect_runs` orders them.
        source: where the runs come from, said under the title.
        note: a warning shown above the table (e.g. the database could not be read).
    """
    ks = {str(r.metrics.get(K)) for r in rows if MODEL_PRECISION in r.metrics}
    k = f"@{ks.pop()}" if len(ks) == 1 and "None" not in ks else "@k"
    now = dt.datetime.now(dt.UTC)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        # Nothing to load: no script, no font, no request, whatever a value might hold.
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'\">",
        "<title>burger-recs runs</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>burger-recs runs</h1>",
        f'<p class="meta">{len(rows)} run(s){_e(" from " + source) if source else ""}; '
        f"written {now:%Y-%m-%d %H:%M} UTC by code {_e(code_version())}; newest first. "
        "<code>burger-recs index</code> writes this page again.</p>",
    ]
    if note:
        parts.append(f'<p class="note">{_e(note)}</p>')
    parts.append(_plot(rows, k))
    parts.append(
        "<table><thead><tr><th>run id</th><th>day</th><th>status</th><th>served by</th>"
        f'<th>code version</th><th class="num">model p{k}</th>'
        f'<th class="num">baseline p{k}</th><th>duration per step</th><th>files</th>'
        "</tr></thead><tbody>"
    )
    parts.extend(_row(r) for r in rows)
    parts.append("</tbody></table>")
    if not rows:
        parts.append("<p>No runs yet: <code>make run</code> makes one.</p>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


def _e(value: object) -> str:
    """Escape a value for HTML text or a quoted attribute."""
    return html.escape(str(value), quote=True)


def _row(row: IndexRow) -> str:
    ended = f'<div class="when">ended {row.ended:%H:%M} UTC</div>' if row.ended else ""
    message = " ".join((row.message or "").split())  # the gate's reason, the failure's lines
    if row.status == UNKNOWN and not message:
        message = "no record in its database: the run stopped before recording itself"
    if message:
        short = message if len(message) <= 160 else message[:159] + "…"
        message = f'<div class="msg" title="{_e(row.message or message)}">{_e(short)}</div>'
    links = " ".join(f'<a href="{_e(href)}">{_e(text)}</a>' for text, href in row.links.items())
    database = (
        f'<div class="when" title="{_e(row.database)}">database {_e(_short(row.database))}</div>'
        if row.database
        else ""
    )
    return (
        f'<tr id="run-{_e(row.run_id)}"><td class="nowrap"><code>{_e(row.run_id)}</code>'
        f"{database}</td>"
        f'<td class="nowrap">{_e(row.run_date or NONE)}{ended}</td>'
        f'<td><span class="status {_e(_status_class(row.status))}">{_e(row.status)}</span>'
        f"{message}</td>"
        f'<td class="nowrap"><code>{_e(row.served_by or NONE)}</code></td>'
        f'<td class="nowrap"><code>{_e(row.code_version or NONE)}</code></td>'
        f'<td class="num">{_metric(row.metrics, MODEL_PRECISION)}</td>'
        f'<td class="num">{_metric(row.metrics, BASELINE_PRECISION)}</td>'
        f"<td>{_steps(row.log)}</td>"
        f'<td class="links">{links or _e(NONE)}</td></tr>'
    )


def _short(database: str) -> str:
    """Return a database as a row names it: a SQLite file's name, else host and database."""
    with contextlib.suppress(sa.exc.ArgumentError):
        url = sa.make_url(database)
        if url.get_backend_name() == "sqlite":
            return Path(url.database or ":memory:").name
        return f"{url.host or 'localhost'}/{url.database or ''}"
    return database


def _status_class(status: str) -> str:
    return status if status in ("published", "gated", "failed") else UNKNOWN


def _metric(metrics: Mapping, key: str) -> str:
    value = metrics.get(key)
    if not isinstance(value, int | float) or isinstance(value, bool):
        return _e(NONE)
    k = metrics.get(K)
    title = f' title="k = {_e(k)}"' if k is not None else ""
    return f"<span{title}>{value:.4f}</span>"


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def _steps(summary: LogSummary | None) -> str:
    if summary is None or not (summary.steps or summary.seconds):
        return f'<span class="muted">{_e(NONE)}</span>'
    items = []
    for step in summary.steps:
        times = f" ×{step.executions}" if step.executions > 1 else ""
        text, css = f"{step.name}{times}", ""
        if step.executions:
            text += f" {_duration(step.seconds)}"
        if step.cached:
            text += " cached" + (f" ×{step.cached}" if step.cached > 1 else "")
            css = "cached"
        if step.unfinished:
            text += " (did not finish)"
            css = "fail"
        if step.failed:
            text += " (failed)"
            css = "fail"
        items.append(f'<li class="{css}">{_e(text)}</li>' if css else f"<li>{_e(text)}</li>")
    if summary.seconds is not None:
        items.append(f'<li class="muted">total {_e(_duration(summary.seconds))}</li>')
    return f'<ul class="steps">{"".join(items)}</ul>'


# The plot: model and baseline precision@k of each run day (the day's newest run with metrics).
_W, _H = 720, 220
_LEFT, _RIGHT, _TOP, _BOTTOM = 52, 26, 26, 34
_PAD = 12  # between the axis and the first and last days
_MODEL, _BASELINE = "#1f5fa8", "#9a9a9a"


def _plot(rows: list[IndexRow], k: str) -> str:
    days: dict[dt.date, IndexRow] = {}
    for row in rows:  # newest first: keep each day's newest run with figures
        if row.run_date is not None and MODEL_PRECISION in row.metrics:
            days.setdefault(row.run_date, row)
    points = sorted(days.items())
    if not points:
        return '<p class="muted">No evaluated run yet: nothing to plot.</p>'
    series = [
        ("model", MODEL_PRECISION, _MODEL, ""),
        ("popularity baseline", BASELINE_PRECISION, _BASELINE, ' stroke-dasharray="5 4"'),
    ]
    values = [
        float(r.metrics[key])
        for _, r in points
        for _, key, _, _ in series
        if isinstance(r.metrics.get(key), int | float)
    ]
    step = _nice_step(max([*values, 0.0]) / 4)
    top = step * max(1, math.ceil(max([*values, 0.0]) / step))
    first, last = points[0][0], points[-1][0]
    span = max((last - first).days, 1)
    inner_w, inner_h = _W - _LEFT - _RIGHT, _H - _TOP - _BOTTOM

    def x(day: dt.date) -> float:
        if first == last:
            return _LEFT + inner_w / 2
        return _LEFT + _PAD + (inner_w - 2 * _PAD) * (day - first).days / span

    def y(value: float) -> float:
        return _TOP + inner_h * (1 - value / top)

    # SVG inline in HTML needs no xmlns: the page names no URL of any host.
    svg = [
        f'<svg viewBox="0 0 {_W} {_H}" width="{_W}" '
        f'height="{_H}" role="img" style="max-width:100%;height:auto" '
        f'font-family="system-ui, sans-serif" font-size="11" aria-label="precision{_e(k)} '
        'of the model and the popularity baseline, by run day">'
    ]
    ticks = round(top / step)
    for i in range(ticks + 1):
        value = step * i
        svg.append(
            f'<line x1="{_LEFT}" x2="{_W - _RIGHT}" y1="{y(value):.1f}" y2="{y(value):.1f}" '
            f'stroke="#e6e6e6"/><text x="{_LEFT - 6}" y="{y(value) + 4:.1f}" '
            f'text-anchor="end" fill="#555">{value:.{_decimals(step)}f}</text>'
        )
    labelled = _label_days([d for d, _ in points], x)
    for day in labelled:
        svg.append(
            f'<text x="{x(day):.1f}" y="{_H - _BOTTOM + 16}" text-anchor="middle" '
            f'fill="#555">{_e(day.isoformat())}</text>'
        )
    for name, key, colour, dash in series:
        marks = [
            (day, float(r.metrics[key]))
            for day, r in points
            if isinstance(r.metrics.get(key), int | float)
        ]
        if len(marks) > 1:
            coords = " ".join(f"{x(d):.1f},{y(v):.1f}" for d, v in marks)
            svg.append(
                f'<polyline points="{coords}" fill="none" stroke="{colour}" '
                f'stroke-width="2"{dash}/>'
            )
        for day, value in marks:
            svg.append(
                f'<circle cx="{x(day):.1f}" cy="{y(value):.1f}" r="3.5" fill="{colour}">'
                f"<title>{_e(day.isoformat())}: {_e(name)} {value:.4f}</title></circle>"
            )
    legend_x = _LEFT + 8
    for i, (name, _, colour, dash) in enumerate(series):
        lx = legend_x + i * 110
        svg.append(
            f'<line x1="{lx}" x2="{lx + 22}" y1="12" y2="12" stroke="{colour}" '
            f'stroke-width="2"{dash}/><text x="{lx + 27}" y="16" fill="#333">{_e(name)}</text>'
        )
    svg.append("</svg>")
    caption = (
        f"<figcaption>precision{_e(k)} of the model and of the popularity baseline, by run day "
        "(each day's newest evaluated run)</figcaption>"
    )
    return f"<figure>{''.join(svg)}{caption}</figure>"


def _nice_step(raw: float) -> float:
    """Return a round tick step (1, 2 or 5 times a power of ten) of at least ``raw``."""
    if raw <= 0:
        return 0.1
    power = 10 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= raw)


def _decimals(step: float) -> int:
    """Return how many decimals the tick labels of a step need."""
    return max(0, -math.floor(math.log10(step)))


def _label_days(
    days: list[dt.date], x: Callable[[dt.date], float], gap: float = 84.0
) -> list[dt.date]:
    """Return the days to label on the axis: the first, the last, none nearer than ``gap``."""
    chosen: list[dt.date] = []
    for day in days:
        if not chosen or x(day) - x(chosen[-1]) >= gap:
            chosen.append(day)
    if chosen[-1] != days[-1]:
        if len(chosen) > 1 and x(days[-1]) - x(chosen[-1]) < gap:
            chosen.pop()
        chosen.append(days[-1])
    return chosen


# ---------------------------------------------------------------------------------------------
# Writing it
# ---------------------------------------------------------------------------------------------
def write_index(root: Path, engine: sa.Engine | None, note: str = "") -> Path:
    """Write ``<root>/runs/index.html`` from the database and the run folders; return its path.

    The file is replaced whole (a reader sees the old page or the new one).

    Args:
        root: the local folder that holds ``runs/``.
        engine: the page's own results database: its newest runs are listed whether this
            machine ran them or not. Each run folder's record comes from the database the
            folder names (:func:`gather_records`). None: it could not be opened, and the runs
            of it show as unknown.
        note: a warning to show on the page.
    """
    folders = run_folders(root)
    records = gather_records(folders, engine)
    source = f"{engine.url.render_as_string(hide_password=True)} and " if engine else ""
    others = len(set(records.databases.values()))
    if others:
        source += f"{others} other database{'s' if others > 1 else ''} its runs used, and "
    page = render_index(collect_runs(folders, records), f"{source}{root / 'runs'}", note)
    target = index_file(root)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=".index-", suffix=".html", dir=target.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(page)
        os.chmod(temporary, 0o644)
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    return target


def refresh_index(root: Path, database_url: str) -> Path | None:
    """Write the index page after a run; never raise (a warning says why it was not written).

    When the database cannot be read, the page lists the run folders alone and says so.
    """
    try:
        try:
            engine = db.make_engine(database_url)
            try:
                return write_index(root, engine)
            finally:
                engine.dispose()
        except sa.exc.SQLAlchemyError as exc:
            log.warning("run index: the database could not be read (%s)", type(exc).__name__)
            note = (
                f"The results database could not be read ({type(exc).__name__}): its runs "
                "show as unknown. burger-recs index writes this page again."
            )
            return write_index(root, None, note)
    except Exception as exc:
        log.warning("run index: %s not written (%s: %s)", index_file(root), type(exc).__name__, exc)
        return None
