"""Tests of the ingest step (burger_recs.steps.ingest): what is read, from where, and how."""

from __future__ import annotations

import datetime as dt
import gzip
from pathlib import Path

import pandas as pd
import pytest

from burger_recs import window
from burger_recs.drop import SOURCE_DAY, SOURCE_FILE, SOURCE_LINE, Drop
from burger_recs.steps import check_inputs, ingest

HEADER = "order_id,customer_id,item_id,quantity,ordered_at"
MENU_HEADER = "item_id,name,ingredients,price"
DAYS = [dt.date(2026, 3, 1) + dt.timedelta(days=i) for i in range(5)]  # 03-01 .. 03-05


def folder(root: Path, day: dt.date) -> Path:
    path = root / f"date={day.isoformat()}"
    path.mkdir(parents=True, exist_ok=True)
    return path


def orders_csv(day: dt.date, n: int = 2) -> str:
    """N orders on ``day``, with order ids ``<day>-<k>``."""
    rows = [f"{day}-{k},C{k},B{k},1,{day}T12:0{k}:00Z" for k in range(1, n + 1)]
    return "\n".join([HEADER, *rows]) + "\n"


def menu_csv(*items: str) -> str:
    return "\n".join([MENU_HEADER, *(f"{i},Burger {i},beef patty;cheddar,9.00" for i in items)])


def write_shop(root: Path) -> Path:
    """Five days of orders; menus on 03-01 (B1, B2), 03-03 (B1..B3) and 03-05 (B1..B4)."""
    for day in DAYS:
        (folder(root, day) / "orders.csv").write_text(orders_csv(day))
    (folder(root, DAYS[0]) / "menu.csv").write_text(menu_csv("B1", "B2"))
    (folder(root, DAYS[2]) / "menu.csv").write_text(menu_csv("B1", "B2", "B3"))
    (folder(root, DAYS[4]) / "menu.csv").write_text(menu_csv("B1", "B2", "B3", "B4"))
    (folder(root, DAYS[1]) / "customers.csv").write_text("customer_id,signup_date\nC1,\nC2,\n")
    return root


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    return write_shop(tmp_path / "data")


# ---------------------------------------------------------------------------------------------
# The window
# ---------------------------------------------------------------------------------------------
def test_only_the_days_of_the_window_are_read(shop: Path) -> None:
    drop = ingest.ingest(str(shop), DAYS[3], 2)  # 03-03 .. 03-04
    assert (drop.window_start, drop.run_date) == (DAYS[2], DAYS[3])
    assert drop.days == [DAYS[2], DAYS[3]]
    assert sorted(set(drop.orders[SOURCE_DAY])) == ["2026-03-03", "2026-03-04"]
    assert drop.orders["order_id"].tolist() == [
        "2026-03-03-1",
        "2026-03-03-2",
        "2026-03-04-1",
        "2026-03-04-2",
    ]
    assert drop.violations == []
    assert drop.first_day == DAYS[0]


def test_a_window_of_one_day_reads_the_run_date_only(shop: Path) -> None:
    drop = ingest.ingest(str(shop), DAYS[1], 1)
    assert drop.days == [DAYS[1]]
    assert set(drop.orders[SOURCE_DAY]) == {"2026-03-02"}


def test_broken_files_outside_the_window_are_not_read(shop: Path) -> None:
    for day in (DAYS[0], DAYS[4]):  # before the window and after the run date
        path = folder(shop, day) / "orders.csv"
        path.write_bytes(gzip.compress(path.read_bytes()))
    drop = ingest.ingest(str(shop), DAYS[3], 3)
    assert drop.violations == []
    assert len(drop.orders) == 6


def test_a_window_without_folders_gives_no_days_and_no_rows(shop: Path) -> None:
    drop = ingest.ingest(str(shop), dt.date(2026, 4, 1), 7)
    assert drop.days == []
    assert drop.orders.empty
    assert set(ingest.ORDERS.required_columns) <= set(drop.orders.columns)


@pytest.mark.parametrize("window_days", [0, -3])
def test_window_days_must_be_positive(shop: Path, window_days: int) -> None:
    with pytest.raises(ValueError, match=f"got {window_days}"):
        ingest.ingest(str(shop), DAYS[3], window_days)


def test_a_root_without_day_folders_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "date=2026-02-30").mkdir()  # not a day
    (tmp_path / "2026-03-01").mkdir()  # no date= prefix
    with pytest.raises(FileNotFoundError, match="no daily drops"):
        ingest.ingest(str(tmp_path), DAYS[0], 1)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        ingest.ingest(str(tmp_path / "nowhere"), DAYS[0], 1)


def test_a_day_without_orders_is_a_violation_naming_what_is_there(shop: Path) -> None:
    day = folder(shop, DAYS[2])
    (day / "orders.csv").rename(day / "Orders.CSV")
    drop = ingest.ingest(str(shop), DAYS[3], 3)
    assert [(v.file, v.rule) for v in drop.violations] == [
        (
            f"{shop}/date=2026-03-03/",
            "the day has no orders.csv or orders.parquet (it holds: Orders.CSV, menu.csv)",
        )
    ]
    assert set(drop.orders[SOURCE_DAY]) == {"2026-03-02", "2026-03-04"}


# ---------------------------------------------------------------------------------------------
# Snapshots
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("run_day", "menu_day", "items"),
    [
        (DAYS[0], DAYS[0], ["B1", "B2"]),
        (DAYS[1], DAYS[0], ["B1", "B2"]),  # the 03-03 menu is newer than the run date
        (DAYS[3], DAYS[2], ["B1", "B2", "B3"]),  # not the 03-05 one
        (DAYS[4], DAYS[4], ["B1", "B2", "B3", "B4"]),
    ],
)
def test_the_newest_snapshot_at_or_before_the_run_date_is_used(
    shop: Path, run_day: dt.date, menu_day: dt.date, items: list[str]
) -> None:
    drop = ingest.ingest(str(shop), run_day, 1)  # the window never holds a menu's day
    assert drop.menu is not None
    assert drop.menu["item_id"].tolist() == items
    assert set(drop.menu[SOURCE_FILE]) == {f"{shop}/date={menu_day}/menu.csv"}
    assert list(drop.menus) == [menu_day]


@pytest.mark.parametrize(
    ("run_day", "window_days", "menu_days"),
    [
        (DAYS[4], 1, [DAYS[4]]),
        (DAYS[4], 2, [DAYS[2], DAYS[4]]),  # 03-03's menu is in force on 03-04
        (DAYS[4], 3, [DAYS[2], DAYS[4]]),  # the window starts on a menu's day
        (DAYS[4], 4, [DAYS[0], DAYS[2], DAYS[4]]),
        (DAYS[4], 9, [DAYS[0], DAYS[2], DAYS[4]]),  # nothing before the first menu
        (DAYS[3], 4, [DAYS[0], DAYS[2]]),  # not the menu after the run date
    ],
)
def test_every_menu_in_force_during_the_window_is_read(
    shop: Path, run_day: dt.date, window_days: int, menu_days: list[dt.date]
) -> None:
    drop = ingest.ingest(str(shop), run_day, window_days)
    assert list(drop.menus) == menu_days
    for day, menu in drop.menus.items():
        assert menu is not None
        assert set(menu[SOURCE_FILE]) == {f"{shop}/date={day}/menu.csv"}
    assert drop.menu is drop.menus[menu_days[-1]]  # the run date's menu
    assert [drop.menu_day(d) for d in (DAYS[0], DAYS[1], DAYS[2], DAYS[3])] == [
        d if d in menu_days else None for d in (DAYS[0], DAYS[0], DAYS[2], DAYS[2])
    ]


def test_a_snapshot_before_the_first_drop_of_the_kind_is_none(shop: Path) -> None:
    drop = ingest.ingest(str(shop), DAYS[0], 1)
    assert drop.customers is None  # the only customers snapshot is of 03-02
    drop = ingest.ingest(str(shop), DAYS[4], 1)
    assert drop.customers is not None
    assert drop.customers["customer_id"].tolist() == ["C1", "C2"]
    assert drop.customers["signup_date"].isna().all()  # empty values are missing, not ""


def test_an_unreadable_newest_snapshot_is_reported_not_replaced_by_an_older_one(
    shop: Path,
) -> None:
    (folder(shop, DAYS[2]) / "menu.csv").write_bytes(menu_csv("B1", "Bö").encode("latin-1"))
    drop = ingest.ingest(str(shop), DAYS[3], 3)  # 03-02 .. 03-04: 03-01's menu is read too
    assert drop.menu is None
    assert drop.menus[DAYS[2]] is None and drop.menus[DAYS[0]] is not None
    assert [(Path(v.file).parent.name, v.rule[:15]) for v in drop.violations] == [
        ("date=2026-03-03", "is not UTF-8 te")
    ]


def test_a_parquet_snapshot_counts_like_a_csv_one(shop: Path) -> None:
    menu = pd.DataFrame({"item_id": ["B7"], "name": ["x"], "ingredients": ["fish"], "price": [1]})
    menu.to_parquet(folder(shop, DAYS[3]) / "menu.parquet")
    drop = ingest.ingest(str(shop), DAYS[3], 1)
    assert drop.menu is not None
    assert drop.menu["item_id"].tolist() == ["B7"]
    assert drop.menu["price"].tolist() == ["1"]  # read as text, like CSV


# ---------------------------------------------------------------------------------------------
# Saving and loading
# ---------------------------------------------------------------------------------------------
def test_a_drop_survives_save_and_load(shop: Path, tmp_path: Path) -> None:
    (folder(shop, DAYS[3]) / "orders.csv").write_bytes(b"")  # gives the drop a violation
    (folder(shop, DAYS[2]) / "customers.csv").write_text("customer_id,signup_date\nC1,\n")
    drop = ingest.ingest(str(shop), DAYS[3], 3)
    assert drop.violations and drop.menu is not None and drop.customers is not None
    assert list(drop.menus) == [DAYS[0], DAYS[2]]
    drop.save(tmp_path / "saved")
    loaded = Drop.load(tmp_path / "saved")
    for name in ("run_date", "window_start", "days", "violations", "data_uri", "first_day"):
        assert getattr(loaded, name) == getattr(drop, name), name
    assert isinstance(loaded.violations[0].examples, tuple)
    for name in ("orders", "menu", "customers"):
        pd.testing.assert_frame_equal(getattr(loaded, name), getattr(drop, name), obj=name)
    assert list(loaded.menus) == list(drop.menus)
    for day, menu in drop.menus.items():
        pd.testing.assert_frame_equal(loaded.menus[day], menu, obj=str(day))


def test_an_unreadable_menu_survives_save_and_load_as_none(shop: Path, tmp_path: Path) -> None:
    (folder(shop, DAYS[2]) / "menu.csv").write_bytes(gzip.compress(menu_csv("B1").encode()))
    drop = ingest.ingest(str(shop), DAYS[3], 3)
    drop.save(tmp_path / "saved")
    loaded = Drop.load(tmp_path / "saved")
    assert loaded.menus[DAYS[2]] is None and loaded.menu is None
    assert loaded.menus[DAYS[0]] is not None


def test_a_drop_without_snapshots_survives_save_and_load(tmp_path: Path) -> None:
    (folder(tmp_path / "data", DAYS[0]) / "orders.csv").write_text(orders_csv(DAYS[0]))
    drop = ingest.ingest(str(tmp_path / "data"), DAYS[0], 1)
    drop.save(tmp_path / "saved")
    loaded = Drop.load(tmp_path / "saved")
    assert loaded.menu is None and loaded.customers is None and loaded.menus == {}
    pd.testing.assert_frame_equal(loaded.orders, drop.orders)


# ---------------------------------------------------------------------------------------------
# Reading files
# ---------------------------------------------------------------------------------------------
def read_orders(tmp_path: Path, raw: bytes, name: str = "orders.csv") -> Drop:
    (folder(tmp_path / "data", DAYS[0]) / name).write_bytes(raw)
    return ingest.ingest(str(tmp_path / "data"), DAYS[0], 1)


def test_line_numbers_are_the_lines_of_the_file(tmp_path: Path) -> None:
    text = (
        f"{HEADER},note\r\n"  # line 1
        "a,C1,B1,1,2026-03-01T10:00:00Z,\r\n"  # line 2
        "\r\n"  # line 3: blank
        'b,C1,B1,1,2026-03-01T11:00:00Z,"two\r\nlines"\r\n'  # lines 4-5
        "   \r\n"  # line 6: blank but for spaces
        "c,C2,B2,2,2026-03-01T12:00:00Z,\r\n"  # line 7
        "\r\n"  # line 8
        "d,C3,B3,3,2026-03-01T13:00:00Z,last"  # line 9, no final newline
    )
    drop = read_orders(tmp_path, text.encode())
    lines = text.split("\r\n")
    assert drop.orders[SOURCE_LINE].tolist() == [2, 4, 7, 9]
    for order_id, line in zip(drop.orders["order_id"], drop.orders[SOURCE_LINE], strict=True):
        assert lines[line - 1].startswith(f"{order_id},")
    notes = drop.orders["note"]
    assert notes.isna().tolist() == [True, False, True, False]
    assert notes[~notes.isna()].tolist() == ["two\r\nlines", "last"]


def test_line_numbers_of_a_parquet_file_count_the_header_as_line_one(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "order_id": ["a", "b"],
            "customer_id": ["C1", "C2"],
            "item_id": ["B1", "B2"],
            "quantity": [1, 2],
            "ordered_at": ["2026-03-01T10:00:00Z"] * 2,
        }
    )
    frame.to_parquet(folder(tmp_path / "data", DAYS[0]) / "orders.parquet")
    drop = ingest.ingest(str(tmp_path / "data"), DAYS[0], 1)
    assert drop.orders[SOURCE_LINE].tolist() == [2, 3]
    assert drop.orders["quantity"].tolist() == ["1", "2"]


def test_text_is_kept_as_written(tmp_path: Path) -> None:
    raw = f"{HEADER}\n007, C1 ,NA,1,2026-03-01T10:00:00Z\n".encode()
    drop = read_orders(tmp_path, raw)
    row = drop.orders.iloc[0]
    assert (row["order_id"], row["customer_id"], row["item_id"]) == ("007", " C1 ", "NA")


def test_rows_with_a_wrong_number_of_fields_are_left_out_and_reported(tmp_path: Path) -> None:
    raw = (
        f"{HEADER}\n"
        "a,C1,B1,1,2026-03-01T10:00:00Z\n"
        "b,C1,B1,1,2026-03-01T11:00:00Z,extra\n"
        "c,C2,B2,2,2026-03-01T12:00:00Z\n"
        "d,C3"
    ).encode()
    drop = read_orders(tmp_path, raw)
    assert drop.orders["order_id"].tolist() == ["a", "c"]
    assert drop.orders[SOURCE_LINE].tolist() == [2, 4]
    (violation,) = drop.violations
    assert violation.count == 2
    assert violation.examples == (
        "line 3: 'b,C1,B1,1,2026-03-01T11:00:00Z,extra' (6 fields)",
        "line 5: 'd,C3' (2 fields)",
    )
    assert "5 comma-separated fields" in violation.rule


@pytest.mark.parametrize(
    ("raw", "rule"),
    [
        (b"", "is empty (not even a header line)"),
        (b"\n \n", "is empty (not even a header line)"),
        (f'{HEADER}\na,C1,B1,1,"2026'.encode(), "unexpected end of data"),
        (f'{HEADER}\na,C1,B1,1,"x"y\n'.encode(), "in the row that starts on line 2"),
        (b"order_id,order_id\na,b\n", "names column(s) more than once: order_id"),
        (f"{HEADER}\na,C\xf6,B1,1,x\n".encode("latin-1"), "byte 0xf6 on line 2"),
        (gzip.compress(f"{HEADER}\n".encode()), "is gzip-compressed"),
    ],
    ids=["empty", "blank", "open-quote", "bad-quote", "duplicate-column", "latin-1", "gzip"],
)
def test_unreadable_files_become_violations(tmp_path: Path, raw: bytes, rule: str) -> None:
    drop = read_orders(tmp_path, raw)
    (violation,) = drop.violations
    assert violation.file == f"{tmp_path / 'data'}/date=2026-03-01/orders.csv"
    assert rule in violation.rule
    assert drop.orders.empty


def test_a_byte_order_mark_is_not_part_of_the_first_column(tmp_path: Path) -> None:
    drop = read_orders(tmp_path, f"\ufeff{HEADER}\na,C1,B1,1,2026-03-01T10:00:00Z\n".encode())
    assert drop.violations == []
    assert drop.orders["order_id"].tolist() == ["a"]


def test_csv_wins_over_parquet_on_the_same_day(tmp_path: Path) -> None:
    day = folder(tmp_path / "data", DAYS[0])
    (day / "orders.csv").write_text(orders_csv(DAYS[0], 1))
    pd.DataFrame({"order_id": ["p"]}).to_parquet(day / "orders.parquet")
    drop = ingest.ingest(str(tmp_path / "data"), DAYS[0], 1)
    assert drop.orders["order_id"].tolist() == ["2026-03-01-1"]
    assert drop.violations == []


def test_run_saves_the_drop_of_the_day_the_check_resolved(
    shop: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    day, fingerprint, champion = check_inputs.run(str(shop), "2026-03-04", 2)
    assert day == "2026-03-04" and len(fingerprint) == 64
    assert champion == ""  # no database here, so no champion
    ingest.run(str(shop), day, 2, str(tmp_path / "out"))
    loaded = Drop.load(tmp_path / "out")
    assert loaded.days == [DAYS[2], DAYS[3]]
    assert loaded.data_uri == str(shop)


def test_the_check_resolves_an_empty_run_date_from_the_schedule(shop: Path) -> None:
    # A run scheduled at 01:00 on the 5th processes the last day closed by then, the 4th.
    day, _, _ = check_inputs.run(
        str(shop), "", 2, scheduled_at="2026-03-05T01:00:00Z", day_closes_at="00:00"
    )
    assert day == "2026-03-04"


def test_the_fingerprint_changes_with_what_ingest_reads_and_nothing_else(shop: Path) -> None:
    def digest() -> str:
        return window.fingerprint(str(shop), DAYS[3], 2)[0]  # window 03-03 .. 03-04

    before = digest()
    assert digest() == before  # the same files: the same fingerprint
    # A day before the window without the newest snapshots is not read.
    (folder(shop, DAYS[0]) / "orders.csv").write_text(orders_csv(DAYS[0], n=5))
    assert digest() == before
    # An order file of the window edited in place, even to the same size, is.
    orders = folder(shop, DAYS[3]) / "orders.csv"
    text = orders.read_text()
    orders.write_text(text.replace("C1", "C2", 1))
    assert len(orders.read_text()) == len(text)
    edited = digest()
    assert edited != before
    # So is the menu in force on the window's first day (03-03 here) and the newest
    # customers at or before the run date (03-02).
    (folder(shop, DAYS[2]) / "menu.csv").write_text(menu_csv("B1", "B2", "B9"))
    assert digest() != edited
    edited = digest()
    (folder(shop, DAYS[1]) / "customers.csv").write_text("customer_id,signup_date\nC1,\n")
    assert digest() != edited
    edited = digest()
    # A menu after the run date is not read; a new day folder before the window is (the
    # earliest day is recorded with the drop).
    (folder(shop, DAYS[4]) / "menu.csv").write_text(menu_csv("B5"))
    assert digest() == edited
    folder(shop, DAYS[0] - dt.timedelta(days=1))
    assert digest() != edited


def test_the_fingerprint_covers_every_menu_in_force_during_the_window(shop: Path) -> None:
    """For each window, a menu edit changes the fingerprint exactly when ingest reads it."""
    edits = 0
    for run_day, window_days in [(DAYS[4], 1), (DAYS[4], 2), (DAYS[3], 2), (DAYS[4], 4)]:
        read = ingest.ingest(str(shop), run_day, window_days).menus
        for menu_day in (DAYS[0], DAYS[2], DAYS[4]):
            before = window.fingerprint(str(shop), run_day, window_days)[0]
            edits += 1
            (folder(shop, menu_day) / "menu.csv").write_text(menu_csv("B1", f"E{edits}"))
            after = window.fingerprint(str(shop), run_day, window_days)[0]
            assert (after != before) == (menu_day in read), (run_day, window_days, menu_day)
    # The menu of 03-03 is in force on 03-04, the first day of this window: it is read, and
    # the 03-01 one before it is not.
    assert list(ingest.ingest(str(shop), DAYS[4], 2).menus) == [DAYS[2], DAYS[4]]


def test_the_check_refuses_a_window_of_no_days(shop: Path) -> None:
    from burger_recs.errors import BadSettings

    with pytest.raises(BadSettings, match="window_days must be at least 1, got 0"):
        check_inputs.run(str(shop), "2026-03-04", 0)
