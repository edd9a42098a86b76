"""The final task (burger_recs.steps.finish): every run recorded, a bad day alerted.

Its database comes from DATABASE_URL (SQLite and PostgreSQL); its webhook is a real receiver.
"""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from burger_recs import alerts, db
from burger_recs.runs import note_failure, record_run
from burger_recs.steps import finish
from tests.support.database import DAY, run_record, run_rows
from tests.support.webhook import webhook_receiver


@pytest.fixture
def database(engine: sa.Engine, monkeypatch: pytest.MonkeyPatch) -> sa.Engine:
    """The test database as the step sees it: through DATABASE_URL."""
    monkeypatch.setenv(db.DATABASE_URL_ENV, engine.url.render_as_string(hide_password=False))
    db.ensure_schema(engine)
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


def test_a_published_run_keeps_the_record_its_publish_wrote_and_alerts_nobody(database, receiver):
    record_run(database, run_record(DAY, "run-1", status="published", rows_written=20))
    before = run_rows(database)["run-1"]
    assert _finish("SUCCEEDED") == "published"
    assert run_rows(database)["run-1"] == before
    assert receiver.bodies == []


def test_a_gated_run_is_kept_and_alerted(database, receiver):
    record_run(database, run_record(DAY, "run-1", status="gated", message="model p@k 0.1 < 0.2"))
    assert _finish("SUCCEEDED") == "gated"
    (body,) = receiver.bodies
    fields = {f["title"]: f["value"] for f in body["attachments"][0]["fields"]}
    assert fields["status"] == "gated" and fields["message"] == "model p@k 0.1 < 0.2"
    assert fields["link"] == "http://kubeflow.example/#/runs/details/uuid-1"


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


def test_a_failed_run_is_never_recorded_as_published(database, receiver):
    record_run(database, run_record(DAY, "run-1", status="published", rows_written=20))
    assert _finish("FAILED") == "failed"
    row = run_rows(database)["run-1"]
    assert row["status"] == "failed"
    assert "its day had been published (20 rows) before" in row["message"]
    assert len(receiver.bodies) == 1


def test_steps_that_succeeded_without_a_record_are_a_failure_not_a_success(database):
    assert _finish("SUCCEEDED") == "failed"
    assert "none recorded the run's outcome" in run_rows(database)["run-1"]["message"]


def test_a_run_date_the_run_refused_is_recorded_under_today(database):
    _finish("FAILED", run_date="2026-02-30")
    assert run_rows(database)["run-1"]["run_date"] == dt.datetime.now(dt.UTC).date()
