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
    """The raw input of one run: orders of the window and the newest snapshots.

    Attributes:
        run_date: the day the run is for (the last day of the window).
        window_start: the first day of the window.
        days: the days of the window that have a drop folder.
        orders: every order row of the window, as text, with source columns.
        menu: the newest menu snapshot at or before the run date (None when there is none).
        customers: the newest customers snapshot at or before the run date, or None.
        violations: files that could not be read.
        data_uri: the data root the drop was read from.
        first_day: the earliest day folder under the data root (None when unknown), so that
            validate can tell days missing from the window from days before the first drop.

    """

    run_date: dt.date
    window_start: dt.date
    days: list[dt.date]
    orders: pd.DataFrame
    menu: pd.DataFrame | None
    customers: pd.DataFrame | None
    violations: list[Violation] = field(default_factory=list)
    data_uri: str = ""
    first_day: dt.date | None = None

    def save(self, folder: str | Path) -> None:
        """Write the drop as Parquet files plus ``manifest.json`` into ``folder``."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.orders.to_parquet(folder / "orders.parquet", index=False)
        for name, frame in (("menu", self.menu), ("customers", self.customers)):
            if frame is not None:
                frame.to_parquet(folder / f"{name}.parquet", index=False)
        manifest = {
            "data_uri": self.data_uri,
            "code_version": code_version(),
            "run_date": self.run_date.isoformat(),
            "window_start": self.window_start.isoformat(),
            "days": [d.isoformat() for d in self.days],
            "first_day": self.first_day.isoformat() if self.first_day else None,
            "violations": [asdict(v) for v in self.violations],
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

        return cls(
            run_date=dt.date.fromisoformat(manifest["run_date"]),
            window_start=dt.date.fromisoformat(manifest["window_start"]),
            days=[dt.date.fromisoformat(d) for d in manifest["days"]],
            orders=pd.read_parquet(folder / "orders.parquet"),
            menu=optional("menu"),
            customers=optional("customers"),
            violations=[
                Violation(**{**v, "examples": tuple(v["examples"])}) for v in manifest["violations"]
            ],
            data_uri=manifest.get("data_uri", ""),
            first_day=dt.date.fromisoformat(first)
            if (first := manifest.get("first_day"))
            else None,
        )
