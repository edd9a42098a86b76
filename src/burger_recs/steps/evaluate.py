"""Evaluate: the model against a popularity baseline on a temporal holdout, and the gate.

The last ``holdout_days`` days of the window are held out. The train step fits a model of
the same configuration on the days before them; it and the popularity baseline (order
counts of the same days) rank every menu item for every customer who ordered in the holdout,
exactly as the recommend step would serve them. The day is publishable when the model's
precision@k reaches the baseline's times ``1 + quality_margin`` (a negative margin turns the
gate off).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import asdict
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from scipy.stats import rankdata

from burger_recs.errors import BadSettings
from burger_recs.evaluation import Evaluation, RankingScores
from burger_recs.logs import configure as configure_logging
from burger_recs.model import TrainedModel, interaction_matrix
from burger_recs.report import render_html
from burger_recs.scoring import Factors, score_blocks, top_k_of
from burger_recs.validated import ValidatedData
from burger_recs.version import code_version

log = logging.getLogger(__name__)


def ranking_scores(
    factors: Factors, train: sp.csr_matrix, test: sp.csr_matrix, k: int, exclude_ordered: bool
) -> RankingScores:
    """Measure precision@1..k, recall@1..k and AUC of a scorer against held-out orders.

    Args:
        factors: the scorer.
        train: (customers x items) interactions before the holdout.
        test: (customers x items) interactions in the holdout.
        k: the cut-off.
        exclude_ordered: rank as served with ``exclude_ordered``: items a customer ordered
            before are neither recommended nor counted as hits.
    """
    exclude = train if exclude_ordered else None
    positives = test - test.multiply(train) if exclude_ordered else test
    positives = (positives > 0).astype(np.float32).tocsr()
    rows = np.flatnonzero(positives.getnnz(axis=1))
    hits_at = np.zeros(k)
    recall_at = np.zeros(k)
    auc_sum = 0.0
    n_items = train.shape[1]
    for block, scores in score_blocks(factors, exclude=exclude, rows=rows):
        pos = positives[block].toarray() > 0
        n_pos = pos.sum(axis=1)
        top = top_k_of(scores, k)
        hits = np.cumsum(np.take_along_axis(pos, top, axis=1), axis=1)
        if hits.shape[1] < k:  # fewer items than k: the remaining ranks add no hits
            hits = np.pad(hits, ((0, 0), (0, k - hits.shape[1])), mode="edge")
        hits_at += hits.sum(axis=0)
        recall_at += (hits / n_pos[:, None]).sum(axis=0)
        # AUC from ranks: excluded items score -inf, so they rank below every positive.
        n_excluded = np.isneginf(scores).sum(axis=1)
        n_neg = n_items - n_pos - n_excluded
        ranks = rankdata(scores, axis=1)
        wins = (ranks * pos).sum(axis=1) - n_pos * (n_pos + 1) / 2 - n_pos * n_excluded
        valid = n_neg > 0
        auc_sum += float((wins[valid] / (n_pos[valid] * n_neg[valid])).sum())
    n = max(len(rows), 1)
    precision = (hits_at / (np.arange(k) + 1) / n).tolist()
    return RankingScores(precision, (recall_at / n).tolist(), auc_sum / n, len(rows))


def gate(model: RankingScores, baseline: RankingScores, margin: float) -> tuple[bool, str]:
    """Decide whether the day is published: model precision@k >= baseline x (1 + margin)."""
    m, b = model.precision[-1], baseline.precision[-1]
    if margin < 0:
        return True, f"quality gate off (quality_margin={margin}); model p@k {m:.4f}"
    if model.customers == 0:
        return False, "no customer ordered in the holdout days, so the model cannot be judged"
    needed = b * (1 + margin)
    if m >= needed:
        return True, f"model p@k {m:.4f} >= baseline {b:.4f} x {1 + margin:g} = {needed:.4f}"
    return False, f"model p@k {m:.4f} < baseline {b:.4f} x {1 + margin:g} = {needed:.4f}"


def evaluate(
    data: ValidatedData,
    model: TrainedModel,
    k: int,
    exclude_ordered: bool,
    quality_margin: float,
) -> Evaluation:
    """Score a model trained before the holdout, and the baseline, on the holdout days.

    Args:
        data: the validated window.
        model: the evaluation model; the days after ``model.trained_until`` are held out.
        k: the cut-off of precision@k and recall@k.
        exclude_ordered: evaluate as served with ``exclude_ordered``.
        quality_margin: the gate's margin over the baseline (negative: gate off).

    Raises:
        ValueError: k is less than 1.
    """
    if k < 1:
        raise BadSettings(f"k must be at least 1, got {k}")
    holdout_start = model.trained_until + dt.timedelta(days=1)
    before = data.orders[data.orders["day"] < holdout_start.isoformat()]
    after = data.orders[data.orders["day"] >= holdout_start.isoformat()]
    train = interaction_matrix(before, model.customer_ids, model.item_ids)
    test = interaction_matrix(after, model.customer_ids, model.item_ids)
    counts = np.asarray(train.sum(axis=0)).ravel()
    model_scores = ranking_scores(model.factors(), train, test, k, exclude_ordered)
    baseline = Factors.popularity(counts, len(model.customer_ids))
    baseline_scores = ranking_scores(baseline, train, test, k, exclude_ordered)
    publishable, reason = gate(model_scores, baseline_scores, quality_margin)
    log.info("evaluate: %s", reason)
    settings = {
        **asdict(model.params),
        "k": k,
        "holdout_days": (data.run_date - model.trained_until).days,
        "exclude_ordered": exclude_ordered,
        "quality_margin": quality_margin,
    }
    return Evaluation(
        k, holdout_start, model_scores, baseline_scores, publishable, reason, settings
    )


def run(
    data_dir: str,
    eval_model_path: str,
    evaluation_path: str,
    report_path: str,
    k: int,
    exclude_ordered: bool,
    quality_margin: float,
) -> Evaluation:
    """Evaluate entry point of the pipeline step: write the evaluation and the report."""
    configure_logging("evaluate")
    data = ValidatedData.load(data_dir)
    model = TrainedModel.load(eval_model_path)
    result = evaluate(data, model, k, exclude_ordered, quality_margin)
    result.save(evaluation_path)
    Path(report_path).write_text(render_html(result, data, code_version()))
    return result


def write_metrics(evaluation: Evaluation, path: str) -> None:
    """Write the evaluation's figures to ``path`` as JSON (the Metrics artifact's file)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(evaluation.metrics(), indent=2, sort_keys=True))
