"""The model's matrices (burger_recs.model)."""

import numpy as np
import pytest

from burger_recs import model as model_lib


def test_item_features_hold_identity_and_ingredients_rows_sum_to_one(taste_shop):
    menu = taste_shop.menu
    ids = np.sort(menu["item_id"].unique())
    features, names = model_lib.item_feature_matrix(menu, ids)
    assert features.shape == (
        len(ids),
        len(ids) + len({"beef", "cheddar", "fries", "veggie patty", "salad", "chicken", "cola"}),
    )
    assert np.allclose(features.sum(axis=1), 1.0)
    assert "ingredient:veggie patty" in names


def test_the_identity_weight_sets_the_identity_share_of_an_item_row():
    import pandas as pd

    from burger_recs.model import item_feature_matrix

    menu = pd.DataFrame(
        {"item_id": ["a", "b"], "ingredients": ["bun;beef;cheese", ""], "name": "x", "price": 1}
    )
    ids = np.array(["a", "b"])
    equal, _ = item_feature_matrix(menu, ids)
    assert equal[0, 0] == pytest.approx(0.25)  # the identity weighs like one ingredient
    weighted, _ = item_feature_matrix(menu, ids, identity_weight=0.7)
    row = weighted[0].toarray().ravel()
    assert row[0] == pytest.approx(0.7) and row.sum() == pytest.approx(1.0)
    assert sorted(row[2:].round(4)) == [0.1, 0.1, 0.1]
    assert weighted[1, 1] == pytest.approx(1.0)  # no ingredients: the identity is all


def test_recent_and_repeated_orders_weigh_more():
    import datetime as dt

    import pandas as pd

    from burger_recs.model import popularity, weighted_interactions

    orders = pd.DataFrame(
        {
            "customer_id": ["c1", "c1", "c1", "c2"],
            "item_id": ["a", "a", "b", "b"],
            "day": ["2026-03-30", "2026-03-16", "2026-03-16", "2026-03-30"],
        }
    )
    customers, items = np.array(["c1", "c2"]), np.array(["a", "b"])
    until = dt.date(2026, 3, 30)
    ones, weights = weighted_interactions(orders, customers, items, until)
    assert ones.toarray().tolist() == [[1, 1], [0, 1]]
    assert weights.toarray().tolist() == [[1, 1], [0, 1]]
    _, recent = weighted_interactions(orders, customers, items, until, half_life=14)
    np.testing.assert_allclose(recent.toarray(), [[1.0, 0.5], [0, 1.0]])  # the latest order
    _, repeats = weighted_interactions(orders, customers, items, until, weigh_repeats=True)
    np.testing.assert_allclose(repeats.toarray(), [[1 + np.log(2), 1], [0, 1]], rtol=1e-6)
    np.testing.assert_allclose(popularity(orders, items, until), [2, 2])
    np.testing.assert_allclose(popularity(orders, items, until, half_life=14), [1.5, 1.5])
