"""The bad day through the compiled pipeline: the final task records it and alerts.

Every run ends in the exit handler's final task (finish), on every runner: a failed step is
recorded by the pipeline itself, naming the step, and a webhook (a real local receiver) gets
one alert; a webhook that is down changes nothing but a warning and costs bounded time.
"""

from __future__ import annotations

import time

import pytest
import yaml

from burger_recs import alerts, db
from burger_recs.pipelines.compile import compiled_pipeline
from burger_recs.pipelines.local_run import RunFailed
from burger_recs.runs import run_log
from tests.support.database import run_rows
from tests.support.drops import with_negative_quantity
from tests.support.pipeline import RUN_DATE, run_day
from tests.support.webhook import dead_url, webhook_receiver

pytestmark = pytest.mark.slow  # kfp.local pipeline runs


def test_the_compiled_pipeline_ends_every_run_in_its_final_task():
    spec = next(yaml.safe_load_all(compiled_pipeline().read_text()))
    tasks = spec["root"]["dag"]["tasks"]
    (group,) = [name for name in tasks if name.startswith("exit-handler")]
    finish = tasks["finish"]
    assert finish["triggerPolicy"]["strategy"] == "ALL_UPSTREAM_TASKS_COMPLETED"
    assert finish["inputs"]["parameters"]["status"] == {"taskFinalStatus": {"producerTask": group}}
    # Every step runs inside the handler's group.
    inner = spec["components"][tasks[group]["componentRef"]["name"]]["dag"]["tasks"]
    assert {"ingest", "validate", "train", "evaluate"} <= set(inner)


@pytest.fixture
def broken_drop(shop_data, tmp_path):
    """The shop with one order of the run date given a quantity of -4."""
    return with_negative_quantity(shop_data, tmp_path / "broken", RUN_DATE.isoformat())


def test_a_failed_day_is_recorded_by_the_pipeline_and_alerted_once(
    broken_drop, tmp_path, monkeypatch
):
    url = f"sqlite:///{tmp_path / 'recs.db'}"
    with webhook_receiver() as receiver:
        monkeypatch.setenv(alerts.WEBHOOK_ENV, receiver.url)
        with pytest.raises(RunFailed) as failure:
            run_day(broken_drop, url, tmp_path)
    run = failure.value.result
    engine = db.make_engine(url)
    row = run_rows(engine)[run.run_id]
    assert row["status"] == "failed" and row["run_date"] == RUN_DATE
    assert row["message"].startswith("validate failed: input data breaks the contract")
    assert "quantity must be at least 1" in row["message"]
    (body,) = receiver.bodies
    fields = {f["title"]: f["value"] for f in body["attachments"][0]["fields"]}
    assert (fields["run_id"], fields["run_date"], fields["status"], fields["step"]) == (
        run.run_id,
        RUN_DATE.isoformat(),
        "failed",
        "validate",
    )
    assert "quantity must be at least 1" in fields["message"]
    # No row contents in an alert: counts and column names; the rows stay in the report.
    assert "line 2:" in row["message"] and "line 2:" not in fields["message"]
    assert "(examples in the validation report)" in fields["message"]
    assert fields["code_version"] == row["code_version"]
    # The webhook URL is a secret: not in the run's log, record or arguments.
    secret = receiver.url.rsplit("/", 1)[1]
    for path in run.folder.rglob("*"):
        if path.is_file():
            assert secret not in path.read_text(errors="replace"), path
    assert secret not in str(row)
    # The failed step's log outlives the run's folder (or a cluster's pods): from the records.
    shown = run_log(engine, run.run_id)
    assert f"{RUN_DATE}  failed: validate failed" in shown and "== validate failed at" in shown
    assert "step validate: code" in shown  # the step's own first log line, kept in its note
    assert "ERROR validate failed: input data breaks the contract" in shown
    assert secret not in shown
    engine.dispose()


def test_a_dead_webhook_leaves_the_outcome_as_it_is_in_bounded_time(
    broken_drop, tmp_path, monkeypatch
):
    url = f"sqlite:///{tmp_path / 'recs.db'}"
    monkeypatch.setenv(alerts.WEBHOOK_ENV, dead_url())
    started = time.monotonic()
    with pytest.raises(RunFailed) as failure:
        run_day(broken_drop, url, tmp_path)
    elapsed = time.monotonic() - started
    run = failure.value.result
    assert run.record.status == "failed"
    assert run.record.message.startswith("validate failed: ")
    log = run.log_file.read_text()
    assert "not delivered" in log
    # The alert's attempts add at most their time-outs and backoff to the run.
    assert elapsed < 120


def test_a_bad_parameter_fails_its_step_and_the_record_names_it(shop_data, tmp_path):
    url = f"sqlite:///{tmp_path / 'recs.db'}"
    with pytest.raises(RunFailed) as failure:
        run_day(shop_data, url, tmp_path, epochs=0)
    run = failure.value.result
    assert run.record.status == "failed"
    assert run.record.message == "train failed: epochs must be at least 1, got 0"
    assert "Inner task failed: 'train'" in run.message
    # Earlier failed runs in this process left no logging handler on their closed logs.
    assert "Logging error" not in run.log_file.read_text()
