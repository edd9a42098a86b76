"""Fixtures of the model tests (train, evaluate, recommend): the tiny shop, its model and its
evaluation, made once per session. Tests read them and never change them.
"""

import numpy as np
import pytest

from burger_recs.steps import evaluate, train
from tests.support.shops import FAST_TRAIN, tiny_shop


@pytest.fixture(scope="session")
def taste_shop():
    """The tiny shop whose tastes are obvious (tests/support/shops.py)."""
    return tiny_shop()


@pytest.fixture(scope="session")
def taste_model(taste_shop):
    """The model of ``taste_shop``, trained with FAST_TRAIN on every order."""
    return train.fit(taste_shop, FAST_TRAIN)


@pytest.fixture(scope="session")
def taste_evaluation(taste_shop):
    """The evaluation of ``taste_shop``: trained until a week before, top 3, margin 0.1."""
    until = taste_shop.run_date - np.timedelta64(7, "D").astype(object)
    early = train.fit(taste_shop, FAST_TRAIN, until=until)
    return evaluate.evaluate(taste_shop, early, k=3, exclude_ordered=False, quality_margin=0.1)
