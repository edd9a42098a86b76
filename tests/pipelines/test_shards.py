"""The compiled pipeline with ``shards``: ParallelFor over shards, then one commit (kfp.local).

The day published through three shards must be complete and identical in content, scores bit
for bit, to the day the one-step path (``shards=1``, the default) publishes for the same seed.
"""

import pytest
import sqlalchemy as sa

from burger_recs import db
from burger_recs.contract import recommendation_stages
from burger_recs.generate import generate_data
from burger_recs.pipelines.compile import compiled_pipeline
from burger_recs.pipelines.local_run import pipeline_parameters
from burger_recs.steps.commit import STAGE_PREFIX
from tests.support.database import published_day
from tests.support.pipeline import RUN_DATE, run_day, task_names

pytestmark = pytest.mark.slow  # kfp.local pipeline runs of 9,000 customers

# Three scoring blocks of 4,096 customers, so that each of three shards scores one.
SHOP = {"customers": 9000, "days": 35, "items": 30, "seed": 7}


@pytest.fixture(scope="module")
def big_shop(tmp_path_factory):
    root = tmp_path_factory.mktemp("big-shop")
    generate_data(root, end_date=RUN_DATE, **SHOP)
    return root


def _run(data, url, root, shards):
    return run_day(data, url, root, quality_margin=-1.0, shards=shards)


def test_three_shards_publish_the_same_day_as_one(big_shop, tmp_path):
    assert "shards" in pipeline_parameters(compiled_pipeline()), "no `shards` parameter"
    url = f"sqlite:///{tmp_path / 'recs.db'}"
    engine = db.make_engine(url)

    one = _run(big_shop, url, tmp_path, shards=1)
    assert one.status == "published"
    assert {"recommend", "publish"} <= set(task_names(one))
    assert not {"recommend-shard", "commit"} & set(task_names(one))
    day_of_one = published_day(engine, RUN_DATE)

    three = _run(big_shop, url, tmp_path, shards=3)
    assert three.status == "published"
    tasks = task_names(three)
    assert tasks.count("recommend-shard") == tasks.count("stage-shard") == 3
    assert "commit" in tasks and "publish" not in tasks

    day_of_three = published_day(engine, RUN_DATE)
    assert len(day_of_three) == 10 * SHOP["customers"]  # complete: every customer, k rows
    assert day_of_three == day_of_one  # identical, scores bit for bit
    for key in ("rows_written", "customers", "model_version", "code_version"):
        assert getattr(three.record, key) == getattr(one.record, key)
    assert three.record.run_date == RUN_DATE
    with engine.connect() as conn:  # the commit left no staging behind
        assert conn.execute(sa.select(recommendation_stages)).all() == []
    assert not [t for t in sa.inspect(engine).get_table_names() if t.startswith(STAGE_PREFIX)]
