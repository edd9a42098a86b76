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
   default parameters, from burger_recs.settings), model against popularity.
3. **A hyper-parameter search** on generated burger data (:func:`search`): candidates are
   scored on a validation week; the chosen one is then reported on a later week that the
   search never read (``scripts/search_params.py``).
"""

from burger_recs.quality.protocol import (
    AUC_TOLERANCE,
    IDS,
    IDS_AND_GENRES,
    IDS_AND_INGREDIENTS,
    ITEM_FEATURES,
    POPULARITY,
    PRECISION_TOLERANCE,
    PROTOCOL_K,
    PROTOCOL_LOSSES,
    PROTOCOL_PARAMS,
    RATING_SUMS,
    REFERENCES,
    ProtocolRow,
    Reference,
    mean,
    protocol_data,
    protocol_rows,
    spread,
)
from burger_recs.quality.report import (
    QualityReport,
    movielens_report,
)
from burger_recs.quality.search import (
    Candidate,
    SearchResult,
    grid,
    score_candidate,
    search,
    serving_grid,
    with_item_features,
)
from burger_recs.quality.tables import (
    comparison_table,
    marginal_table,
    markdown_table,
    protocol_table,
    search_table,
    temporal_table,
)
from burger_recs.quality.temporal import (
    TemporalRow,
    load_window,
    run_dates,
    temporal_rows,
)

__all__ = [
    "AUC_TOLERANCE",
    "IDS",
    "IDS_AND_GENRES",
    "IDS_AND_INGREDIENTS",
    "ITEM_FEATURES",
    "POPULARITY",
    "PRECISION_TOLERANCE",
    "PROTOCOL_K",
    "PROTOCOL_LOSSES",
    "PROTOCOL_PARAMS",
    "RATING_SUMS",
    "REFERENCES",
    "Candidate",
    "ProtocolRow",
    "QualityReport",
    "Reference",
    "SearchResult",
    "TemporalRow",
    "comparison_table",
    "grid",
    "load_window",
    "marginal_table",
    "markdown_table",
    "mean",
    "movielens_report",
    "protocol_data",
    "protocol_rows",
    "protocol_table",
    "run_dates",
    "score_candidate",
    "search",
    "search_table",
    "serving_grid",
    "spread",
    "temporal_rows",
    "temporal_table",
    "with_item_features",
]
