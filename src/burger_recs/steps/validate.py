"""Validate: check a drop against the data contract before anything is trained.

Row rules are pandera schemas over the text as dropped (so a bad value is reported as written,
never half-converted); rules that span files (unknown ids, missing days, orders dated outside
their folder's day) are checked after them. Every problem is collected, none stops the
checking early, and the run stops only after the whole report is written.

The menu changes: each day's orders are checked against the menu in force on that day, the
newest menu snapshot at or before it. An order of an item that has since left the menu is
valid, and is trained on; the typed menu holds every item in force on some day of the
window, and says which are on the run date's menu (``on_menu``).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from pathlib import Path

import pandas as pd
import pandera.pandas as pa

from burger_recs.contract import (
    DAY_FOLDER_PREFIX,
    DAY_MANIFEST,
    INGREDIENT_SEPARATOR,
    MANIFEST_ORDERS_ROWS,
    MAX_QUANTITY,
    MENU,
    ORDERS,
    DropFile,
    Violation,
)
from burger_recs.day_checks import DayCheck, check_day, enforce
from burger_recs.drop import SOURCE_DAY, SOURCE_FILE, SOURCE_LINE, Drop
from burger_recs.errors import ExpectedFailure
from burger_recs.logs import configure as configure_logging
from burger_recs.settings import DEFAULTS, DayCheckSettings
from burger_recs.validated import ON_MENU, ValidatedData

log = logging.getLogger(__name__)

MAX_EXAMPLES = 3

_ID = pa.Check.str_matches(r"^\S(.*\S)?$", error="must not start or end with whitespace")


def _whole_number(column: str) -> list[pa.Check]:
    def number(s: pd.Series) -> pd.Series:
        return pd.to_numeric(s, errors="coerce")

    return [
        pa.Check.str_matches(r"^\s*-?\d+\s*$", error=f"{column} must be a whole number"),
        pa.Check(lambda s: ~(number(s) < 1), error=f"{column} must be at least 1"),
        pa.Check(
            lambda s: ~(number(s) > MAX_QUANTITY),
            error=f"{column} must be at most {MAX_QUANTITY} (larger looks like a typo)",
        ),
    ]


def _parses(kind: str) -> pa.Check:
    def ok(s: pd.Series) -> pd.Series:
        return pd.to_datetime(s, errors="coerce", utc=True, format="ISO8601").notna()

    return pa.Check(ok, error=f"must be an ISO-8601 {kind}")


ORDERS_SCHEMA = pa.DataFrameSchema(
    {
        "order_id": pa.Column(str, _ID, nullable=False, unique=True),
        "customer_id": pa.Column(str, _ID, nullable=False),
        "item_id": pa.Column(str, _ID, nullable=False),
        "quantity": pa.Column(str, _whole_number("quantity"), nullable=False),
        "ordered_at": pa.Column(str, _parses("timestamp"), nullable=False),
    },
    name="orders",
)
MENU_SCHEMA = pa.DataFrameSchema(
    {
        "item_id": pa.Column(str, _ID, nullable=False, unique=True),
        "name": pa.Column(str, nullable=False),
        "ingredients": pa.Column(
            str,
            pa.Check(
                lambda s: s.str.split(INGREDIENT_SEPARATOR).map(
                    lambda parts: any(p.strip() for p in parts)
                ),
                error=f"must list at least one ingredient ('{INGREDIENT_SEPARATOR}'-separated)",
            ),
            nullable=False,
        ),
        "price": pa.Column(
            str,
            pa.Check(
                lambda s: pd.to_numeric(s, errors="coerce") >= 0,
                error="must be a number, zero or more",
            ),
            nullable=False,
        ),
    },
    name="menu",
)
CUSTOMERS_SCHEMA = pa.DataFrameSchema(
    {
        "customer_id": pa.Column(str, _ID, nullable=False, unique=True),
        "signup_date": pa.Column(str, _parses("date"), nullable=True),
    },
    name="customers",
)

_BUILTIN_RULES = {
    "not_nullable": "must not be empty",
    "field_uniqueness": "must be unique (duplicates found)",
}


class ValidationFailed(ExpectedFailure, ValueError):
    """The drop breaks the data contract; the message lists every problem."""


def check(drop: Drop) -> list[Violation]:
    """Return every way the drop breaks the contract (empty when it is valid)."""
    violations = list(drop.violations)
    frames = [(drop.orders, ORDERS_SCHEMA)]
    frames += [(menu, MENU_SCHEMA) for menu in drop.menus.values() if menu is not None]
    if drop.customers is not None:
        frames.append((drop.customers, CUSTOMERS_SCHEMA))
    for frame, schema in frames:
        violations += _schema_violations(frame, schema)
    violations += _window_violations(drop)
    violations += _reference_violations(drop)
    violations += _export_violations(drop)
    return violations


def _export_violations(drop: Drop) -> list[Violation]:
    """Each day's orders must be as many as its manifest says the export wrote.

    Only for the days with a manifest (:data:`burger_recs.contract.DAY_MANIFEST`) and a
    readable orders file (ingest reported the others).
    """
    violations = []
    for day, expected in sorted(drop.exported.items()):
        folder = f"{_root(drop).rstrip('/')}/{DAY_FOLDER_PREFIX}{day}"
        if any(v.file.startswith(f"{folder}/") for v in drop.violations):
            continue  # its orders file is missing, unreadable or ragged: said already
        rows = drop.orders[drop.orders[SOURCE_DAY] == day]
        if len(rows) != expected:
            held = sorted(set(rows[SOURCE_FILE]))[0] if len(rows) else "its orders file"
            violations.append(
                Violation(
                    f"{folder}/{DAY_MANIFEST}",
                    MANIFEST_ORDERS_ROWS,
                    f"says the export wrote {expected:,} order rows, but {held} holds "
                    f"{len(rows):,} ({len(rows) - expected:+,}): an export cut short or "
                    "written twice",
                )
            )
    return violations


def _schema_violations(frame: pd.DataFrame, schema: pa.DataFrameSchema) -> list[Violation]:
    if frame.empty:
        return []
    try:
        schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as errors:
        cases = errors.failure_cases
    else:
        return []
    cases = cases[cases["index"].notna()].copy()  # whole-frame failures are found by ingest
    cases["rule"] = cases["check"].map(lambda c: _BUILTIN_RULES.get(str(c), str(c)))
    cases[SOURCE_FILE] = frame.loc[cases["index"].astype(int), SOURCE_FILE].to_numpy()
    cases[SOURCE_LINE] = frame.loc[cases["index"].astype(int), SOURCE_LINE].to_numpy()
    cases = cases.drop_duplicates(["column", "rule", "index"])
    return [
        _violation(file, column, rule, group[SOURCE_LINE], group["failure_case"])
        for (file, column, rule), group in cases.groupby([SOURCE_FILE, "column", "rule"], sort=True)
    ]


def _violation(
    file: str, column: str, rule: str, lines: Iterable[int], values: Iterable[object]
) -> Violation:
    pairs = list(zip(lines, values, strict=True))
    examples = tuple(f"line {line}: {_show(value)}" for line, value in pairs[:MAX_EXAMPLES])
    return Violation(file, column, rule, len(pairs), examples)


def _show(value: object) -> str:
    return (
        "(empty)"
        if value is None or (isinstance(value, float) and pd.isna(value))
        else repr(str(value))
    )


def _window_violations(drop: Drop) -> list[Violation]:
    """Missing days, an empty window and orders dated outside their folder's day."""
    violations = []
    where = _root(drop)
    if drop.run_date not in drop.days:
        violations.append(
            Violation(where, "", f"has no drop for the run date {drop.run_date} (date= folder)")
        )
    if drop.days:
        # Days before the first drop of the data root are not missing: the shop had not
        # started yet. Older drops (saved without first_day) start at the first day present.
        first = max(drop.window_start, drop.first_day) if drop.first_day else drop.days[0]
        expected = pd.date_range(first, drop.run_date, freq="D").date
        missing = sorted(set(expected) - set(drop.days) - {drop.run_date})
        if missing:
            violations.append(
                Violation(
                    where,
                    "",
                    "misses days inside the window (no date= folder)",
                    len(missing),
                    tuple(str(d) for d in missing[:MAX_EXAMPLES]),
                )
            )
    orders = drop.orders
    # An empty window is worth its own line only when no orders file was unreadable.
    if orders.empty and not _concerns(drop.violations, ORDERS):
        violations.append(
            Violation(
                where, "orders", f"the window {drop.window_start}..{drop.run_date} holds no orders"
            )
        )
    if not orders.empty:
        stamps = pd.to_datetime(orders["ordered_at"], errors="coerce", utc=True, format="ISO8601")
        outside = stamps.notna() & (stamps.dt.strftime("%Y-%m-%d") != orders[SOURCE_DAY])
        violations += _grouped(
            orders[outside], "ordered_at", "must fall on the day of its date= folder (UTC)"
        )
    return violations


def _reference_violations(drop: Drop) -> list[Violation]:
    """Orders must name items on their day's menu and, when a snapshot exists, known customers."""
    violations = []
    orders = drop.orders
    if not drop.menus:
        if not _concerns(drop.violations, MENU):  # else the newest menu is there, but unreadable
            violations.append(
                Violation(
                    _root(drop),
                    "",
                    f"has no menu.csv or menu.parquet at or before {drop.run_date}",
                )
            )
    elif not orders.empty:
        violations += _item_violations(drop)
    if drop.customers is not None and not orders.empty:
        known = drop.customers["customer_id"]
        unknown = orders[orders["customer_id"].notna() & ~orders["customer_id"].isin(known)]
        source = drop.customers[SOURCE_FILE].iloc[0] if len(drop.customers) else "the snapshot"
        violations += _grouped(unknown, "customer_id", f"must be a customer of {source}")
    return violations


def _item_violations(drop: Drop) -> list[Violation]:
    """Each order must name an item of the menu in force on its day (:meth:`Drop.menu_day`).

    Orders of a day whose menu could not be read are not checked (ingest reported the file).
    """
    violations = []
    orders = drop.orders[drop.orders["item_id"].notna()]
    for day, rows in orders.groupby(SOURCE_DAY, sort=True):
        menu_day = drop.menu_day(dt.date.fromisoformat(str(day)))
        if menu_day is None:
            rule = (
                f"must be an item of the menu in force on {day}, but the first menu snapshot "
                f"is of {min(drop.menus)}"
            )
            violations += _grouped(rows, "item_id", rule)
            continue
        menu = drop.menus[menu_day]
        if menu is None:
            continue
        unknown = rows[~rows["item_id"].isin(menu["item_id"])]
        menu_file = menu[SOURCE_FILE].iloc[0] if len(menu) else f"the menu of {menu_day}"
        violations += _grouped(
            unknown, "item_id", f"must be an item of {menu_file}, the menu in force on {day}"
        )
    return violations


def _root(drop: Drop) -> str:
    return drop.data_uri or "the data root"


def _concerns(violations: Iterable[Violation], kind: DropFile) -> bool:
    """True when one of the violations is about a file of this kind."""
    return any(v.file.rsplit("/", 1)[-1] in kind.file_names() for v in violations)


def _grouped(rows: pd.DataFrame, column: str, rule: str) -> list[Violation]:
    return [
        _violation(str(file), column, rule, group[SOURCE_LINE], group[column])
        for file, group in rows.groupby(SOURCE_FILE, sort=True)
    ]


def typed(drop: Drop) -> ValidatedData:
    """Convert a valid drop into typed frames (call only when :func:`check` found nothing).

    The menu is every item of the menus in force during the window (:attr:`Drop.menus`),
    each with the attributes of the newest snapshot that lists it, the run date's menu first
    (in its order), then the items that left it, the most recently listed first; ``on_menu``
    says which are on the run date's menu.
    """
    orders = drop.orders.drop(columns=[SOURCE_FILE, SOURCE_LINE]).rename(
        columns={SOURCE_DAY: "day"}
    )
    orders["quantity"] = orders["quantity"].astype(int)
    orders["ordered_at"] = pd.to_datetime(orders["ordered_at"], utc=True, format="ISO8601")
    menu = _menu_of_the_window(drop)
    if drop.customers is not None:
        customers = drop.customers.drop(columns=list(_source_columns(drop.customers)))
    else:
        customers = pd.DataFrame({"customer_id": pd.Series(dtype=str), "signup_date": None})
    # Customers seen only in orders (when there is no snapshot) are customers too.
    extra = sorted(set(orders["customer_id"]) - set(customers["customer_id"]))
    if extra:
        customers = pd.concat([customers, pd.DataFrame({"customer_id": extra})], ignore_index=True)
    return ValidatedData(drop.run_date, drop.window_start, orders, menu, customers)


def _menu_of_the_window(drop: Drop) -> pd.DataFrame:
    """Return the union of the window's menus, typed, with ``on_menu`` (see :func:`typed`)."""
    today = drop.menu
    assert today is not None
    newest_first = [drop.menus[day] for day in sorted(drop.menus, reverse=True)]
    frames = [m.drop(columns=list(_source_columns(m))) for m in newest_first if m is not None]
    menu = pd.concat(frames, ignore_index=True).drop_duplicates("item_id").reset_index(drop=True)
    menu["price"] = pd.to_numeric(menu["price"])
    menu[ON_MENU] = menu["item_id"].isin(today["item_id"])
    return menu


def _source_columns(frame: pd.DataFrame) -> Iterable[str]:
    return [c for c in (SOURCE_FILE, SOURCE_LINE, SOURCE_DAY) if c in frame.columns]


def report_markdown(drop: Drop, violations: list[Violation]) -> str:
    """Render the validation report as Markdown: what was read and every problem."""
    lines = [
        f"# Validation report: run date {drop.run_date}",
        "",
        f"- data: `{drop.data_uri}`",
        f"- window: {drop.window_start} .. {drop.run_date} ({len(drop.days)} day folders present)",
        f"- order rows: {len(drop.orders):,}",
        f"- menu items: {'none' if drop.menu is None else f'{len(drop.menu):,}'}"
        f"{_menu_snapshots(drop)}",
        f"- customers in snapshot: "
        f"{'no snapshot' if drop.customers is None else f'{len(drop.customers):,}'}",
        "",
    ]
    if not violations:
        lines.append("**Result: valid.** No problems found.")
        return "\n".join(lines) + "\n"
    lines += [
        f"**Result: {len(violations)} problem(s); nothing was trained or published.**",
        "",
        "| file | column | rule | rows | examples |",
        "|---|---|---|---|---|",
    ]
    for v in violations:
        examples = "<br>".join(e.replace("|", "\\|") for e in v.examples)
        lines.append(f"| {v.file} | {v.column} | {v.rule} | {v.count or ''} | {examples} |")
    return "\n".join(lines) + "\n"


def _menu_snapshots(drop: Drop) -> str:
    """Say which menu snapshots were in force, when there was more than one."""
    if len(drop.menus) < 2:
        return ""
    return f" (menu snapshots in force: {', '.join(map(str, drop.menus))})"


def failure_message(violations: list[Violation], limit: int = 20) -> str:
    """Return the message a failed validation raises: every problem, one per line."""
    head = [f"input data breaks the contract in {len(violations)} way(s):"]
    head += [f"  - {v.describe()}" for v in violations[:limit]]
    if len(violations) > limit:
        head.append(f"  ... and {len(violations) - limit} more (see the validation report)")
    return "\n".join(head)


def day_check_markdown(check: DayCheck) -> str:
    """Render the day check as a section of the validation report."""
    lines = ["", "## The run date against the recent past", "", f"**{check.summary()}**", ""]
    lines += ["| figure | the run date |", "|---|---|"]
    lines += [f"| {name} | {value:g} |" for name, value in check.figures.items()]
    if check.expected_orders is not None:
        lines.append(f"| orders, median of {check.reference} | {check.expected_orders:g} |")
    if check.mix_shift is not None:
        lines.append(f"| item mix shift (L-infinity) | {check.mix_shift:g} |")
    return "\n".join(lines) + "\n"


def run(
    drop_dir: str,
    out_dir: str,
    report_path: str,
    day_check: DayCheckSettings = DEFAULTS.day_check,
    accept_unusual_day: bool = DEFAULTS.accept_unusual_day,
) -> None:
    """Validate entry point of the pipeline step.

    Writes the report to ``report_path`` in every case, the typed data to ``out_dir`` when
    the drop is valid and its day usual enough, and raises :class:`ValidationFailed` when the
    drop breaks the contract, :class:`~burger_recs.day_checks.UnusualDay` when the run date
    is far from the recent past (:func:`~burger_recs.day_checks.check_day`).
    """
    configure_logging("validate")
    drop = Drop.load(drop_dir)
    violations = check(drop)
    report = report_markdown(drop, violations)
    if violations:
        Path(report_path).write_text(report)
        raise ValidationFailed(failure_message(violations))
    data = typed(drop)
    checked = check_day(data.orders, data.run_date, day_check, accept_unusual_day)
    Path(report_path).write_text(report + day_check_markdown(checked))
    log.info("validate: %s", checked.summary())
    enforce(checked)
    data.day_check = checked.to_dict()
    data.save(out_dir)
    log.info("validate: the drop is valid (%d orders)", len(drop.orders))
