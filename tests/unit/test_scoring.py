import numpy as np
import scipy.sparse as sp

from burger_recs.scoring import Factors, score_blocks, top_k_of


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
