"""Vectorised scoring (burger_recs.scoring): top-k, blocks of customers, and shards."""

import numpy as np
import pytest
import scipy.sparse as sp

from burger_recs.scoring import Factors, score_blocks, shard_rows, top_k_of


def test_top_k_of_returns_best_first_and_matches_a_full_sort():
    rng = np.random.default_rng(1)
    scores = rng.normal(size=(50, 30)).astype(np.float32)
    top = top_k_of(scores, 5)
    expected = np.argsort(-scores, axis=1)[:, :5]
    assert np.array_equal(top, expected)


def test_top_k_of_with_k_at_least_the_item_count_ranks_all_items():
    scores = np.array([[0.1, 0.9, 0.5]])
    assert top_k_of(scores, 10).tolist() == [[1, 2, 0]]


def test_score_blocks_cover_every_user_once_and_apply_exclusions():
    rng = np.random.default_rng(2)
    factors = Factors(
        rng.normal(size=(10, 3)).astype(np.float32),
        rng.normal(size=(6, 3)).astype(np.float32),
        rng.normal(size=6).astype(np.float32),
    )
    exclude = sp.csr_matrix(([1.0, 1.0], ([0, 9], [2, 5])), shape=(10, 6))
    seen = []
    for rows, scores in score_blocks(factors, exclude=exclude, block_size=4):
        full = factors.users[rows] @ factors.items.T + factors.item_bias
        finite = np.isfinite(scores)
        assert np.allclose(scores[finite], full[finite], atol=1e-5)
        seen += rows.tolist()
        if 0 in rows:
            assert np.isneginf(scores[list(rows).index(0), 2])
        if 9 in rows:
            assert np.isneginf(scores[list(rows).index(9), 5])
    assert seen == list(range(10))


def test_popularity_scorer_ranks_by_counts_for_everyone():
    factors = Factors.popularity(np.array([3, 10, 1]), n_users=4)
    for _, scores in score_blocks(factors):
        assert (top_k_of(scores, 3) == [1, 0, 2]).all()


def test_top_k_breaks_ties_by_item_and_matches_a_stable_full_sort():
    # Bit-identical shards need a top k that depends on nothing but the scores.
    rng = np.random.default_rng(4)
    scores = rng.integers(0, 5, size=(300, 40)).astype(np.float32)  # ties everywhere
    scores[rng.random(scores.shape) < 0.1] = -np.inf
    scores[rng.random(scores.shape) < 0.02] = np.nan
    for k in (1, 5, 10, 40, 60):
        expected = np.argsort(-scores, axis=1, kind="stable")[:, : min(k, 40)]
        assert np.array_equal(top_k_of(scores, k), expected)


# ---------------------------------------------------------------------------------------------
# Which customers a shard scores
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("n_rows", [0, 1, 5, 64, 100, 1001])
@pytest.mark.parametrize("shards", [1, 2, 3, 7, 40])
@pytest.mark.parametrize("block_size", [1, 16, 4096])
def test_shards_cover_every_customer_exactly_once_in_order(n_rows, shards, block_size):
    parts = [shard_rows(n_rows, s, shards, block_size) for s in range(shards)]
    assert np.concatenate(parts).tolist() == list(range(n_rows))
    for part in parts:
        if len(part):  # whole blocks: a shard starts where a block starts
            assert part[0] % block_size == 0


def test_shards_are_balanced_to_a_block():
    sizes = [len(shard_rows(1_000_000, s, 3)) for s in range(3)]
    assert sum(sizes) == 1_000_000
    assert max(sizes) - min(sizes) <= 4096


def test_one_shard_is_every_customer():
    assert shard_rows(10, 0, 1).tolist() == list(range(10))


@pytest.mark.parametrize(("shard", "shards"), [(0, 0), (-1, 2), (2, 2), (5, 3)])
def test_a_shard_outside_the_shards_is_refused(shard, shards):
    with pytest.raises(ValueError, match="shard"):
        shard_rows(10, shard, shards)


def test_the_cold_start_blend_ranks_new_customers_by_popularity_and_leaves_others_alone():
    from burger_recs.scoring import Factors, top_k_of, with_cold_start

    users = np.array([[1.0, 0.0], [0.0, 0.0]], dtype=np.float32)  # customer 1 is new
    items = np.array([[3.0, 0.0], [1.0, 0.0], [2.0, 0.0]], dtype=np.float32)
    bias = np.array([0.3, 0.2, 0.1], dtype=np.float32)  # the model's bias: item 0 first
    popularity = np.array([1.0, 50.0, 10.0], dtype=np.float32)  # orders: item 1 first
    factors = Factors(users, items, bias)
    assert with_cold_start(factors, popularity, 0.0) is factors

    def scores(f):
        return f.users @ f.items.T + f.item_bias

    blended = with_cold_start(factors, popularity, 1.0)
    np.testing.assert_allclose(scores(blended)[0], scores(factors)[0], rtol=1e-6)
    assert top_k_of(scores(blended), 3)[1].tolist() == [1, 2, 0]  # popularity alone
    half = with_cold_start(factors, popularity, 0.5)
    np.testing.assert_allclose(scores(half)[0], scores(factors)[0], rtol=1e-6)
    assert top_k_of(scores(half), 3)[1][0] == 1  # popularity's z-score dominates here


def test_an_item_a_scorer_cannot_rank_stays_unranked_with_the_cold_start():
    from burger_recs.scoring import Factors, with_cold_start

    factors = Factors(
        np.zeros((1, 2), dtype=np.float32),
        np.ones((2, 2), dtype=np.float32),
        np.array([0.5, -np.inf], dtype=np.float32),
    )
    blended = with_cold_start(factors, np.array([1.0, 100.0]), 1.0)
    assert np.isneginf((blended.users @ blended.items.T + blended.item_bias)[0, 1])
