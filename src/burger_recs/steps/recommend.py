"""Recommend: the top-k menu items for every customer, scored in blocks.

Scores come from the model's factor matrices (one matrix product per block of customers)
and the top k are found by partitioning each block (:func:`burger_recs.scoring.top_k_of`),
never with a per-customer predict loop. The step streams: each block's rows are written
before the next block is scored, so its memory does not grow with the customers. With
``shards`` it scores one shard of the customers (:func:`burger_recs.scoring.shard_rows`),
for the pipeline's fan-out; the shards together are exactly the unsharded result.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import scipy.sparse as sp
import sqlalchemy as sa

from burger_recs import db
from burger_recs.champion import SERVING, load_scorer
from burger_recs.evaluation import CHALLENGER, CHAMPION, POPULARITY, Evaluation
from burger_recs.logs import configure as configure_logging
from burger_recs.model import TrainedModel, interaction_matrix, popularity
from burger_recs.scoring import (
    DEFAULT_BLOCK,
    Factors,
    check_shard,
    only_items,
    score_blocks,
    served,
    shard_rows,
    top_k,
)
from burger_recs.settings import at_least_one, require
from burger_recs.validated import ValidatedData
from burger_recs.version import code_version

log = logging.getLogger(__name__)

SCHEMA = pa.schema(
    [
        ("customer_id", pa.string()),
        ("rank", pa.int16()),
        ("item_id", pa.string()),
        ("score", pa.float32()),
    ]
)
# Rows per Parquet row group of the output (about 25,000 customers at k=10).
ROW_GROUP_ROWS = 1 << 18


def recommend(
    model: TrainedModel,
    orders: pd.DataFrame,
    k: int,
    exclude_ordered: bool = False,
    block_size: int = DEFAULT_BLOCK,
    shard: int = 0,
    shards: int = 1,
) -> pd.DataFrame:
    """Return the top-k items of every customer the model knows (or of one shard of them).

    Args:
        model: the trained model.
        orders: the window's orders (used only when ``exclude_ordered``).
        k: items per customer.
        exclude_ordered: leave out items the customer ordered in the window. A customer who
            ordered nearly the whole menu may then get fewer than k rows.
        block_size: customers scored per matrix product.
        shard: which shard of the customers to score, from 0 (see :func:`shard_rows`).
        shards: how many shards the customers are split into; 1 scores every customer.

    Returns:
        A frame with customer_id, rank (1 = best), item_id and score, ordered by customer
        and rank.
    """
    exclude = (
        interaction_matrix(orders, model.customer_ids, model.item_ids) if exclude_ordered else None
    )
    batches = recommend_batches(model, k, exclude, block_size, shard, shards)
    return pa.Table.from_batches(list(batches), schema=SCHEMA).to_pandas()


def recommend_batches(
    model: TrainedModel,
    k: int,
    exclude: sp.csr_matrix | None = None,
    block_size: int = DEFAULT_BLOCK,
    shard: int = 0,
    shards: int = 1,
    factors: Factors | None = None,
) -> Iterator[pa.RecordBatch]:
    """Yield the recommendations of one shard of the customers, one batch per block scored.

    Only one block of scores (block_size x items) and its top k are in memory at a time, so
    memory does not grow with the number of customers beyond the model itself.

    Args:
        model: the trained model.
        k: items per customer.
        exclude: a (customers x items) matrix whose non-zeros must not be recommended.
        block_size: customers scored per matrix product.
        shard: which shard of the customers, from 0.
        shards: how many shards.
        factors: the scorer, for the model's customers and items (default: the model's
            own; :func:`served_factors` gives the one that serves the day).

    Yields:
        Batches in :data:`SCHEMA`, by customer (in the model's order) and rank.
    """
    require(at_least_one("k", k))
    rows = shard_rows(len(model.customer_ids), shard, shards, block_size)
    factors = model.factors() if factors is None else factors
    k = min(k, len(model.item_ids))
    customer_ids = pa.array(model.customer_ids, pa.string())
    item_ids = pa.array(model.item_ids, pa.string())
    ranks = np.arange(1, k + 1, dtype=np.int16)
    started = time.monotonic()
    for block, block_scores in score_blocks(factors, exclude, block_size, rows):
        top, top_scores = top_k(block_scores, k)
        scores = top_scores.ravel()
        columns = [np.repeat(block, k), np.tile(ranks, len(block)), top.ravel(), scores]
        finite = np.isfinite(scores)
        if not finite.all():  # excluded items: a customer may get fewer than k rows
            columns = [column[finite] for column in columns]
        customers, rank, items, score = columns
        yield pa.record_batch(
            [customer_ids.take(customers), rank, item_ids.take(items), score], schema=SCHEMA
        )
    seconds = time.monotonic() - started
    log.info(
        "recommend: shard %d of %d: %d of %d customers x %d items in %.2fs (%.0f customers/s)",
        shard,
        shards,
        len(rows),
        len(model.customer_ids),
        len(model.item_ids),
        seconds,
        len(rows) / max(seconds, 1e-9),
    )


def served_by(evaluation: Evaluation | None) -> str:
    """Return the scorer that serves the day: evaluate's choice, else today's model."""
    return evaluation.served_by if evaluation is not None and evaluation.serves else CHALLENGER


def served_factors(
    model: TrainedModel,
    evaluation: Evaluation | None,
    data: ValidatedData,
    engine: sa.Engine | None,
) -> Factors:
    """Return the scorer that serves the day, for the serving model's customers and items.

    The challenger (today's model) when it passed the gate, or without an evaluation; the
    champion's serving scorer (from the results database) or popularity (the window's order
    counts) when evaluate chose them (:attr:`Evaluation.served_by`). A model scores as
    evaluate scored it (:func:`~burger_recs.scoring.served`): new customers by the cold-start
    blend, only items on the run day's menu.

    Raises:
        RuntimeError: the champion serves but its scorer is gone from the database.
    """
    on_menu = data.on_menu(model.item_ids)
    by = served_by(evaluation)
    if by == POPULARITY:
        counts = np.asarray(
            interaction_matrix(data.orders, model.customer_ids, model.item_ids).sum(axis=0)
        ).ravel()
        return only_items(Factors.popularity(counts, len(model.customer_ids)), on_menu)
    params = model.params
    recent = popularity(data.orders, model.item_ids, data.run_date, params.popularity_half_life)
    if by == CHAMPION and evaluation is not None:
        if engine is None:
            raise RuntimeError("the champion serves the day, but no DATABASE_URL says where")
        scorer = load_scorer(engine, evaluation.champion_version, SERVING)
        if scorer is None:
            raise RuntimeError(
                f"the champion {evaluation.champion_version} serves the day, but its scorer "
                "is no longer in the database (another run promoted a model meanwhile): "
                "run the day again"
            )
        return served(scorer.aligned(model.customer_ids, model.item_ids), recent, params, on_menu)
    return served(model.factors(), recent, params, on_menu)


def run(
    model_path: str,
    data_dir: str,
    out_path: str,
    k: int,
    exclude_ordered: bool,
    shard: int = 0,
    shards: int = 1,
    evaluation_path: str = "",
) -> int:
    """Recommend entry point of the pipeline step: write the recommendations as Parquet.

    Streams: each block of customers is scored and written before the next one, so the
    step's memory stays bounded whatever the number of customers.

    Args:
        model_path: the train step's model.
        data_dir: the validated data.
        out_path: the Parquet file to write.
        k: items per customer.
        exclude_ordered: leave out items the customer ordered in the window.
        shard: which shard of the customers to score, from 0.
        shards: how many shards the customers are split into; 1 scores every customer.
        evaluation_path: the evaluate step's outcome, which says who serves the day
            (default: the model itself).

    Returns:
        The number of rows written.
    """
    configure_logging("recommend")
    check_shard(shard, shards)
    model = TrainedModel.load(model_path)
    evaluation = Evaluation.load(evaluation_path) if evaluation_path else None
    by = served_by(evaluation)
    data = ValidatedData.load(data_dir)
    orders = data.orders
    engine = db.make_engine() if os.environ.get(db.DATABASE_URL_ENV) else None
    factors = served_factors(model, evaluation, data, engine)
    log.info("recommend: served by %s", by)
    exclude = None
    if exclude_ordered:
        exclude = interaction_matrix(orders, model.customer_ids, model.item_ids)
    stamp = {
        b"code_version": code_version().encode(),
        b"model_code_version": model.code_version.encode(),
        b"shard": f"{shard}/{shards}".encode(),
        b"served_by": by.encode(),
    }
    written = pending_rows = 0
    pending: list[pa.RecordBatch] = []
    # Customer ids are sorted runs of k equal values: plain encoding (then Snappy) writes and
    # reads them about twice as fast as a dictionary of a million ids, and smaller.
    with pq.ParquetWriter(
        out_path, SCHEMA.with_metadata(stamp), use_dictionary=["rank", "item_id"]
    ) as writer:
        batches = recommend_batches(model, k, exclude, shard=shard, shards=shards, factors=factors)
        for batch in batches:
            pending.append(batch)
            pending_rows += batch.num_rows
            if pending_rows >= ROW_GROUP_ROWS:
                writer.write_table(pa.Table.from_batches(pending))
                written, pending, pending_rows = written + pending_rows, [], 0
        if pending or not written:
            writer.write_table(pa.Table.from_batches(pending, schema=SCHEMA))
    return written + pending_rows


def shard_plan(shards: int) -> list[int]:
    """Return the shard numbers ``0 .. shards - 1``: the items the pipeline fans out over.

    Raises:
        ValueError: ``shards`` is below 1.
    """
    check_shard(0, shards)
    return list(range(shards))
