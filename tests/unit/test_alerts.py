"""Alerts (burger_recs.alerts): delivered to a real local webhook, bounded when it is down."""

from __future__ import annotations

import json
import logging
import time

import pytest

from burger_recs import alerts
from tests.support.webhook import dead_url, webhook_receiver

ALERT = alerts.Alert(
    run_id="run-7",
    run_date="2026-03-04",
    status="failed",
    step="validate",
    message="input data breaks the contract in 1 way(s)",
    code_version="abc123",
    link="http://kubeflow.example/#/runs/details/uuid-7",
)


@pytest.fixture
def log(caplog: pytest.LogCaptureFixture):
    """The burger_recs log lines (its logger does not propagate once configured)."""
    logger = logging.getLogger("burger_recs")
    logger.addHandler(caplog.handler)
    caplog.set_level(logging.INFO)
    yield caplog
    logger.removeHandler(caplog.handler)


def _fields(body: dict) -> dict[str, str]:
    return {f["title"]: f["value"] for f in body["attachments"][0]["fields"]}


def test_an_alert_reaches_the_webhook_with_every_field(log) -> None:
    with webhook_receiver() as receiver:
        assert alerts.send(ALERT, receiver.url)
    (body,) = receiver.bodies
    assert receiver.paths == ["/hooks/T0/B0/secret-token"]
    assert "validate failed" in body["text"] and "run-7" in body["text"]  # Slack's text
    assert _fields(body) == {
        "run_id": "run-7",
        "run_date": "2026-03-04",
        "status": "failed",
        "step": "validate",
        "message": "input data breaks the contract in 1 way(s)",
        "code_version": "abc123",
        "link": "http://kubeflow.example/#/runs/details/uuid-7",
    }
    assert "delivered" in log.text
    assert "secret-token" not in log.text  # the URL is a secret


def test_the_url_comes_from_the_environment_and_none_means_no_alert(monkeypatch) -> None:
    monkeypatch.delenv(alerts.WEBHOOK_ENV, raising=False)
    assert alerts.send(ALERT) is False
    with webhook_receiver() as receiver:
        monkeypatch.setenv(alerts.WEBHOOK_ENV, receiver.url)
        assert alerts.send(ALERT)
    assert len(receiver.bodies) == 1


def test_a_server_error_is_retried_and_a_refusal_is_not(no_sleep) -> None:
    with webhook_receiver(answers=[503, 502]) as receiver:
        assert alerts.send(ALERT, receiver.url)
    assert len(receiver.bodies) == 3
    with webhook_receiver(answers=[400]) as receiver:
        assert alerts.send(ALERT, receiver.url) is False
    assert len(receiver.bodies) == 1


@pytest.mark.slow  # real backoff between the attempts
def test_a_dead_webhook_costs_bounded_time_and_only_a_warning(log) -> None:
    url = dead_url()
    started = time.monotonic()
    assert alerts.send(ALERT, url) is False
    assert time.monotonic() - started < alerts.ATTEMPTS * (alerts.TIMEOUT_SECONDS + 2)
    warning = [r for r in log.records if r.levelno == logging.WARNING]
    assert warning and "not delivered" in warning[0].getMessage()
    assert url not in log.text and "secret-token" not in log.text


def test_an_alert_carries_no_row_contents_of_the_data() -> None:
    breach = alerts.Alert(
        run_id="run-8",
        run_date="2026-03-04",
        status="failed",
        step="validate",
        message=(
            "validate failed: input data breaks the contract in 2 way(s):\n"
            "  - gs://shop/date=2026-03-04/customers.csv [email]: must be unique (2 rows); "
            "e.g. line 3: 'ann@example.com', line 9: 'ann@example.com'\n"
            "  - gs://shop/date=2026-03-04/orders.csv: the day has no orders.csv"
        ),
        code_version="abc123",
    )
    body = breach.payload()
    shown = json.dumps(body)
    assert "ann@example.com" not in shown and "line 3" not in shown
    assert _fields(body)["message"].splitlines()[1:] == [
        "  - gs://shop/date=2026-03-04/customers.csv [email]: must be unique (2 rows) "
        "(examples in the validation report)",
        "  - gs://shop/date=2026-03-04/orders.csv: the day has no orders.csv",
    ]
