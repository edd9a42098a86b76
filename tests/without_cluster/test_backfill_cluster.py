"""`burger-recs backfill --cluster` against the local double of the KFP v2beta1 API.

The runs are the double's (tests/support/kfp_double.py): each day's run plays its own script
of states, and when it ends the double's ``on_run_end`` stands in for the run's steps (publish
records the day, or train leaves its failure note) and then runs the pipeline's real final
task, the ``finish`` component, with the status the KFP 2.17 driver hands it
(tests/support/final_task.py), in the SQLite database the command reads.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from typer.testing import CliRunner

from burger_recs import backfill, db
from burger_recs.cli import app
from burger_recs.deploy import DEV_DATA_URI
from burger_recs.deploy import submit as kfp
from burger_recs.deploy.kfp_api import KfpApi, KfpError
from burger_recs.errors import BadSettings
from burger_recs.migrations import migrate
from burger_recs.runs import RUN_ID_ENV, noted, record_run
from tests.support.database import run_record, run_rows
from tests.support.final_task import DRIVER, final_status, run_final_task
from tests.support.kfp_double import snapshot, task

FIRST = dt.date(2026, 11, 20)
DAYS = [FIRST + dt.timedelta(days=i) for i in range(3)]
RUN_ID = re.compile(r"^\d{8}-\d{6}-[0-9a-f]{4}-\d{8}$")
FAILURE = "train failed: epochs must be at least 1"


def _parameters(run: dict) -> dict:
    return run["runtime_config"]["parameters"]


def _day(run: dict) -> dt.date:
    return dt.date.fromisoformat(_parameters(run)["run_date"])


def _script(state: str) -> list[dict]:
    """A run that is pending, then running, then ends in ``state``."""
    return [
        snapshot("PENDING"),
        snapshot("RUNNING", task("ingest", "RUNNING")),
        snapshot(state, task("ingest", "SUCCEEDED"), task("train", state, when=1)),
    ]


def _p_at_k(day: dt.date) -> float:
    return round(0.1 + day.day / 1000, 4)


@pytest.fixture
def shop(kfp_double, tmp_path, monkeypatch):
    """The double, and the results database its runs' final task records them in.

    Every day's run succeeds and publishes, unless the test says otherwise in ``failing``
    (train fails, and the final task records that) or ``unrecorded`` (its run ends in the
    given state and no task of it reaches the database).
    """
    url = f"sqlite:///{tmp_path / 'recs.db'}"
    monkeypatch.setenv(db.DATABASE_URL_ENV, url)  # the final task's, as on a cluster
    engine = db.make_engine(url)
    migrate(engine)
    failing: set[dt.date] = set()
    unrecorded: dict[dt.date, str] = {}

    def script_for(run: dict) -> list[dict]:
        day = _day(run)
        return _script(unrecorded.get(day, "FAILED" if day in failing else "SUCCEEDED"))

    def final_task(run: dict) -> None:
        day = _day(run)
        if day in unrecorded:
            return
        run_id = _parameters(run)["run_id"]
        # Every pod's environment holds the KFP run id, from its pipeline/runid label
        # (components/cluster.py cites where KFP 2.17.0 sets the label and the variable).
        monkeypatch.setenv(RUN_ID_ENV, run["run_id"])
        if day in failing:  # train fails in its own pod: the real noted() leaves the note
            with pytest.raises(SystemExit), noted("train"):
                raise BadSettings("epochs must be at least 1")
        else:  # publish's record, written with the day's rows
            metrics = {"model_precision_at_k": _p_at_k(day), "baseline_precision_at_k": 0.05}
            published = run_record(
                day, run_id, "published", model_version=f"model-{day:%d}", metrics=metrics
            )
            published.rows_written = 1000 + day.day
            record_run(engine, published)
        # The exit handler's group as the 2.17 driver reports it: COMPLETE when it succeeded.
        word = "COMPLETE" if run["state"] == "SUCCEEDED" else "FAILED"
        parameters = _parameters(run)
        run_final_task(
            final_status(DRIVER, word, f"burger-recs-daily-{run['run_id'][:5]}"),
            run_id=run_id,
            orchestrator_run_id=run["run_id"],
            run_date=parameters["run_date"],
            data_uri=parameters["data_uri"],
            created_at=run["created_at"],
        )

    kfp_double.script_for = script_for
    kfp_double.on_run_end = final_task
    yield kfp_double, url, engine, failing, unrecorded
    engine.dispose()


@pytest.fixture
def kubectl(tmp_path):
    """A stand-in for kubectl that prints what it was asked for."""
    path = tmp_path / "kubectl"
    path.write_text('#!/bin/sh\necho "logs: $*"\n')
    path.chmod(0o755)
    return str(path)


def _backfill(double, url, kubectl, *options):
    command = ["backfill", "--cluster", "--from", str(DAYS[0]), "--to", str(DAYS[-1])]
    where = ["--host", double.url, "--ui", "http://ui.example", "--database-url", url]
    return CliRunner().invoke(app, [*command, *where, "--kubectl", kubectl, *options])


def test_each_day_is_one_run_at_most_two_at_once_then_nothing_is_left(shop, kubectl, no_sleep):
    double, url, engine, _, _ = shop
    first = _backfill(double, url, kubectl, "--param", "k=5")
    assert first.exit_code == 0, first.output

    runs = sorted(double.runs.values(), key=_day)
    assert [_day(run) for run in runs] == DAYS  # one run per day, each its own run_date
    created = [r.body for r in double.calls("POST", "/apis/v2beta1/runs")]
    assert [_parameters(body)["run_date"] for body in created] == [str(d) for d in DAYS]
    ids = [_parameters(run)["run_id"] for run in runs]
    assert all(RUN_ID.match(run_id) for run_id in ids), ids
    assert sorted(ids) == ids and len(set(ids)) == 3  # distinct, and sorted as the days
    assert {run_id[:20] for run_id in ids} == {ids[0][:20]}  # one prefix: the backfill's
    for run in runs:
        assert _parameters(run)["k"] == 5 and _parameters(run)["data_uri"] == DEV_DATA_URI
        assert f"run_id={_parameters(run)['run_id']}" in run["description"]
    assert len(double.versions) == 1  # one version for every day
    assert double.most_active == 2  # the default --max-concurrency: never more, and reached

    # The closing table, from the records the runs' final task wrote.
    table = first.stdout.splitlines()
    assert table[1].split()[:6] == ["day", "status", "served", "by", "p@k", "rows"]
    records = run_rows(engine)
    for day, run_id in zip(DAYS, ids, strict=True):
        row = next(line for line in table if line.startswith(str(day)))
        assert row.split() == [
            str(day),
            "published",
            "challenger",  # who served, its model version beside it (runs.served_label)
            f"(model-{day:%d})",
            f"{_p_at_k(day):.4f}",
            f"{1000 + day.day:,}",
            run_id,
        ]
        assert records[run_id]["status"] == "published"
        assert f"{day}  submitted run {run_id}  http://ui.example/#/runs/details/" in first.stderr
    assert "3 day(s) run: 3 published" in first.stdout
    assert "  ingest     RUNNING" in first.stderr  # followed like submit --wait

    # The days are recorded: a second backfill with the default --reprocess submits nothing.
    requests = len(double.requests)
    again = _backfill(double, url, kubectl)
    assert again.exit_code == 0, again.output
    assert "is done (published or gated): nothing to run" in again.stdout
    assert len(double.requests) == requests and len(double.runs) == 3


def test_a_failed_day_fails_the_command_and_the_other_days_still_run(shop, kubectl, no_sleep):
    double, url, engine, failing, _ = shop
    failing.add(DAYS[0])
    result = _backfill(double, url, kubectl, "--max-concurrency", "1")
    assert result.exit_code == 1, result.output

    assert [_day(run) for run in double.runs.values()] == DAYS  # every day ran, in order
    assert double.most_active == 1
    statuses = {r["run_date"]: r["status"] for r in run_rows(engine).values()}
    assert statuses == {DAYS[0]: "failed", DAYS[1]: "published", DAYS[2]: "published"}
    (failed,) = [r for r in double.runs.values() if _day(r) == DAYS[0]]
    row = next(line for line in result.stdout.splitlines() if line.startswith(str(DAYS[0])))
    assert row.split()[:6] == [str(DAYS[0]), "failed", "-", "-", "0", _parameters(failed)["run_id"]]
    assert row.endswith(FAILURE)
    assert "3 day(s) run: 1 failed, 2 published" in result.stdout
    link = f"http://ui.example/#/runs/details/{failed['run_id']}"
    assert f"  {DAYS[0]} failed: {link}" in result.stdout
    # The failed run's steps and its pods' logs, as submit --wait shows them.
    assert f"{DAYS[0]} --- train failed" in result.stderr
    assert f"logs: -n kubeflow logs -l pipeline/runid={failed['run_id']}" in result.stderr


def test_cluster_options_need_cluster_and_the_runner_is_local_only(shop, kubectl):
    double, url, _, _, _ = shop
    days = ["--from", str(DAYS[0]), "--to", str(DAYS[-1]), "--database-url", url]
    alone = CliRunner().invoke(app, ["backfill", *days, "--max-concurrency", "3"])
    assert alone.exit_code == 1 and "--max-concurrency: only with --cluster" in alone.output
    docker = _backfill(double, url, kubectl, "--runner", "docker")
    assert docker.exit_code == 1 and "--runner: a local backfill's option" in docker.output
    assert double.requests == []


# -- backfill.submit_days ---------------------------------------------------------------------
class Clock:
    """A clock that moves only when the code under test sleeps."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def _submit_days(double, engine, days, api=None, **options):
    api = api or KfpApi(double.url)
    version, _ = kfp.prepare_version(api, kfp_ir(), "code-1", lambda line: None)
    lines: list[str] = []
    clock = Clock()
    outcomes = backfill.submit_days(
        api,
        version,
        days,
        {"data_uri": "gs://shop/drops"},
        engine,
        "code-1",
        steps=["ingest", "train"],
        ui="http://ui",
        echo=lines.append,
        fetch_logs=lambda run_id: f"the logs of {run_id}",
        sleep=clock.sleep,
        clock=clock,
        **options,
    )
    return outcomes, lines


def kfp_ir() -> str:
    from burger_recs.pipelines.compile import compiled_pipeline

    return compiled_pipeline().read_text()


@pytest.mark.parametrize("most", [1, 2, 3])
def test_never_more_runs_active_than_asked_and_as_many_as_asked(shop, most):
    double, _, engine, _, _ = shop
    days = [FIRST + dt.timedelta(days=i) for i in range(4)]
    outcomes, _ = _submit_days(double, engine, days, max_concurrency=most)
    assert double.most_active == most
    assert [o.day for o in outcomes] == days and all(o.status == "published" for o in outcomes)
    created = [r.body for r in double.calls("POST", "/apis/v2beta1/runs")]
    assert [_parameters(body)["run_date"] for body in created] == [str(d) for d in days]


def test_a_run_without_a_record_shows_kfps_state_and_a_slow_one_is_left_running(shop):
    double, _, engine, _, unrecorded = shop
    unrecorded[DAYS[0]] = "CANCELED"
    unrecorded[DAYS[1]] = "SUCCEEDED"
    unrecorded[DAYS[2]] = "RUNNING"  # never ends
    outcomes, lines = _submit_days(double, engine, DAYS, max_concurrency=3, timeout_seconds=60)
    canceled, succeeded, running = outcomes
    assert (canceled.status, canceled.failed) == ("CANCELED", True)
    assert canceled.message.startswith("KFP says CANCELED; the run left no record")
    assert (succeeded.status, succeeded.failed) == ("SUCCEEDED", True)
    assert "no record of run" in succeeded.message and "--database-url" in succeeded.message
    assert (running.status, running.failed) == ("RUNNING", True)
    assert running.message.startswith("still RUNNING after 60s")
    assert running.link.startswith("http://ui/#/runs/details/")
    assert f"{DAYS[0]}   the logs of {canceled.link.rsplit('/', 1)[1]}" in lines  # canceled
    assert not any(line.startswith(f"{DAYS[1]} ---") for line in lines)  # succeeded: no logs
    assert len(double.active()) == 1  # the slow run goes on


class RefusingApi(KfpApi):
    """The API, refusing to start the run of one day (as for a parameter it refuses)."""

    def __init__(self, host: str, refused: dt.date) -> None:
        super().__init__(host)
        self.refused = refused

    def create_run(self, name, description, experiment_id, version, parameters, **more):
        if parameters["run_date"] == str(self.refused):
            raise KfpError(f"start run {name}: HTTP 400: refused", 400)
        return super().create_run(name, description, experiment_id, version, parameters, **more)


def test_a_day_kfp_refuses_to_start_does_not_stop_the_others(shop):
    double, _, engine, _, _ = shop
    api = RefusingApi(double.url, DAYS[1])
    outcomes, lines = _submit_days(double, engine, DAYS, api=api)
    assert [o.status for o in outcomes] == ["published", "not started", "published"]
    assert outcomes[1].failed and outcomes[1].message.endswith("HTTP 400: refused")
    assert (
        f"{DAYS[1]} not started: start run daily {DAYS[1]} code code-1: HTTP 400: refused" in lines
    )
    assert len(double.runs) == 2
    with pytest.raises(ValueError, match="at least 1"):
        _submit_days(double, engine, DAYS, max_concurrency=0)
