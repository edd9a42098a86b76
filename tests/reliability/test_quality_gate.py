"""Guarantee 5: the quality gate holds, through the compiled pipeline (kfp.local).

Yesterday is published from the shop's real orders. Today the same pipeline, with the same
parameters and the default gate (model precision@k >= popularity x 1.1), trains on the same
orders with the customers shuffled among them (seeded): what a customer ordered no longer says
anything about them, so the model cannot beat popularity. The run must be recorded ``gated``
with the reason and its metrics, nothing of today may be published, and yesterday must stay
the latest day, unchanged. (A forced bad metric, a margin no model reaches, is
tests/pipelines/test_local_run.py::test_gated_run_keeps_the_published_day.)
"""

from __future__ import annotations

import datetime as dt
import shutil

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from burger_recs import db
from burger_recs.compile import compiled_pipeline
from burger_recs.contract import pipeline_runs, recommendations
from burger_recs.local_run import run_pipeline
from tests.support import figures
from tests.support.pipeline import RUN_DATE

pytestmark = pytest.mark.slow  # two kfp.local pipeline runs

YESTERDAY = RUN_DATE - dt.timedelta(days=1)
# The same for both days; quality_margin keeps its default (0.1).
PARAMS = {"epochs": 20, "window_days": 21, "holdout_days": 7}
SEED = 11


def _shuffle_customers(source, target, seed: int) -> None:
    """Copy a data root with the customer ids of all orders permuted among the orders."""
    shutil.copytree(source, target)
    files = sorted(target.glob("date=*/orders.csv"))
    frames = [pd.read_csv(f, dtype=str, keep_default_na=False) for f in files]
    shuffled = np.random.default_rng(seed).permutation(
        np.concatenate([f["customer_id"].to_numpy() for f in frames])
    )
    start = 0
    for path, frame in zip(files, frames, strict=True):
        frame["customer_id"] = shuffled[start : start + len(frame)]
        start += len(frame)
        frame.to_csv(path, index=False)


def _latest_day(engine: sa.Engine) -> list:
    day = sa.select(sa.func.max(recommendations.c.run_date)).scalar_subquery()
    query = (
        sa.select(recommendations)
        .where(recommendations.c.run_date == day)
        .order_by(recommendations.c.customer_id, recommendations.c.rank)
    )
    with engine.connect() as conn:
        return conn.execute(query).all()


@pytest.fixture(scope="module")
def runs(shop_data, tmp_path_factory):
    root = tmp_path_factory.mktemp("gate")
    url = f"sqlite:///{root / 'recs.db'}"
    shuffled = root / "shuffled"
    _shuffle_customers(shop_data, shuffled, SEED)

    def run(data, day):
        arguments = {"data_uri": str(data), "run_date": day.isoformat(), **PARAMS}
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("DATABASE_URL", url)  # run_pipeline sets it; put back afterwards
            return run_pipeline(compiled_pipeline(), arguments, url, root, quiet=True)

    yesterday = run(shop_data, YESTERDAY)
    engine = db.make_engine(url)
    served = _latest_day(engine)
    today = run(shuffled, RUN_DATE)
    return engine, yesterday, served, today


def test_real_orders_pass_the_gate(runs):
    _, yesterday, served, _ = runs
    assert yesterday.status == "published", yesterday.record
    assert " >= " in yesterday.record["message"]
    assert served and {r.run_date for r in served} == {YESTERDAY}


def test_a_model_of_shuffled_orders_is_gated_and_yesterday_stays_the_latest(runs):
    engine, yesterday, served, today = runs
    record = today.record
    assert today.status == record["status"] == "gated"
    assert record["run_date"] == RUN_DATE
    assert record["rows_written"] == 0
    assert record["model_version"].startswith("lightfm-")
    metrics = record["metrics"]
    needed = metrics["baseline_precision_at_k"] * 1.1
    assert metrics["model_precision_at_k"] < needed
    assert record["message"] == (
        f"model p@k {metrics['model_precision_at_k']:.4f} < baseline "
        f"{metrics['baseline_precision_at_k']:.4f} x 1.1 = {needed:.4f}"
    )
    # Nothing of today was published: yesterday is still the latest day, row for row.
    assert _latest_day(engine) == served
    with engine.connect() as conn:
        today_rows = conn.execute(
            sa.select(sa.func.count()).where(recommendations.c.run_date == RUN_DATE)
        ).scalar()
        statuses = {r.run_id: r.status for r in conn.execute(sa.select(pipeline_runs))}
    assert today_rows == 0
    assert statuses == {yesterday.run_id: "published", today.run_id: "gated"}
    customer = served[0].customer_id
    day, rows = db.customer_recommendations(engine, customer)
    assert day == YESTERDAY and [r.rank for r in rows] == list(range(1, 11))
    figures.add(
        "quality gate",
        **{"shuffled-orders runs gated": 1},
        **{"rows of today published": today_rows},
        **{"yesterday rows still served": len(served)},
    )
