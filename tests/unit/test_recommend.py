"""Train, evaluate and recommend on a tiny shop whose tastes are obvious."""

import dataclasses

import numpy as np
import pandas as pd
import pytest

from burger_recs.steps import evaluate, recommend, train
from tests.unit.shop import tiny_shop

FAST = train.TrainParams(epochs=15, no_components=8)


@pytest.fixture(scope="module")
def shop():
    return tiny_shop()


@pytest.fixture(scope="module")
def model(shop):
    return train.fit(shop, FAST)


def test_train_params_reject_bad_values_naming_them():
    with pytest.raises(ValueError, match="loss must be one of") as err:
        train.TrainParams(loss="hinge", epochs=0)
    assert "epochs must be at least 1" in str(err.value)


def test_item_features_hold_identity_and_ingredients_rows_sum_to_one(shop):
    ids = np.sort(shop.menu["item_id"].unique())
    features, names = train.item_feature_matrix(shop.menu, ids)
    assert features.shape == (
        len(ids),
        len(ids) + len({"beef", "cheddar", "fries", "veggie patty", "salad", "chicken", "cola"}),
    )
    assert np.allclose(features.sum(axis=1), 1.0)
    assert "ingredient:veggie patty" in names


def test_model_learns_tastes_beef_lovers_get_beef(shop, model):
    # p0, which everybody orders now and then, may rank anywhere; the rest must match taste.
    recs = recommend.recommend(model, shop.orders, k=3)
    recs = recs[recs["item_id"] != "p0"]
    kind = recs["customer_id"].str[1:].astype(int) % 2  # 0: beef lover, 1: veggie
    expected = np.where(kind == 0, "b", "v")
    assert (recs["item_id"].str[0] == expected).mean() > 0.95


def test_training_is_reproducible_with_one_thread(shop):
    a = train.fit(shop, FAST).factors()
    b = train.fit(shop, FAST).factors()
    assert np.array_equal(a.items, b.items) and np.array_equal(a.users, b.users)


def test_fit_until_ignores_later_orders(shop):
    until = shop.run_date - np.timedelta64(7, "D").astype(object)
    early = train.fit(shop, FAST, until=until)
    assert early.trained_until == until
    assert early.interactions < train.fit(shop, FAST).interactions


def test_recommend_gives_k_ranked_rows_per_customer(shop, model):
    recs = recommend.recommend(model, shop.orders, k=4, block_size=7)
    per_customer = recs.groupby("customer_id")["rank"].apply(list)
    assert len(per_customer) == shop.customers["customer_id"].nunique()
    assert all(ranks == [1, 2, 3, 4] for ranks in per_customer)
    assert (recs.groupby("customer_id")["score"].apply(lambda s: s.is_monotonic_decreasing)).all()


def test_recommend_matches_lightfm_predict(shop, model):
    recs = recommend.recommend(model, shop.orders, k=3)
    customer = "c007"
    row = int(np.searchsorted(model.customer_ids, customer))
    predicted = model.model.predict(
        row, np.arange(len(model.item_ids)), item_features=model.item_features
    )
    expected = model.item_ids[np.argsort(-predicted)[:3]].tolist()
    assert recs[recs["customer_id"] == customer]["item_id"].tolist() == expected


def test_exclude_ordered_never_recommends_what_was_ordered(shop, model):
    recs = recommend.recommend(model, shop.orders, k=3, exclude_ordered=True)
    ordered = set(zip(shop.orders["customer_id"], shop.orders["item_id"], strict=True))
    assert not any(
        (c, i) in ordered for c, i in zip(recs["customer_id"], recs["item_id"], strict=True)
    )
    assert len(recs) > 0


def test_customer_without_orders_gets_popular_items(shop):
    extra = dataclasses.replace(
        shop, customers=pd.concat([shop.customers, pd.DataFrame({"customer_id": ["new"]})])
    )
    fitted = train.fit(extra, FAST)
    recs = recommend.recommend(fitted, extra.orders, k=3)
    assert recs[recs["customer_id"] == "new"]["rank"].tolist() == [1, 2, 3]
    row = int(np.searchsorted(fitted.customer_ids, "new"))
    assert not fitted.has_history[row]
    assert np.all(fitted.factors().users[row] == 0)


def test_evaluation_beats_popularity_and_passes_the_gate(shop):
    until = shop.run_date - np.timedelta64(7, "D").astype(object)
    result = evaluate.evaluate(
        shop, train.fit(shop, FAST, until=until), k=3, exclude_ordered=False, quality_margin=0.1
    )
    assert result.model.customers == shop.customers["customer_id"].nunique()
    assert result.model.precision[-1] > result.baseline.precision[-1] * 1.1
    assert 0.5 < result.model.auc <= 1.0
    assert result.publishable and ">=" in result.reason
    assert len(result.model.precision) == 3 and len(result.model.recall) == 3
    assert result.model.recall == sorted(result.model.recall)  # recall@j never falls with j


def test_gate_blocks_a_model_that_does_not_beat_the_baseline():
    good = evaluate.RankingScores([0.3], [0.3], 0.9, 10)
    bad = evaluate.RankingScores([0.1], [0.1], 0.6, 10)
    assert evaluate.gate(bad, good, 0.1)[0] is False
    assert "<" in evaluate.gate(bad, good, 0.1)[1]
    assert evaluate.gate(bad, good, -1)[0] is True  # negative margin: gate off
    assert evaluate.gate(good, bad, 0.1)[0] is True


def test_ranking_scores_on_a_known_case():
    import scipy.sparse as sp

    from burger_recs.scoring import Factors

    # One customer, 4 items scored 4 > 3 > 2 > 1; held-out positives are items 0 and 2.
    factors = Factors(
        np.ones((1, 1), np.float32),
        np.array([[4], [3], [2], [1]], np.float32),
        np.zeros(4, np.float32),
    )
    test = sp.csr_matrix(np.array([[1, 0, 1, 0]], dtype=np.float32))
    train_m = sp.csr_matrix((1, 4), dtype=np.float32)
    result = evaluate.ranking_scores(factors, train_m, test, k=2, exclude_ordered=False)
    assert result.precision == [1.0, 0.5]
    assert result.recall == [0.5, 0.5]
    assert result.auc == pytest.approx(0.75)  # pairs: (0>1,0>3,2>3 right; 2<1 wrong)
    # Excluding an ordered item 0 removes it from both the ranking and the positives.
    train_m = sp.csr_matrix(np.array([[1, 0, 0, 0]], dtype=np.float32))
    excluded = evaluate.ranking_scores(factors, train_m, test, k=2, exclude_ordered=True)
    assert excluded.precision == [0.0, 0.5]
    assert excluded.auc == pytest.approx(0.5)


def test_evaluation_round_trips_through_json(tmp_path, shop):
    until = shop.run_date - np.timedelta64(7, "D").astype(object)
    result = evaluate.evaluate(shop, train.fit(shop, FAST, until=until), 3, False, 0.1)
    result.save(tmp_path / "e.json")
    again = evaluate.Evaluation.load(tmp_path / "e.json")
    assert again == result
