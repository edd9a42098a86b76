"""The sharded publish (burger_recs.steps.commit): staging shard by shard, one atomic commit.

Staging must be replaceable shard by shard; the commit must publish all shards or nothing,
exactly what one publish (burger_recs.steps.publish) writes. Every test runs on SQLite and on
PostgreSQL (the ``engine`` fixture).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from burger_recs import db as database
from burger_recs.contract import pipeline_runs, recommendation_stages
from burger_recs.db import make_engine
from burger_recs.metrics import churn as moved
from burger_recs.migrations import migrate
from burger_recs.steps.commit import (
    STAGE_PREFIX,
    ShardsNotStaged,
    commit,
    stage,
    stage_table,
)
from burger_recs.steps.publish import publish
from tests.support.database import DAY, OTHER_DAY, published_day, run_record, run_rows

ITEMS = [f"i{n:02d}" for n in range(8)]
MENU = pd.DataFrame(
    {
        "item_id": ITEMS,
        "name": [f"Combo {i}" for i in ITEMS],
        "ingredients": "beef;cheddar;fries",
        "price": 9.5,
    }
)


@pytest.fixture
def db(engine: sa.Engine) -> Iterator[sa.Engine]:
    """The ``engine``, with no staging left over from other tests (PostgreSQL keeps it)."""
    _drop_staging(engine)
    yield engine
    _drop_staging(engine)


def _drop_staging(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        for name in sa.inspect(conn).get_table_names():
            if name.startswith(STAGE_PREFIX):
                conn.execute(sa.text(f'DROP TABLE "{name}"'))


def recs_frame(customers: list[str], seed: int = 0, k: int = 3) -> pd.DataFrame:
    """Top-k rows per customer, best first, with float32 scores as the recommend step has."""
    rng = np.random.default_rng(seed)
    rows = []
    for customer in customers:
        items = rng.choice(ITEMS, size=k, replace=False)
        scores = np.sort(rng.normal(size=k).astype(np.float32))[::-1]
        rows += [(customer, rank + 1, items[rank], scores[rank]) for rank in range(k)]
    frame = pd.DataFrame(rows, columns=["customer_id", "rank", "item_id", "score"])
    return frame.astype({"rank": np.int16, "score": np.float32})


CUSTOMERS = [f"c{n:03d}" for n in range(12)]


def shard_frames(recs: pd.DataFrame, shards: int) -> list[pd.DataFrame]:
    """Split a day's rows into shards of whole customers, in customer order."""
    customers = sorted(recs["customer_id"].unique())
    bounds = [len(customers) * s // shards for s in range(shards + 1)]
    return [
        recs[recs["customer_id"].isin(customers[bounds[s] : bounds[s + 1]])].reset_index(drop=True)
        for s in range(shards)
    ]


# The run records, the day's rows and the runs of DAY (tests/support/database.py).
record = functools.partial(run_record, DAY)
day = functools.partial(published_day, day=DAY)
runs = run_rows


def staged(engine: sa.Engine, run_id: str, shard: int) -> list[tuple]:
    table = stage_table(run_id, shard)
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.select(table).order_by(*table.c))]


def staging_tables(engine: sa.Engine) -> list[str]:
    return sorted(n for n in sa.inspect(engine).get_table_names() if n.startswith(STAGE_PREFIX))


def stage_all(engine: sa.Engine, run_id: str, frames: list[pd.DataFrame]) -> list[int]:
    return [stage(engine, run_id, s, len(frames), f) for s, f in enumerate(frames)]


def test_three_shards_commit_exactly_what_one_publish_writes(db, tmp_path):
    recs = recs_frame(CUSTOMERS)
    reference = make_engine(f"sqlite:///{tmp_path / 'reference.db'}")
    migrate(reference)
    publish(reference, record("one"), recs, MENU)

    counts = stage_all(db, "three", shard_frames(recs, 3))
    written = commit(db, rec := record("three"), 3, MENU, staged_rows=counts)

    assert written == len(recs) == sum(counts)
    assert day(db) == day(reference)  # scores bit for bit, on both databases
    run = runs(db)["three"]
    assert run["status"] == "published"
    assert (run["rows_written"], run["customers"]) == (len(recs), len(CUSTOMERS))
    assert (rec.rows_written, rec.customers) == (len(recs), len(CUSTOMERS))
    assert staging_tables(db) == []  # the commit dropped the run's staging...
    with db.connect() as conn:  # ...and its bookkeeping
        assert conn.execute(sa.select(recommendation_stages)).all() == []


def test_a_sharded_day_records_the_figures_one_publish_records(db, tmp_path):
    # Yesterday's rows, then today's: sharded here, in one frame in the reference.
    reference = make_engine(f"sqlite:///{tmp_path / 'reference.db'}")
    migrate(reference)
    yesterday, today = recs_frame(CUSTOMERS[:8], seed=1), recs_frame(CUSTOMERS[2:], seed=2)
    menu = pd.concat([MENU, MENU.iloc[:2].assign(item_id=["new1", "new2"])], ignore_index=True)
    for engine in (reference, db):
        publish(engine, run_record(OTHER_DAY, "yesterday"), yesterday, menu)
    publish(reference, one := record("one"), today, menu)
    stage_all(db, "three", shard_frames(recs_frame(CUSTOMERS, seed=7), 2))  # another count
    counts = stage_all(db, "three", shard_frames(today, 3))

    commit(db, three := record("three"), 3, menu, staged_rows=counts)

    expected = moved(yesterday, today)
    assert three.metrics == one.metrics == runs(db)["three"]["metrics"]
    assert three.metrics is not None
    assert three.metrics["churn_mean_jaccard"] == pytest.approx(expected.mean_jaccard, abs=1e-6)
    assert three.metrics["churn_customers"] == expected.common == 6
    assert three.metrics["churn_previous_day"] == OTHER_DAY.isoformat()
    assert three.metrics["catalogue_coverage"] == 0.8  # 8 of the 10 items on the menu
    assert three.metrics["served_share_model"] == 1.0


def test_one_shard_publishes_like_publish(db):
    recs = recs_frame(CUSTOMERS)
    stage(db, "run-1", 0, 1, recs)
    assert commit(db, record("run-1"), 1, MENU) == len(recs)
    published = [(c, r, i, pytest.approx(float(s)), "model-1") for c, r, i, s in recs.values]
    assert day(db) == published


def test_staging_a_shard_again_replaces_its_rows(db):
    frames = shard_frames(recs_frame(CUSTOMERS), 3)
    stage_all(db, "run-1", frames)
    first, others = staged(db, "run-1", 1), [staged(db, "run-1", s) for s in (0, 2)]
    retried = recs_frame(list(frames[1]["customer_id"].unique()), seed=9)

    stage(db, "run-1", 1, 3, retried)

    again = staged(db, "run-1", 1)
    assert again != first and len(again) == len(retried)
    assert [staged(db, "run-1", s) for s in (0, 2)] == others  # the others are untouched
    commit(db, record("run-1"), 3, MENU)
    expected = pd.concat([frames[0], retried, frames[2]], ignore_index=True)
    assert [row[:3] for row in day(db)] == [
        (c, r, i) for c, r, i in expected[["customer_id", "rank", "item_id"]].values
    ]


def test_a_stage_that_fails_midway_leaves_no_half_shard(db, monkeypatch):
    frames = shard_frames(recs_frame(CUSTOMERS), 2)
    stage(db, "run-1", 0, 2, frames[0])
    real_load = database.load_rows

    def load_half_then_crash(conn, table, rows):
        real_load(conn, table, rows.iloc[: len(rows) // 2])
        raise RuntimeError("the pod was evicted")

    monkeypatch.setattr(database, "load_rows", load_half_then_crash)
    with pytest.raises(RuntimeError, match="evicted"):
        stage(db, "run-1", 1, 2, frames[1])
    monkeypatch.undo()

    with pytest.raises(ShardsNotStaged, match=r"shard\(s\) 1 of 2 are not staged"):
        commit(db, record("run-1"), 2, MENU)
    stage(db, "run-1", 1, 2, frames[1])  # the retry of the shard alone
    assert commit(db, record("run-1"), 2, MENU) == sum(len(f) for f in frames)


def test_a_failure_in_the_commit_keeps_the_previous_day_and_the_staging(db, monkeypatch):
    publish(db, record("yesterday", model_version="model-0"), recs_frame(CUSTOMERS[:4]), MENU)
    before = day(db)
    stage_all(db, "run-1", shard_frames(recs_frame(CUSTOMERS, seed=5), 3))
    real_upsert = database.upsert

    def upsert_then_crash(conn, table, rows):
        real_upsert(conn, table, rows)
        if table is pipeline_runs:  # the last statement: everything else is done by now
            raise RuntimeError("the connection dropped")

    monkeypatch.setattr(database, "upsert", upsert_then_crash)
    with pytest.raises(RuntimeError, match="dropped"):
        commit(db, record("run-1"), 3, MENU)
    monkeypatch.undo()

    assert day(db) == before
    assert sorted(runs(db)) == ["yesterday"]
    assert len(staging_tables(db)) == 3  # still staged: the commit alone can be retried
    assert commit(db, record("run-1"), 3, MENU) == 3 * len(CUSTOMERS)
    assert {row[-1] for row in day(db)} == {"model-1"}


def test_committing_again_after_success_changes_nothing(db):
    stage_all(db, "run-1", shard_frames(recs_frame(CUSTOMERS), 2))
    commit(db, record("run-1"), 2, MENU)
    after = day(db)

    again = record("run-1")
    assert commit(db, again, 2, MENU) == len(after)
    assert again.customers == len(CUSTOMERS)
    assert day(db) == after


def test_a_missing_shard_or_a_wrong_count_refuses_the_commit(db):
    publish(db, record("yesterday", model_version="model-0"), recs_frame(CUSTOMERS[:2]), MENU)
    before = day(db)
    frames = shard_frames(recs_frame(CUSTOMERS), 3)
    stage(db, "run-1", 0, 3, frames[0])
    stage(db, "run-1", 2, 3, frames[2])

    with pytest.raises(ShardsNotStaged, match=r"shard\(s\) 1 of 3"):
        commit(db, record("run-1"), 3, MENU)
    stage(db, "run-1", 1, 3, frames[1])
    with pytest.raises(ShardsNotStaged, match="reported"):
        commit(db, record("run-1"), 3, MENU, staged_rows=[1, 2, 3])
    assert day(db) == before
    assert sorted(runs(db)) == ["yesterday"]


def test_staging_from_an_attempt_with_another_shard_count_is_ignored_and_dropped(db):
    recs = recs_frame(CUSTOMERS)
    stage_all(db, "run-1", shard_frames(recs_frame(CUSTOMERS, seed=3), 4))  # abandoned
    stage_all(db, "run-1", shard_frames(recs, 2))

    assert commit(db, record("run-1"), 2, MENU) == len(recs)
    assert [row[:3] for row in day(db)] == [
        (c, r, i) for c, r, i in recs[["customer_id", "rank", "item_id"]].values
    ]
    assert staging_tables(db) == []


def test_a_gated_commit_keeps_the_day_records_the_run_and_drops_the_staging(db):
    publish(db, record("yesterday", model_version="model-0"), recs_frame(CUSTOMERS[:2]), MENU)
    before = day(db)
    stage_all(db, "run-1", shard_frames(recs_frame(CUSTOMERS), 2))

    gated = record("run-1", status="gated", message="model below baseline", served_by=None)
    assert commit(db, gated, 2, MENU) == 0
    assert runs(db)["run-1"]["metrics"]["served_share_model"] == 0.0  # nobody was served

    assert day(db) == before
    assert runs(db)["run-1"]["status"] == "gated"
    assert staging_tables(db) == []


def test_staging_tables_are_plain_identifiers_whatever_the_run_id():
    names = {stage_table(run_id, 3).name for run_id in ("a", 'x"; DROP TABLE y; --', "Ü" * 200)}
    assert len(names) == 3
    for name in names:
        assert name.startswith(STAGE_PREFIX) and name.endswith("_3")
        assert name.replace("_", "").isalnum() and name.islower() and len(name) <= 63
