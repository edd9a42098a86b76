"""The run date's figures against the recent past, for a day that is not a normal day.

Such a day passes every row rule of the data contract: an export cut short, a join gone
wrong upstream. Validate reads the whole window, so the figures come from its own input,
never from earlier runs' records: nothing that the cache key does not see decides the
verdict. For each day of the window: orders, customers, customers new to the window, items
ordered and the mean quantity. The run date is then held against the trailing days:

- **volume**: its orders against the median of the same weekday in the trailing days (the
  shop's weekly rhythm), or of every trailing day while there are fewer than
  :data:`MIN_SAME_WEEKDAY` of that weekday. Below ``volume_drop`` times that median the day
  stops; above ``volume_spike`` times it (a promotion, a holiday rush) it only warns. Either
  only when chance would not explain it (:data:`CHANCE`): a small shop's day swings widely.
- **item mix**: the largest difference between an item's share of today's orders and its
  share of the trailing days' orders (the L-infinity distance TFX's ExampleValidator uses for
  categorical features). Above ``mix_shift`` the day stops, when chance would not explain
  it either (a binomial tail below :data:`CHANCE` for the item that moved most).

A day with fewer than ``min_history`` trailing days is not judged, and says so; a day a
person knows to be unusual is accepted by the run's ``accept_unusual_day``, and its record
says so.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field

import pandas as pd
from scipy.stats import binom, poisson

from burger_recs.errors import ExpectedFailure
from burger_recs.settings import DEFAULTS, DayCheckSettings

CHANCE = 1e-4
"""A day's orders or its mix are unusual only if a count this far from the expected one would
come by chance less often than this (Poisson at the median's rate for the orders, binomial
at the trailing share for an item), whatever the ratio or the shift."""

MIN_SAME_WEEKDAY = 2
"""Trailing days of the run date's weekday needed to compare with them alone."""

NORMAL, WARNED, STOPPED, ACCEPTED, NOT_JUDGED = (
    "normal",
    "warned",
    "stopped",
    "accepted",
    "not judged",
)
"""The verdicts, as the record's ``day_check`` says them."""

DAY_CHECK = "day_check"
"""The metrics key of the verdict; the figures are ``day_<name>``."""
DAY_ORDERS, DAY_ORDERS_EXPECTED = "day_orders", "day_orders_expected"
"""The metrics keys of the run date's orders and of the median they were held against."""
DAY_ORDERS_FLOOR, DAY_ORDERS_CEILING = "day_orders_floor", "day_orders_ceiling"
"""The metrics keys of the band the orders were held to: below the floor the day stops (when
chance would not explain it), above the ceiling it warns."""

_WEEKDAYS = ("Mondays", "Tuesdays", "Wednesdays", "Thursdays", "Fridays", "Saturdays", "Sundays")


class UnusualDay(ExpectedFailure):
    """The run date's orders are far from the recent past's: the day stops before training."""


def day_figures(orders: pd.DataFrame) -> pd.DataFrame:
    """Return each day's figures, one row per day (index: the day), oldest first.

    Args:
        orders: the validated orders (``burger_recs.validated.ValidatedData.orders``):
            customer_id, item_id, quantity and ``day``.

    Returns:
        orders, customers, new_customers (no order earlier in the window), items (distinct
        items ordered) and quantity_mean.
    """
    days = pd.to_datetime(orders["day"]).dt.date
    frame = orders.assign(day=days)
    first_seen = frame.groupby("customer_id")["day"].min()
    new = frame["day"].to_numpy() == frame["customer_id"].map(first_seen).to_numpy()
    grouped = frame.assign(new=new).groupby("day")
    figures = pd.DataFrame(
        {
            "orders": grouped.size(),
            "customers": grouped["customer_id"].nunique(),
            "new_customers": frame[new].groupby("day")["customer_id"].nunique(),
            "items": grouped["item_id"].nunique(),
            "quantity_mean": grouped["quantity"].mean().round(4),
        }
    )
    return figures.fillna(0).sort_index()


def mix_shift(orders: pd.DataFrame, day: dt.date, trailing: list[dt.date]) -> tuple[float, float]:
    """Return how far ``day``'s item mix is from the trailing days', and by what chance.

    Returns:
        The L-infinity distance between the item shares, and the chance of a count as far
        from the trailing share for the item that moved most (binomial, with today's orders):
        a small day's shares swing widely by chance alone.
    """
    days = pd.to_datetime(orders["day"]).dt.date
    today = orders.loc[days == day, "item_id"].value_counts()
    before = orders.loc[days.isin(trailing), "item_id"].value_counts(normalize=True)
    n = int(today.sum())
    if not n:
        return 0.0, 1.0
    shares = pd.concat([today / n, before], axis=1, keys=["today", "before"]).fillna(0.0)
    moved = (shares["today"] - shares["before"]).abs()
    item = moved.idxmax()
    count = int(today.get(item, 0))
    share = float(shares["before"].to_dict()[item])
    chance = binom.sf(count - 1, n, share) if count / n > share else binom.cdf(count, n, share)
    return round(float(moved.max()), 4), float(chance)


@dataclass
class DayCheck:
    """The run date's figures, what they were held against, and the verdict.

    Attributes:
        day: the run date.
        figures: its figures (:func:`day_figures`).
        expected_orders: the median the orders were held against (None: not judged).
        reference: what that median is of, in words ("the last 3 Saturdays").
        floor: the orders below which the day stops (when chance would not explain it).
        ceiling: the orders above which the day warns.
        mix_shift: the item mix's distance to the trailing days' (None: not judged).
        verdict: normal, warned, stopped, accepted or not judged.
        findings: what is unusual, in numbers, one line each.
    """

    day: dt.date
    figures: dict[str, float]
    expected_orders: float | None = None
    reference: str = ""
    floor: float | None = None
    ceiling: float | None = None
    mix_shift: float | None = None
    verdict: str = NORMAL
    findings: list[str] = field(default_factory=list)

    def metrics(self) -> dict[str, float | str]:
        """Return what the run's record keeps: ``day_<figure>`` and the verdict."""
        found: dict[str, float | str] = {f"day_{k}": v for k, v in self.figures.items()}
        if self.expected_orders is not None:
            found[DAY_ORDERS_EXPECTED] = self.expected_orders
        if self.floor is not None and self.ceiling is not None:
            found[DAY_ORDERS_FLOOR], found[DAY_ORDERS_CEILING] = self.floor, self.ceiling
        if self.mix_shift is not None:
            found["day_mix_shift"] = self.mix_shift
        found[DAY_CHECK] = self.verdict
        return found

    def summary(self) -> str:
        """Return the verdict in words, for the record's message and the report."""
        if self.verdict == NORMAL:
            return f"day check: normal ({self.describe_orders()})"
        if self.verdict == NOT_JUDGED:
            return f"day check: not judged ({self.reference})"
        said = "; ".join(self.findings)
        if self.verdict == ACCEPTED:
            return f"day check: unusual, accepted by accept_unusual_day: {said}"
        if self.verdict == WARNED:
            return f"day check: warning: {said}"
        return f"the day looks unusual: {said}"

    def describe_orders(self) -> str:
        """Return today's orders against their median, in numbers."""
        orders = int(self.figures["orders"])
        if not self.expected_orders:
            return f"orders: {orders:,}"
        change = orders / self.expected_orders - 1
        return (
            f"orders: {orders:,}, {self.reference}' median is {self.expected_orders:,.0f} "
            f"({change:+.0%})"
        )

    def to_dict(self) -> dict:
        """Return the check as JSON-ready values (the validated data's ``meta.json``)."""
        return asdict(self) | {"day": self.day.isoformat()}

    @classmethod
    def from_dict(cls, payload: dict) -> DayCheck:
        """Return a check from :meth:`to_dict`'s form."""
        return cls(**(payload | {"day": dt.date.fromisoformat(payload["day"])}))


def check_day(
    orders: pd.DataFrame,
    day: dt.date,
    settings: DayCheckSettings = DEFAULTS.day_check,
    accept: bool = False,
) -> DayCheck:
    """Hold ``day``'s figures against the trailing days of ``orders``' window.

    Args:
        orders: the validated orders of the window (``day`` column), the run date included.
        day: the run date.
        settings: the thresholds.
        accept: the run accepts an unusual day (``accept_unusual_day``): it goes on, and the
            verdict says ``accepted``.

    Returns:
        The check; :func:`enforce` stops the run on a ``stopped`` verdict.
    """
    figures = day_figures(orders)
    today: dict[str, float] = {str(name): 0.0 for name in figures.columns}
    if day in figures.index:
        today = {str(name): float(value) for name, value in figures.loc[day].to_dict().items()}
    trailing = [d for d in figures.index if d < day][-settings.history_days :]
    check = DayCheck(day, today)
    if len(trailing) < settings.min_history:
        check.verdict = NOT_JUDGED
        check.reference = (
            f"{len(trailing)} earlier day(s) in the window, {settings.min_history} needed"
        )
        return check
    same = [d for d in trailing if d.weekday() == day.weekday()]
    basis = same if len(same) >= MIN_SAME_WEEKDAY else trailing
    check.reference = (
        f"the last {len(basis)} {_WEEKDAYS[day.weekday()]}"
        if basis is same
        else f"the last {len(basis)} days"
    )
    check.expected_orders = float(figures["orders"].loc[basis].median())
    check.floor = round(check.expected_orders * settings.volume_drop, 2)
    check.ceiling = round(check.expected_orders * settings.volume_spike, 2)
    check.mix_shift, mix_chance = mix_shift(orders, day, trailing)
    stops, warns = [], []
    count, expected = today["orders"], check.expected_orders
    ratio = count / expected if expected else 1.0
    # Far from the median, and not by chance: a shop's orders are counts, and a small day's
    # count swings widely (the chance of a count this low, or high, at the median's rate).
    if ratio < settings.volume_drop and poisson.cdf(count, expected) < CHANCE:
        stops.append(check.describe_orders() + f", below {settings.volume_drop:.0%} of it")
    elif ratio > settings.volume_spike and poisson.sf(count - 1, expected) < CHANCE:
        warns.append(check.describe_orders() + f", above {settings.volume_spike:g}x it")
    if check.mix_shift > settings.mix_shift and mix_chance < CHANCE:
        stops.append(
            f"item mix: an item's share of the orders moved by {check.mix_shift:.2f} from "
            f"the last {len(trailing)} days' (at most {settings.mix_shift:.2f}); "
            f"{_top_item(orders, day)}"
        )
    check.findings = stops + warns
    if stops:
        check.verdict = ACCEPTED if accept else STOPPED
    elif warns:
        check.verdict = ACCEPTED if accept else WARNED
    return check


def _top_item(orders: pd.DataFrame, day: dt.date) -> str:
    """Say which item today's orders favour most, and by how much."""
    days = pd.to_datetime(orders["day"]).dt.date
    shares = orders.loc[days == day, "item_id"].value_counts(normalize=True)
    if shares.empty:
        return "no orders today"
    return f"{shares.index[0]} is {shares.iloc[0]:.0%} of today's orders"


def enforce(check: DayCheck) -> None:
    """Stop the run on a ``stopped`` verdict.

    Raises:
        UnusualDay: naming every finding in numbers, and how to accept a known unusual day.
    """
    if check.verdict == STOPPED:
        raise UnusualDay(
            f"{check.summary()} ({check.day}); nothing was trained or published. A day known "
            "to be unusual runs with --param accept_unusual_day=true"
        )
