"""The LightFM documentation's protocol on MovieLens 100k, next to the published figures."""

from __future__ import annotations

import dataclasses
import datetime as dt
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from burger_recs import movielens
from burger_recs.evaluation import RankingScores
from burger_recs.model import interaction_matrix, model_ids
from burger_recs.scoring import Factors
from burger_recs.settings import TrainParams
from burger_recs.steps import evaluate as evaluate_step
from burger_recs.steps import train as train_step
from burger_recs.validated import ValidatedData

# The published MovieLens figures are precision@10, whatever the pipeline's k.
PROTOCOL_K = 10
PRECISION_TOLERANCE = 0.01
AUC_TOLERANCE = 0.02
_ROUNDING = 1e-9  # so that a difference of exactly the tolerance counts as within it
# The LightFM documentation's MovieLens example: LightFM() defaults (10 components, no
# regularisation) with learning rate 0.05 and 10 epochs; every order weighing the same, and
# new users by item bias, as LightFM scores them.
PROTOCOL_PARAMS = TrainParams(
    loss="warp",
    epochs=10,
    no_components=10,
    learning_rate=0.05,
    item_alpha=0.0,
    user_alpha=0.0,
    identity_weight=0.0,
    recency_half_life=0.0,
    weigh_repeats=False,
    cold_start_blend=0.0,
    popularity_half_life=0.0,
)
PROTOCOL_LOSSES = ("warp", "bpr")
# Item features of the protocol runs: item identities only (as in the documentation), and
# identities plus genres, which is what the pipeline trains on imported MovieLens.
IDS = "ids"
IDS_AND_GENRES = "ids+genres"
POPULARITY = "popularity"
RATING_SUMS = "popularity (rating sums)"
# Item-feature choices of the burger search: what the pipeline trains on (identity and
# ingredients, each item's row summing to 1), and identities alone.
IDS_AND_INGREDIENTS = "ids+ingredients"
ITEM_FEATURES = (IDS_AND_INGREDIENTS, IDS)


@dataclass(frozen=True)
class Reference:
    """A published figure to compare with.

    Attributes:
        precision: precision@10, or None when not published.
        auc: mean per-user ROC AUC, or None when not published.
        source: where the figure comes from.
        digits: the decimals it was published with (for display).
    """

    precision: float | None
    auc: float | None
    source: str
    digits: int = 3


_DOCS = "LightFM docs, MovieLens quickstart"
_ISSUE = "measured here: lightfm 1.17, 5 seeds"
REFERENCES: dict[tuple[str, bool], Reference] = {
    ("warp", False): Reference(0.11, 0.90, _DOCS, digits=2),
    ("bpr", False): Reference(0.10, 0.86, _DOCS, digits=2),
    ("warp", True): Reference(0.220, 0.927, _ISSUE),
    (POPULARITY, True): Reference(0.109, None, _ISSUE),
    (RATING_SUMS, True): Reference(0.109, None, _ISSUE),
}
"""Published figures by (scorer, training interactions excluded)."""


# ---------------------------------------------------------------------------------------------
# 1. The documentation's protocol on ua.base / ua.test
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ProtocolRow:
    """One scorer on the ``ua.test`` ratings, over seeds.

    Attributes:
        scorer: ``warp``, ``bpr``, ``popularity`` or ``popularity (rating sums)``.
        features: item features of the model (``ids`` or ``ids+genres``; "-" for baselines).
        exclude_train: test metrics computed with the training interactions excluded.
        precision: precision@10 per seed (one value for a deterministic baseline).
        auc: mean per-user AUC per seed.
        reference: the published figure, if any.
    """

    scorer: str
    features: str
    exclude_train: bool
    precision: list[float]
    auc: list[float]
    reference: Reference | None = None

    def within_tolerance(self) -> bool | None:
        """Return whether the mean figures match the reference (None: nothing to compare)."""
        if self.reference is None:
            return None
        checks = []
        if self.reference.precision is not None:
            checks.append(
                abs(mean(self.precision) - self.reference.precision)
                <= PRECISION_TOLERANCE + _ROUNDING
            )
        if self.reference.auc is not None:
            checks.append(abs(mean(self.auc) - self.reference.auc) <= AUC_TOLERANCE + _ROUNDING)
        return all(checks)


def mean(values: Sequence[float]) -> float:
    """Return the mean of a non-empty sequence."""
    return float(statistics.fmean(values))


def spread(values: Sequence[float]) -> float:
    """Return the sample standard deviation (0 for a single value)."""
    return float(statistics.stdev(values)) if len(values) > 1 else 0.0


def protocol_data(
    ml: movielens.MovieLens, features: str = IDS
) -> tuple[ValidatedData, sp.csr_matrix, sp.csr_matrix, np.ndarray]:
    """Return ``ua.base`` as validated data, and the train and test matrices and rating sums.

    Args:
        ml: the data set.
        features: ``ids`` (the documentation's protocol: the menu lists no ingredients, so
            :func:`~burger_recs.model.item_feature_matrix` gives identities only) or
            ``ids+genres`` (genres as ingredients, as imported).

    Returns:
        The training data (every rating positive, dated by its timestamp, the window
        covering all of them), the (customers x items) train and test interactions in the
        order :func:`~burger_recs.steps.train.fit` uses, and each item's sum of training
        ratings.
    """
    if features not in (IDS, IDS_AND_GENRES):
        raise ValueError(f"features must be {IDS!r} or {IDS_AND_GENRES!r}, got {features!r}")
    base = movielens.contract_frames(ml, ml.base, min_rating=1)
    test = movielens.contract_frames(ml, ml.test, min_rating=1)
    menu = base.menu.copy()
    if features == IDS:
        menu["ingredients"] = ""
    days = pd.concat([base.orders["day"], test.orders["day"]])
    data = movielens.validated_data(
        movielens.ContractFrames(base.orders, menu, base.customers),
        run_date=dt.date.fromisoformat(days.max()),
        window_start=dt.date.fromisoformat(days.min()),
    )
    customers, items = model_ids(data)
    train = interaction_matrix(base.orders, customers, items)
    test_matrix = interaction_matrix(test.orders, customers, items)
    sums = (
        ml.base.assign(item=ml.base["item_id"].map(movielens.item_id))
        .groupby("item")["rating"]
        .sum()
        .reindex(items, fill_value=0)
        .to_numpy(dtype=np.float64)
    )
    return data, train, test_matrix, sums


def protocol_rows(
    ml: movielens.MovieLens,
    seeds: Sequence[int] = (0, 1, 2, 3, 4),
    epochs: int = PROTOCOL_PARAMS.epochs,
    losses: Sequence[str] = PROTOCOL_LOSSES,
    features: Sequence[str] = (IDS, IDS_AND_GENRES),
    progress: Callable[[str], None] | None = None,
) -> list[ProtocolRow]:
    """Measure the documentation's protocol with the pipeline's train and evaluate code.

    Every model is fitted by :func:`~burger_recs.steps.train.fit` on ``ua.base`` and scored
    by :func:`~burger_recs.steps.evaluate.ranking_scores` on ``ua.test`` without and with the
    training interactions excluded (``exclude_ordered``); the popularity baseline is scored
    the same way, by order counts (the pipeline's baseline) and by sums of ratings.

    Args:
        ml: the data set.
        seeds: training seeds; figures are reported per seed and averaged.
        epochs: training epochs (10 in the protocol; fewer for a quick check).
        losses: the LightFM losses to fit.
        features: item features to fit with (``ids`` is the protocol).
        progress: called with a short message after every fit.
    """
    rows: list[ProtocolRow] = []
    train = test = sums = None
    for feature in features:
        data, train, test, sums = protocol_data(ml, feature)
        for loss in losses:
            per_seed: dict[bool, list[RankingScores]] = {False: [], True: []}
            for seed in seeds:
                params = dataclasses.replace(PROTOCOL_PARAMS, loss=loss, epochs=epochs, seed=seed)
                factors = train_step.fit(data, params).factors()
                for exclude in (False, True):
                    per_seed[exclude].append(
                        evaluate_step.ranking_scores(factors, train, test, PROTOCOL_K, exclude)
                    )
                if progress:
                    progress(f"protocol: {loss} {feature} seed {seed} fitted")
            for exclude, scores in per_seed.items():
                rows.append(
                    ProtocolRow(
                        loss,
                        feature,
                        exclude,
                        [s.precision[-1] for s in scores],
                        [s.auc for s in scores],
                        REFERENCES.get((loss, exclude)) if feature == IDS else None,
                    )
                )
    if train is None or test is None or sums is None:
        return rows
    counts = np.asarray(train.sum(axis=0)).ravel()
    for name, weights in ((POPULARITY, counts), (RATING_SUMS, sums)):
        baseline = Factors.popularity(weights, train.shape[0])
        for exclude in (False, True):
            base_scores = evaluate_step.ranking_scores(baseline, train, test, PROTOCOL_K, exclude)
            rows.append(
                ProtocolRow(
                    name,
                    "-",
                    exclude,
                    [base_scores.precision[-1]],
                    [base_scores.auc],
                    REFERENCES.get((name, exclude)),
                )
            )
    return rows
