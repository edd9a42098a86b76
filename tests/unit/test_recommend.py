"""The recommend step (burger_recs.steps.recommend): top-k per customer, whole or by shard.

On the tiny shop whose tastes are obvious (``taste_shop``, ``taste_model``). Scoring shards
must together give exactly the unsharded result.
"""

import dataclasses

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from burger_recs.steps import recommend, train
from tests.support.shops import FAST_TRAIN


def test_recommend_gives_k_ranked_rows_per_customer(taste_shop, taste_model):
    shop = taste_shop
    recs = recommend.recommend(taste_model, shop.orders, k=4, block_size=7)
    per_customer = recs.groupby("customer_id")["rank"].apply(list)
    assert len(per_customer) == shop.customers["customer_id"].nunique()
    assert all(ranks == [1, 2, 3, 4] for ranks in per_customer)
    assert (recs.groupby("customer_id")["score"].apply(lambda s: s.is_monotonic_decreasing)).all()


def test_recommend_matches_lightfm_predict(taste_shop, taste_model):
    model = taste_model
    recs = recommend.recommend(model, taste_shop.orders, k=3)
    customer = "c007"
    row = int(np.searchsorted(model.customer_ids, customer))
    predicted = model.model.predict(
        row, np.arange(len(model.item_ids)), item_features=model.item_features
    )
    expected = model.item_ids[np.argsort(-predicted)[:3]].tolist()
    assert recs[recs["customer_id"] == customer]["item_id"].tolist() == expected


def test_exclude_ordered_never_recommends_what_was_ordered(taste_shop, taste_model):
    shop = taste_shop
    recs = recommend.recommend(taste_model, shop.orders, k=3, exclude_ordered=True)
    ordered = set(zip(shop.orders["customer_id"], shop.orders["item_id"], strict=True))
    assert not any(
        (c, i) in ordered for c, i in zip(recs["customer_id"], recs["item_id"], strict=True)
    )
    assert len(recs) > 0


def test_a_customer_without_orders_is_ranked_by_item_bias_alone(taste_shop):
    """No untrained embedding: a new customer gets the items the model finds most popular."""
    shop = taste_shop
    extra = dataclasses.replace(
        shop, customers=pd.concat([shop.customers, pd.DataFrame({"customer_id": ["new"]})])
    )
    fitted = train.fit(extra, FAST_TRAIN)
    recs = recommend.recommend(fitted, extra.orders, k=3)
    row = int(np.searchsorted(fitted.customer_ids, "new"))
    assert not fitted.has_history[row]
    factors = fitted.factors()
    assert np.all(factors.users[row] == 0)
    by_bias = fitted.item_ids[np.argsort(-factors.item_bias, kind="stable")[:3]]
    new = recs[recs["customer_id"] == "new"]
    assert new["rank"].tolist() == [1, 2, 3]
    assert new["item_id"].tolist() == by_bias.tolist()
    # Its scores are the item biases themselves (a zero vector adds nothing).
    assert np.allclose(new["score"].to_numpy(), np.sort(factors.item_bias)[::-1][:3])


# ---------------------------------------------------------------------------------------------
# Scoring by shard
# ---------------------------------------------------------------------------------------------
def test_shard_plan_lists_the_shards_and_refuses_none():
    assert recommend.shard_plan(3) == [0, 1, 2]
    assert recommend.shard_plan(1) == [0]
    with pytest.raises(ValueError, match="shards must be at least 1"):
        recommend.shard_plan(0)


@pytest.mark.parametrize("exclude_ordered", [False, True])
def test_shards_together_are_exactly_the_unsharded_recommendations(
    taste_shop, taste_model, exclude_ordered
):
    shop, model = taste_shop, taste_model
    whole = recommend.recommend(model, shop.orders, 4, exclude_ordered, block_size=8)
    parts = [
        recommend.recommend(model, shop.orders, 4, exclude_ordered, 8, shard=s, shards=3)
        for s in range(3)
    ]
    assert all(len(p) for p in parts)  # 60 customers in 8 blocks: no shard is empty
    assert pd.concat(parts, ignore_index=True).equals(whole)  # scores bit for bit


def test_the_step_writes_each_shard_and_one_shard_is_the_whole_day(
    taste_shop, taste_model, tmp_path
):
    shop, model = taste_shop, taste_model
    model_path, data_dir = tmp_path / "model.pkl", tmp_path / "validated"
    model.save(model_path)
    shop.save(data_dir)
    whole = recommend.recommend(model, shop.orders, 3)

    def step(shard: int, shards: int) -> pd.DataFrame:
        out = tmp_path / f"recs-{shard}-{shards}.parquet"
        written = recommend.run(str(model_path), str(data_dir), str(out), 3, False, shard, shards)
        frame = pd.read_parquet(out)
        assert written == len(frame)
        assert pq.read_schema(out).metadata[b"shard"] == f"{shard}/{shards}".encode()
        return frame

    assert step(0, 1).equals(whole)
    # 60 customers fit one block: one shard gets them all, the other none (an empty file).
    assert step(0, 2).empty and list(step(0, 2).columns) == list(whole.columns)
    assert step(1, 2).equals(whole)


def test_an_item_off_the_run_days_menu_is_never_served(taste_shop, taste_model):
    """Items that left the menu still taught the model; no scorer serves them."""
    from burger_recs.evaluation import Evaluation, RankingScores

    scores = RankingScores([0.1], [0.1], 0.5, 1)
    served = recommend.recommend(taste_model, taste_shop.orders, k=3)
    left = served["item_id"].value_counts().index[0]  # the item served most, until it leaves
    menu = taste_shop.menu.assign(on_menu=taste_shop.menu["item_id"] != left)
    shop = dataclasses.replace(taste_shop, menu=menu)
    for served_by in ("challenger", "popularity"):
        evaluation = Evaluation(1, shop.run_date, scores, scores, True, "", served_by=served_by)
        factors = recommend.served_factors(taste_model, evaluation, shop, engine=None)
        recs = recommend.recommend_batches(taste_model, k=3, factors=factors)
        items = {item for batch in recs for item in batch.column("item_id").to_pylist()}
        assert left not in items and items
