"""The window of daily drops a run reads: its day folders, the menus in force, the snapshot.

Ingest reads exactly these files, and the run's check fingerprints them
(:func:`fingerprint`), so that a cache serves ingest again only while they are unchanged.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json

from burger_recs.contract import CUSTOMERS, MENU, DropFile
from burger_recs.settings import at_least_one, require
from burger_recs.storage import DataRoot


def files_in_window(
    data_uri: str, run_date: dt.date, window_days: int
) -> tuple[DataRoot, dict[dt.date, str], dt.date]:
    """Return the data root, its day folders and the window's first day.

    Raises:
        BadSettings: window_days is not positive.
        FileNotFoundError: the root holds no day folders.
    """
    require(at_least_one("window_days", window_days))
    root = DataRoot(data_uri)
    return root, root.day_folders(), run_date - dt.timedelta(days=window_days - 1)


def newest_snapshot_day(root: DataRoot, days: list[dt.date], kind: DropFile) -> dt.date | None:
    """Return the latest of ``days`` whose folder holds a ``kind`` snapshot, if any."""
    for day in reversed(days):
        if _holds(root, day, kind):
            return day
    return None


def _holds(root: DataRoot, day: dt.date, kind: DropFile) -> bool:
    """True when the day's folder holds a file (or folder) named like a ``kind`` file."""
    return bool(set(kind.file_names()) & set(root.files(day)))


def menu_days(
    root: DataRoot, folders: list[dt.date], window_start: dt.date, run_date: dt.date
) -> list[dt.date]:
    """Return the days of the menu snapshots in force on some day of the window, oldest first.

    A menu is in force from its day until the day before the next snapshot. So these are the
    newest snapshot at or before ``window_start`` (in force on the window's first day) and
    every snapshot after it up to ``run_date``; the last one is the run date's menu.

    Args:
        root: the data root.
        folders: its day folders, in date order.
        window_start: the first day of the window.
        run_date: the last day of the window.
    """
    first = newest_snapshot_day(root, [d for d in folders if d <= window_start], MENU)
    later = [d for d in folders if window_start < d <= run_date and _holds(root, d, MENU)]
    return ([] if first is None else [first]) + later


def fingerprint(data_uri: str, run_date: dt.date, window_days: int) -> tuple[str, int]:
    """Return a digest of everything ingest reads for a run, and how many files.

    That is the names of all day folders (the earliest one is recorded with the drop), every
    file of the window's days, of the day of the menu in force on the window's first day
    (:func:`menu_days`) and of the day of the newest customers snapshot at or before the run
    date, each by its content digest
    (:meth:`DataRoot.digests`). The drops are outside the pipeline: a cache keys ingest on
    this digest, so that a drop added, removed or edited in place is read again, and an
    unchanged window is not.

    Raises:
        BadSettings: window_days is not positive.
        FileNotFoundError: the root holds no day folders.
    """
    root, folders, window_start = files_in_window(data_uri, run_date, window_days)
    read = {d for d in folders if window_start <= d <= run_date}
    # Of the menus in force (menu_days), all but the first are on days of the window.
    snapshots = (
        (MENU, [d for d in folders if d <= window_start]),
        (CUSTOMERS, [d for d in folders if d <= run_date]),
    )
    for kind, before in snapshots:
        newest = newest_snapshot_day(root, before, kind)
        if newest is not None:
            read.add(newest)
    files = {day.isoformat(): root.digests(day) for day in sorted(read)}
    content = json.dumps({"folders": list(folders.values()), "files": files}, sort_keys=True)
    count = sum(len(names) for names in files.values())
    return hashlib.sha256(content.encode()).hexdigest(), count
