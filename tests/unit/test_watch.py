"""The watchdog (burger_recs.deploy.watch): an alert when a day has no run record in time."""

from __future__ import annotations

import datetime as dt

import pytest
from typer.testing import CliRunner

from burger_recs import alerts
from burger_recs.cli import app
from burger_recs.deploy import production, watch
from burger_recs.runs import record_run
from tests.support.database import run_record
from tests.support.webhook import webhook_receiver

DUE = dt.timedelta(hours=4)
# Four hours after the 23:30 run of 2026-11-24 (production's schedule, closing at 23:30).
CHECKED = dt.datetime(2026, 11, 25, 3, 30, tzinfo=dt.UTC)
DAY = dt.date(2026, 11, 24)


@pytest.mark.parametrize(
    ("now", "closes", "day"),
    [
        (CHECKED, "23:30", DAY),  # the 23:30 run's day
        (CHECKED, "00:00", dt.date(2026, 11, 23)),  # 23:30 on the 24th: the 24th is not closed
        (dt.datetime(2026, 11, 25, 6, 0, tzinfo=dt.UTC), "00:00", DAY),  # a 02:00 run's day
    ],
)
def test_the_expected_day_is_the_one_a_scheduled_run_processes(now, closes, day):
    assert watch.expected_day(now, DUE, closes) == day


def test_a_day_without_any_record_alerts_and_a_recorded_one_does_not(engine):
    sent: list[alerts.Alert] = []
    missing = watch.watch(engine, CHECKED, DUE, "23:30", send=sent.append)
    assert missing.missing and missing.day == DAY
    (alert,) = sent
    assert (alert.status, alert.run_date) == (watch.MISSING, "2026-11-24")
    assert "no run recorded for 2026-11-24 by 2026-11-25 03:30 UTC (4 h after" in alert.message
    assert "kubectl -n kubeflow logs job/burger-recs-reconcile-schedule" in alert.message
    # Another day's record does not count; a failed run of the day does (its own task alerted).
    record_run(engine, run_record(DAY - dt.timedelta(days=1), "yesterday"))
    assert watch.watch(engine, CHECKED, DUE, "23:30", send=sent.append).missing
    record_run(engine, run_record(DAY, "the-day", status="failed"))
    found = watch.watch(engine, CHECKED, DUE, "23:30", send=sent.append)
    assert not found.missing and found.statuses == ("failed",)
    assert len(sent) == 2


def test_the_command_alerts_through_the_webhook_and_exits_1_when_the_day_is_missing(
    sqlite_engine, monkeypatch, tmp_path
):
    url = sqlite_engine.url.render_as_string(hide_password=False)
    schedule = str(production.OVERLAY / "schedule.yaml")
    command = ["watch-day", "--schedule", schedule, "--database-url", url]
    with webhook_receiver() as receiver:
        monkeypatch.setenv(alerts.WEBHOOK_ENV, receiver.url)
        missing = CliRunner().invoke(app, command)
    assert missing.exit_code == 1, missing.output
    assert "no run recorded by" in missing.output and "alert sent" in missing.output
    (body,) = receiver.bodies
    assert body["text"].startswith("burger-recs ") and "missing" in body["text"]
    assert body["attachments"][0]["color"] == "danger"
    # A day recorded (whatever the date today is, the expected one from the same rule).
    expected = watch.expected_day(dt.datetime.now(dt.UTC), DUE, "23:30")
    record_run(sqlite_engine, run_record(expected, "on-time"))
    recorded = CliRunner().invoke(app, command)
    assert recorded.exit_code == 0, recorded.output
    assert f"{expected}: recorded (published)" in recorded.output


def test_a_database_it_cannot_read_is_an_alert_too(monkeypatch, tmp_path):
    schedule = str(production.OVERLAY / "schedule.yaml")
    nowhere = f"sqlite:///{tmp_path / 'empty.db'}"  # no pipeline_runs table: cannot check
    with webhook_receiver() as receiver:
        monkeypatch.setenv(alerts.WEBHOOK_ENV, receiver.url)
        result = CliRunner().invoke(
            app, ["watch-day", "--schedule", schedule, "--database-url", nowhere]
        )
    assert result.exit_code == 2
    assert "the watchdog could not check: OperationalError" in result.output
    (body,) = receiver.bodies
    assert "unchecked" in body["text"]
