"""The evaluate step (burger_recs.steps.evaluate): ranking scores, the baseline and the gate."""

import numpy as np
import pytest
import scipy.sparse as sp

from burger_recs.evaluation import RankingScores
from burger_recs.scoring import Factors
from burger_recs.steps import evaluate


def test_evaluation_beats_popularity_and_passes_the_gate(taste_shop, taste_evaluation):
    result = taste_evaluation
    assert result.model.customers == taste_shop.customers["customer_id"].nunique()
    assert result.model.precision[-1] > result.baseline.precision[-1] * 1.1
    assert 0.5 < result.model.auc <= 1.0
    assert result.publishable and ">=" in result.reason
    assert len(result.model.precision) == 3 and len(result.model.recall) == 3
    assert result.model.recall == sorted(result.model.recall)  # recall@j never falls with j


def test_gate_blocks_a_model_that_does_not_beat_the_baseline():
    good = RankingScores([0.3], [0.3], 0.9, 10)
    bad = RankingScores([0.1], [0.1], 0.6, 10)
    assert evaluate.gate(bad, good, 0.1)[0] is False
    assert "<" in evaluate.gate(bad, good, 0.1)[1]
    assert evaluate.gate(bad, good, -1)[0] is True  # negative margin: gate off
    assert evaluate.gate(good, bad, 0.1)[0] is True


def test_ranking_scores_on_a_known_case():
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


def test_auc_counts_only_the_items_the_scorer_can_serve():
    # Items scored 4 > 3 > 2 > 1; item 1 is off the menu (-inf), as only_items leaves it.
    # Customer 0 ordered items 1 and 2 in the holdout: item 1 cannot be served, so it is
    # neither a positive nor a negative; item 2 beats item 3 only (0 ranks above it).
    # Customer 1 ordered only item 1: no servable positive, no AUC, not in the mean.
    factors = Factors(
        np.ones((2, 1), np.float32),
        np.array([[4], [3], [2], [1]], np.float32),
        np.array([0, -np.inf, 0, 0], np.float32),
    )
    test = sp.csr_matrix(np.array([[0, 1, 1, 0], [0, 1, 0, 0]], dtype=np.float32))
    train_m = sp.csr_matrix((2, 4), dtype=np.float32)
    result = evaluate.ranking_scores(factors, train_m, test, k=2, exclude_ordered=False)
    assert result.auc == pytest.approx(0.5)  # item 2 against items 0 and 3
    assert 0.0 <= result.auc <= 1.0 and result.customers == 2


def test_ranking_scores_split_new_and_returning_customers_in_the_same_pass():
    # Both customers rank items 0 > 1 > 2 > 3. Customer 0 ordered item 3 before the holdout
    # (returning) and item 0 in it: a hit at rank 1. Customer 1 never ordered before (new) and
    # ordered item 2 in the holdout: no hit in the top 2.
    factors = Factors(
        np.ones((2, 1), np.float32),
        np.array([[4], [3], [2], [1]], np.float32),
        np.zeros(4, np.float32),
    )
    train_m = sp.csr_matrix(np.array([[0, 0, 0, 1], [0, 0, 0, 0]], dtype=np.float32))
    test = sp.csr_matrix(np.array([[1, 0, 0, 0], [0, 0, 1, 0]], dtype=np.float32))

    result = evaluate.ranking_scores(factors, train_m, test, k=2, exclude_ordered=False)

    assert result.precision == [0.5, 0.25] and result.recall == [0.5, 0.5]
    assert result.auc == pytest.approx((1 + 1 / 3) / 2)  # item 2 beats 1 of its 3 negatives
    returning, new = result.segments["returning"], result.segments["new"]
    assert (returning.precision, returning.recall, returning.customers) == ([1.0, 0.5], [1, 1], 1)
    assert returning.auc == pytest.approx(1.0)
    assert (new.precision, new.recall, new.customers) == ([0.0, 0.0], [0.0, 0.0], 1)
    assert new.auc == pytest.approx(1 / 3)
