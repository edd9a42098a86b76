"""The train step (burger_recs.steps.train) on the tiny shop whose tastes are obvious."""

import time
from dataclasses import replace

import numpy as np
from lightfm import LightFM

from burger_recs.steps import recommend, train
from tests.support.shops import FAST_TRAIN, tiny_shop


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


def test_the_two_models_fitted_at_once_are_those_fitted_one_after_the_other(monkeypatch):
    # Long enough fits (150 epochs) that the two are in flight at the same time: shared state
    # between them (a random state, a matrix, a buffer) would change the embeddings.
    shop = tiny_shop(customers=600)
    params = replace(FAST_TRAIN, epochs=150)
    alone = train.fit_models(shop, params, holdout_days=7, concurrently=False)

    fitting, real_fit = [], LightFM.fit

    def timed_fit(self, *args, **kwargs):
        started = time.perf_counter()
        try:
            return real_fit(self, *args, **kwargs)
        finally:
            fitting.append((started, time.perf_counter()))

    monkeypatch.setattr(LightFM, "fit", timed_fit)
    together = train.fit_models(shop, params, holdout_days=7)

    (start_a, end_a), (start_b, end_b) = fitting
    assert start_a < end_b and start_b < end_a, "the two fits did not overlap"
    for one, other in zip(alone, together, strict=True):
        assert one.trained_until == other.trained_until
        for name in ("user_embeddings", "item_embeddings", "user_biases", "item_biases"):
            assert np.array_equal(getattr(one.model, name), getattr(other.model, name)), name
