"""The model's matrices (burger_recs.model)."""

import numpy as np

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
