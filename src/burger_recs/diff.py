"""Comparing two recorded runs: code, parameters, data, metrics and published recommendations.

A run is named by its id or by a day (the day's latest published run, else its latest run of
any status). Recommendations are stored per day, not per run (a day holds only its latest
publication), so two runs' recommendations are compared through their days: how similar each
customer's top-k item set is (Jaccard) and whether their first item changed, computed over
whole columns with pandas from the two days' rows alone.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import pandas as pd
import sqlalchemy as sa

from burger_recs.contract import pipeline_runs
from burger_recs.errors import ExpectedFailure
from burger_recs.metrics import churn, published_rows
from burger_recs.runs import RunRecord, RunStatus, find_run

_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


class RunNotFound(ExpectedFailure, LookupError):
    """No recorded run matches a run id or a day; the message names which and where."""


class _Absent:
    """The value of a parameter that one of the runs does not have."""

    def __repr__(self) -> str:
        return "(absent)"


ABSENT = _Absent()
"""Stands for a parameter that a run does not have (distinct from a value of None)."""


@dataclass(frozen=True)
class ResolvedRun:
    """A run named on the command line, and how it was found.

    Attributes:
        ref: the run id or the day as given.
        record: the run's ``pipeline_runs`` row.
        by_day: whether ``ref`` was a day (the day's latest published run, else its latest).
    """

    ref: str
    record: RunRecord
    by_day: bool


@dataclass(frozen=True)
class ParamChange:
    """A parameter whose value differs between the runs, or that one run lacks.

    Attributes:
        name: the parameter.
        a: its value in run A, or :data:`ABSENT`.
        b: its value in run B, or :data:`ABSENT`.
    """

    name: str
    a: object
    b: object


@dataclass(frozen=True)
class MetricChange:
    """One metric of either run, side by side.

    Attributes:
        name: the metric's key in ``pipeline_runs.metrics``.
        a: its value in run A (None when A lacks it).
        b: its value in run B (None when B lacks it).
        change: ``b - a`` when both are numbers, else None.
        relative: ``(b - a) / |a|`` when both are numbers and ``a`` is not zero, else None.
    """

    name: str
    a: object
    b: object
    change: float | None
    relative: float | None


@dataclass(frozen=True)
class RecsMovement:
    """How much the published recommendations moved from one day to another.

    Attributes:
        day_a: run A's day.
        day_b: run B's day.
        customers_a: customers with recommendations on ``day_a``.
        customers_b: customers with recommendations on ``day_b``.
        common: customers with recommendations on both days.
        mean_jaccard: the mean, over the common customers, of the Jaccard similarity of their
            two top-k item sets (None without common customers).
        first_changed: common customers whose first (rank 1) item changed.
        first_changed_share: ``first_changed / common`` (None without common customers).
    """

    day_a: dt.date
    day_b: dt.date
    customers_a: int
    customers_b: int
    common: int
    mean_jaccard: float | None
    first_changed: int
    first_changed_share: float | None

    @property
    def only_a(self) -> int:
        """Customers with recommendations on ``day_a`` only."""
        return self.customers_a - self.common

    @property
    def only_b(self) -> int:
        """Customers with recommendations on ``day_b`` only."""
        return self.customers_b - self.common


@dataclass(frozen=True)
class RunDiff:
    """Two runs compared.

    Attributes:
        a: run A and how it was found.
        b: run B and how it was found.
        params: the parameters that differ, by name.
        metrics: every metric of either run, by name.
        movement: how the recommendations moved between the runs' days, or None (then
            ``movement_note`` says why).
        movement_note: why the recommendations cannot be compared, or None.
    """

    a: ResolvedRun
    b: ResolvedRun
    params: list[ParamChange]
    metrics: list[MetricChange]
    movement: RecsMovement | None
    movement_note: str | None


def _where(engine: sa.Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


def latest_run_of_day(engine: sa.Engine, day: dt.date) -> RunRecord | None:
    """Return the day's latest published run, else its latest run of any status, or None."""
    c = pipeline_runs.c
    published_first = sa.case((c.status == RunStatus.PUBLISHED.value, 0), else_=1)
    query = (
        sa.select(pipeline_runs)
        .where(c.run_date == day)
        .order_by(published_first, c.finished_at.desc(), c.run_id.desc())
        .limit(1)
    )
    with engine.connect() as conn:
        row = conn.execute(query).first()
    return RunRecord.from_row(row) if row is not None else None


def resolve_run(engine: sa.Engine, ref: str) -> ResolvedRun:
    """Return the run that ``ref`` names: a run id, else a day (``YYYY-MM-DD``).

    A day names its latest published run, or its latest run of any status when none was
    published. A recorded run id wins over a day of the same spelling.

    Raises:
        RunNotFound: no run has that id, or no run is recorded for that day.
    """
    record = find_run(engine, ref)
    if record is not None:
        return ResolvedRun(ref, record, by_day=False)
    if _DAY.fullmatch(ref):
        try:
            day = dt.date.fromisoformat(ref)
        except ValueError:
            raise RunNotFound(f"{ref!r} is neither a recorded run id nor a valid day") from None
        record = latest_run_of_day(engine, day)
        if record is None:
            raise RunNotFound(
                f"no run recorded for {day} in {_where(engine)}; {_days_with_runs(engine, day)}"
            )
        return ResolvedRun(ref, record, by_day=True)
    raise RunNotFound(f"no run {ref!r} recorded in {_where(engine)}")


def _days_with_runs(engine: sa.Engine, day: dt.date, shown: int = 3) -> str:
    """Say which days do have a run: all of them when few, else their span and the nearest."""
    query = sa.select(pipeline_runs.c.run_date).distinct().order_by(pipeline_runs.c.run_date)
    with engine.connect() as conn:
        days = list(conn.execute(query).scalars())
    if not days:
        return "no run is recorded there yet"
    if len(days) <= 2 * shown:
        return f"the days with a run: {', '.join(map(str, days))}"
    nearest = sorted(sorted(days, key=lambda d: (abs((d - day).days), d))[:shown])
    return (
        f"the days with a run: {days[0]}..{days[-1]} ({len(days)} days), the nearest "
        f"{', '.join(map(str, nearest))}"
    )


def param_changes(a: dict | None, b: dict | None) -> list[ParamChange]:
    """Return the parameters whose values differ, and those only one run has, by name."""
    a, b = a or {}, b or {}
    return [
        ParamChange(name, a.get(name, ABSENT), b.get(name, ABSENT))
        for name in sorted(a.keys() | b.keys())
        if name not in a or name not in b or a[name] != b[name]
    ]


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def metric_changes(a: dict | None, b: dict | None) -> list[MetricChange]:
    """Return every metric of either run side by side with its change, by name."""
    a, b = a or {}, b or {}
    changes = []
    for name in sorted(a.keys() | b.keys()):
        value_a, value_b = a.get(name), b.get(name)
        x, y = _number(value_a), _number(value_b)
        change = y - x if x is not None and y is not None else None
        relative = change / abs(x) if change is not None and x else None
        changes.append(MetricChange(name, value_a, value_b, change, relative))
    return changes


def compare_days(a: pd.DataFrame, b: pd.DataFrame, day_a: dt.date, day_b: dt.date) -> RecsMovement:
    """Return how the recommendations moved from one day's rows to another's.

    The figures are :func:`burger_recs.metrics.churn`'s, which the publishing steps record
    for each day against the previous published day.

    Args:
        a: day A's rows: customer_id, rank, item_id (a customer's rows are their top-k).
        b: day B's rows, likewise.
        day_a: day A, for the record.
        day_b: day B, for the record.
    """
    moved = churn(a, b)
    return RecsMovement(
        day_a=day_a,
        day_b=day_b,
        customers_a=moved.customers_before,
        customers_b=moved.customers_after,
        common=moved.common,
        mean_jaccard=moved.mean_jaccard,
        first_changed=moved.first_changed,
        first_changed_share=moved.first_changed_share,
    )


def recommendation_movement(
    engine: sa.Engine, day_a: dt.date, day_b: dt.date
) -> tuple[RecsMovement | None, str | None]:
    """Return how the published recommendations moved from ``day_a`` to ``day_b``.

    Reads the two days' rows only.

    Returns:
        The movement, or None and why the days cannot be compared (the same day, whose
        table holds only its latest publication; a day without published recommendations).
    """
    if day_a == day_b:
        return None, (
            f"both runs are for {day_a}, and the recommendations table holds only the day's "
            "latest publication: it cannot compare them"
        )
    with engine.connect() as conn:
        rows_a, rows_b = published_rows(conn, day_a), published_rows(conn, day_b)
    empty = [str(day) for day, rows in ((day_a, rows_a), (day_b, rows_b)) if rows.empty]
    if empty:
        return None, f"no recommendations published for {' and '.join(empty)}"
    return compare_days(rows_a, rows_b, day_a, day_b), None


def diff_runs(engine: sa.Engine, ref_a: str, ref_b: str) -> RunDiff:
    """Compare two recorded runs, each named by its id or by a day (see :func:`resolve_run`).

    Raises:
        RunNotFound: a run is not recorded.
    """
    a, b = resolve_run(engine, ref_a), resolve_run(engine, ref_b)
    movement, note = recommendation_movement(engine, a.record.run_date, b.record.run_date)
    return RunDiff(
        a=a,
        b=b,
        params=param_changes(a.record.params, b.record.params),
        metrics=metric_changes(a.record.metrics, b.record.metrics),
        movement=movement,
        movement_note=note,
    )


def render_diff(diff: RunDiff) -> str:
    """Return the comparison as `burger-recs diff` prints it: aligned columns, plain text."""
    lines: list[str] = []
    a, b = diff.a.record, diff.b.record
    for label, run in (("A", diff.a), ("B", diff.b)):
        chosen = ""
        if run.by_day:
            published = run.record.status is RunStatus.PUBLISHED
            chosen = (
                f"  ({run.ref}: the day's latest published run)"
                if published
                else f"  ({run.ref}: no published run that day, its latest run)"
            )
        lines.append(f"{label}  run {run.record.run_id}{chosen}")

    def side_by_side(title: str, rows: list[tuple[str, object, object]]) -> None:
        cells = [(name, _shown_value(x), _shown_value(y)) for name, x, y in rows]
        name_width = max([len(name) for name, _, _ in cells] + [len(title) - 2, 12]) + 2
        a_width = max([len(x) for _, x, _ in cells] + [1]) + 3
        b_width = max([len(y) for _, _, y in cells] + [1]) + 3
        lines.append(f"\n{title:<{name_width + 2}}{'A':<{a_width}}B")
        for name, x, y in cells:
            mark = f"{'':<{b_width - len(y)}}differs" if x != y else ""
            lines.append(f"  {name:<{name_width}}{x:<{a_width}}{y}{mark}".rstrip())

    side_by_side(
        "code versions",
        [
            ("code version", a.code_version, b.code_version),
            ("model", a.model_version, b.model_version),
        ],
    )
    if diff.params:
        side_by_side("parameters that differ", [(p.name, p.a, p.b) for p in diff.params])
    else:
        count = len((a.params or {}).keys() | (b.params or {}).keys())
        lines.append(f"\nparameters that differ\n  none: all {count} parameters are the same")
    side_by_side(
        "data window and row counts",
        [
            ("run date", a.run_date, b.run_date),
            ("data", a.data_uri, b.data_uri),
            ("rows written", a.rows_written, b.rows_written),
            ("customers", a.customers, b.customers),
            ("status", a.status.value, b.status.value),
            ("message", a.message, b.message),
        ],
    )

    name_width = max([len(m.name) for m in diff.metrics] + [12]) + 2
    lines.append(f"\n{'metrics':<{name_width + 2}}{'A':>12}{'B':>12}{'B - A':>12}{'relative':>10}")
    if not diff.metrics:
        lines.append("  none recorded")
    for m in diff.metrics:
        integral = isinstance(m.a, int) and isinstance(m.b, int)
        change = (
            "-" if m.change is None else f"{m.change:+,.0f}" if integral else f"{m.change:+.4f}"
        )
        relative = "-" if m.relative is None else f"{m.relative:+.1%}"
        lines.append(
            f"  {m.name:<{name_width}}{_shown_metric(m.a):>12}{_shown_metric(m.b):>12}"
            f"{change:>12}{relative:>10}"
        )

    lines.append("\npublished recommendations")
    if diff.movement is None:
        lines.append(f"  {diff.movement_note}")
        return "\n".join(lines)
    moved = diff.movement
    lines.append(f"  {'days':<24}{moved.day_a} (A) -> {moved.day_b} (B)")
    for label, record in (("A", a), ("B", b)):
        if record.status is not RunStatus.PUBLISHED:
            lines.append(
                f"  note: run {label} is {record.status}: {record.run_date} shows the day's latest "
                "publication, not its own"
            )
    lines.append(
        f"  {'customers in both days':<24}{moved.common:,}  ({moved.only_a:,} only on "
        f"{moved.day_a}, {moved.only_b:,} only on {moved.day_b})"
    )
    if moved.mean_jaccard is None or moved.first_changed_share is None:
        lines.append("  no customer has recommendations on both days: nothing to compare")
        return "\n".join(lines)
    lines.append(
        f"  {'mean Jaccard of top-k':<24}{moved.mean_jaccard:.4f}  (1: the same items, "
        "0: none in common)"
    )
    lines.append(
        f"  {'first item changed':<24}{moved.first_changed:,} of {moved.common:,} customers "
        f"({moved.first_changed_share:.1%})"
    )
    return "\n".join(lines)


def _shown_value(value: object) -> str:
    """Return a parameter's or a record field's value as the diff shows it."""
    if value is None:
        return "-"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def _shown_metric(value: object) -> str:
    """Return a metric's value as the diff shows it."""
    if isinstance(value, float):
        return f"{value:.4f}"
    return _shown_value(value)
