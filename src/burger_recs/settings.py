"""Run settings: every default a daily run has, written once.

The pipeline's signature, the CLI, the quality tools and the benchmarks take their defaults
from :class:`RunSettings` (and its :class:`TrainParams`); nobody restates them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

LOSSES = ("warp", "bpr", "logistic", "warp-kos")


@dataclass(frozen=True)
class TrainParams:
    """LightFM hyper-parameters (each one but the alphas is a pipeline parameter).

    Attributes:
        loss: warp (default, optimises the top of the ranking), bpr, logistic or warp-kos.
        epochs: passes over the interactions.
        no_components: latent factors per customer and item.
        learning_rate: the SGD step.
        item_alpha: L2 penalty on item features.
        user_alpha: L2 penalty on customer features.
        seed: random seed; with num_threads=1 training is reproducible bit for bit.
        num_threads: training threads; more is faster but no longer reproducible.
    """

    loss: str = "warp"
    epochs: int = 30
    no_components: int = 32
    learning_rate: float = 0.05
    item_alpha: float = 1e-6
    user_alpha: float = 1e-6
    seed: int = 42
    num_threads: int = 1

    def __post_init__(self) -> None:
        problems = []
        if self.loss not in LOSSES:
            problems.append(f"loss must be one of {', '.join(LOSSES)}, got {self.loss!r}")
        for name in ("epochs", "no_components", "num_threads"):
            if getattr(self, name) < 1:
                problems.append(f"{name} must be at least 1, got {getattr(self, name)}")
        if not self.learning_rate > 0:
            problems.append(f"learning_rate must be positive, got {self.learning_rate}")
        if problems:
            raise ValueError("; ".join(problems))


@dataclass(frozen=True)
class RunSettings:
    """What a daily run does, beyond its day and data: the pipeline's parameters.

    Attributes:
        k: recommendations per customer (and the cut-off of precision@k, recall@k).
        window_days: days of orders the model learns from, the run date included.
        holdout_days: the last days of the window held out for evaluation.
        exclude_ordered: never recommend what the customer ordered in the window.
        quality_margin: publish only if model precision@k >= baseline x (1 + margin);
            negative turns the gate off.
        shards: score and stage the customers in this many parallel shards; 1 scores and
            publishes in one step each.
        train: the training hyper-parameters.
    """

    k: int = 10
    window_days: int = 56
    holdout_days: int = 7
    exclude_ordered: bool = False
    quality_margin: float = 0.1
    shards: int = 1
    train: TrainParams = field(default_factory=TrainParams)


DEFAULTS = RunSettings()
"""The defaults of every run: the pipeline's, the CLI's, the tools' and the benchmarks'."""


def resolve_run_date(run_date: str) -> dt.date:
    """Parse ``YYYY-MM-DD``; an empty string means today (UTC).

    Raises:
        ValueError: the text is not a date.
    """
    if not run_date:
        return dt.datetime.now(dt.UTC).date()
    try:
        return dt.date.fromisoformat(run_date)
    except ValueError:
        raise ValueError(f"run_date {run_date!r} is not a date of the form YYYY-MM-DD") from None
