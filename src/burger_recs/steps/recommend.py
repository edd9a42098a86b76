"""Recommend: the top-k menu items for every customer, scored in blocks.

Scores come from the model's factor matrices (one matrix product per block of customers)
and the top k are found with argpartition, never with a per-customer predict loop.
"""

from __future__ import annotations

import logging
import time

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from burger_recs.logs import configure as configure_logging
from burger_recs.scoring import DEFAULT_BLOCK, score_blocks, top_k_of
from burger_recs.steps.train import TrainedModel, interaction_matrix
from burger_recs.validated import ValidatedData
from burger_recs.version import code_version

log = logging.getLogger(__name__)

COLUMNS = ("customer_id", "rank", "item_id", "score")


def recommend(
    model: TrainedModel,
    orders: pd.DataFrame,
    k: int,
    exclude_ordered: bool = False,
    block_size: int = DEFAULT_BLOCK,
) -> pd.DataFrame:
    """Return the top-k items of every customer the model knows.

    Args:
        model: the trained model.
        orders: the window's orders (used only when ``exclude_ordered``).
        k: items per customer.
        exclude_ordered: leave out items the customer ordered in the window. A customer who
            ordered nearly the whole menu may then get fewer than k rows.
        block_size: customers scored per matrix product.

    Returns:
        A frame with customer_id, rank (1 = best), item_id and score, ordered by customer
        and rank.
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    exclude = (
        interaction_matrix(orders, model.customer_ids, model.item_ids) if exclude_ordered else None
    )
    factors = model.factors()
    n_customers, k = len(model.customer_ids), min(k, len(model.item_ids))
    item_idx = np.empty((n_customers, k), dtype=np.int64)
    scores = np.empty((n_customers, k), dtype=np.float32)
    started = time.monotonic()
    for block, block_scores in score_blocks(factors, exclude=exclude, block_size=block_size):
        top = top_k_of(block_scores, k)
        item_idx[block] = top
        scores[block] = np.take_along_axis(block_scores, top, axis=1)
    log.info(
        "recommend: %d customers x %d items in %.2fs",
        n_customers,
        len(model.item_ids),
        time.monotonic() - started,
    )
    frame = pd.DataFrame(
        {
            "customer_id": np.repeat(model.customer_ids, k),
            "rank": np.tile(np.arange(1, k + 1, dtype=np.int16), n_customers),
            "item_id": model.item_ids[item_idx.ravel()],
            "score": scores.ravel(),
        }
    )
    return frame[np.isfinite(frame["score"])].reset_index(drop=True)


def run(model_path: str, data_dir: str, out_path: str, k: int, exclude_ordered: bool) -> int:
    """Recommend entry point of the pipeline step: write the recommendations as Parquet.

    Returns:
        The number of rows written.
    """
    configure_logging("recommend")
    data = ValidatedData.load(data_dir)
    model = TrainedModel.load(model_path)
    frame = recommend(model, data.orders, k, exclude_ordered)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    stamp = {
        b"code_version": code_version().encode(),
        b"model_code_version": model.code_version.encode(),
    }
    pq.write_table(
        table.replace_schema_metadata({**(table.schema.metadata or {}), **stamp}), out_path
    )
    return len(frame)
