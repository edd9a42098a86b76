"""The final task (burger_recs.steps.finish): every run recorded, a bad day alerted.

Its database comes from DATABASE_URL (SQLite and PostgreSQL); its webhook is a real receiver.
It decides from the project's records: the matrix below runs the real component through the
kfp executor with the status each runner builds (tests/support/final_task.py), for every word
a runner is known to say and one it is not, on a published, a gated and a failed day.
"""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from burger_recs import alerts, db
from burger_recs.runs import note_failure, record_run
from burger_recs.steps import finish
from tests.support.database import DAY, run_record, run_rows
from tests.support.final_task import DRIVER, LOCAL, final_status, run_final_task
from tests.support.webhook import webhook_receiver

# (runner, word): every word a runner gives for the steps' group (burger_recs.kfp_words), and
# one nobody has said yet.
WORDS = [
    (DRIVER, "COMPLETE"),
    (LOCAL, "SUCCEEDED"),
    (DRIVER, "FAILED"),
    (LOCAL, "FAILED"),
    (DRIVER, "RUNNING"),
    (DRIVER, "SOME_NEW_STATE"),
]
SUCCESS = {"COMPLETE", "SUCCEEDED"}


@pytest.fixture
def database(engine: sa.Engine, monkeypatch: pytest.MonkeyPatch) -> sa.Engine:
    """The test database as the step sees it: through DATABASE_URL."""
    monkeypatch.setenv(db.DATABASE_URL_ENV, engine.url.render_as_string(hide_password=False))
    return engine


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch):
    with webhook_receiver() as webhook:
        monkeypatch.setenv(alerts.WEBHOOK_ENV, webhook.url)
        monkeypatch.setenv(alerts.UI_ENV, "http://kubeflow.example/")
        yield webhook


def _finish(state: str, run_id: str = "run-1", run_date: str = DAY.isoformat()) -> str:
    return finish.run(
        state=state,
        run_id=run_id,
        orchestrator_run_id="uuid-1",
        run_date=run_date,
        data_uri="gs://shop/drops",
        group="exit-handler-1",
    )


def _fields(body: dict) -> dict:
    return {f["title"]: f["value"] for f in body["attachments"][0]["fields"]}


@pytest.mark.parametrize(("runner", "word"), WORDS, ids=[f"{r}-{w}" for r, w in WORDS])
def test_a_published_day_stays_published_whatever_the_runner_says(database, receiver, runner, word):
    record_run(database, run_record(DAY, "run-1", status="published", rows_written=20))
    before = run_rows(database)["run-1"]
    status = final_status(runner, word, "burger-recs-daily-x7k2p")
    assert run_final_task(status, "run-1", "uuid-1", DAY.isoformat()) == "published"
    after = run_rows(database)["run-1"]
    assert (after["status"], after["served_by"], after["rows_written"]) == (
        "published",
        "challenger",
        20,
    )
    if word in SUCCESS:
        assert after == before  # publish's record, untouched
    else:  # KFP's word is added beside the record, nothing else changes
        assert after["message"].endswith(f"KFP reported exit-handler-1 {word}")
        assert {k: v for k, v in after.items() if k != "message"} == {
            k: v for k, v in before.items() if k != "message"
        }
    assert receiver.bodies == []


@pytest.mark.parametrize(("runner", "word"), WORDS, ids=[f"{r}-{w}" for r, w in WORDS])
def test_a_gated_day_stays_gated_and_served_whatever_the_runner_says(
    database, receiver, runner, word
):
    for days_before in (2, 1):  # two gated days before: no model promoted for three
        earlier = DAY - dt.timedelta(days=days_before)
        gated = run_record(earlier, f"run-{earlier}", status="gated", served_by="champion")
        record_run(database, gated)
    gated = run_record(
        DAY, "run-1", status="gated", message="model p@k 0.1 < 0.2", served_by="champion"
    )
    gated.rows_written = 20
    record_run(database, gated)
    status = final_status(runner, word, "burger-recs-daily-x7k2p")
    assert run_final_task(status, "run-1", "uuid-1", DAY.isoformat()) == "gated"
    row = run_rows(database)["run-1"]
    assert (row["status"], row["served_by"], row["rows_written"]) == ("gated", "champion", 20)
    assert row["message"].startswith("model p@k 0.1 < 0.2")
    (body,) = receiver.bodies
    fields = _fields(body)
    assert fields["status"] == "gated"
    assert fields["message"] == f"no model promoted for 3 run days in a row; {row['message']}"
    # Who served, as every view says it (runs.served_label): the scorer, its model version.
    assert fields["served_by"] == "champion (model-1)"
    assert "gated, served by champion (model-1)" in body["text"]
    assert fields["link"] == "http://kubeflow.example/#/runs/details/uuid-1"


@pytest.mark.parametrize(("runner", "word"), WORDS, ids=[f"{r}-{w}" for r, w in WORDS])
def test_a_failed_day_stays_failed_whatever_the_runner_says(database, receiver, runner, word):
    note_failure("train", "uuid-1", "BadSettings: epochs must be at least 1", expected=True)
    status = final_status(runner, word, "burger-recs-daily-x7k2p")
    assert run_final_task(status, "run-1", "uuid-1", DAY.isoformat()) == "failed"
    row = run_rows(database)["run-1"]
    assert row["status"] == "failed" and row["served_by"] is None and row["rows_written"] == 0
    assert row["message"].startswith("train failed: BadSettings: epochs must be at least 1")
    assert (word == "FAILED") == ("KFP reported" not in row["message"])
    (body,) = receiver.bodies
    assert (_fields(body)["step"], _fields(body)["status"]) == ("train", "failed")


def test_a_retried_run_that_published_is_published_despite_its_first_attempts_note(database):
    # A retry in place keeps the run's ids: the first attempt's note stays, older than the
    # record the second attempt's publish wrote.
    note_failure("train", "uuid-1", "OperationalError: the server went away", expected=False)
    later = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=5)
    record_run(database, run_record(DAY, "run-1", status="published", finished_at=later))
    assert _finish("COMPLETE") == "published"
    assert run_rows(database)["run-1"]["status"] == "published"


def test_a_step_that_failed_after_the_day_went_live_leaves_it_published_with_a_warning(
    database, receiver
):
    earlier = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5)
    published = run_record(
        DAY, "run-1", status="published", rows_written=20, finished_at=earlier, message="passed"
    )
    record_run(database, published)
    note_failure("publish", "uuid-1", "OSError: no room for the trends page", expected=False)
    assert _finish("FAILED") == "published"  # its rows and promotion are live: never "failed"
    row = run_rows(database)["run-1"]
    assert (row["status"], row["rows_written"]) == ("published", 20)
    assert row["message"] == (
        "passed; warning: publish failed after the day went live: "
        "OSError: no room for the trends page"
    )
    (body,) = receiver.bodies  # a person should know, once
    assert (_fields(body)["status"], _fields(body)["step"]) == ("published", "publish")
    assert _finish("FAILED") == "published"  # a retry of the final task adds nothing
    assert run_rows(database)["run-1"]["message"] == row["message"]


def test_a_gated_day_alerts_only_after_days_without_a_promoted_model(database, receiver):
    def day(n: int, status: str) -> str:
        run_date = DAY + dt.timedelta(days=n)
        served = {"served_by": "champion"} if status == "gated" else {}
        record_run(database, run_record(run_date, f"run-{n}", status=status, **served))
        return run_date.isoformat()

    day(0, "published")
    for n in (1, 2):  # gated: served by the champion or popularity, as designed
        assert _finish("SUCCEEDED", f"run-{n}", day(n, "gated")) == "gated"
    assert receiver.bodies == []
    day(3, "failed")  # a failed day served nothing: it neither breaks nor adds to the streak
    assert _finish("SUCCEEDED", "run-4", day(4, "gated")) == "gated"
    (body,) = receiver.bodies
    assert _fields(body)["message"].startswith("no model promoted for 3 run days in a row")
    day(5, "published")
    assert _finish("SUCCEEDED", "run-6", day(6, "gated")) == "gated"
    assert len(receiver.bodies) == 1  # a promotion ended the streak
    # With serve_when_gated off, a gated day published nothing: a person should know.
    record_run(database, run_record(DAY + dt.timedelta(days=7), "run-7", "gated", served_by=None))
    assert _finish("SUCCEEDED", "run-7", (DAY + dt.timedelta(days=7)).isoformat()) == "gated"
    assert len(receiver.bodies) == 2


def test_a_failed_run_is_recorded_naming_the_step_and_its_error(database, receiver):
    note_failure("train", "uuid-1", "BadSettings: epochs must be at least 1", expected=True)
    assert _finish("FAILED") == "failed"
    row = run_rows(database)["run-1"]
    assert row["status"] == "failed"
    assert row["message"] == "train failed: BadSettings: epochs must be at least 1"
    assert row["run_date"] == DAY and row["data_uri"] == "gs://shop/drops"
    (body,) = receiver.bodies
    fields = {f["title"]: f["value"] for f in body["attachments"][0]["fields"]}
    assert (fields["step"], fields["status"], fields["run_id"]) == ("train", "failed", "run-1")


def test_the_latest_note_names_the_step_that_failed_the_run(database):
    # Notes are keyed by the orchestrator's run id (uuid-1 for run-1 here).
    note_failure("publish", "uuid-1", "OperationalError: the server went away", expected=False)
    note_failure("validate", "uuid-1", "input data breaks the contract", expected=True)
    note_failure("validate", "uuid-0", "another run's note", expected=True)
    with db.make_engine().begin() as conn:  # publish's note is the later one
        conn.execute(
            sa.text("UPDATE step_failures SET noted_at = :t WHERE step = 'publish'"),
            {"t": dt.datetime.now(dt.UTC) + dt.timedelta(seconds=5)},
        )
    _finish("FAILED")
    assert run_rows(database)["run-1"]["message"].startswith("publish failed: OperationalError")


def test_a_failure_without_a_note_is_still_recorded_as_failed(database):
    _finish("FAILED")
    row = run_rows(database)["run-1"]
    assert row["status"] == "failed"
    assert "exit-handler-1" in row["message"] and "no step left a note" in row["message"]


@pytest.mark.parametrize("word", sorted(SUCCESS))
def test_steps_that_succeeded_without_a_record_are_a_failure_not_a_success(database, word):
    assert _finish(word) == "failed"
    message = run_rows(database)["run-1"]["message"]
    assert message == f"KFP reported exit-handler-1 {word}, but none recorded the run's outcome"


def test_a_run_date_the_run_refused_is_recorded_under_today(database):
    _finish("FAILED", run_date="2026-02-30")
    assert run_rows(database)["run-1"]["run_date"] == dt.datetime.now(dt.UTC).date()
