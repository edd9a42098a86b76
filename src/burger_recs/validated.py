"""The validated window: typed orders, menu and customers, as the validate step hands them on.

Kept apart from the validate step so that the steps after it read their input without
importing the validation machinery (pandera), which saves every one of them start-up time.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from burger_recs.version import code_version

FRAMES = ("orders", "menu", "customers")


@dataclass
class ValidatedData:
    """The drop in typed form, ready for training.

    Attributes:
        run_date: the last day of the window.
        window_start: the first day of the window.
        orders: order_id, customer_id, item_id (str), quantity (int), ordered_at (UTC), day.
        menu: item_id, name, ingredients, price, plus extra columns.
        customers: every known customer id (from the snapshot and the orders) and signup_date.
    """

    run_date: dt.date
    window_start: dt.date
    orders: pd.DataFrame
    menu: pd.DataFrame
    customers: pd.DataFrame

    def save(self, folder: str | Path) -> None:
        """Write the frames as Parquet files, and ``meta.json`` with the window and code version."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        for name in FRAMES:
            getattr(self, name).to_parquet(folder / f"{name}.parquet", index=False)
        meta = {
            "window_start": self.window_start.isoformat(),
            "run_date": self.run_date.isoformat(),
            "code_version": code_version(),
        }
        (folder / "meta.json").write_text(json.dumps(meta, indent=2))

    @classmethod
    def load(cls, folder: str | Path) -> ValidatedData:
        """Read frames written by :meth:`save`."""
        folder = Path(folder)
        meta = json.loads((folder / "meta.json").read_text())
        return cls(
            run_date=dt.date.fromisoformat(meta["run_date"]),
            window_start=dt.date.fromisoformat(meta["window_start"]),
            **{name: pd.read_parquet(folder / f"{name}.parquet") for name in FRAMES},
        )
