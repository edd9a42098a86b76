"""Train: fit the LightFM models of the day (:mod:`burger_recs.model`).

The serving model learns from the whole window; the evaluation model, of the same
configuration, from the window without its last ``holdout_days`` days. The two are fitted at
the same time, in two threads (:func:`fit_models`).
"""

from __future__ import annotations

import datetime as dt
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict

import numpy as np

from burger_recs.logs import configure as configure_logging
from burger_recs.model import (
    TrainedModel,
    item_feature_matrix,
    model_ids,
    new_model,
    weighted_interactions,
)
from burger_recs.settings import TrainParams, holdout_problem, require
from burger_recs.validated import ValidatedData

log = logging.getLogger(__name__)


def fit(data: ValidatedData, params: TrainParams, until: dt.date | None = None) -> TrainedModel:
    """Fit LightFM on the orders up to ``until`` (default: the whole window).

    Every known customer and every menu item gets a row, whether or not it has orders, so
    that the same model scores all of them.
    """
    until = until or data.run_date
    orders = data.orders[data.orders["day"] <= until.isoformat()]
    customer_ids, item_ids = model_ids(data)
    interactions, weights = weighted_interactions(
        orders,
        customer_ids,
        item_ids,
        until,
        half_life=params.recency_half_life,
        weigh_repeats=params.weigh_repeats,
    )
    features, names = item_feature_matrix(data.menu, item_ids, params.identity_weight)
    model = new_model(params)
    log.info(
        "train: %d customers x %d items, %d interactions, until %s, %s",
        len(customer_ids),
        len(item_ids),
        interactions.nnz,
        until,
        asdict(params),
    )
    weighted = params.recency_half_life > 0 or params.weigh_repeats
    model.fit(
        interactions,
        sample_weight=weights if weighted else None,
        item_features=features,
        epochs=params.epochs,
        num_threads=params.num_threads,
    )
    has_history = np.asarray(interactions.tocsr().getnnz(axis=1) > 0)
    return TrainedModel(
        model,
        customer_ids,
        item_ids,
        features,
        has_history,
        params,
        until,
        interactions.nnz,
        names,
    )


def holdout_start(data: ValidatedData, holdout_days: int) -> dt.date:
    """Return the first held-out day: the last ``holdout_days`` days of the window.

    Raises:
        ValueError: the holdout would leave no day to train on.
    """
    window = (data.run_date - data.window_start).days + 1
    require(holdout_problem(holdout_days, window))
    return data.run_date - dt.timedelta(days=holdout_days - 1)


def fit_models(
    data: ValidatedData, params: TrainParams, holdout_days: int, concurrently: bool = True
) -> tuple[TrainedModel, TrainedModel]:
    """Fit the evaluation model and the serving model of ``data``; return them in that order.

    The evaluation model learns from the window without its last ``holdout_days`` days, the
    serving model from the whole window. With ``concurrently`` (the default) the two fits run
    at the same time in two threads, so on two cores the step takes about as long as the
    longer fit rather than the sum of both. Threads are enough: LightFM's fit loop runs
    without the GIL (lightfm 1.17, ``_lightfm_fast_openmp.pyx``: ``fit_warp``, ``fit_bpr``,
    ``fit_warp_kos`` and ``fit_logistic`` run their epoch in ``with nogil,
    parallel(num_threads=num_threads):``), and only the per-epoch shuffle and bookkeeping in
    ``LightFM.fit_partial`` hold it. The fits share no state: each model has its own
    ``RandomState`` (:func:`~burger_recs.model.new_model`), its own matrices and its own
    ``params.num_threads`` threads, so with ``num_threads=1`` each is bit for bit the model it
    would be fitted alone (tests/unit/test_train.py). The step then uses two cores, and holds
    both models in memory at once.
    """
    evaluation_until = holdout_start(data, holdout_days) - dt.timedelta(days=1)
    if not concurrently:
        return fit(data, params, until=evaluation_until), fit(data, params)
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="fit") as pool:
        evaluation = pool.submit(fit, data, params, evaluation_until)
        serving = pool.submit(fit, data, params)
        return evaluation.result(), serving.result()


def run(
    data_dir: str, model_path: str, eval_model_path: str, holdout_days: int, params: TrainParams
) -> str:
    """Train entry point of the pipeline step.

    Fits the model that serves the day on the whole window, and the evaluation model (same
    configuration) on the window without its last ``holdout_days`` days, at the same time.

    Returns:
        The version of the serving model.
    """
    configure_logging("train")
    data = ValidatedData.load(data_dir)
    evaluation, serving = fit_models(data, params, holdout_days)
    evaluation.save(eval_model_path)
    version = serving.save(model_path)
    log.info("train: saved %s", version)
    return version
