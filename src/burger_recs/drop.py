"""The raw drop: a window of daily files read as text, as ingest hands them to validate.

Kept apart from the ingest step so that validate reads its input without importing the
ingest step (steps import the library, never each other).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd

from burger_recs.contract import Violation
from burger_recs.version import code_version

# Columns ingest adds to every frame so that later messages can say where a row came from.
SOURCE_FILE = "_file"
SOURCE_LINE = "_line"
SOURCE_DAY = "_day"
SOURCE_COLUMNS = (SOURCE_FILE, SOURCE_LINE, SOURCE_DAY)


@dataclass
class Drop:
    """The raw input of one run: orders of the window, its menus and the newest customers.

    The menu changes: each day's orders go with the menu in force on that day, the newest
    menu snapshot at or before it (:meth:`menu_day`). So the drop keeps every menu snapshot
    in force on some day of the window: the newest one at or before the window's first day,
    and every later one up to the run date.

    Attributes:
        run_date: the day the run is for (the last day of the window).
        window_start: the first day of the window.
        days: the days of the window that have a drop folder.
        orders: every order row of the window, as text, with source columns.
        menus: those menu snapshots, as text with source columns, by the day of their folder
            (oldest first); None for a snapshot that could not be read (a violation says why).
            Empty when there is no menu snapshot at or before the run date.
        customers: the newest customers snapshot at or before the run date, or None.
        violations: files that could not be read.
        data_uri: the data root the drop was read from.
        first_day: the earliest day folder under the data root (None when unknown), so that
            validate can tell days missing from the window from days before the first drop.
        exported: by day (``YYYY-MM-DD``), the order rows the day's manifest says its export
            wrote (:data:`burger_recs.contract.DAY_MANIFEST`), for the days that have one.

    """

    run_date: dt.date
    window_start: dt.date
    days: list[dt.date]
    orders: pd.DataFrame
    menus: dict[dt.date, pd.DataFrame | None]
    customers: pd.DataFrame | None
    violations: list[Violation] = field(default_factory=list)
    data_uri: str = ""
    first_day: dt.date | None = None
    exported: dict[str, int] = field(default_factory=dict)

    def menu_day(self, day: dt.date) -> dt.date | None:
        """Return the day of the menu snapshot in force on ``day``: the newest at or before it.

        None when no snapshot of :attr:`menus` is at or before ``day``.
        """
        return max((d for d in self.menus if d <= day), default=None)

    @property
    def menu(self) -> pd.DataFrame | None:
        """The run date's menu, the snapshot in force on it (None: none, or unreadable)."""
        day = self.menu_day(self.run_date)
        return None if day is None else self.menus[day]

    def save(self, folder: str | Path) -> None:
        """Write the drop as Parquet files plus ``manifest.json`` into ``folder``.

        Each readable menu snapshot is ``menu-YYYY-MM-DD.parquet``; the manifest lists the
        days of all of them (``menu_days``), the unreadable ones too.
        """
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.orders.to_parquet(folder / "orders.parquet", index=False)
        frames = {f"menu-{day.isoformat()}": menu for day, menu in self.menus.items()}
        for name, frame in {**frames, "customers": self.customers}.items():
            if frame is not None:
                frame.to_parquet(folder / f"{name}.parquet", index=False)
        manifest = {
            "data_uri": self.data_uri,
            "code_version": code_version(),
            "run_date": self.run_date.isoformat(),
            "window_start": self.window_start.isoformat(),
            "days": [d.isoformat() for d in self.days],
            "menu_days": [d.isoformat() for d in self.menus],
            "first_day": self.first_day.isoformat() if self.first_day else None,
            "violations": [asdict(v) for v in self.violations],
            "exported": self.exported,
        }
        (folder / "manifest.json").write_text(json.dumps(manifest, indent=2))

    @classmethod
    def load(cls, folder: str | Path) -> Drop:
        """Read a drop written by :meth:`save`."""
        folder = Path(folder)
        manifest = json.loads((folder / "manifest.json").read_text())

        def optional(name: str) -> pd.DataFrame | None:
            path = folder / f"{name}.parquet"
            return pd.read_parquet(path) if path.exists() else None

        window_start = dt.date.fromisoformat(manifest["window_start"])
        if "menu_days" in manifest:
            menus = {dt.date.fromisoformat(d): optional(f"menu-{d}") for d in manifest["menu_days"]}
        else:  # saved before menus were kept by day: the run date's menu stood for the window
            menu = optional("menu")
            menus = {} if menu is None else {window_start: menu}
        return cls(
            run_date=dt.date.fromisoformat(manifest["run_date"]),
            window_start=window_start,
            days=[dt.date.fromisoformat(d) for d in manifest["days"]],
            orders=pd.read_parquet(folder / "orders.parquet"),
            menus=menus,
            customers=optional("customers"),
            violations=[
                Violation(**{**v, "examples": tuple(v["examples"])}) for v in manifest["violations"]
            ],
            data_uri=manifest.get("data_uri", ""),
            first_day=dt.date.fromisoformat(first)
            if (first := manifest.get("first_day"))
            else None,
            exported=manifest.get("exported") or {},
        )
