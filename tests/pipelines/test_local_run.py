"""The compiled pipeline, run end to end by kfp.local's SubprocessRunner."""

import json

import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

from burger_recs import db
from burger_recs.contract import pipeline_runs, recommendations
from burger_recs.model import TrainedModel
from burger_recs.pipelines.local_run import RunFailed
from tests.support.drops import with_negative_quantity
from tests.support.pipeline import ONE_SHARD_DAY, RUN_DATE, run_day

pytestmark = pytest.mark.slow  # kfp.local pipeline runs, seconds each


def _day(engine):
    with engine.connect() as conn:
        return conn.execute(
            sa.select(recommendations).where(recommendations.c.run_date == RUN_DATE)
        ).all()


@pytest.fixture(scope="module")
def published(shop_data, tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    url = f"sqlite:///{root / 'recs.db'}"
    first = run_day(shop_data, url, root, quality_margin=-1.0)
    return root, url, first


def test_run_publishes_k_ranked_items_for_every_customer(published, shop_data):
    _root, url, result = published
    assert result.status == "published"
    rows = _day(db.make_engine(url))
    by_customer = {}
    for row in rows:
        by_customer.setdefault(row.customer_id, []).append(row.rank)
    customers = {
        line.split(",")[0]
        for f in sorted(shop_data.glob("date=*/customers.csv"))[-1:]
        for line in f.read_text().splitlines()[1:]
    }
    assert set(by_customer) == customers
    assert all(sorted(r) == list(range(1, 11)) for r in by_customer.values())
    record = result.record
    assert record.rows_written == len(rows) == 10 * len(customers)
    assert record.code_version and record.model_version.startswith("lightfm-")
    assert {r.code_version for r in rows} == {record.code_version}
    assert set(record.metrics) >= {
        "model_precision_at_k",
        "baseline_precision_at_k",
        "model_auc",
        "baseline_auc",
    }


def test_run_keeps_logs_artifacts_and_reports(published):
    _, _, result = published
    log = result.log_file.read_text()
    for step in ONE_SHARD_DAY:
        assert f"Task '{step}' finished with status" in log.replace("\x1b[96m", "").replace(
            "\x1b[0m", ""
        )
    report = (result.folder / "report.html").read_text()
    assert "precision@10" in report and "data:image/png;base64," in report
    assert "Result: valid" in (result.folder / "validation.md").read_text()
    assert result.artifact("train", "model").stat().st_size > 0


def test_every_artifact_carries_the_code_version(published):
    _, _, result = published
    version = result.record.code_version
    assert (
        json.loads((result.artifact("ingest", "drop") / "manifest.json").read_text())[
            "code_version"
        ]
        == version
    )
    validated = result.artifact("validate", "validated") / "meta.json"
    assert json.loads(validated.read_text())["code_version"] == version
    assert TrainedModel.load(result.artifact("train", "model")).code_version == version
    evaluation = json.loads(result.artifact("evaluate", "evaluation").read_text())
    assert evaluation["code_version"] == version
    recs = pq.read_schema(result.artifact("recommend", "recommendations")).metadata
    assert recs[b"code_version"].decode() == version == recs[b"model_code_version"].decode()
    assert version in (result.folder / "report.html").read_text()


def test_rerunning_the_day_replaces_it_with_one_copy(published, shop_data):
    root, url, first = published
    again = run_day(shop_data, url, root, quality_margin=-1.0)
    engine = db.make_engine(url)
    rows = _day(engine)
    assert len(rows) == first.record.rows_written
    assert len({(r.customer_id, r.rank) for r in rows}) == len(rows)
    with engine.connect() as conn:
        ids = set(conn.execute(sa.select(pipeline_runs.c.run_id)).scalars())
    assert {first.run_id, again.run_id} <= ids


def test_a_gated_run_still_serves_the_day(published, shop_data):
    """The published run's model is the champion; a model gated on the same day leaves the
    day to the champion (the same items and scores, now as the champion's) or to popularity,
    whichever did better on the holdout."""
    root, url, first = published
    engine = db.make_engine(url)
    before = _day(engine)
    # A margin no model reaches: today's model does not become the champion.
    gated = run_day(shop_data, url, root, quality_margin=100.0)
    record = gated.record
    assert gated.status == "gated" and "<" in record.message
    assert record.served_by in ("champion", "popularity")
    assert record.served_by in record.message
    metrics = record.metrics
    rows = _day(engine)
    assert len(rows) == len(before) == record.rows_written
    if record.served_by == "champion":
        assert metrics["champion_precision_at_k"] >= metrics["baseline_precision_at_k"]
        champion = first.record.model_version
        served = [(r.customer_id, r.rank, r.item_id, r.score, r.model_version) for r in rows]
        assert served == [(r.customer_id, r.rank, r.item_id, r.score, champion) for r in before]
    else:
        assert metrics["champion_precision_at_k"] < metrics["baseline_precision_at_k"]
        assert {r.model_version for r in rows} == {"popularity"}


def test_broken_input_fails_before_training_and_leaves_the_database_alone(
    published, shop_data, tmp_path
):
    root, url, _ = published
    broken = with_negative_quantity(shop_data, tmp_path / "broken", RUN_DATE.isoformat())
    engine = db.make_engine(url)
    before = _day(engine)
    with pytest.raises(RunFailed) as failure:
        run_day(broken, url, root)
    message = str(failure.value)
    assert "validate" in message and "quantity must be at least 1" in message
    assert "orders.csv" in message and "line 2" in message
    assert _day(engine) == before
    assert failure.value.result.artifact("train", "model") is None  # nothing was trained
    with engine.connect() as conn:
        status = conn.execute(
            sa.select(pipeline_runs.c.status).where(
                pipeline_runs.c.run_id == failure.value.result.run_id
            )
        ).scalar()
    assert status == "failed"
