"""Run settings: every default a daily run has, written once.

The pipeline's signature, the CLI, the quality tools and the benchmarks take their defaults
from :class:`RunSettings` (and its :class:`TrainParams`); nobody restates them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from burger_recs.errors import BadSettings

LOSSES = ("warp", "bpr", "logistic", "warp-kos")


def at_least_one(name: str, value: int) -> str | None:
    """Return the problem with a count that must be at least 1 (None when it is fine)."""
    return f"{name} must be at least 1, got {value}" if value < 1 else None


def holdout_problem(holdout_days: int, window_days: int) -> str | None:
    """Return the problem with a holdout that leaves no day of the window to train on."""
    if 1 <= holdout_days < window_days:
        return None
    return (
        f"holdout_days must be between 1 and window_days - 1 = {window_days - 1}, "
        f"got {holdout_days}"
    )


def require(*problems: str | None) -> None:
    """Raise BadSettings naming every problem found (the Nones are no problem)."""
    found = [problem for problem in problems if problem]
    if found:
        raise BadSettings("; ".join(found))


def _time_of_day(text: str) -> dt.time:
    try:
        parsed = dt.time.fromisoformat(text)
    except ValueError:
        parsed = None
    if parsed is None or len(text) != 5 or parsed.second or parsed.tzinfo:
        raise BadSettings(f"day_closes_at {text!r} is not a time of day of the form HH:MM (UTC)")
    return parsed


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
        identity_weight: an item's own identity's share of its feature row, the ingredients
            sharing the rest equally (0: the identity and each ingredient weigh the same).
        recency_half_life: days after which an order weighs half in training (LightFM
            ``sample_weight``); 0: every order of the window weighs the same.
        weigh_repeats: a customer's repeat orders of an item weigh more in training
            (1 + ln of the number of orders).
        cold_start_blend: how customers without orders in the window are scored: 0 by the
            model's item biases alone, 1 by popularity alone, between by a blend of both.
        popularity_half_life: the cold start's popularity counts an order this many days
            old half (0: plain order counts of the window).
    """

    loss: str = "warp"
    epochs: int = 30
    no_components: int = 32
    learning_rate: float = 0.05
    item_alpha: float = 1e-6
    user_alpha: float = 1e-6
    seed: int = 42
    num_threads: int = 1
    # Chosen by scripts/search_params.py --serving (docs/model-quality.md, section 4).
    identity_weight: float = 0.6
    recency_half_life: float = 14.0
    weigh_repeats: bool = False
    cold_start_blend: float = 1.0
    popularity_half_life: float = 7.0

    def __post_init__(self) -> None:
        problems: list[str | None] = []
        for name in ("identity_weight", "cold_start_blend"):
            if not 0 <= getattr(self, name) <= 1:
                problems.append(f"{name} must be between 0 and 1, got {getattr(self, name)}")
        for name in ("recency_half_life", "popularity_half_life"):
            if getattr(self, name) < 0:
                problems.append(f"{name} must be 0 (off) or more days, got {getattr(self, name)}")
        if self.loss not in LOSSES:
            problems.append(f"loss must be one of {', '.join(LOSSES)}, got {self.loss!r}")
        for name in ("epochs", "no_components", "num_threads"):
            problems.append(at_least_one(name, getattr(self, name)))
        if not self.learning_rate > 0:
            problems.append(f"learning_rate must be positive, got {self.learning_rate}")
        require(*problems)


@dataclass(frozen=True)
class DayCheckSettings:
    """How far the run date may be from the recent past (:mod:`burger_recs.day_checks`).

    Chosen on generated shops: no false alarm over normal days of several seeds, and the
    partial and one-item days caught (docs/reliability.md, ``scripts/day_checks_bench.py``).

    Attributes:
        volume_drop: the day stops when its orders are below this share of the median of
            the trailing days (of its weekday).
        volume_spike: the day warns (and publishes) when its orders are above this many times
            that median.
        mix_shift: the day stops when an item's share of its orders differs from its share of
            the trailing days' by more than this (L-infinity distance of the shares).
        history_days: trailing days held against (at most).
        min_history: fewer trailing days than this: the day is not judged.
    """

    volume_drop: float = 0.4
    volume_spike: float = 2.0
    mix_shift: float = 0.35
    history_days: int = 28
    min_history: int = 14

    def __post_init__(self) -> None:
        """Refuse thresholds no check could use.

        Raises:
            BadSettings: naming every one that is wrong.
        """
        problems = []
        if not 0 <= self.volume_drop < 1:
            problems.append(f"volume_drop must be at least 0 and below 1, got {self.volume_drop}")
        if not self.volume_spike > 1:
            problems.append(f"volume_spike must be above 1, got {self.volume_spike}")
        if not 0 < self.mix_shift <= 1:
            problems.append(f"mix_shift must be above 0 and at most 1, got {self.mix_shift}")
        require(
            *problems,
            at_least_one("history_days", self.history_days),
            at_least_one("min_history", self.min_history),
        )


@dataclass(frozen=True)
class RunSettings:
    """What a daily run does, beyond its day and data: the pipeline's parameters.

    Attributes:
        k: recommendations per customer (and the cut-off of precision@k, recall@k).
        window_days: days of orders the model learns from, the run date included.
        holdout_days: the last days of the window held out for evaluation.
        exclude_ordered: never recommend what the customer ordered in the window.
        quality_margin: today's model becomes the champion and serves only if its
            precision@k >= baseline x (1 + margin) and >= champion x (1 - margin); negative
            turns the gate off.
        serve_when_gated: when today's model does not pass, serve the day by the champion
            or popularity (whichever did better on the holdout); off keeps the published days
            as they were (nothing is published for the day).
        shards: score and stage the customers in this many parallel shards; 1 scores and
            publishes in one step each.
        day_closes_at: HH:MM (UTC) at which a day closes (00:00: at midnight), for runs
            without a run date: they process the last day closed by their schedule time
            (:func:`resolve_run_date`).
        train: the training hyper-parameters.
        day_check: how far the run date may be from the recent past.
        accept_unusual_day: a day the checks find unusual goes on (a known promotion or
            closure), and its record says it was accepted.
        gated_days_to_alert: the final task alerts when no model has been promoted for this
            many run days in a row (0: never); a gated day alone was served as designed.
    """

    k: int = 10
    window_days: int = 56
    holdout_days: int = 7
    exclude_ordered: bool = False
    quality_margin: float = 0.1
    serve_when_gated: bool = True
    shards: int = 1
    day_closes_at: str = "00:00"
    train: TrainParams = field(default_factory=TrainParams)
    day_check: DayCheckSettings = field(default_factory=DayCheckSettings)
    accept_unusual_day: bool = False
    gated_days_to_alert: int = 3

    def __post_init__(self) -> None:
        """Refuse settings no run could use, with the messages the steps give for them.

        Raises:
            BadSettings: naming every field that is wrong (the training parameters check
                their own, :class:`TrainParams`).
        """
        closes = None
        try:
            _time_of_day(self.day_closes_at)
        except BadSettings as exc:
            closes = str(exc)
        require(
            at_least_one("k", self.k),
            at_least_one("window_days", self.window_days),
            holdout_problem(self.holdout_days, self.window_days),
            at_least_one("shards", self.shards),
            closes,
        )


DEFAULTS = RunSettings()
"""The defaults of every run: the pipeline's, the CLI's, the tools' and the benchmarks'."""


def today() -> dt.date:
    """Return today's date in UTC (never the machine's local day)."""
    return dt.datetime.now(dt.UTC).date()


def resolve_run_date(
    run_date: str, scheduled_at: str = "", day_closes_at: str | None = None
) -> dt.date:
    """Return the day a run is for.

    ``run_date`` (``YYYY-MM-DD``) when given. Otherwise the last day that had closed by
    ``scheduled_at``, the run's schedule time as KFP fills in
    ``{{$.pipeline_job_schedule_time_utc}}`` (ISO-8601), else by now (UTC). A day closes at
    ``day_closes_at`` (``HH:MM`` UTC) on that day, ``00:00`` meaning its midnight: with
    ``00:00`` a run at 00:10, 02:00 or 06:00 processes the day before, and so does one at
    23:30 (that day has not closed yet); with ``23:30`` a run at 23:30 processes that day.

    On a cluster a recurring run's every run gets its own cron tick as its schedule time, also
    when it starts late or is caught up after a pause; a run started by hand gets its create
    time (docs/kfp-behaviours.md). So any cron time works: a run processes the day its tick
    closed.

    Raises:
        BadSettings: a text is not of its form.
    """
    if run_date:
        try:
            return dt.date.fromisoformat(run_date)
        except ValueError:
            raise BadSettings(
                f"run_date {run_date!r} is not a date of the form YYYY-MM-DD"
            ) from None
    closes = _time_of_day(DEFAULTS.day_closes_at if day_closes_at is None else day_closes_at)
    when = _timestamp(scheduled_at) or dt.datetime.now(dt.UTC)
    # Day D closes at D + closes (00:00: at D + 24 h); the last closed day is the latest D
    # whose close is at or before ``when``.
    close = dt.timedelta(hours=closes.hour, minutes=closes.minute) or dt.timedelta(days=1)
    return (when.astimezone(dt.UTC) - close).date()


def _timestamp(text: str) -> dt.datetime | None:
    """Return an ISO-8601 time (naive means UTC), or None for an unresolved placeholder.

    kfp.local leaves KFP's placeholders as they are (``{{$...}}``), so a local run falls back
    to now, as a manual run on a cluster does (the driver gives its create time).
    """
    if not text or text.startswith("{{"):
        return None
    try:
        when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise BadSettings(f"scheduled_at {text!r} is not an ISO-8601 time") from None
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)
