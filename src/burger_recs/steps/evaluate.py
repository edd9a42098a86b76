"""Evaluate: the challenger against the champion and popularity; the gate; who serves.

Today's model is the challenger. The last ``holdout_days`` days of the window are held out;
the train step fits a model of the same configuration on the days before them. It, the
champion's evaluation scorer (fitted by an earlier run without its own holdout, so it has not
seen these days either;
burger_recs.champion) and the popularity baseline (order counts of the days before the
holdout) rank every menu item for every customer who ordered in the holdout, exactly as the
recommend step would serve them.

The challenger passes the gate, and becomes the champion, when its precision@k reaches the
baseline's times ``1 + quality_margin`` and is not below the champion's times
``1 - quality_margin`` (a negative margin turns the gate off). Whatever the verdict, the day
is served: by the challenger when it passed; otherwise by whichever of the champion and
popularity did better on this holdout (popularity when there is no champion), unless
``serve_when_gated`` is off, which keeps the published days as they were.
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

from burger_recs import db
from burger_recs.champion import EVALUATION, StoredScorer, load_scorer
from burger_recs.evaluation import CHALLENGER, CHAMPION, POPULARITY, Evaluation, RankingScores
from burger_recs.logs import configure as configure_logging
from burger_recs.metrics import RankingSums, customer_segments
from burger_recs.model import TrainedModel, interaction_matrix, popularity
from burger_recs.report import render_html
from burger_recs.scoring import Factors, only_items, score_blocks, served, top_k_of
from burger_recs.settings import at_least_one, require
from burger_recs.validated import ValidatedData
from burger_recs.version import code_version

log = logging.getLogger(__name__)


def ranking_scores(
    factors: Factors, train: sp.csr_matrix, test: sp.csr_matrix, k: int, exclude_ordered: bool
) -> RankingScores:
    """Measure precision@1..k, recall@1..k and AUC of a scorer against held-out orders.

    The figures cover every customer with a held-out positive, and, in the same scoring pass,
    the new customers (no order in ``train``) and the returning ones apart
    (``segments``; :func:`burger_recs.metrics.customer_segments`).

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
    sums = RankingSums(k, customer_segments(train))
    n_items = train.shape[1]
    for block, scores in score_blocks(factors, exclude=exclude, rows=rows):
        pos = positives[block].toarray() > 0
        n_pos = pos.sum(axis=1)
        top = top_k_of(scores, k)
        hits = np.cumsum(np.take_along_axis(pos, top, axis=1), axis=1)
        if hits.shape[1] < k:  # fewer items than k: the remaining ranks add no hits
            hits = np.pad(hits, ((0, 0), (0, k - hits.shape[1])), mode="edge")
        # AUC over the servable items only: an item the scorer cannot serve (-inf: excluded,
        # off the run date's menu, unknown to it) is neither a positive nor a negative. The
        # unservable items rank lowest, so a servable item's rank among the servable ones is
        # its rank less their number.
        servable = ~np.isneginf(scores)
        ranked_pos = pos & servable
        n_ranked = ranked_pos.sum(axis=1)
        n_excluded = n_items - servable.sum(axis=1)
        n_neg = n_items - n_ranked - n_excluded
        ranks = rankdata(scores, axis=1)
        wins = (ranks * ranked_pos).sum(axis=1) - n_ranked * (n_ranked + 1) / 2
        wins -= n_ranked * n_excluded
        with np.errstate(divide="ignore", invalid="ignore"):
            auc = np.where((n_neg > 0) & (n_ranked > 0), wins / (n_ranked * n_neg), np.nan)
        sums.add(block, hits, hits / n_pos[:, None], auc)
    return sums.scores()


def gate(
    model: RankingScores,
    baseline: RankingScores,
    margin: float,
    champion: RankingScores | None = None,
) -> tuple[bool, str]:
    """Decide whether the challenger passes, and why.

    It passes when it beats popularity by the margin and is not worse than the champion by
    more than the margin.
    """
    m, b = model.precision[-1], baseline.precision[-1]
    if margin < 0:
        return True, f"quality gate off (quality_margin={margin}); model p@k {m:.4f}"
    if model.customers == 0:
        return False, "no customer ordered in the holdout days, so the model cannot be judged"
    needed = b * (1 + margin)
    if m < needed:
        return False, f"model p@k {m:.4f} < baseline {b:.4f} x {1 + margin:g} = {needed:.4f}"
    reason = f"model p@k {m:.4f} >= baseline {b:.4f} x {1 + margin:g} = {needed:.4f}"
    if champion is not None:
        c = champion.precision[-1]
        floor = c * (1 - margin)
        if m < floor:
            return False, f"{reason}, but < champion {c:.4f} x {1 - margin:g} = {floor:.4f}"
        reason += f" and >= champion {c:.4f} x {1 - margin:g} = {floor:.4f}"
    return True, reason


def serving(
    passed: bool,
    baseline: RankingScores,
    champion: RankingScores | None,
    serve_when_gated: bool = True,
) -> tuple[str, str]:
    """Return which scorer serves the day and why (:data:`~burger_recs.evaluation.CHAMPION`...).

    The challenger when it passed; otherwise the better of the champion and popularity on
    this holdout (popularity without a champion); "" when ``serve_when_gated`` is off and
    the challenger did not pass (nothing is published).
    """
    if passed:
        return CHALLENGER, "today's model passed the gate"
    if not serve_when_gated:
        return (
            "",
            "today's model did not pass and serve_when_gated is off: the day is not published",
        )
    b = baseline.precision[-1]
    if champion is None:
        return (
            POPULARITY,
            f"today's model did not pass and there is no champion: popularity (p@k {b:.4f})",
        )
    c = champion.precision[-1]
    if c >= b:
        return (
            CHAMPION,
            f"today's model did not pass: the champion (p@k {c:.4f} >= popularity {b:.4f})",
        )
    return POPULARITY, f"today's model did not pass: popularity (p@k {b:.4f} > champion {c:.4f})"


def evaluate(
    data: ValidatedData,
    model: TrainedModel,
    k: int,
    exclude_ordered: bool,
    quality_margin: float,
    champion: StoredScorer | None = None,
    serve_when_gated: bool = True,
) -> Evaluation:
    """Score the challenger, the champion and popularity on the holdout days; decide.

    Args:
        data: the validated window.
        model: the evaluation model; the days after ``model.trained_until`` are held out.
        k: the cut-off of precision@k and recall@k.
        exclude_ordered: evaluate as served with ``exclude_ordered``.
        quality_margin: the gate's margin over the baseline (negative: gate off).
        champion: the champion's evaluation scorer, when there is one.
        serve_when_gated: serve the day by the champion or popularity when the challenger
            does not pass (else the published days stay as they were).

    Raises:
        ValueError: k is less than 1.
    """
    require(at_least_one("k", k))
    params = model.params
    holdout_start = model.trained_until + dt.timedelta(days=1)
    before = data.orders[data.orders["day"] < holdout_start.isoformat()]
    after = data.orders[data.orders["day"] >= holdout_start.isoformat()]
    train = interaction_matrix(before, model.customer_ids, model.item_ids)
    test = interaction_matrix(after, model.customer_ids, model.item_ids)
    counts = np.asarray(train.sum(axis=0)).ravel()
    # Ranked as served (:func:`served`): only items on the run day's menu, new customers
    # by the cold-start blend.
    on_menu = data.on_menu(model.item_ids)
    recent = popularity(before, model.item_ids, model.trained_until, params.popularity_half_life)
    model_scores = ranking_scores(
        served(model.factors(), recent, params, on_menu), train, test, k, exclude_ordered
    )
    baseline = only_items(Factors.popularity(counts, len(model.customer_ids)), on_menu)
    baseline_scores = ranking_scores(baseline, train, test, k, exclude_ordered)
    champion_scores = None
    if champion is not None:
        aligned = champion.aligned(model.customer_ids, model.item_ids)
        scorer = served(aligned, recent, params, on_menu)
        champion_scores = ranking_scores(scorer, train, test, k, exclude_ordered)
    passed, reason = gate(model_scores, baseline_scores, quality_margin, champion_scores)
    served_by, why = serving(passed, baseline_scores, champion_scores, serve_when_gated)
    log.info("evaluate: %s; served by %s: %s", reason, served_by or "nobody", why)
    settings = {
        **asdict(model.params),
        "k": k,
        "holdout_days": (data.run_date - model.trained_until).days,
        "exclude_ordered": exclude_ordered,
        "quality_margin": quality_margin,
        "serve_when_gated": serve_when_gated,
    }
    return Evaluation(
        k,
        holdout_start,
        model_scores,
        baseline_scores,
        passed,
        reason,
        settings,
        champion=champion_scores,
        champion_version=champion.version if champion is not None else "",
        served_by=served_by,
        serving_reason=why,
    )


def run(
    data_dir: str,
    eval_model_path: str,
    evaluation_path: str,
    report_path: str,
    k: int,
    exclude_ordered: bool,
    quality_margin: float,
    champion: str = "",
    serve_when_gated: bool = True,
) -> Evaluation:
    """Evaluate entry point of the pipeline step: write the evaluation and the report.

    Args:
        data_dir: the validated data.
        eval_model_path: the train step's evaluation model.
        evaluation_path: where to write the evaluation (JSON).
        report_path: where to write the HTML report.
        k: the cut-off of precision@k and recall@k.
        exclude_ordered: evaluate as served with ``exclude_ordered``.
        quality_margin: the gate's margin (negative: gate off).
        champion: the champion's version, as the run's check found it ("" for none); its
            evaluation scorer is read from the results database (``DATABASE_URL``).
        serve_when_gated: serve a gated day by the champion or popularity.
    """
    configure_logging("evaluate")
    data = ValidatedData.load(data_dir)
    model = TrainedModel.load(eval_model_path)
    scorer = None
    if champion:
        scorer = load_scorer(db.make_engine(), champion, EVALUATION)
        if scorer is None:
            log.warning("evaluate: the champion %s's scorers are gone: no champion", champion)
    result = evaluate(data, model, k, exclude_ordered, quality_margin, scorer, serve_when_gated)
    result.save(evaluation_path)
    Path(report_path).write_text(render_html(result, data, code_version()))
    return result


def write_metrics(evaluation: Evaluation, path: str) -> None:
    """Write the evaluation's figures to ``path`` as JSON (the Metrics artifact's file)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(evaluation.metrics(), indent=2, sort_keys=True))
