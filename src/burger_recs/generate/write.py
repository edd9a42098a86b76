"""Writing a day folder: orders, menu and customers snapshots as CSV, streamed with pyarrow."""

from __future__ import annotations

import datetime
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from burger_recs.contract import (
    CUSTOMERS,
    MENU,
    ORDERS,
)
from burger_recs.generate.draw import (
    _draw_orders,
)
from burger_recs.generate.shop import (
    _BLOCK,
    _CITIES,
    _ORDER_CHUNK,
    _Customers,
    _Menu,
)

# ---------------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------------
_WRITE_OPTIONS = pa_csv.WriteOptions(include_header=False, quoting_style="none")


class _IdTables:
    """Lookup tables that turn the integer state into contract strings quickly."""

    _SIGNUP_BACK = 731

    def __init__(self, first_date: datetime.date, days: int, menu: _Menu, id_width: int):
        seconds = range(86_400)
        self.clock = pa.array(
            [f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}" for s in seconds], pa.string()
        )
        self.dates = pa.array(
            [
                (first_date + datetime.timedelta(days=o)).isoformat()
                for o in range(-self._SIGNUP_BACK, days)
            ],
            pa.string(),
        )
        self.items = menu.ids
        self.cities = pa.array(_CITIES, pa.string())
        self.id_width = id_width

    def customer_ids(self, index: np.ndarray) -> pa.Array:
        """Return the string ids of customer numbers ``index``."""
        return _prefixed(index, "c", self.id_width)

    def signup_dates(self, offset: np.ndarray) -> pa.Array:
        """Return ``YYYY-MM-DD`` for days relative to the first day."""
        return self.dates.take(pa.array(offset + self._SIGNUP_BACK))


def _prefixed(numbers: np.ndarray, prefix: str, width: int) -> pa.Array:
    """Return ``prefix`` + the zero-padded numbers, as a string array."""
    digits = pc.utf8_lpad(pc.cast(pa.array(numbers), pa.string()), width, "0")
    return pc.binary_join_element_wise(prefix, digits, "")


def _write_csv(path: Path, columns: tuple[str, ...], batches: Iterable[pa.RecordBatch]) -> None:
    """Write batches to ``path`` atomically: to a temporary name first, then rename."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with tmp.open("wb") as f:
            f.write((",".join(columns) + "\n").encode())
            writer: pa_csv.CSVWriter | None = None
            for batch in batches:
                if writer is None:
                    writer = pa_csv.CSVWriter(f, batch.schema, write_options=_WRITE_OPTIONS)
                writer.write_batch(batch)
            if writer is not None:
                writer.close()
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _write_menu(path: Path, menu: _Menu, d: int) -> None:
    """Write the menu snapshot of day ``d``: every combo launched by then."""
    on = np.flatnonzero(menu.launch_day <= d)
    batch = pa.record_batch(
        [
            menu.ids.take(pa.array(on)),
            pa.array([menu.names[i] for i in on], pa.string()),
            pa.array([menu.ingredients[i] for i in on], pa.string()),
            pa.array([menu.prices[i] for i in on], pa.string()),
        ],
        names=list(MENU.required_columns),
    )
    _write_csv(path, MENU.required_columns, [batch])


_CUSTOMER_COLUMNS = (*CUSTOMERS.required_columns, "city")


def _write_customers(path: Path, state: _Customers, d: int, ids: _IdTables) -> None:
    """Write the customers snapshot of day ``d``: everyone who arrived by then, in blocks."""
    active = int(np.searchsorted(state.arrival_day, d, side="right"))

    def batches() -> Iterator[pa.RecordBatch]:
        for lo in range(0, active, _BLOCK):
            hi = min(active, lo + _BLOCK)
            yield pa.record_batch(
                [
                    ids.customer_ids(np.arange(lo, hi)),
                    ids.signup_dates(state.signup_offset[lo:hi]),
                    ids.cities.take(pa.array(state.city[lo:hi])),
                ],
                names=list(_CUSTOMER_COLUMNS),
            )

    _write_csv(path, _CUSTOMER_COLUMNS, batches())


def _write_orders(
    path: Path,
    d: int,
    date: datetime.date,
    seed: int,
    state: _Customers,
    menu: _Menu,
    ids: _IdTables,
) -> int:
    """Draw and write day ``d``'s orders; return how many were written."""
    cust, item, quantity, seconds = _draw_orders(d, date.weekday(), seed, state, menu)
    n = len(cust)
    day_prefix = f"{date.isoformat()}T"

    def batches() -> Iterator[pa.RecordBatch]:
        for lo in range(0, n, _ORDER_CHUNK):
            hi = min(n, lo + _ORDER_CHUNK)
            yield pa.record_batch(
                [
                    _prefixed(np.arange(lo + 1, hi + 1), f"o{d:04d}-", 7),
                    ids.customer_ids(cust[lo:hi]),
                    ids.items.take(pa.array(item[lo:hi])),
                    pa.array(quantity[lo:hi]),
                    pc.binary_join_element_wise(
                        day_prefix, ids.clock.take(pa.array(seconds[lo:hi])), "Z", ""
                    ),
                ],
                names=list(ORDERS.required_columns),
            )

    _write_csv(path, ORDERS.required_columns, batches())
    return n
