"""Vectorised scoring: factor matrices, blocked matrix products and top-k by argpartition.

Shared by the recommend step (top-k for every customer) and the evaluate step (ranking
metrics), so that what is evaluated is exactly what is served.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

DEFAULT_BLOCK = 4096


@dataclass(frozen=True)
class Factors:
    """A scorer as factor matrices: score(u, i) = users[u] . items[i] + item_bias[i].

    Attributes:
        users: (customers x factors) float32.
        items: (items x factors) float32.
        item_bias: (items,) float32.
    """

    users: np.ndarray
    items: np.ndarray
    item_bias: np.ndarray

    @classmethod
    def popularity(cls, counts: np.ndarray, n_users: int) -> Factors:
        """Return the popularity baseline as a one-factor scorer (every customer alike)."""
        return cls(
            users=np.ones((n_users, 1), dtype=np.float32),
            items=np.asarray(counts, dtype=np.float32).reshape(-1, 1),
            item_bias=np.zeros(len(counts), dtype=np.float32),
        )


def score_blocks(
    factors: Factors,
    exclude: sp.csr_matrix | None = None,
    block_size: int = DEFAULT_BLOCK,
    rows: np.ndarray | None = None,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield ``(user_rows, scores)`` blocks, excluded (user, item) pairs scored ``-inf``.

    Args:
        factors: the scorer.
        exclude: a (customers x items) matrix whose non-zeros must not be recommended.
        block_size: customers per block; memory is about block_size x items x 4 bytes.
        rows: the customers to score (all when None).
    """
    rows = np.arange(factors.users.shape[0]) if rows is None else rows
    for start in range(0, len(rows), block_size):
        block = rows[start : start + block_size]
        scores = factors.users[block] @ factors.items.T
        scores += factors.item_bias
        if exclude is not None:
            sub = exclude[block]
            scores[np.repeat(np.arange(len(block)), np.diff(sub.indptr)), sub.indices] = -np.inf
        yield block, scores


def top_k_of(scores: np.ndarray, k: int) -> np.ndarray:
    """Return, per row, the column indices of the k highest scores, best first."""
    k = min(k, scores.shape[1])
    if k < scores.shape[1]:
        part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    else:
        part = np.tile(np.arange(scores.shape[1]), (scores.shape[0], 1))
    order = np.argsort(-np.take_along_axis(scores, part, axis=1), axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1)
