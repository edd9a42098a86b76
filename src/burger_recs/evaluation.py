"""An evaluation's outcome: the ranking quality of the model and of the baseline, and the gate.

Written by the evaluate step; read by the report, by publish (the run record) and by the
quality tools.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from burger_recs.version import code_version

CHALLENGER, CHAMPION, POPULARITY = "challenger", "champion", "popularity"
"""The scorers that may serve a day: today's model, the champion, order counts."""

# The names of the run record's evaluation figures (``Evaluation.metrics``): a scorer's
# prefix, a measure and, for a segment of the customers, the segment's name.
MODEL, BASELINE, SERVED = "model", "baseline", "served"
"""The figures' prefixes: today's model, popularity, the scorer that served (and CHAMPION)."""
PRECISION, RECALL, AUC = "precision_at_k", "recall_at_k", "auc"
"""The measures of each scorer's figures."""
K, EVAL_CUSTOMERS, CHALLENGER_VERSION = "k", "eval_customers", "challenger_version"
"""The cut-off, the customers evaluated (``eval_customers_<segment>`` per segment), and
today's model's version (recorded beside the version that served)."""


def figure(prefix: str, measure: str, segment: str = "") -> str:
    """Return an evaluation figure's name, e.g. ``model_precision_at_k_new``."""
    return f"{prefix}_{measure}_{segment}" if segment else f"{prefix}_{measure}"


MODEL_PRECISION = figure(MODEL, PRECISION)
BASELINE_PRECISION = figure(BASELINE, PRECISION)
SERVED_PRECISION = figure(SERVED, PRECISION)


@dataclass(frozen=True)
class RankingScores:
    """Ranking quality of one scorer over the evaluation customers.

    Attributes:
        precision: mean precision@j for j = 1..k (index j-1).
        recall: mean recall@j for j = 1..k.
        auc: mean per-customer ROC AUC over all rankable items.
        customers: how many customers were evaluated.
        segments: the same figures over segments of those customers, by name
            (:data:`~burger_recs.metrics.NEW` and :data:`~burger_recs.metrics.RETURNING`
            customers), computed in the same scoring pass; empty when not split.
    """

    precision: list[float]
    recall: list[float]
    auc: float
    customers: int
    segments: dict[str, RankingScores] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, payload: dict) -> RankingScores:
        """Return the scores from their JSON form (``dataclasses.asdict``)."""
        segments = payload.get("segments") or {}
        return cls(
            **{key: value for key, value in payload.items() if key != "segments"},
            segments={name: cls.from_dict(part) for name, part in segments.items()},
        )


@dataclass
class Evaluation:
    """The outcome of the evaluate step.

    Attributes:
        k: the cut-off of precision@k and recall@k.
        holdout_start: the first held-out day.
        model: the model's scores.
        baseline: the popularity baseline's scores.
        publishable: whether today's model (the challenger) passed the quality gate and
            becomes the champion.
        reason: why (or why not), in words.
        params: the training hyper-parameters and evaluation settings.
        champion: the champion's scores on the same holdout, when there is a champion.
        champion_version: the champion's version ("" when there is none).
        served_by: the scorer that serves the day: :data:`CHALLENGER`, :data:`CHAMPION`,
            :data:`POPULARITY`, or "" when nothing is published (``serve_when_gated`` off).
        serving_reason: why that scorer serves, in words.
    """

    k: int
    holdout_start: dt.date
    model: RankingScores
    baseline: RankingScores
    publishable: bool
    reason: str
    params: dict = field(default_factory=dict)
    champion: RankingScores | None = None
    champion_version: str = ""
    served_by: str = CHALLENGER
    serving_reason: str = ""

    @property
    def serves(self) -> bool:
        """Whether the day's rows are published (by :attr:`served_by`)."""
        return bool(self.served_by)

    def metrics(self) -> dict[str, float]:
        """Return the headline figures, as logged to the KFP Metrics artifact.

        Per scorer (``model``, ``baseline``, ``champion`` when there is one, and ``served``,
        the scorer that serves the day): precision@k and recall@k, and the same for each
        segment of the customers with any (``model_precision_at_k_new``,
        ``baseline_recall_at_k_returning``...); ``eval_customers`` and
        ``eval_customers_<segment>``. A segment without customers has no figures.
        """
        figures: dict[str, float] = {K: self.k, EVAL_CUSTOMERS: self.model.customers}
        figures |= {
            f"{EVAL_CUSTOMERS}_{name}": part.customers for name, part in self.model.segments.items()
        }
        served = {CHALLENGER: self.model, CHAMPION: self.champion, POPULARITY: self.baseline}
        scores = served.get(self.served_by)
        by_scorer = [(MODEL, self.model), (BASELINE, self.baseline)]
        if self.champion is not None:
            by_scorer.append((CHAMPION, self.champion))
        for prefix, ranked in by_scorer:
            figures[figure(prefix, PRECISION)] = round(ranked.precision[-1], 6)
            figures[figure(prefix, RECALL)] = round(ranked.recall[-1], 6)
            figures[figure(prefix, AUC)] = round(ranked.auc, 6)
        if scores is not None:
            figures[SERVED_PRECISION] = round(scores.precision[-1], 6)
            by_scorer.append((SERVED, scores))
        for prefix, ranked in by_scorer:
            for name, part in ranked.segments.items():
                if not part.customers:
                    continue
                figures[figure(prefix, PRECISION, name)] = round(part.precision[-1], 6)
                if prefix != SERVED:
                    figures[figure(prefix, RECALL, name)] = round(part.recall[-1], 6)
        return figures

    def save(self, path: str | Path) -> None:
        """Write the evaluation as JSON."""
        payload = asdict(self)
        payload["holdout_start"] = self.holdout_start.isoformat()
        payload["metrics"] = self.metrics()
        payload["code_version"] = code_version()
        Path(path).write_text(json.dumps(payload, indent=2))

    @classmethod
    def load(cls, path: str | Path) -> Evaluation:
        """Read an evaluation written by :meth:`save`."""
        payload = json.loads(Path(path).read_text())
        payload.pop("metrics")
        payload.pop("code_version", None)
        payload["holdout_start"] = dt.date.fromisoformat(payload["holdout_start"])
        payload["model"] = RankingScores.from_dict(payload["model"])
        payload["baseline"] = RankingScores.from_dict(payload["baseline"])
        if payload.get("champion") is not None:
            payload["champion"] = RankingScores.from_dict(payload["champion"])
        return cls(**payload)
