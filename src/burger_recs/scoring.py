"""Vectorised scoring: factor matrices, blocked matrix products, top-k and shards.

Shared by the recommend step (top-k for every customer) and the evaluate step (ranking
metrics), so that what is evaluated is exactly what is served.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from burger_recs.errors import BadSettings
from burger_recs.settings import TrainParams, at_least_one, require

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


def with_cold_start(factors: Factors, popularity: np.ndarray, blend: float) -> Factors:
    """Return the scorer with customers without factors scored by a blend with popularity.

    A customer without factors (no orders in the window: the model gives them a zero
    vector) is otherwise ranked by the item biases alone. Here they rank by
    ``(1 - blend) * z(item_bias) + blend * z(popularity)`` (z: standardised over the items);
    everyone else exactly as before. Still one matrix product: two columns are added, the
    biases and the standardised popularity, and each customer row weighs them (1 and 0 for a
    customer with factors; ``(1 - blend) / std(bias)`` and ``blend`` for one without).

    Args:
        factors: the model's scorer.
        popularity: each item's (possibly recency-weighted) order count.
        blend: 0 leaves the scorer as it is; 1 ranks new customers by popularity alone.
    """
    if blend <= 0:
        return factors
    new = ~np.asarray(factors.users.any(axis=1), dtype=bool)
    bias = factors.item_bias.astype(np.float32)
    finite = np.isfinite(bias)
    spread = float(bias[finite].std()) if finite.any() else 0.0
    pop = popularity.astype(np.float64)
    pop_z = ((pop - pop.mean()) / (pop.std() or 1.0)).astype(np.float32)
    weights = np.zeros((factors.users.shape[0], 2), dtype=np.float32)
    weights[~new, 0] = 1.0
    weights[new, 0] = (1 - blend) / spread if spread > 0 else 0.0
    weights[new, 1] = blend
    items = np.hstack([factors.items, np.where(finite, bias, 0)[:, None], pop_z[:, None]])
    # An item a scorer cannot rank (-inf bias) stays unranked for every customer.
    return Factors(
        np.hstack([factors.users, weights]),
        items.astype(np.float32),
        np.where(finite, 0, -np.inf).astype(np.float32),
    )


def served(
    factors: Factors, popularity: np.ndarray, params: TrainParams, on_menu: np.ndarray
) -> Factors:
    """Return a model's scorer as it serves: the one scoring path of evaluate and recommend.

    Customers without orders get the cold-start blend with ``popularity``
    (:func:`with_cold_start`, ``params.cold_start_blend``); only items ``on_menu`` rank.
    """
    return only_items(with_cold_start(factors, popularity, params.cold_start_blend), on_menu)


def only_items(factors: Factors, available: np.ndarray) -> Factors:
    """Return the scorer with the items not ``available`` (a boolean mask) scored ``-inf``.

    Such items are never recommended (they leave a customer's top k) and, in evaluation,
    count as excluded: an item that left the menu is not served.
    """
    if available.all():
        return factors
    bias = factors.item_bias.copy()
    bias[~available] = -np.inf
    return Factors(factors.users, factors.items, bias)


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
    """Return, per row, the column indices of the k highest scores, best first (:func:`top_k`)."""
    return top_k(scores, k)[0]


def top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Return, per row, the column indices of the k highest scores, best first, and the scores.

    Equal scores rank by column (the lower item index first), so the result is exactly
    ``np.argsort(-scores, axis=1, kind="stable")[:, :k]``, but found without sorting a row:
    each row's k-th highest score comes from ``np.partition`` (values only, cheaper than
    ``argpartition``), and the columns at or above it are the top k. The rows where that is
    not exactly k columns (a tie across the k-th place, or NaN) are sorted in full.
    """
    n_rows, n_cols = scores.shape
    k = min(k, n_cols)
    if k < n_cols:
        kth = np.partition(scores, n_cols - k, axis=1)[:, n_cols - k]
        candidates = scores >= kth[:, None]
        exact = np.count_nonzero(candidates, axis=1) == k
        if exact.all():
            part = (np.flatnonzero(candidates) % n_cols).reshape(n_rows, k)
        else:
            part = np.empty((n_rows, k), dtype=np.intp)
            part[exact] = (np.flatnonzero(candidates[exact]) % n_cols).reshape(-1, k)
            part[~exact] = np.argsort(-scores[~exact], axis=1, kind="stable")[:, :k]
    else:
        part = np.tile(np.arange(n_cols), (n_rows, 1))
    values = np.take_along_axis(scores, part, axis=1)
    order = np.argsort(-values, axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1), np.take_along_axis(values, order, axis=1)


def shard_rows(n_rows: int, shard: int, shards: int, block_size: int = DEFAULT_BLOCK) -> np.ndarray:
    """Return the rows (customers, in the model's sorted order) that one shard scores.

    Shards are contiguous ranges of whole scoring blocks: the ``ceil(n_rows / block_size)``
    blocks are dealt out in order, shard ``i`` of ``n`` getting blocks
    ``[i * blocks // n, (i + 1) * blocks // n)``. So every customer is scored in exactly the
    same matrix product as without shards, and the scores are bit-identical, not merely
    close (a BLAS product may round a row differently when it sits elsewhere in a block).
    The split depends only on the model, which every shard reads, so it is the same on every
    retry; the shards together cover every customer exactly once, in order. More shards than
    blocks leave some shards empty.

    Args:
        n_rows: the model's number of customers.
        shard: which shard, from 0.
        shards: how many shards; ``shards=1`` is every customer.
        block_size: customers per scoring block (:func:`score_blocks`).

    Raises:
        ValueError: ``shards`` is below 1 or ``shard`` is not in ``[0, shards)``.
    """
    check_shard(shard, shards)
    blocks = -(-n_rows // block_size)
    start = shard * blocks // shards * block_size
    stop = min((shard + 1) * blocks // shards * block_size, n_rows)
    return np.arange(start, stop)


def check_shard(shard: int, shards: int) -> None:
    """Raise ValueError unless ``0 <= shard < shards``."""
    if shards < 1:
        require(at_least_one("shards", shards))
    if not 0 <= shard < shards:
        raise BadSettings(f"shard must be between 0 and shards - 1 = {shards - 1}, got {shard}")
