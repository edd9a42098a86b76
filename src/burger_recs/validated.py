"""The validated window: typed orders, menu and customers, as the validate step hands them on.

Kept apart from the validate step so that the steps after it read their input without
importing the validation machinery (pandera), which saves every one of them start-up time.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from burger_recs.version import code_version

FRAMES = ("orders", "menu", "customers")
# The menu column that says whether an item is on the run date's menu.
ON_MENU = "on_menu"


@dataclass
class ValidatedData:
    """The drop in typed form, ready for training.

    The menu changes during a window. Every order was checked against the menu in force on
    its day, so orders may name items that have left the menu since; ``menu`` holds every
    item in force on some day of the window, so that those orders still teach the model, and
    ``on_menu`` marks the items of the run date's menu, the only ones to recommend
    (:meth:`on_menu`).

    Attributes:
        run_date: the last day of the window.
        window_start: the first day of the window.
        orders: order_id, customer_id, item_id (str), quantity (int), ordered_at (UTC), day.
        menu: item_id, name, ingredients, price (each from the newest snapshot that lists the
            item), plus extra columns, and ``on_menu`` (bool): the item is on the run date's
            menu. A frame given without ``on_menu`` gets it, True for every item.
        customers: every known customer id (from the snapshot and the orders) and signup_date.
        day_check: the run date's figures against the recent past, as validate found them
            (:meth:`burger_recs.day_checks.DayCheck.to_dict`; empty when not checked).
    """

    run_date: dt.date
    window_start: dt.date
    orders: pd.DataFrame
    menu: pd.DataFrame
    customers: pd.DataFrame
    day_check: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if ON_MENU not in self.menu.columns:
            self.menu = self.menu.assign(**{ON_MENU: True})

    def on_menu(self, item_ids: np.ndarray) -> np.ndarray:
        """Return, for each of ``item_ids``, whether it is on the run date's menu.

        The mask that keeps recommendations to what can be ordered today: an item that left
        the menu, or an id the menu never listed, is False.

        Args:
            item_ids: item ids (str or object array), e.g. a model's ``item_ids``.

        Returns:
            A bool array of the same shape.
        """
        today = self.menu.loc[self.menu[ON_MENU].astype(bool), "item_id"]
        ids = np.asarray(item_ids)
        return np.isin(ids.astype(str), today.to_numpy(dtype=str))

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
            "day_check": self.day_check,
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
            day_check=meta.get("day_check") or {},
            **{name: pd.read_parquet(folder / f"{name}.parquet") for name in FRAMES},
        )
