"""The pipeline's temporal evaluation on MovieLens imported as daily drops."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from burger_recs.evaluation import Evaluation, RankingScores
from burger_recs.model import TrainedModel, interaction_matrix, popularity
from burger_recs.quality.protocol import (
    mean,
)
from burger_recs.scoring import Factors, only_items, served
from burger_recs.settings import RunSettings
from burger_recs.steps import evaluate as evaluate_step
from burger_recs.steps import train as train_step
from burger_recs.validated import ValidatedData


# ---------------------------------------------------------------------------------------------
# 2. The pipeline's temporal evaluation on imported daily drops
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TemporalRow:
    """One run date of the temporal evaluation, over training seeds.

    Attributes:
        run_date: the run date (the last held-out day).
        holdout_start: the first held-out day.
        customers: customers who ordered in the holdout (the evaluated ones).
        new_customers: of them, those without an order in the window before the holdout.
        model: the evaluation per seed, as the pipeline's settings evaluate it.
        model_excluded: per seed, with ordered items excluded (``exclude_ordered``).
        by_history: precision@k per seed of the model and of the baseline, for returning
            customers (``returning``) and new ones (``new``), with the pipeline's settings.
    """

    run_date: dt.date
    holdout_start: dt.date
    customers: int
    new_customers: int
    model: list[Evaluation]
    model_excluded: list[Evaluation]
    by_history: dict[str, tuple[list[float], float]] = dataclasses.field(default_factory=dict)

    def figures(self, excluded: bool = False) -> dict[str, float]:
        """Return mean model and baseline precision@k and AUC, and the share that passed."""
        runs = self.model_excluded if excluded else self.model
        return {
            "model_precision": mean([e.model.precision[-1] for e in runs]),
            "baseline_precision": runs[0].baseline.precision[-1],
            "model_auc": mean([e.model.auc for e in runs]),
            "baseline_auc": runs[0].baseline.auc,
            "passed": sum(e.publishable for e in runs) / len(runs),
        }


def load_window(data_uri: str, run_date: dt.date, window_days: int) -> ValidatedData:
    """Read a window of daily drops with the ingest and validate steps' functions.

    Raises:
        burger_recs.steps.validate.ValidationFailed: the drop breaks the contract.
    """
    from burger_recs.steps import ingest, validate

    drop = ingest.ingest(data_uri, run_date, window_days)
    violations = validate.check(drop)
    if violations:
        raise validate.ValidationFailed(validate.failure_message(violations))
    return validate.typed(drop)


def run_dates(
    first: dt.date, last: dt.date, count: int, every_days: int, window_days: int
) -> list[dt.date]:
    """Return up to ``count`` run dates ``every_days`` apart ending at ``last``, oldest first.

    Only dates whose whole window lies inside ``first..last`` are returned.
    """
    dates = [last - dt.timedelta(days=every_days * n) for n in range(count)]
    earliest = first + dt.timedelta(days=window_days - 1)
    return sorted(d for d in dates if d >= earliest)


def temporal_rows(
    data_uri: str,
    dates: Iterable[dt.date],
    settings: RunSettings,
    seeds: Sequence[int] = (0, 1, 2),
    progress: Callable[[str], None] | None = None,
) -> list[TemporalRow]:
    """Evaluate the pipeline's model against popularity on the holdout of each run date.

    For each run date the window is read through ingest and validate, the evaluation model
    is fitted on the days before the holdout (as the train step does) and
    :func:`~burger_recs.steps.evaluate.evaluate` scores it and the baseline. Precision is
    also split by customers with and without orders before the holdout.
    """
    rows = []
    for run_date in dates:
        data = load_window(data_uri, run_date, settings.window_days)
        start = train_step.holdout_start(data, settings.holdout_days)
        normal: list[Evaluation] = []
        excluded: list[Evaluation] = []
        split: dict[str, list[float]] = {"returning": [], "new": []}
        baseline: dict[str, float] = {}
        new = 0
        for seed in seeds:
            params = dataclasses.replace(settings.train, seed=seed)
            model = train_step.fit(data, params, until=start - dt.timedelta(days=1))
            for exclude, into in ((settings.exclude_ordered, normal), (True, excluded)):
                into.append(
                    evaluate_step.evaluate(
                        data, model, settings.k, exclude, settings.quality_margin
                    )
                )
            for kind, (model_scores, base_scores) in _by_history(data, model, settings).items():
                split[kind].append(model_scores.precision[-1])
                baseline[kind] = base_scores.precision[-1]
                if kind == "new":
                    new = model_scores.customers
            if progress:
                progress(f"temporal: {run_date} seed {seed} fitted")
        by_history = {kind: (split[kind], baseline[kind]) for kind in split}
        customers = normal[0].model.customers
        rows.append(TemporalRow(run_date, start, customers, new, normal, excluded, by_history))
    return rows


def _by_history(
    data: ValidatedData, model: TrainedModel, settings: RunSettings
) -> dict[str, tuple[RankingScores, RankingScores]]:
    """Score model and baseline on the holdout separately for returning and new customers."""
    holdout = (model.trained_until + dt.timedelta(days=1)).isoformat()
    before = data.orders[data.orders["day"] < holdout]
    after = data.orders[data.orders["day"] >= holdout]
    train = interaction_matrix(before, model.customer_ids, model.item_ids)
    test = interaction_matrix(after, model.customer_ids, model.item_ids)
    counts = np.asarray(train.sum(axis=0)).ravel()
    on_menu = data.on_menu(model.item_ids)
    baseline = only_items(Factors.popularity(counts, len(model.customer_ids)), on_menu)
    params = model.params
    recent = popularity(before, model.item_ids, model.trained_until, params.popularity_half_life)
    factors = served(model.factors(), recent, params, on_menu)  # as evaluate scores it
    result = {}
    for kind, keep in (("returning", model.has_history), ("new", ~model.has_history)):
        part = (sp.diags(keep.astype(np.float32)) @ test).tocsr()
        part.eliminate_zeros()
        result[kind] = (
            evaluate_step.ranking_scores(
                factors, train, part, settings.k, settings.exclude_ordered
            ),
            evaluate_step.ranking_scores(
                baseline, train, part, settings.k, settings.exclude_ordered
            ),
        )
    return result
