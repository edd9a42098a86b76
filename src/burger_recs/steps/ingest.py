"""Ingest: read the window of daily drops that ends at the run date.

Every column is read as text, exactly as dropped; nothing is judged here. Files that cannot be
read at all (not UTF-8, gzip bytes behind a .csv name, a folder where a file should be, a
malformed CSV), and CSV rows with more or fewer fields than the header, become contract
violations that the validate step reports together with the rest. The result is a
:class:`Drop` saved as one folder of Parquet files.

The menu changes over time, so ingest reads every menu snapshot in force on some day of the
window (:func:`menu_days`): validate checks each day's orders against the menu of that day.
Customers are read from the newest snapshot at or before the run date.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import logging
import os

import pandas as pd

from burger_recs import db
from burger_recs.champion import current_champion
from burger_recs.contract import CUSTOMERS, MENU, ORDERS, DropFile, Violation
from burger_recs.drop import SOURCE_COLUMNS, SOURCE_DAY, SOURCE_FILE, SOURCE_LINE, Drop
from burger_recs.errors import BadSettings
from burger_recs.logs import configure as configure_logging
from burger_recs.settings import resolve_run_date
from burger_recs.storage import DataRoot, NotAFileError

log = logging.getLogger(__name__)

_GZIP_MAGIC = b"\x1f\x8b"
_MAX_EXAMPLES = 3


def _window(
    data_uri: str, run_date: dt.date, window_days: int
) -> tuple[DataRoot, dict[dt.date, str], dt.date]:
    """Return the data root, its day folders and the window's first day.

    Raises:
        BadSettings: window_days is not positive.
        FileNotFoundError: the root holds no day folders.
    """
    if window_days < 1:
        raise BadSettings(f"window_days must be at least 1, got {window_days}")
    root = DataRoot(data_uri)
    return root, root.day_folders(), run_date - dt.timedelta(days=window_days - 1)


def ingest(data_uri: str, run_date: dt.date, window_days: int) -> Drop:
    """Read the orders of the ``window_days`` days ending at ``run_date`` and the snapshots.

    The snapshots are the menus in force during the window (:func:`menu_days`) and the newest
    customers snapshot at or before ``run_date``.

    Args:
        data_uri: the data root, a local folder or ``gs://bucket/prefix``.
        run_date: the last day of the window.
        window_days: how many days the window spans (run date included).

    Returns:
        The drop, with unreadable files listed as violations.

    Raises:
        ValueError: window_days is not positive.
        FileNotFoundError: the root holds no day folders.

    """
    root, folders, window_start = _window(data_uri, run_date, window_days)
    days = [d for d in folders if window_start <= d <= run_date]
    log.info(
        "ingest: %s, window %s..%s, %d of %d days present",
        data_uri,
        window_start,
        run_date,
        len(days),
        window_days,
    )
    violations: list[Violation] = []
    order_frames = []
    for day in days:
        frame = _read(root, day, ORDERS, violations)
        if frame is not None:
            order_frames.append(frame)
    orders = (
        pd.concat(order_frames, ignore_index=True)
        if order_frames
        else pd.DataFrame(columns=[*ORDERS.required_columns, *SOURCE_COLUMNS])
    )
    menus = {
        day: _read(root, day, MENU, violations)
        for day in menu_days(root, list(folders), window_start, run_date)
    }
    customers = _newest_snapshot(root, [d for d in folders if d <= run_date], CUSTOMERS, violations)
    log.info(
        "ingest: %d order rows, menu snapshots of %s, %s customers",
        len(orders),
        ", ".join(map(str, menus)) or "no day",
        "no snapshot of" if customers is None else len(customers),
    )
    return Drop(
        run_date,
        window_start,
        days,
        orders,
        menus,
        customers,
        violations,
        data_uri,
        first_day=min(folders),
    )


def _newest_snapshot(
    root: DataRoot, days: list[dt.date], kind: DropFile, violations: list[Violation]
) -> pd.DataFrame | None:
    day = _newest_snapshot_day(root, days, kind)
    return None if day is None else _read(root, day, kind, violations)


def _newest_snapshot_day(root: DataRoot, days: list[dt.date], kind: DropFile) -> dt.date | None:
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
    first = _newest_snapshot_day(root, [d for d in folders if d <= window_start], MENU)
    later = [d for d in folders if window_start < d <= run_date and _holds(root, d, MENU)]
    return ([] if first is None else [first]) + later


def fingerprint(data_uri: str, run_date: dt.date, window_days: int) -> tuple[str, int]:
    """Return a digest of everything :func:`ingest` reads for a run, and how many files.

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
    root, folders, window_start = _window(data_uri, run_date, window_days)
    read = {d for d in folders if window_start <= d <= run_date}
    # Of the menus in force (menu_days), all but the first are on days of the window.
    snapshots = (
        (MENU, [d for d in folders if d <= window_start]),
        (CUSTOMERS, [d for d in folders if d <= run_date]),
    )
    for kind, before in snapshots:
        newest = _newest_snapshot_day(root, before, kind)
        if newest is not None:
            read.add(newest)
    files = {day.isoformat(): root.digests(day) for day in sorted(read)}
    content = json.dumps({"folders": list(folders.values()), "files": files}, sort_keys=True)
    count = sum(len(names) for names in files.values())
    return hashlib.sha256(content.encode()).hexdigest(), count


def _read(
    root: DataRoot, day: dt.date, kind: DropFile, violations: list[Violation]
) -> pd.DataFrame | None:
    """Read one file of a day as text columns, or record why it cannot be read."""
    entries = root.files(day)
    present = [name for name in kind.file_names() if name in entries]
    if not present:
        if not kind.snapshot:
            found = f"it holds: {', '.join(entries)}" if entries else "it is empty"
            violations.append(
                Violation(
                    root.location(day, ""),
                    "",
                    f"the day has no {kind.name}.csv or {kind.name}.parquet ({found})",
                )
            )
        return None
    name = present[0]
    location = root.location(day, name)
    try:
        raw = root.read_bytes(day, name)
        frame, lines, ragged = _parse(raw, name)
    except NotAFileError:
        violations.append(Violation(location, "", "is a folder, not a file"))
        return None
    except _Unreadable as exc:
        violations.append(Violation(location, "", str(exc)))
        return None
    missing = [c for c in kind.required_columns if c not in frame.columns]
    if missing:
        violations.append(Violation(location, ", ".join(missing), _missing_rule(frame)))
        return None
    if ragged:
        violations.append(
            Violation(
                location,
                "",
                f"rows must have {len(frame.columns)} comma-separated fields like the header "
                "(a truncated row, or an unquoted comma or quote inside a value)",
                len(ragged),
                tuple(ragged[:_MAX_EXAMPLES]),
            )
        )
    frame[SOURCE_FILE] = location
    # Line numbers as a person sees them in the file: the header is line 1.
    frame[SOURCE_LINE] = pd.Series(lines, index=frame.index, dtype="int64")
    frame[SOURCE_DAY] = day.isoformat()
    return frame


def _missing_rule(frame: pd.DataFrame) -> str:
    found = ", ".join(map(str, frame.columns))
    rule = f"required column(s) missing; the header has: {found}"
    if len(frame.columns) == 1:
        for sep in (";", "\t", "|"):
            if sep in str(frame.columns[0]):
                rule += f" (the file looks {sep!r}-separated; the contract wants commas)"
    return rule


class _Unreadable(ValueError):
    """The bytes of a file cannot be turned into rows."""


def _parse(raw: bytes, name: str) -> tuple[pd.DataFrame, list[int], list[str]]:
    """Turn a file's bytes into text columns (missing values as NA).

    Returns:
        The rows, the line each row starts on (the header is line 1; for Parquet, the row
        number plus one), and ``line N: ...`` examples of CSV rows left out because their
        number of fields differs from the header's.

    """
    if raw.startswith(_GZIP_MAGIC):
        raise _Unreadable("is gzip-compressed, not plain CSV/Parquet (decompress it first)")
    if name.endswith(".parquet"):
        try:
            # Nullable dtypes keep integer columns with gaps as integers ("3", not "3.0").
            frame = pd.read_parquet(io.BytesIO(raw), dtype_backend="numpy_nullable")
        except Exception as exc:
            raise _Unreadable(f"is not a readable Parquet file ({exc})") from exc
        frame = _as_text(frame.astype("string"))
        return frame, list(range(2, len(frame) + 2)), []
    try:
        text = raw.decode("utf-8-sig")  # a byte-order mark is tolerated, other bytes are not
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise _Unreadable(
            f"is not UTF-8 text (byte {raw[exc.start]:#04x} on line {line}); save it as UTF-8"
        ) from None
    if not text.strip():
        raise _Unreadable("is empty (not even a header line)")
    return _parse_csv(text)


def _parse_csv(text: str) -> tuple[pd.DataFrame, list[int], list[str]]:
    """Parse CSV text, keeping the line each row starts on; blank lines are skipped."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header: list[str] | None = None
    rows: list[list[str]] = []
    lines: list[int] = []
    ragged: list[str] = []
    start = 1
    try:
        for row in reader:
            if not row or (len(row) == 1 and not row[0].strip()):
                start = reader.line_num + 1
                continue  # a blank line
            if header is None:
                header = _header(row)
            elif len(row) == len(header):
                rows.append(row)
                lines.append(start)
            else:
                shown = ",".join(row)
                shown = shown if len(shown) <= 60 else shown[:57] + "..."
                ragged.append(f"line {start}: {shown!r} ({len(row)} fields)")
            start = reader.line_num + 1
    except csv.Error as exc:
        raise _Unreadable(
            f"is not valid CSV ({exc}, in the row that starts on line {start})"
        ) from None
    if header is None:
        raise _Unreadable("is empty (not even a header line)")
    return _as_text(pd.DataFrame(rows, columns=header, dtype=object)), lines, ragged


def _header(row: list[str]) -> list[str]:
    names = [name or f"Unnamed: {i}" for i, name in enumerate(row)]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise _Unreadable(f"has a header that names column(s) more than once: {', '.join(twice)}")
    return names


def _as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Give every column the same text dtype, whatever the file format; "" counts as missing."""
    frame = frame.astype("str")
    # pandas-stubs rejects a str scalar for DataFrame.ne, which pandas accepts.
    return frame.where(frame.ne("") & frame.notna())  # type: ignore[arg-type]


def check(
    data_uri: str,
    run_date: str,
    window_days: int,
    scheduled_at: str = "",
    day_closes_at: str | None = None,
) -> tuple[str, str, str]:
    """Entry point of the run's check: its day, what its drops hold, and the champion.

    Runs on every run, before ingest: ingest is then served from the cache only when the
    day and the drops' :func:`fingerprint` are those of an earlier run, and evaluate and
    recommend only for the same champion.

    Args:
        data_uri: the data root.
        run_date: the day to run for; empty: the day of ``scheduled_at``.
        window_days: days of orders to read, the run date included.
        scheduled_at: the run's schedule time (ISO-8601), when the orchestrator gives one.
        day_closes_at: HH:MM (UTC) at which a day closes (:func:`resolve_run_date`).

    Returns:
        The resolved run date (``YYYY-MM-DD``), so that every later step uses the same day;
        the fingerprint of the files ingest will read; the champion's version ("" when
        there is none, or no ``DATABASE_URL`` to find one in).
    """
    configure_logging("ingest")
    day = resolve_run_date(run_date, scheduled_at, day_closes_at)
    digest, count = fingerprint(data_uri, day, window_days)
    champion = ""
    if os.environ.get(db.DATABASE_URL_ENV):
        champion = current_champion(db.make_engine())
    else:
        log.warning("check: no %s, so no champion model to fall back on", db.DATABASE_URL_ENV)
    log.info(
        "check: run date %s (run_date %r, scheduled at %r); %d files to read, fingerprint %s; "
        "champion %s",
        day,
        run_date,
        scheduled_at,
        count,
        digest[:12],
        champion or "none",
    )
    return day.isoformat(), digest, champion


def run(data_uri: str, run_date: str, window_days: int, out_dir: str) -> None:
    """Ingest entry point of the pipeline step: write the drop to ``out_dir``.

    Args:
        data_uri: the data root.
        run_date: the day to run for (``YYYY-MM-DD``, as :func:`check` resolved it).
        window_days: days of orders to read, the run date included.
        out_dir: where to write the drop.
    """
    configure_logging("ingest")
    ingest(data_uri, dt.date.fromisoformat(run_date), window_days).save(out_dir)
