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
import io
import json
import logging

import pandas as pd

from burger_recs.contract import (
    CUSTOMERS,
    DAY_MANIFEST,
    MANIFEST_ORDERS_ROWS,
    MENU,
    ORDERS,
    DropFile,
    Violation,
)
from burger_recs.drop import SOURCE_COLUMNS, SOURCE_DAY, SOURCE_FILE, SOURCE_LINE, Drop
from burger_recs.logs import configure as configure_logging
from burger_recs.storage import DataRoot, NotAFileError
from burger_recs.window import files_in_window, menu_days, newest_snapshot_day

log = logging.getLogger(__name__)

_GZIP_MAGIC = b"\x1f\x8b"
_MAX_EXAMPLES = 3


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
    root, folders, window_start = files_in_window(data_uri, run_date, window_days)
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
    exported: dict[str, int] = {}
    for day in days:
        frame = _read(root, day, ORDERS, violations)
        if frame is not None:
            order_frames.append(frame)
        rows = _exported_rows(root, day, violations)
        if rows is not None:
            exported[day.isoformat()] = rows
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
        exported=exported,
    )


def _exported_rows(root: DataRoot, day: dt.date, violations: list[Violation]) -> int | None:
    """Return the order rows a day's manifest says the export wrote (None: no manifest).

    A manifest that cannot be read as ``{"orders_rows": N}`` is a violation.
    """
    if DAY_MANIFEST not in root.files(day):
        return None
    location = root.location(day, DAY_MANIFEST)
    try:
        found = json.loads(root.read_bytes(day, DAY_MANIFEST).decode("utf-8-sig"))
    except (NotAFileError, UnicodeDecodeError, ValueError):
        found = None
    rows = found.get(MANIFEST_ORDERS_ROWS) if isinstance(found, dict) else None
    if isinstance(rows, bool) or not isinstance(rows, int) or rows < 0:
        violations.append(
            Violation(
                location,
                MANIFEST_ORDERS_ROWS,
                f'must be a JSON object like {{"{MANIFEST_ORDERS_ROWS}": 1234}}: the number of '
                "order rows the export wrote",
            )
        )
        return None
    return rows


def _newest_snapshot(
    root: DataRoot, days: list[dt.date], kind: DropFile, violations: list[Violation]
) -> pd.DataFrame | None:
    day = newest_snapshot_day(root, days, kind)
    return None if day is None else _read(root, day, kind, violations)


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
