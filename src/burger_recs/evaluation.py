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


@dataclass(frozen=True)
class RankingScores:
    """Ranking quality of one scorer over the evaluation customers.

    Attributes:
        precision: mean precision@j for j = 1..k (index j-1).
        recall: mean recall@j for j = 1..k.
        auc: mean per-customer ROC AUC over all rankable items.
        customers: how many customers were evaluated.
    """

    precision: list[float]
    recall: list[float]
    auc: float
    customers: int


@dataclass
class Evaluation:
    """The outcome of the evaluate step.

    Attributes:
        k: the cut-off of precision@k and recall@k.
        holdout_start: the first held-out day.
        model: the model's scores.
        baseline: the popularity baseline's scores.
        publishable: whether the quality gate lets the day be published.
        reason: why (or why not), in words.
        params: the training hyper-parameters and evaluation settings.
    """

    k: int
    holdout_start: dt.date
    model: RankingScores
    baseline: RankingScores
    publishable: bool
    reason: str
    params: dict = field(default_factory=dict)

    def metrics(self) -> dict[str, float]:
        """Return the headline figures, as logged to the KFP Metrics artifact."""
        return {
            "model_precision_at_k": round(self.model.precision[-1], 6),
            "baseline_precision_at_k": round(self.baseline.precision[-1], 6),
            "model_recall_at_k": round(self.model.recall[-1], 6),
            "baseline_recall_at_k": round(self.baseline.recall[-1], 6),
            "model_auc": round(self.model.auc, 6),
            "baseline_auc": round(self.baseline.auc, 6),
            "k": self.k,
            "eval_customers": self.model.customers,
        }

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
        payload["model"] = RankingScores(**payload["model"])
        payload["baseline"] = RankingScores(**payload["baseline"])
        return cls(**payload)
