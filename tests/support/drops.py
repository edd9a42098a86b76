"""The valid base drop of the validate tests, and the broken drops built on it.

The bad inputs live in tests/data/bad_inputs/<case>/: each is the valid base drop written by
:func:`base_files` with exactly one thing broken, plus an ``expect.txt`` holding substrings the
failure message must contain (see the README there). Every case is meant for the run date
``RUN_DATE`` with a window of ``WINDOW_DAYS`` days.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Callable
from pathlib import Path

import pandas as pd

RUN_DATE = dt.date(2026, 3, 4)
WINDOW_DAYS = 4
CASES_DIR = Path(__file__).resolve().parents[1] / "data" / "bad_inputs"
CASES = sorted(p for p in CASES_DIR.iterdir() if p.is_dir()) if CASES_DIR.is_dir() else []

# ---------------------------------------------------------------------------------------------
# The valid base drop: 4 days, 5 items, 6 customers, 3 orders a day, snapshots on day 1
# ---------------------------------------------------------------------------------------------
MENU_CSV = """\
item_id,name,ingredients,price
B1,Classic,beef patty;cheddar;ketchup,8.50
B2,Green,veggie patty;avocado;salad,9.00
B3,Hot Chick,chicken;jalapeño;sriracha mayo,9.50
B4,Catch,fish;pickles;salad,8.00
B5,Grill,halloumi;mushrooms;fries,10.00
"""
CUSTOMERS_CSV = """\
customer_id,signup_date,city
C1,2025-11-02,Berlin
C2,2025-12-15,Hamburg
C3,2026-01-07,Berlin
C4,2026-01-20,Munich
C5,2026-02-11,Cologne
C6,2026-02-27,Berlin
"""
ORDERS_HEADER = "order_id,customer_id,item_id,quantity,ordered_at"
# day -> (customer, item, quantity, time of day); order ids are O-MMDD-n.
ORDERS = {
    "2026-03-01": [("C1", "B1", 1, "11:15"), ("C2", "B3", 2, "12:40"), ("C3", "B2", 1, "19:05")],
    "2026-03-02": [("C4", "B4", 1, "11:50"), ("C1", "B5", 1, "13:20"), ("C5", "B1", 3, "20:10")],
    "2026-03-03": [("C6", "B2", 1, "12:05"), ("C2", "B1", 1, "18:30"), ("C3", "B3", 2, "21:45")],
    "2026-03-04": [("C4", "B5", 1, "11:30"), ("C5", "B4", 1, "12:55"), ("C1", "B2", 1, "19:40")],
}
FIRST_DAY = min(ORDERS)


def base_files() -> dict[str, str]:
    """Return the valid base drop as {path under the data root: text}."""
    files = {}
    for day, rows in ORDERS.items():
        lines = [ORDERS_HEADER]
        for n, (customer, item, quantity, time) in enumerate(rows, 1):
            order_id = f"O-{day[5:7]}{day[8:10]}-{n}"
            lines.append(f"{order_id},{customer},{item},{quantity},{day}T{time}:00Z")
        files[f"date={day}/orders.csv"] = "\n".join(lines) + "\n"
    files[f"date={FIRST_DAY}/menu.csv"] = MENU_CSV
    files[f"date={FIRST_DAY}/customers.csv"] = CUSTOMERS_CSV
    return files


def write_base(root: Path) -> Path:
    """Write the valid base drop under ``root`` and return ``root``."""
    for name, text in base_files().items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def expected_lines(case: Path) -> list[str]:
    """The substrings the case's failure message must contain: its expect.txt, line by line."""
    lines = (case / "expect.txt").read_text(encoding="utf-8").splitlines()
    return [line for line in lines if line.strip()]


def with_negative_quantity(shop: Path, into: Path, day: str) -> Path:
    """Copy the drops of ``shop`` to ``into``, the first order of ``day`` given quantity -4."""
    shutil.copytree(shop, into)
    orders = into / f"date={day}" / "orders.csv"
    lines = orders.read_text().splitlines()
    lines[1] = lines[1].rsplit(",", 2)[0] + ",-4," + lines[1].rsplit(",", 1)[1]
    orders.write_text("\n".join(lines) + "\n")
    return into


def with_orders_changed(
    shop: Path, into: Path, day: str, change: Callable[[pd.DataFrame], pd.DataFrame]
) -> Path:
    """Copy the drops of ``shop`` to ``into``, the orders of ``day`` rewritten by ``change``
    (text columns in, text columns out)."""
    shutil.copytree(shop, into)
    path = into / f"date={day}" / "orders.csv"
    change(pd.read_csv(path, dtype=str, keep_default_na=False)).to_csv(path, index=False)
    return into


def a_tenth(orders: pd.DataFrame) -> pd.DataFrame:
    """The first tenth of a day's orders: an export cut short."""
    return orders.iloc[: len(orders) // 10]


def three_times(orders: pd.DataFrame) -> pd.DataFrame:
    """A day's orders three times over, each copy with order ids of its own: a promotion."""
    copies = [orders.assign(order_id=orders["order_id"] + f"-{n}") for n in range(3)]
    return pd.concat(copies, ignore_index=True)
