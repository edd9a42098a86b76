"""A day that passes every row rule and is still not a normal day, through the compiled pipeline.

A tenth of the usual orders stops the day at validate (recorded failed by the final task,
alerted, the published day untouched); a three-fold spike publishes with a warning in the
record and an alert; a day accepted by ``accept_unusual_day`` publishes and says so.
"""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from burger_recs import alerts, db
from burger_recs.contract import recommendations
from burger_recs.pipelines.local_run import RunFailed
from tests.support.database import run_rows
from tests.support.drops import a_tenth, three_times, with_orders_changed
from tests.support.pipeline import RUN_DATE, run_day
from tests.support.webhook import webhook_receiver

pytestmark = pytest.mark.slow  # kfp.local pipeline runs

GATE_OFF = {"quality_margin": -1.0}  # so that this small shop's model serves


def _day_rows(url: str) -> list[tuple]:
    with db.make_engine(url).connect() as conn:
        query = sa.select(recommendations).where(recommendations.c.run_date == RUN_DATE)
        return sorted(tuple(r) for r in conn.execute(query))


def _alerts(receiver) -> list[dict[str, str]]:
    return [
        {f["title"]: f["value"] for f in body["attachments"][0]["fields"]}
        for body in receiver.bodies
    ]


def test_a_tenth_of_the_orders_stops_the_day_and_leaves_the_published_day(
    shop_data, tmp_path, monkeypatch
):
    url = f"sqlite:///{tmp_path / 'recs.db'}"
    published = run_day(shop_data, url, tmp_path / "local", **GATE_OFF)
    assert published.status == "published"
    before = _day_rows(url)
    cut = with_orders_changed(shop_data, tmp_path / "cut", RUN_DATE.isoformat(), a_tenth)
    with webhook_receiver() as receiver:
        monkeypatch.setenv(alerts.WEBHOOK_ENV, receiver.url)
        with pytest.raises(RunFailed) as failure:
            run_day(cut, url, tmp_path / "local", **GATE_OFF)
    row = run_rows(db.make_engine(url))[failure.value.result.run_id]
    assert row["status"] == "failed"
    assert re.search(
        r"^validate failed: the day looks unusual: orders: \d+, the last \d+ \w+' median is "
        r"\d+ \(-\d\d%\)",
        row["message"],
    ), row["message"]
    assert _day_rows(url) == before  # the day published earlier stays as it was
    (alert,) = _alerts(receiver)
    assert (alert["status"], alert["step"]) == ("failed", "validate")


def test_a_three_fold_spike_publishes_with_a_warning_and_an_alert(shop_data, tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'recs.db'}"
    busy = with_orders_changed(shop_data, tmp_path / "busy", RUN_DATE.isoformat(), three_times)
    with webhook_receiver() as receiver:
        monkeypatch.setenv(alerts.WEBHOOK_ENV, receiver.url)
        result = run_day(busy, url, tmp_path / "local", **GATE_OFF)
    assert result.status == "published"
    row = run_rows(db.make_engine(url))[result.run_id]
    assert "day check: warning: orders:" in row["message"] and "above 2x it" in row["message"]
    assert row["metrics"]["day_check"] == "warned"
    assert row["metrics"]["day_orders"] > 2 * row["metrics"]["day_orders_expected"]
    (alert,) = _alerts(receiver)
    assert alert["status"] == "published" and "day check: warning" in alert["message"]


def test_an_unusual_day_accepted_by_the_run_publishes_and_is_recorded_as_accepted(
    shop_data, tmp_path
):
    url = f"sqlite:///{tmp_path / 'recs.db'}"
    cut = with_orders_changed(shop_data, tmp_path / "cut", RUN_DATE.isoformat(), a_tenth)
    result = run_day(cut, url, tmp_path / "local", accept_unusual_day=True, **GATE_OFF)
    row = run_rows(db.make_engine(url))[result.run_id]
    assert row["status"] in ("published", "gated") and row["rows_written"] > 0
    assert "day check: unusual, accepted by accept_unusual_day: orders:" in row["message"]
    assert row["metrics"]["day_check"] == "accepted"
