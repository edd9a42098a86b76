"""The page of a machine's runs (burger_recs.pipelines.run_index): .local/runs/index.html.

The runs come from a SQLite results database and run folders made here; the last test loads
the page in a real headless browser (Debian's chromium) from file://.
"""

from __future__ import annotations

import datetime as dt
import html
import logging
import os
import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from burger_recs.pipelines.run_index import index_file, refresh_index, summarize_log, write_index
from burger_recs.runs import record_run
from tests.support.browser import chromium, console_lines, run_chromium
from tests.support.database import DAY, OTHER_DAY, run_record

T0 = dt.datetime(2026, 3, 28, 6, 0, tzinfo=dt.UTC)
METRICS = {"model_precision_at_k": 0.1009, "baseline_precision_at_k": 0.0721, "k": 10}
HOSTILE_ID = "<img src=x onerror=alert(1)>"
HOSTILE_MESSAGE = '<script>alert("pwned")</script> & "quotes"'


def _ansi(name: str, colour: str = "96") -> str:
    return f"\x1b[{colour}m'{name}'\x1b[0m"


# As kfp.local 2.17 writes a run log: its own lines at the start, the steps' output indented.
LOG = "\n".join(
    [
        f"11:40:10.900 - INFO - Running pipeline: {_ansi('burger-recs-daily', '95')}",
        "-" * 80,
        f"11:40:10.911 - INFO - Executing task {_ansi('ingest')}",
        "11:40:10.912 - INFO - Streamed logs:",
        "    2026-03-28 11:40:11,000 INFO Task 'finish' cache hit (a step printing this)",
        f"11:40:13.511 - INFO - Task {_ansi('ingest')} finished with status \x1b[92mSUCCESS\x1b[0m",
        "INFO:root:Task train cache hit (key=8635b31f2297); skipping execution.",
        f"11:40:13.600 - INFO - Executing task {_ansi('validate')}",
        f"11:40:16.100 - ERROR - Task {_ansi('validate')} finished with status "
        "\x1b[91mFAILURE\x1b[0m",
        f"11:40:16.200 - INFO - Executing task {_ansi('finish')}",
        f"11:40:18.200 - INFO - Task {_ansi('finish')} finished with status \x1b[92mSUCCESS\x1b[0m",
    ]
)


def _folder(root: Path, run_id: str, *files: str, log: str = LOG, day: dt.date = DAY) -> Path:
    folder = root / "runs" / run_id
    folder.mkdir(parents=True)
    (folder / "arguments.json").write_text(f'{{"run_date": "{day}", "run_id": "x"}}')
    (folder / "run.log").write_text(log)
    for name in files:
        if name == "artifacts":
            (folder / name).mkdir()
        else:
            (folder / name).write_text(name)
    return folder


def _ids(page: str) -> list[str]:
    """The run ids of the page's rows, top to bottom."""
    return [html.unescape(i) for i in re.findall(r'<tr id="run-([^"]*)"', page)]


def _row(page: str, run_id: str) -> str:
    start = page.index(f'<tr id="run-{html.escape(run_id)}"')
    return page[start : page.index("</tr>", start)]


def _hrefs(page: str) -> list[str]:
    return [html.unescape(h) for h in re.findall(r'href="([^"]*)"', page)]


def test_the_page_lists_records_and_run_folders_newest_first(sqlite_engine, tmp_path):
    record_run(
        sqlite_engine,
        run_record(OTHER_DAY, "r-old", metrics=METRICS, finished_at=T0 - dt.timedelta(days=1)),
    )
    gated = run_record(DAY, "r-gated", status="gated", metrics=METRICS, finished_at=T0)
    record_run(sqlite_engine, gated)
    failed = run_record(
        DAY,
        "cluster-run",
        status="failed",
        model_version=None,
        metrics=None,
        message="validate failed: input data breaks the contract in 1 way(s):\n  - orders.csv",
        finished_at=T0 + dt.timedelta(hours=1),
    )
    record_run(sqlite_engine, failed)
    _folder(tmp_path, "r-old", "report.html", "validation.md", "artifacts")
    _folder(tmp_path, "r-gated", "validation.md")
    crashed = _folder(tmp_path, "r-crashed", log="11:39:41.876 - INFO - Running pipeline: x\n")
    later = (T0 + dt.timedelta(hours=2)).timestamp()
    os.utime(crashed / "run.log", (later, later))
    os.utime(crashed, (later, later))

    page = write_index(tmp_path, sqlite_engine).read_text()

    assert index_file(tmp_path) == tmp_path / "runs" / "index.html"
    assert _ids(page) == ["r-crashed", "cluster-run", "r-gated", "r-old"]
    crashed_row = _row(page, "r-crashed")
    assert "unknown" in crashed_row
    assert str(DAY) in crashed_row  # the day its arguments asked for
    assert "href" in crashed_row  # its log and nothing more
    cluster_row = _row(page, "cluster-run")
    assert "failed" in cluster_row
    assert "validate failed: input data breaks the contract" in cluster_row
    assert "href" not in cluster_row  # no folder here: no links
    assert "—" in cluster_row  # served by no model
    old_row = _row(page, "r-old")
    assert "published" in old_row
    assert "model-1" in old_row and "code-abc" in old_row
    assert "0.1009" in old_row and "0.0721" in old_row
    assert "ingest 2.6 s" in old_row
    assert "train cached" in old_row
    assert "validate 2.5 s (failed)" in old_row
    assert [h for h in _hrefs(old_row)] == [
        "r-old/report.html",
        "r-old/validation.md",
        "r-old/run.log",
        "r-old/artifacts/",
    ]
    assert _hrefs(_row(page, "r-gated")) == ["r-gated/validation.md", "r-gated/run.log"]
    assert "model p@10" in page
    assert page.count("<circle") == 4  # two days, model and baseline


def test_run_logs_give_each_steps_duration_and_cache_hits():
    summary = summarize_log(LOG)
    steps = {s.name: s for s in summary.steps}
    assert list(steps) == ["ingest", "train", "validate", "finish"]
    assert steps["ingest"].executions == 1
    assert steps["ingest"].seconds == pytest.approx(2.6)
    assert steps["train"].cached == 1 and steps["train"].executions == 0
    assert steps["validate"].failed
    assert steps["finish"].cached == 0  # a step's own output is not kfp.local's line
    assert summary.seconds == pytest.approx(7.3)

    # Shards run a task several times; a run that stops leaves a step unfinished; midnight.
    sharded = summarize_log(
        "\n".join(
            [
                "23:59:58.000 - INFO - Executing task 'stage'",
                "23:59:59.500 - INFO - Task 'stage' finished with status SUCCESS",
                "23:59:59.600 - INFO - Executing task 'stage'",
                "00:00:01.100 - INFO - Task 'stage' finished with status SUCCESS",
                "00:00:01.200 - INFO - Executing task 'commit'",
            ]
        )
    )
    stage, commit = sharded.steps
    assert (stage.executions, stage.seconds) == (2, pytest.approx(3.0))
    assert commit.unfinished == 1 and commit.seconds == 0
    assert sharded.seconds == pytest.approx(3.2)
    assert summarize_log("").steps == []


def test_a_hostile_run_id_and_message_are_escaped(sqlite_engine, tmp_path):
    record_run(
        sqlite_engine,
        run_record(DAY, HOSTILE_ID, status="failed", message=HOSTILE_MESSAGE, finished_at=T0),
    )
    _folder(tmp_path, HOSTILE_ID, "report.html")

    page = write_index(tmp_path, sqlite_engine).read_text()

    assert HOSTILE_ID not in page and "<img" not in page
    assert "<script" not in page
    assert html.escape(HOSTILE_ID) in page
    assert html.escape(HOSTILE_MESSAGE) in page
    assert _ids(page) == [HOSTILE_ID]
    (report,) = [h for h in _hrefs(page) if h.endswith("report.html")]
    assert unquote(report) == f"{HOSTILE_ID}/report.html"


def test_links_are_relative_to_files_that_exist_and_nothing_is_external(sqlite_engine, tmp_path):
    for i, run_id in enumerate(["a", "b b", "c#?%"]):
        finished = T0 + dt.timedelta(hours=i)
        record_run(sqlite_engine, run_record(DAY, run_id, metrics=METRICS, finished_at=finished))
    _folder(tmp_path, "a", "report.html", "validation.md", "artifacts")
    _folder(tmp_path, "b b")
    _folder(tmp_path, "c#?%", "report.html")

    index = write_index(tmp_path, sqlite_engine)
    page = index.read_text()

    hrefs = _hrefs(page)
    assert len(hrefs) == 4 + 1 + 2
    for href in hrefs:
        parts = urlsplit(href)
        assert not parts.scheme and not parts.netloc and not href.startswith("/"), href
        assert (index.parent / unquote(parts.path)).exists(), href
    assert not re.search(r"https?://", page, re.IGNORECASE)
    assert not re.search(r"<script|@import|url\(|<link|<iframe|<object|<embed", page, re.I)
    assert "Content-Security-Policy" in page


def test_without_runs_the_page_says_how_to_make_one(sqlite_engine, tmp_path):
    page = write_index(tmp_path, sqlite_engine).read_text()
    assert _ids(page) == []
    assert "make run" in page
    assert "nothing to plot" in page


def test_refresh_index_lists_the_folders_when_the_database_cannot_be_read(tmp_path, caplog):
    logger = logging.getLogger("burger_recs")
    logger.addHandler(caplog.handler)  # the project's logger does not propagate
    try:
        _folder(tmp_path, "r-1", "report.html")
        # A folder where the SQLite file should be: the database cannot be opened.
        written = refresh_index(tmp_path, f"sqlite:///{tmp_path / 'runs'}")
        assert written == index_file(tmp_path)
        page = written.read_text()
        assert _ids(page) == ["r-1"] and "unknown" in page
        assert "could not be read" in page
        assert "run index: the database could not be read" in caplog.text

        caplog.clear()
        blocked = tmp_path / "a-file"
        blocked.write_text("not a folder")
        assert refresh_index(blocked, f"sqlite:///{tmp_path / 'recs.db'}") is None
        assert "not written" in caplog.text
    finally:
        logger.removeHandler(caplog.handler)


@pytest.mark.parametrize("fails", [False, True], ids=["success", "failure"])
def test_every_local_run_writes_the_index(fails, tmp_path, monkeypatch):
    """run_pipeline (burger_recs.pipelines.local_run) writes the page at its end, whatever
    the outcome."""
    from kfp import components

    from burger_recs import db
    from burger_recs.pipelines.compile import compiled_pipeline
    from burger_recs.pipelines.local_run import RunFailed, run_pipeline

    url = f"sqlite:///{tmp_path / 'recs.db'}"
    monkeypatch.setenv(db.DATABASE_URL_ENV, url)  # run_pipeline sets it; put it back after

    def pipeline(**arguments):  # stands in for the compiled pipeline: records, or fails
        print(f"11:40:10.911 - INFO - Executing task {_ansi('ingest')}")
        if fails:
            raise RuntimeError("Pipeline 'burger-recs-daily' finished with status FAILURE")
        print(f"11:40:12.011 - INFO - Task {_ansi('ingest')} finished with status SUCCESS")
        record = run_record(DAY, arguments["run_id"], metrics=METRICS)
        record_run(db.make_engine(url), record)

    monkeypatch.setattr(components, "load_component_from_file", lambda _path: pipeline)
    run = lambda: run_pipeline(  # noqa: E731
        compiled_pipeline(), {"data_uri": str(tmp_path)}, url, tmp_path, run_id="r-1", quiet=True
    )
    if fails:
        with pytest.raises(RunFailed):
            run()
    else:
        run()

    row = _row(index_file(tmp_path).read_text(), "r-1")
    assert ("unknown" if fails else "published") in row
    assert ("ingest" if fails else "ingest 1.1 s") in row


def test_the_index_command_writes_the_page_and_prints_its_path(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from burger_recs.cli import app
    from burger_recs.db import make_engine
    from burger_recs.migrations import migrate

    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path / 'recs.db'}"
    migrate(make_engine(url))
    _folder(tmp_path / ".local", "r-1")
    result = CliRunner().invoke(app, ["index", "--database-url", url])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == ".local/runs/index.html"
    assert _ids((tmp_path / ".local/runs/index.html").read_text()) == ["r-1"]


# ---------------------------------------------------------------------------------------------
# In a real browser: Debian's chromium, headless, from file://, no network
# ---------------------------------------------------------------------------------------------
@pytest.mark.browser
def test_a_browser_shows_the_runs_from_file_without_console_errors(sqlite_engine, tmp_path):
    chromium()  # skipped without one, before the database is filled
    for i, (day, run_id) in enumerate([(OTHER_DAY, "r-earlier"), (DAY, "r-later")]):
        finished = T0 + dt.timedelta(hours=i)
        record_run(sqlite_engine, run_record(day, run_id, metrics=METRICS, finished_at=finished))
        _folder(tmp_path, run_id, "report.html", "validation.md", "artifacts", day=day)
    between = T0 + dt.timedelta(minutes=30)
    record_run(sqlite_engine, run_record(DAY, "r-cluster", status="failed", finished_at=between))
    index = write_index(tmp_path, sqlite_engine)

    browser = run_chromium(tmp_path / "profile", "--dump-dom", index.resolve().as_uri())

    assert browser.returncode == 0, browser.stderr[-3000:]
    dom = browser.stdout
    assert _ids(dom) == ["r-later", "r-cluster", "r-earlier"]
    assert "burger-recs runs" in dom
    assert dom.count("<circle") == 4  # the plot: two days, model and baseline
    assert console_lines(browser.stderr) == []  # no script, nothing to load
