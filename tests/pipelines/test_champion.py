"""Champion and challenger through the compiled pipeline (kfp.local): a gated day is still
served, to every customer known that day, and the champion changes only with a published day.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa

from burger_recs import db
from burger_recs.champion import SERVING, current_champion, load_scorer
from burger_recs.contract import models, recommendations
from burger_recs.pipelines.compile import compiled_pipeline
from burger_recs.pipelines.local_run import LocalRun, RunFailed, run_pipeline
from tests.support.pipeline import RUN_DATE, day_arguments

pytestmark = pytest.mark.slow  # kfp.local pipeline runs, seconds each

YESTERDAY = RUN_DATE - dt.timedelta(days=1)
NEW_CUSTOMER = "c_signed_up_today"
# A margin no model passes: today's model is gated.
GATED = {"quality_margin": 50.0}
# The gate off: today's model passes and becomes the champion.
PASSES = {"quality_margin": -1.0}


def customers_known_on(shop: Path, day: dt.date) -> set[str]:
    newest = max(p for p in shop.glob("date=*/customers.csv") if p.parent.name <= f"date={day}")
    return {line.split(",")[0] for line in newest.read_text().splitlines()[1:] if line}


def day_rows(url: str, day: dt.date) -> list[sa.Row]:
    with db.make_engine(url).connect() as conn:
        return conn.execute(
            sa.select(recommendations).where(recommendations.c.run_date == day)
        ).all()


def run(shop: Path, url: str, root: Path, day: dt.date, **params: object) -> LocalRun:
    arguments = {**day_arguments(shop, **params), "run_date": day.isoformat()}
    return run_pipeline(compiled_pipeline(), arguments, url, root, quiet=True)


@pytest.fixture(scope="module")
def shop(shop_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The generated shop, with a customer who signed up on RUN_DATE (no orders yet)."""
    copy = Path(shutil.copytree(shop_data, tmp_path_factory.mktemp("champion") / "shop"))
    known = max(p for p in copy.glob("date=*/customers.csv") if p.parent.name <= f"date={RUN_DATE}")
    lines = known.read_text().splitlines()
    extra = [""] * (len(lines[0].split(",")) - 2)
    lines.append(",".join([NEW_CUSTOMER, RUN_DATE.isoformat(), *extra]))
    (copy / f"date={RUN_DATE}" / "customers.csv").write_text("\n".join(lines) + "\n")
    return copy


@pytest.fixture(scope="module")
def days(shop: Path, tmp_path_factory: pytest.TempPathFactory):
    """Yesterday published by a passing model (the champion), today's model gated."""
    root = tmp_path_factory.mktemp("runs")
    url = f"sqlite:///{root / 'recs.db'}"
    yesterday = run(shop, url, root, YESTERDAY, **PASSES)
    today = run(shop, url, root, RUN_DATE, **GATED)
    return root, url, yesterday, today


def test_a_passing_model_becomes_the_champion(days):
    _, url, yesterday, _ = days
    assert yesterday.status == "published"
    assert yesterday.record.served_by == "challenger"
    champion = current_champion(db.make_engine(url))
    assert champion == yesterday.record.model_version
    scorer = load_scorer(db.make_engine(url), champion, SERVING)
    assert scorer is not None and scorer.trained_until == YESTERDAY


def test_a_gated_day_is_served_to_every_customer_known_that_day(days, shop):
    _, url, yesterday, today = days
    record = today.record
    assert today.status == "gated"
    assert record.served_by in ("champion", "popularity")
    served_version = {
        "champion": yesterday.record.model_version,
        "popularity": "popularity",
    }[record.served_by]
    assert record.model_version == served_version
    assert record.served_by in record.message  # the record says who served, and why
    rows = day_rows(url, RUN_DATE)
    by_customer: dict[str, list[int]] = {}
    for row in rows:
        by_customer.setdefault(row.customer_id, []).append(row.rank)
    known = customers_known_on(shop, RUN_DATE)
    assert NEW_CUSTOMER in known
    assert set(by_customer) == known
    assert all(sorted(ranks) == list(range(1, 11)) for ranks in by_customer.values())
    assert {row.model_version for row in rows} == {served_version}
    assert record.rows_written == len(rows) == 10 * len(known)
    # Today's model is recorded, not promoted.
    with db.make_engine(url).connect() as conn:
        challenger = conn.execute(
            sa.select(models).where(models.c.model_version == record.metrics["challenger_version"])
        ).one()
    assert not challenger.champion and challenger.run_date == RUN_DATE


def test_the_champion_survives_a_rerun_and_a_failed_day(days, shop):
    root, url, yesterday, _ = days
    champion = yesterday.record.model_version
    again = run(shop, url, root, RUN_DATE, **GATED)
    assert again.status == "gated"
    assert current_champion(db.make_engine(url)) == champion
    with pytest.raises(RunFailed):
        run(shop, url, root, RUN_DATE, k=0)  # a bad parameter fails the day at evaluate
    assert current_champion(db.make_engine(url)) == champion
    assert len(day_rows(url, RUN_DATE)) == 10 * len(customers_known_on(shop, RUN_DATE))


def test_a_crash_while_publishing_keeps_the_previous_champion_and_day(days, shop):
    """A passing model whose publish fails: neither its day nor its promotion happens."""
    root, url, yesterday, _ = days
    champion = yesterday.record.model_version
    before = day_rows(url, RUN_DATE)
    engine = db.make_engine(url)
    with engine.begin() as conn:  # the day's rows are loaded, then the transaction fails
        conn.execute(
            sa.text(
                "CREATE TRIGGER refuse AFTER INSERT ON model_artifacts "
                "BEGIN SELECT RAISE(ABORT, 'the disk is full'); END"
            )
        )
    try:
        with pytest.raises(RunFailed, match="the disk is full"):
            run(shop, url, root, RUN_DATE, **PASSES)
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text("DROP TRIGGER refuse"))
    assert current_champion(engine) == champion
    assert day_rows(url, RUN_DATE) == before


def test_without_serve_when_gated_a_gated_day_publishes_nothing(shop, tmp_path):
    url = f"sqlite:///{tmp_path / 'recs.db'}"
    result = run(shop, url, tmp_path, RUN_DATE, serve_when_gated=False, **GATED)
    assert result.status == "gated" and result.record.served_by is None
    assert result.record.rows_written == 0 and day_rows(url, RUN_DATE) == []


def test_a_backfilled_older_day_neither_meets_nor_displaces_a_later_champion(shop, tmp_path):
    """The last day first, then a day three days before it, as `backfill` would run it: the
    later model has seen the older day's holdout, so it is neither compared on that day nor
    serves it, and the older day's model does not take its place."""
    url = f"sqlite:///{tmp_path / 'recs.db'}"
    latest = run(shop, url, tmp_path, RUN_DATE, **PASSES)
    older = run(shop, url, tmp_path, RUN_DATE - dt.timedelta(days=3), **PASSES)
    assert latest.status == older.status == "published"
    assert not any(key.startswith("champion_") for key in older.record.metrics)
    assert older.record.served_by == "challenger"  # its own model, trained before it
    assert current_champion(db.make_engine(url)) == latest.record.model_version
