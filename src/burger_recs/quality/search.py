"""Hyper-parameter search on generated burger data: candidates scored on a validation week."""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from burger_recs.quality.protocol import (
    IDS_AND_INGREDIENTS,
    ITEM_FEATURES,
    mean,
)
from burger_recs.settings import DEFAULTS, TrainParams
from burger_recs.steps import evaluate as evaluate_step
from burger_recs.steps import train as train_step
from burger_recs.validated import ValidatedData


# ---------------------------------------------------------------------------------------------
# 3. Hyper-parameter search on generated burger data
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Candidate:
    """One configuration of the search.

    Attributes:
        params: the training hyper-parameters (the seed is replaced per run).
        item_features: ``ids+ingredients`` (what the pipeline trains on) or ``ids``.
    """

    params: TrainParams
    item_features: str = IDS_AND_INGREDIENTS

    def label(self) -> str:
        """Return a short readable name."""
        p = self.params
        name = f"{p.loss} e{p.epochs} c{p.no_components} lr{p.learning_rate:g} {self.item_features}"
        return f"{name} {self.serving()}".rstrip()

    def serving(self) -> str:
        """Return the settings of how orders weigh and new customers are served, if set."""
        p = self.params
        parts = [
            f"id{p.identity_weight:g}" if p.identity_weight else "",
            f"rh{p.recency_half_life:g}" if p.recency_half_life else "",
            "repeats" if p.weigh_repeats else "",
            f"cold{p.cold_start_blend:g}" if p.cold_start_blend else "",
            f"pop-hl{p.popularity_half_life:g}" if p.popularity_half_life else "",
        ]
        return " ".join(part for part in parts if part) or "-"


@dataclass(frozen=True)
class SearchResult:
    """A candidate's scores on one holdout, per training seed.

    Attributes:
        candidate: the configuration.
        precision: precision@k per seed.
        recall: recall@k per seed.
        auc: AUC per seed.
        baseline_precision: the popularity baseline's precision@k on the same holdout.
    """

    candidate: Candidate
    precision: list[float]
    recall: list[float]
    auc: list[float]
    baseline_precision: float


def with_item_features(data: ValidatedData, item_features: str) -> ValidatedData:
    """Return the data as :func:`~burger_recs.steps.train.fit` must see it for the features.

    ``ids`` blanks the menu's ingredients, so the feature matrix holds identities only.
    """
    if item_features not in ITEM_FEATURES:
        raise ValueError(f"item_features must be one of {ITEM_FEATURES}, got {item_features!r}")
    if item_features == IDS_AND_INGREDIENTS:
        return data
    return dataclasses.replace(data, menu=data.menu.assign(ingredients=""))


def grid(
    losses: Iterable[str],
    epochs: Iterable[int],
    components: Iterable[int],
    learning_rates: Iterable[float],
    item_features: Iterable[str] = ITEM_FEATURES,
    base: TrainParams | None = None,
) -> list[Candidate]:
    """Return every combination of the given values as candidates."""
    base = base or TrainParams()
    return [
        Candidate(
            dataclasses.replace(base, loss=loss, epochs=e, no_components=c, learning_rate=lr),
            features,
        )
        for loss, e, c, lr, features in itertools.product(
            losses, epochs, components, learning_rates, item_features
        )
    ]


def serving_grid(
    base: TrainParams,
    identity_weights: Iterable[float],
    recency_half_lives: Iterable[float],
    repeats: Iterable[bool],
    cold_start_blends: Iterable[float],
    popularity_half_lives: Iterable[float],
) -> list[Candidate]:
    """Return every combination of how orders weigh and new customers are served."""
    return [
        Candidate(
            dataclasses.replace(
                base,
                identity_weight=iw,
                recency_half_life=rh,
                weigh_repeats=rep,
                cold_start_blend=blend,
                popularity_half_life=hl,
            )
        )
        for iw, rh, rep, blend, hl in itertools.product(
            identity_weights, recency_half_lives, repeats, cold_start_blends, popularity_half_lives
        )
        if blend or not hl  # a popularity half-life matters only with the blend
    ]


def score_candidate(
    data: ValidatedData,
    candidate: Candidate,
    seeds: Sequence[int],
    holdout_days: int = 7,
    k: int = DEFAULTS.k,
    exclude_ordered: bool = False,
) -> SearchResult:
    """Fit the candidate on the window before the holdout and evaluate it on the holdout."""
    until = train_step.holdout_start(data, holdout_days) - dt.timedelta(days=1)
    fitted = with_item_features(data, candidate.item_features)
    runs = []
    for seed in seeds:
        model = train_step.fit(fitted, dataclasses.replace(candidate.params, seed=seed), until)
        runs.append(evaluate_step.evaluate(data, model, k, exclude_ordered, quality_margin=-1))
    return SearchResult(
        candidate,
        [r.model.precision[-1] for r in runs],
        [r.model.recall[-1] for r in runs],
        [r.model.auc for r in runs],
        runs[0].baseline.precision[-1],
    )


def search(
    data: ValidatedData,
    candidates: Sequence[Candidate],
    seeds: Sequence[int],
    holdout_days: int = 7,
    k: int = DEFAULTS.k,
    progress: Callable[[str], None] | None = None,
) -> list[SearchResult]:
    """Score every candidate on the last ``holdout_days`` of ``data``, best first.

    Candidates are ranked by mean precision@k (the gate's metric), then mean AUC. ``data``
    must end with the validation period: the search reads nothing after it.
    """
    results = []
    for n, candidate in enumerate(candidates, 1):
        results.append(score_candidate(data, candidate, seeds, holdout_days, k))
        if progress:
            progress(f"search: {n}/{len(candidates)} {candidate.label()}")
    return sorted(results, key=lambda r: (-mean(r.precision), -mean(r.auc)))
