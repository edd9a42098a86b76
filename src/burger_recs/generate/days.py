"""generate_data: the whole range of day folders, one day drawn and written at a time."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from burger_recs.contract import (
    CUSTOMERS,
    DAY_FOLDER_PREFIX,
    MENU,
    ORDERS,
)
from burger_recs.generate.draw import (
    _check_args,
    _check_output_folder,
    _launch_day,
    _make_customers,
    _make_menu,
)
from burger_recs.generate.shop import (
    _LAUNCH_FRACTIONS,
)
from burger_recs.generate.write import (
    _IdTables,
    _write_customers,
    _write_menu,
    _write_orders,
)


@dataclass(frozen=True)
class GenerationSummary:
    """What :func:`generate_data` wrote.

    Attributes:
        first_date: The first day written.
        last_date: The last day written.
        days: Number of day folders.
        customers: Customers in the last customers snapshot.
        items: Items in the last menu snapshot.
        orders: Orders written over all days.
        files_written: Number of CSV files written.
    """

    first_date: datetime.date
    last_date: datetime.date
    days: int
    customers: int
    items: int
    orders: int
    files_written: int


def generate_data(
    out: str | Path,
    customers: int = 2000,
    days: int = 60,
    seed: int = 42,
    end_date: datetime.date | None = None,
    items: int = 40,
    progress: Callable[[str], None] | None = None,
) -> GenerationSummary:
    """Write ``days`` daily drops of synthetic orders, menus and customers under ``out``.

    Args:
        out: Folder to write the ``date=YYYY-MM-DD`` folders into; created if missing.
        customers: Customers known on the last day (about 70% exist from the first day, the
            rest arrive in weekly cohorts).
        days: Number of consecutive days to write, ending with ``end_date``.
        seed: Random seed; the same arguments give byte-identical files.
        end_date: The last day written; defaults to today (UTC).
        items: Menu items on the last day (a few of them launch mid-range).
        progress: Called with a short message after each day is written.

    Returns:
        A summary of what was written.

    Raises:
        ValueError: If an argument is out of range.
        TypeError: If ``end_date`` is not a date.
        FileExistsError: If ``out`` already holds ``date=`` folders.
        NotADirectoryError: If ``out`` is a file.
    """
    _check_args(customers, days, seed, items)
    if end_date is None:
        end_date = datetime.datetime.now(datetime.UTC).date()
    elif isinstance(end_date, datetime.datetime):
        end_date = end_date.date()
    elif not isinstance(end_date, datetime.date):
        raise TypeError(f"end_date must be a datetime.date, got {end_date!r}")
    out = Path(out)
    _check_output_folder(out)
    first_date = end_date - datetime.timedelta(days=days - 1)

    launch_days = sorted({_launch_day(days, f) for f in _LAUNCH_FRACTIONS} - {0})
    menu = _make_menu(items, launch_days, seed)
    state = _make_customers(customers, days, seed)

    out.mkdir(parents=True, exist_ok=True)
    cohort_days = set(np.unique(state.arrival_day).tolist())
    menu_days = {0, *launch_days}
    id_tables = _IdTables(first_date, days, menu, state.ids_width)
    files = 0
    total_orders = 0
    for d in range(days):
        date = first_date + datetime.timedelta(days=d)
        folder = out / f"{DAY_FOLDER_PREFIX}{date.isoformat()}"
        folder.mkdir(exist_ok=True)
        if d in menu_days:
            _write_menu(folder / MENU.file_names()[0], menu, d)
            files += 1
        if d in cohort_days:
            _write_customers(folder / CUSTOMERS.file_names()[0], state, d, id_tables)
            files += 1
        n = _write_orders(folder / ORDERS.file_names()[0], d, date, seed, state, menu, id_tables)
        files += 1
        total_orders += n
        if progress is not None:
            progress(f"{date.isoformat()}: {n:,} orders")

    return GenerationSummary(
        first_date=first_date,
        last_date=end_date,
        days=days,
        customers=customers,
        items=items,
        orders=total_orders,
        files_written=files,
    )
