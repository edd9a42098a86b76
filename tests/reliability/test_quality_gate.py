"""Guarantee 5: the quality gate holds, through the compiled pipeline (kfp.local).

Yesterday is published from the shop's real orders. Today the same pipeline, with the same
parameters and the default gate (model precision@k >= popularity x 1.1), trains on the same
orders with the customers shuffled among them (seeded): what a customer ordered no longer says
anything about them, so the model cannot beat popularity. The run must be recorded ``gated``
with the reason and its metrics; nothing today's model scored may be published, nor may it
become the champion: today is served by yesterday's model (the champion) or popularity,
whichever did better on today's holdout, and yesterday stays as it was. (A forced bad
metric, a margin no model reaches, is tests/pipelines/test_champion.py.)
"""

from __future__ import annotations

import datetime as dt
import shutil

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from burger_recs import db
from burger_recs.champion import current_champion
from burger_recs.contract import pipeline_runs, recommendations
from burger_recs.pipelines.compile import compiled_pipeline
from burger_recs.pipelines.local_run import run_pipeline
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
    assert " >= " in yesterday.record.message
    assert served and {r.run_date for r in served} == {YESTERDAY}


def test_a_model_of_shuffled_orders_is_gated_and_never_served(runs):
    engine, yesterday, served, today = runs
    record = today.record
    assert today.status == record.status == "gated"
    assert record.run_date == RUN_DATE
    metrics = record.metrics
    challenger = metrics["challenger_version"]
    assert challenger.startswith("lightfm-") and challenger != yesterday.record.model_version
    needed = metrics["baseline_precision_at_k"] * 1.1
    assert metrics["model_precision_at_k"] < needed
    assert record.message.startswith(
        f"model p@k {metrics['model_precision_at_k']:.4f} < baseline "
        f"{metrics['baseline_precision_at_k']:.4f} x 1.1 = {needed:.4f}"
    )
    # Today is served, by yesterday's model or by popularity, never by today's model.
    by = record.served_by
    assert by in ("champion", "popularity") and by in record.message
    expected = {"champion": yesterday.record.model_version, "popularity": "popularity"}[by]
    assert record.model_version == expected
    with engine.connect() as conn:
        versions = set(
            conn.execute(
                sa.select(recommendations.c.model_version).where(
                    recommendations.c.run_date == RUN_DATE
                )
            ).scalars()
        )
        statuses = {r.run_id: r.status for r in conn.execute(sa.select(pipeline_runs))}
    assert versions == {expected}
    today_rows = record.rows_written
    assert today_rows > 0
    assert statuses == {yesterday.run_id: "published", today.run_id: "gated"}
    # Yesterday's model is still the champion, and yesterday's day is as it was.
    assert current_champion(engine) == yesterday.record.model_version
    with engine.connect() as conn:
        yesterday_rows = conn.execute(
            sa.select(recommendations)
            .where(recommendations.c.run_date == YESTERDAY)
            .order_by(recommendations.c.customer_id, recommendations.c.rank)
        ).all()
    assert yesterday_rows == served
    figures.add(
        "quality gate",
        **{"shuffled-orders runs gated": 1},
        **{f"rows of today served by {by}": today_rows},
        **{"rows of today by today's model": 0},
        **{"yesterday rows unchanged": len(served)},
    )
