"""The menu changes: orders against the menu of their day, the model's items, today's menu.

Shops take items off the menu and put new ones on. Each day's orders are checked against the
menu in force on that day, the newest menu snapshot at or before it (burger_recs.drop,
steps/ingest.py, steps/validate.py); orders of an item that has left the menu since stay
valid and still teach the model (burger_recs.model.model_ids); only items on the run date's
menu are marked to be recommended (ValidatedData.on_menu). These tests go through the ingest
and validate steps over the valid base drop of tests/support/drops.py: days 03-01..03-04,
items B1..B5 on the menu of 03-01, run date 03-04, a 4-day window.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from burger_recs import model as model_lib
from burger_recs.contract import Violation
from burger_recs.drop import Drop
from burger_recs.steps import ingest, validate
from burger_recs.validated import ValidatedData
from tests.support.drops import (
    FIRST_DAY,
    MENU_CSV,
    ORDERS,
    RUN_DATE,
    WINDOW_DAYS,
    write_base,
)

MENU_HEADER, *MENU_ROWS = MENU_CSV.splitlines()
ROW = {line.split(",")[0]: line for line in MENU_ROWS}  # item id -> its line of the base menu


@pytest.fixture
def base(tmp_path: Path) -> Path:
    return write_base(tmp_path / "data")


def write_menu(root: Path, day: str, *items: str, extra: tuple[str, ...] = ()) -> Path:
    """Write a menu snapshot on ``day``: base rows of ``items``, then the ``extra`` lines."""
    path = root / f"date={day}" / "menu.csv"
    path.write_text("\n".join([MENU_HEADER, *(ROW[i] for i in items), *extra]) + "\n")
    return path


def add_order(root: Path, day: str, customer: str, item: str) -> int:
    """Append an order on ``day`` and return its line in the file."""
    path = root / f"date={day}" / "orders.csv"
    lines = path.read_text().splitlines()
    lines.append(f"O-{day[5:7]}{day[8:10]}-9,{customer},{item},1,{day}T22:00:00Z")
    path.write_text("\n".join(lines) + "\n")
    return len(lines)


def check(
    root: Path, run_date: dt.date = RUN_DATE, window_days: int = WINDOW_DAYS
) -> tuple[Drop, list[Violation]]:
    drop = ingest.ingest(str(root), run_date, window_days)
    return drop, validate.check(drop)


def valid(
    root: Path, run_date: dt.date = RUN_DATE, window_days: int = WINDOW_DAYS
) -> ValidatedData:
    drop, violations = check(root, run_date, window_days)
    assert violations == [], validate.failure_message(violations)
    return validate.typed(drop)


def menu_of(data: ValidatedData) -> dict[str, bool]:
    """Item id -> on the run date's menu."""
    return dict(zip(data.menu["item_id"], data.menu["on_menu"], strict=True))


def ordered(data: ValidatedData, item: str) -> int:
    """How many customers the model learns ordered ``item`` (its interaction column)."""
    customers, items = model_lib.model_ids(data)
    matrix = model_lib.interaction_matrix(data.orders, customers, items)
    assert item in items
    return int(matrix[:, int(np.searchsorted(items, item))].sum())


# ---------------------------------------------------------------------------------------------
# An item that left the menu
# ---------------------------------------------------------------------------------------------
def test_an_item_that_left_today_keeps_its_orders_and_is_not_on_the_menu(base: Path) -> None:
    # B3 (ordered on 03-01 and 03-03) is off the menu of the run date.
    write_menu(base, "2026-03-04", "B1", "B2", "B4", "B5")
    data = valid(base)
    assert menu_of(data) == {"B1": True, "B2": True, "B4": True, "B5": True, "B3": False}
    assert (data.orders["item_id"] == "B3").sum() == 2  # its orders are kept...
    assert ordered(data, "B3") == 2  # ...and teach the model
    _, items = model_lib.model_ids(data)
    assert items.tolist() == ["B1", "B2", "B3", "B4", "B5"]
    assert data.on_menu(items).tolist() == [True, True, False, True, True]
    features, _ = model_lib.item_feature_matrix(data.menu, items)  # by its ingredients too
    assert features.shape[0] == len(items)


def test_an_item_that_left_stays_valid_for_the_whole_window(base: Path) -> None:
    # Off the menu since 03-02: the run of every later day keeps B3's order of 03-01.
    write_menu(base, "2026-03-02", "B1", "B2", "B4", "B5")
    (base / "date=2026-03-03" / "orders.csv").write_text(
        (base / "date=2026-03-03" / "orders.csv").read_text().replace(",B3,", ",B1,")
    )
    for run_date in (dt.date(2026, 3, 2), dt.date(2026, 3, 3), RUN_DATE):
        data = valid(base, run_date)
        assert menu_of(data)["B3"] is False, run_date
        assert ordered(data, "B3") == 1, run_date


def test_an_order_of_an_item_after_it_left_names_file_line_item_and_day(base: Path) -> None:
    write_menu(base, "2026-03-03", "B1", "B2", "B4", "B5")  # B3 leaves on 03-03...
    _, violations = check(base)  # ...but is ordered on 03-03 (line 4)
    assert [v.describe() for v in violations] == [
        f"{base}/date=2026-03-03/orders.csv [item_id]: must be an item of "
        f"{base}/date=2026-03-03/menu.csv, the menu in force on 2026-03-03 (1 rows); "
        "e.g. line 4: 'B3'"
    ]


def test_an_item_that_left_before_the_window_is_not_in_the_model(base: Path) -> None:
    write_menu(base, "2026-03-02", "B1", "B2", "B4", "B5")
    data = valid(base, RUN_DATE, window_days=1)  # the window is 03-04: 03-02's menu is in force
    assert set(data.menu["item_id"]) == {"B1", "B2", "B4", "B5"}
    assert data.menu["on_menu"].all()


# ---------------------------------------------------------------------------------------------
# An item that left and came back
# ---------------------------------------------------------------------------------------------
def test_an_item_that_left_and_came_back_is_on_the_menu_with_its_new_attributes(
    base: Path,
) -> None:
    write_menu(base, "2026-03-02", "B1", "B2", "B4", "B5")  # B3 leaves on 03-02
    back = "B3,Hot Chick,chicken;jalapeño;sriracha mayo;lime,10.50"
    write_menu(base, "2026-03-03", "B1", "B2", "B4", "B5", extra=(back,))  # and is back 03-03
    data = valid(base)  # its orders of 03-01 and 03-03 are both valid
    assert menu_of(data)["B3"] is True
    b3 = data.menu.set_index("item_id").loc["B3"]
    assert (b3["price"], b3["ingredients"]) == (10.5, "chicken;jalapeño;sriracha mayo;lime")
    assert ordered(data, "B3") == 2
    # Ordered while it was away: a violation on that day alone.
    line = add_order(base, "2026-03-02", "C6", "B3")
    _, violations = check(base)
    assert [(Path(v.file).parent.name, v.column, v.examples) for v in violations] == [
        ("date=2026-03-02", "item_id", (f"line {line}: 'B3'",))
    ]
    assert violations[0].rule.endswith("date=2026-03-02/menu.csv, the menu in force on 2026-03-02")


# ---------------------------------------------------------------------------------------------
# An item new today
# ---------------------------------------------------------------------------------------------
def test_an_item_new_today_is_on_the_menu_and_in_the_model_without_orders(base: Path) -> None:
    new = "B6,Smash,beef patty;cheddar;pickles,11.00"
    write_menu(base, "2026-03-04", *ROW, extra=(new,))
    data = valid(base)
    assert menu_of(data)["B6"] is True
    assert data.menu["on_menu"].all()
    assert ordered(data, "B6") == 0
    _, items = model_lib.model_ids(data)
    assert items[-1] == "B6" and data.on_menu(items).all()
    # Its ingredients are shared with items that were ordered: it can be scored.
    _, names = model_lib.item_feature_matrix(data.menu, items)
    assert "ingredient:pickles" in names
    # Ordered the day before its menu: not an item of that day's menu.
    add_order(base, "2026-03-03", "C4", "B6")
    _, violations = check(base)
    assert [(Path(v.file).parent.name, v.rule) for v in violations] == [
        (
            "date=2026-03-03",
            f"must be an item of {base}/date={FIRST_DAY}/menu.csv, the menu in force on 2026-03-03",
        )
    ]


# ---------------------------------------------------------------------------------------------
# The menus of a window
# ---------------------------------------------------------------------------------------------
def test_every_menu_in_force_is_validated_and_named_where_it_is_broken(base: Path) -> None:
    write_menu(base, "2026-03-03", *ROW)
    menu = base / f"date={FIRST_DAY}" / "menu.csv"  # in force on 03-01 and 03-02
    menu.write_text(menu.read_text().replace(",9.50", ",cheap"))
    _, violations = check(base)
    assert [(Path(v.file).parent.name, v.column, v.examples) for v in violations] == [
        (f"date={FIRST_DAY}", "price", ("line 4: 'cheap'",))
    ]
    # Out of the window's menus (03-03's is in force on its first day), it is not read.
    assert check(base, window_days=2)[1] == []


def test_orders_before_the_first_menu_have_no_menu_in_force(base: Path) -> None:
    first = base / f"date={FIRST_DAY}" / "menu.csv"
    first.rename(base / "date=2026-03-02" / "menu.csv")
    _, violations = check(base)
    (violation,) = violations
    assert Path(violation.file).parent.name == f"date={FIRST_DAY}"
    assert violation.rule == (
        f"must be an item of the menu in force on {FIRST_DAY}, but the first menu snapshot "
        "is of 2026-03-02"
    )
    assert violation.count == len(ORDERS[FIRST_DAY])


def test_an_unreadable_menu_is_reported_once_and_its_days_are_not_checked(base: Path) -> None:
    broken = write_menu(base, "2026-03-02", "B1", "B2")
    broken.write_bytes(broken.read_text().replace("Classic", "Clássico").encode("latin-1"))
    add_order(base, FIRST_DAY, "C6", "B9")  # 03-01's menu is read: B9 is unknown there
    drop, violations = check(base)
    assert drop.menus[dt.date(2026, 3, 2)] is None and drop.menu is None
    assert sorted((Path(v.file).parts[-2:], v.column) for v in violations) == [
        (("date=2026-03-01", "orders.csv"), "item_id"),
        (("date=2026-03-02", "menu.csv"), ""),
    ]


def test_the_report_names_the_menus_in_force(base: Path, tmp_path: Path) -> None:
    write_menu(base, "2026-03-04", "B1", "B2", "B4", "B5")
    ingest.run(str(base), RUN_DATE.isoformat(), WINDOW_DAYS, str(tmp_path / "drop"))
    out, report = tmp_path / "validated", tmp_path / "report.md"
    validate.run(str(tmp_path / "drop"), str(out), str(report))
    assert "- menu items: 4 (menu snapshots in force: 2026-03-01, 2026-03-04)" in report.read_text()
    loaded = ValidatedData.load(out)
    assert menu_of(loaded) == {"B1": True, "B2": True, "B4": True, "B5": True, "B3": False}
    assert loaded.menu["on_menu"].dtype == bool


# ---------------------------------------------------------------------------------------------
# The mask and the validated data
# ---------------------------------------------------------------------------------------------
def test_on_menu_is_false_for_items_that_left_and_ids_never_listed(base: Path) -> None:
    write_menu(base, "2026-03-04", "B1", "B2", "B4", "B5")
    data = valid(base)
    ids = np.array(["B5", "B3", "B9", "B1"], dtype=object)
    assert data.on_menu(ids).tolist() == [True, False, False, True]
    assert data.on_menu(np.array([], dtype=str)).tolist() == []


def test_validated_data_given_a_menu_without_on_menu_has_every_item_on_it() -> None:
    menu = pd.DataFrame({"item_id": ["a", "b"], "name": "x", "ingredients": "y", "price": 1.0})
    data = ValidatedData(RUN_DATE, RUN_DATE, pd.DataFrame(), menu, pd.DataFrame())
    assert data.menu["on_menu"].tolist() == [True, True]
    assert "on_menu" not in menu.columns  # the frame given is left alone
    assert data.on_menu(np.array(["b", "c"])).tolist() == [True, False]


def test_a_drop_saved_before_menus_were_kept_by_day_loads_with_one_menu(
    base: Path, tmp_path: Path
) -> None:
    write_menu(base, "2026-03-03", *ROW)
    drop = ingest.ingest(str(base), RUN_DATE, WINDOW_DAYS)
    drop.save(tmp_path / "drop")
    manifest = json.loads((tmp_path / "drop" / "manifest.json").read_text())
    del manifest["menu_days"]  # what an older ingest wrote: the run date's menu alone
    (tmp_path / "drop" / "manifest.json").write_text(json.dumps(manifest))
    assert drop.menu is not None
    drop.menu.to_parquet(tmp_path / "drop" / "menu.parquet")
    loaded = Drop.load(tmp_path / "drop")
    assert list(loaded.menus) == [drop.window_start]
    pd.testing.assert_frame_equal(loaded.menu, drop.menu)
    assert validate.check(loaded) == []


def test_an_extra_column_of_one_snapshot_is_kept_missing_for_items_it_does_not_list(
    base: Path,
) -> None:
    path = write_menu(base, "2026-03-04", "B1", "B2", "B4", "B5")
    lines = path.read_text().splitlines()
    path.write_text("\n".join([f"{lines[0]},vegan", *(f"{line},no" for line in lines[1:])]))
    data = valid(base)
    vegan = data.menu.set_index("item_id")["vegan"]
    assert vegan.drop("B3").tolist() == ["no"] * 4
    assert pd.isna(vegan["B3"])  # B3 left before the column was added
