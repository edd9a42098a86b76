"""The train step (burger_recs.steps.train) on the tiny shop whose tastes are obvious."""

import numpy as np

from burger_recs.steps import recommend, train
from tests.support.shops import FAST_TRAIN


def test_model_learns_tastes_beef_lovers_get_beef(taste_shop, taste_model):
    # p0, which everybody orders now and then, may rank anywhere; the rest must match taste.
    recs = recommend.recommend(taste_model, taste_shop.orders, k=3)
    recs = recs[recs["item_id"] != "p0"]
    kind = recs["customer_id"].str[1:].astype(int) % 2  # 0: beef lover, 1: veggie
    expected = np.where(kind == 0, "b", "v")
    assert (recs["item_id"].str[0] == expected).mean() > 0.95


def test_training_is_reproducible_with_one_thread(taste_shop):
    a = train.fit(taste_shop, FAST_TRAIN).factors()
    b = train.fit(taste_shop, FAST_TRAIN).factors()
    assert np.array_equal(a.items, b.items) and np.array_equal(a.users, b.users)


def test_fit_until_ignores_later_orders(taste_shop, taste_model):
    shop = taste_shop
    until = shop.run_date - np.timedelta64(7, "D").astype(object)
    early = train.fit(shop, FAST_TRAIN, until=until)
    assert early.trained_until == until
    assert early.interactions < taste_model.interactions
