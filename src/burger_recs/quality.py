"""Model quality: the pipeline's own train and evaluate code, measured on real and generated data.

Three measurements, all made with :func:`burger_recs.steps.train.fit`,
:func:`burger_recs.steps.evaluate.ranking_scores` / :func:`~burger_recs.steps.evaluate.evaluate`
and the popularity baseline of :class:`burger_recs.scoring.Factors`, never a second model:

1. **The LightFM documentation's protocol** on MovieLens 100k (``ua.base`` -> ``ua.test``, every
   rating positive, 10 components, learning rate 0.05, 10 epochs, no item features), with
   test metrics computed on every item (as in the documentation) and with the training
   interactions excluded (what a recommender serves; the evaluate step's
   ``exclude_ordered``), next to the published figures (:data:`REFERENCES`).
2. **The pipeline's temporal evaluation** on MovieLens imported as daily drops
   (:mod:`burger_recs.movielens`): for several run dates, the window is read with the ingest
   and validate steps' functions and evaluated exactly as a daily run does (the pipeline's
   default parameters, read from the compiled pipeline), model against popularity.
3. **A hyper-parameter search** on generated burger data (:func:`search`): candidates are
   scored on a validation week; the chosen one is then reported on a later week that the
   search never read (``scripts/search_params.py``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from burger_recs import movielens
from burger_recs.evaluation import Evaluation, RankingScores
from burger_recs.model import TrainedModel, interaction_matrix, model_ids, popularity
from burger_recs.scoring import Factors, only_items, served
from burger_recs.settings import DEFAULTS, RunSettings, TrainParams
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
_ISSUE = "issue 8: lightfm 1.17, 5 seeds"
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


# ---------------------------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------------------------
def markdown_table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """Return an aligned Markdown table (numbers right-aligned), readable as plain text."""
    body = [[str(cell) for cell in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in body)) for i, h in enumerate(header)]
    numeric = [all(_is_number(r[i]) for r in body) and bool(body) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        padded = [
            c.rjust(w) if num else c.ljust(w)
            for c, w, num in zip(cells, widths, numeric, strict=True)
        ]
        return "| " + " | ".join(padded) + " |"

    rule = (
        "|"
        + "|".join(
            "-" * (w + 1) + (":" if num else "-") for w, num in zip(widths, numeric, strict=True)
        )
        + "|"
    )
    return "\n".join([line(header), rule, *(line(r) for r in body)])


def _is_number(text: str) -> bool:
    try:
        float(text.split(" ")[0].lstrip("+±"))
    except ValueError:
        return text in ("-", "")
    return True


def _figure(values: Sequence[float], digits: int = 3) -> str:
    if len(values) > 1:
        return f"{mean(values):.{digits}f} ±{spread(values):.{digits}f}"
    return f"{values[0]:.{digits}f}"


def _reference(reference: Reference | None, metric: str) -> str:
    if reference is None:
        return "-"
    value = getattr(reference, metric, None)
    return "-" if value is None else f"{value:.{reference.digits}f}"


def _difference(measured: Sequence[float], reference: float | None) -> str:
    return "-" if reference is None else f"{mean(measured) - reference:+.3f}"


def protocol_table(rows: Sequence[ProtocolRow]) -> str:
    """Return the protocol figures next to the published ones, as a Markdown table."""
    verdict = {True: "yes", False: "NO", None: "-"}
    return markdown_table(
        (
            "scorer",
            "item features",
            "test ranking",
            "p@10 pipeline",
            "p@10 published",
            "diff",
            "AUC pipeline",
            "AUC published",
            "diff",
            "within tolerance",
        ),
        (
            (
                r.scorer,
                r.features,
                "train excluded" if r.exclude_train else "all items",
                _figure(r.precision),
                _reference(r.reference, "precision"),
                _difference(r.precision, getattr(r.reference, "precision", None)),
                _figure(r.auc),
                _reference(r.reference, "auc"),
                _difference(r.auc, getattr(r.reference, "auc", None)),
                verdict[r.within_tolerance()],
            )
            for r in sorted(rows, key=lambda r: (r.exclude_train, r.features != IDS))
        ),
    )


def temporal_table(rows: Sequence[TemporalRow], settings: RunSettings) -> str:
    """Return the temporal evaluation per run date, and the means, as a Markdown table."""
    k = settings.k
    body = []
    for r in rows:
        f, x = r.figures(), r.figures(excluded=True)
        body.append(
            (
                r.run_date.isoformat(),
                f"{r.customers} ({r.new_customers})",
                f"{f['model_precision']:.3f}",
                f"{f['baseline_precision']:.3f}",
                f"{f['model_auc']:.3f}",
                f"{f['baseline_auc']:.3f}",
                f"{f['passed']:.0%}",
                f"{x['model_precision']:.3f}",
                f"{x['baseline_precision']:.3f}",
                *(_pair(r.by_history[kind]) for kind in ("returning", "new")),
            )
        )
    if rows:
        all_f = [r.figures() for r in rows]
        all_x = [r.figures(excluded=True) for r in rows]
        body.append(
            (
                "mean",
                f"{mean([r.customers for r in rows]):.0f} "
                f"({mean([r.new_customers for r in rows]):.0f})",
                *(
                    f"{mean([v[key] for v in all_f]):.3f}"
                    for key in (
                        "model_precision",
                        "baseline_precision",
                        "model_auc",
                        "baseline_auc",
                    )
                ),
                f"{mean([v['passed'] for v in all_f]):.0%}",
                f"{mean([v['model_precision'] for v in all_x]):.3f}",
                f"{mean([v['baseline_precision'] for v in all_x]):.3f}",
                *(
                    _pair(
                        (
                            [mean(r.by_history[kind][0]) for r in rows],
                            mean([r.by_history[kind][1] for r in rows]),
                        )
                    )
                    for kind in ("returning", "new")
                ),
            )
        )
    return markdown_table(
        (
            "run date",
            "customers (new)",
            f"p@{k} model",
            f"p@{k} popularity",
            "AUC model",
            "AUC popularity",
            "gate passed",
            f"p@{k} model, excl.",
            f"p@{k} popularity, excl.",
            f"p@{k} returning: model / pop.",
            f"p@{k} new: model / pop.",
        ),
        body,
    )


def _pair(figures: tuple[list[float], float]) -> str:
    """Return ``model / baseline`` precision (the model's mean over seeds)."""
    return f"{mean(figures[0]):.3f} / {figures[1]:.3f}"


def search_table(ranked: Sequence[tuple[int, SearchResult]], k: int = DEFAULTS.k) -> str:
    """Return (rank, result) pairs of a search as a Markdown table."""
    return markdown_table(
        (
            "rank",
            "loss",
            "epochs",
            "components",
            "learning rate",
            "item features",
            "weights, cold start",
            f"p@{k}",
            f"recall@{k}",
            "AUC",
            f"p@{k} popularity",
        ),
        (
            (
                n,
                r.candidate.params.loss,
                r.candidate.params.epochs,
                r.candidate.params.no_components,
                f"{r.candidate.params.learning_rate:g}",
                r.candidate.item_features,
                r.candidate.serving(),
                _figure(r.precision, 4),
                _figure(r.recall, 3),
                _figure(r.auc, 3),
                f"{r.baseline_precision:.4f}",
            )
            for n, r in ranked
        ),
    )


def marginal_table(results: Sequence[SearchResult], k: int = DEFAULTS.k) -> str:
    """Return, per value of each searched setting, the mean and best p@k of its candidates."""
    settings: dict[str, Callable[[Candidate], object]] = {
        "loss": lambda c: c.params.loss,
        "epochs": lambda c: c.params.epochs,
        "components": lambda c: c.params.no_components,
        "learning rate": lambda c: f"{c.params.learning_rate:g}",
        "item features": lambda c: c.item_features,
        "identity weight": lambda c: f"{c.params.identity_weight:g}",
        "recency half-life": lambda c: f"{c.params.recency_half_life:g}",
        "repeats weigh more": lambda c: c.params.weigh_repeats,
        "cold-start blend": lambda c: f"{c.params.cold_start_blend:g}",
        "popularity half-life": lambda c: f"{c.params.popularity_half_life:g}",
    }
    body = []
    for name, value_of in settings.items():
        groups: dict[object, list[float]] = {}
        for r in results:
            groups.setdefault(value_of(r.candidate), []).append(mean(r.precision))
        if len(groups) < 2:
            continue
        for value, scores in groups.items():
            body.append((name, value, len(scores), f"{mean(scores):.4f}", f"{max(scores):.4f}"))
    return markdown_table(("setting", "value", "candidates", f"mean p@{k}", f"best p@{k}"), body)


def comparison_table(rows: Sequence[tuple[str, str, SearchResult]], k: int = DEFAULTS.k) -> str:
    """Return (holdout, name, result) rows as a Markdown table, with the baseline."""
    return markdown_table(
        (
            "holdout",
            "configuration",
            "settings",
            f"p@{k}",
            f"recall@{k}",
            "AUC",
            f"p@{k} popularity",
            "model / popularity",
        ),
        (
            (
                holdout,
                name,
                r.candidate.label(),
                _figure(r.precision, 4),
                _figure(r.recall, 3),
                _figure(r.auc, 3),
                f"{r.baseline_precision:.4f}",
                f"{mean(r.precision) / r.baseline_precision:.2f}",
            )
            for holdout, name, r in rows
        ),
    )


# ---------------------------------------------------------------------------------------------
# The MovieLens report (`burger-recs quality`, `make quality`)
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class QualityReport:
    """Everything ``burger-recs quality`` measured.

    Attributes:
        protocol: the documentation's protocol, per scorer and test ranking.
        temporal: the pipeline's temporal evaluation, per run date.
        settings: the daily-run settings of the temporal evaluation.
        seeds: the training seeds.
        epochs: the protocol's epochs.
        min_rating: the import's order threshold.
        summary: what the import wrote.
    """

    protocol: list[ProtocolRow]
    temporal: list[TemporalRow]
    settings: RunSettings
    seeds: list[int]
    epochs: int
    min_rating: int
    summary: movielens.ImportSummary

    def render(self) -> str:
        """Return the report as Markdown-flavoured text: two tables and what they mean."""
        p, s = self.settings.train, self.settings
        seeds = f"mean ±sd over {len(self.seeds)} seeds" if len(self.seeds) > 1 else "one seed"
        mismatched = [r for r in self.protocol if r.within_tolerance() is False]
        lines = [
            "## LightFM documentation protocol on MovieLens 100k (ua.base -> ua.test)",
            "",
            f"Pipeline code (train.fit, evaluate.ranking_scores), every rating positive, "
            f"{PROTOCOL_PARAMS.no_components} components, learning rate "
            f"{PROTOCOL_PARAMS.learning_rate:g}, {self.epochs} epochs; {seeds}. Tolerance "
            f"{PRECISION_TOLERANCE} (p@10), {AUC_TOLERANCE} (AUC).",
            "",
            protocol_table(self.protocol),
            "",
            "- `ids`: item identities only, as in the documentation; `ids+genres`: genres as "
            "ingredients, as the pipeline trains on imported MovieLens.",
            "- `popularity`: the pipeline's baseline (order counts); `popularity (rating "
            "sums)`: items ranked by their sum of ratings, the values of LightFM's "
            "fetch_movielens train matrix.",
        ]
        if mismatched:
            lines.append(
                "- outside tolerance: "
                + ", ".join(
                    f"{r.scorer}{'' if r.features == '-' else ' ' + r.features} "
                    f"({'train excluded' if r.exclude_train else 'all items'})"
                    for r in mismatched
                )
                + " (docs/model-quality.md explains the popularity reference)."
            )
        lines += [
            "",
            f"## The pipeline's temporal evaluation on the imported daily drops "
            f"({self.summary.first_date}..{self.summary.last_date})",
            "",
            f"Ratings >= {self.min_rating} as orders ({self.summary.orders:,}). Pipeline "
            f"defaults: {p.loss}, {p.epochs} epochs, {p.no_components} components, learning "
            f"rate {p.learning_rate:g}, identity weight {p.identity_weight:g}, recency "
            f"half-life {p.recency_half_life:g}, cold-start blend {p.cold_start_blend:g} "
            f"(popularity half-life {p.popularity_half_life:g}); window {s.window_days} "
            f"days, holdout "
            f"{s.holdout_days} days, k {s.k}, exclude_ordered {str(s.exclude_ordered).lower()}, "
            f"quality margin {s.quality_margin:g}; {len(self.seeds)} seed(s) per run date.",
            "",
            temporal_table(self.temporal, self.settings),
            "",
            "- customers (new): customers who ordered in the holdout (of them, without an "
            "order in the window before it: served by the cold start).",
            "- gate passed: share of seeds whose model reached the baseline x "
            f"(1 + {s.quality_margin:g}); `excl.`: evaluated with exclude_ordered.",
        ]
        return "\n".join(lines) + "\n"


def movielens_report(
    folder: str | Path,
    settings: RunSettings,
    seeds: Sequence[int] = (0, 1, 2, 3, 4),
    epochs: int = PROTOCOL_PARAMS.epochs,
    run_date_count: int = 6,
    every_days: int = 28,
    min_rating: int = 1,
    work_dir: str | Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> QualityReport:
    """Measure the protocol and the temporal evaluation on MovieLens 100k in ``folder``.

    Args:
        folder: the MovieLens 100k folder.
        settings: the daily-run settings (the pipeline's defaults).
        seeds: training seeds of both measurements.
        epochs: the protocol's epochs (10; fewer for a quick check).
        run_date_count: how many run dates the temporal evaluation covers.
        every_days: days between run dates, counted back from the last day.
        min_rating: the import's order threshold.
        work_dir: where to import the daily drops (default: a temporary folder, removed).
        progress: called with short progress messages.
    """
    import tempfile

    ml = movielens.read_movielens(folder)
    protocol = protocol_rows(ml, seeds, epochs, progress=progress)
    with tempfile.TemporaryDirectory(prefix="movielens-drops-") as tmp:
        root = Path(work_dir) if work_dir else Path(tmp)
        summary = movielens.import_movielens(folder, root, min_rating, force=True)
        dates = run_dates(
            summary.first_date, summary.last_date, run_date_count, every_days, settings.window_days
        )
        temporal = temporal_rows(str(root), dates, settings, seeds, progress)
    return QualityReport(protocol, temporal, settings, list(seeds), epochs, min_rating, summary)
