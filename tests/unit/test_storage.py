"""Data roots on a local folder and on GCS (a real emulator): burger_recs.storage and ingest."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from burger_recs.drop import SOURCE_FILE
from burger_recs.steps.ingest import ingest
from burger_recs.storage import DataRoot, NotAFileError

D1, D2, D3 = dt.date(2026, 3, 1), dt.date(2026, 3, 2), dt.date(2026, 3, 3)


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """Three day folders among things that are not day folders."""
    root = tmp_path / "drops"
    write(root / "date=2026-03-03" / "orders.csv", "order_id\n3\n")
    write(root / "date=2026-03-01" / "orders.csv", "order_id\n1\n")
    write(root / "date=2026-03-01" / "menu.csv", "item_id\ni1\n")
    write(root / "date=2026-03-02" / "orders.csv", "order_id\n2\n")
    write(root / "date=2026-03-02" / "extra" / "part-0.csv", "x\n")  # a folder in a day
    write(root / "date=2026-02-31" / "orders.csv", "order_id\n0\n")  # not a day
    write(root / "date=2026-3-4" / "orders.csv", "order_id\n0\n")  # not the format
    write(root / "date=2026-03-05.bak" / "orders.csv", "order_id\n0\n")
    write(root / "notes" / "README.txt", "hello\n")
    write(root / "date=2026-03-06", "a file, not a folder\n")
    return root


def check_tree(root: DataRoot) -> None:
    """What every copy of ``tree`` must look like, wherever it is stored."""
    assert root.day_folders() == {
        D1: "date=2026-03-01",
        D2: "date=2026-03-02",
        D3: "date=2026-03-03",
    }
    assert list(root.day_folders()) == [D1, D2, D3]
    assert root.files(D1) == ["menu.csv", "orders.csv"]
    assert root.files(D2) == ["extra", "orders.csv"]
    assert root.files(dt.date(2026, 3, 9)) == []
    assert root.read_bytes(D2, "orders.csv") == b"order_id\n2\n"
    assert root.read_bytes(D1, "menu.csv") == b"item_id\ni1\n"
    with pytest.raises(NotAFileError, match=r"date=2026-03-02/extra is a folder"):
        root.read_bytes(D2, "extra")
    with pytest.raises(FileNotFoundError):
        root.read_bytes(D3, "menu.csv")


def test_a_local_root_lists_its_day_folders_in_date_order(tree):
    check_tree(DataRoot(str(tree)))
    location = DataRoot(str(tree) + "/").location(D1, "orders.csv")
    assert location == f"{tree}/date=2026-03-01/orders.csv"


def test_a_missing_local_root_is_reported(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"data folder .*nowhere does not exist"):
        DataRoot(str(tmp_path / "nowhere")).day_folders()


def test_a_local_root_without_day_folders_is_reported(tmp_path):
    write(tmp_path / "date=2026-02-30" / "orders.csv", "order_id\n")
    write(tmp_path / "orders" / "orders.csv", "order_id\n")
    with pytest.raises(FileNotFoundError, match=r"no daily drops in .*date=YYYY-MM-DD"):
        DataRoot(str(tmp_path)).day_folders()


@pytest.mark.parametrize(
    ("uri", "prefix"),
    [("gs://shop/drops", "drops"), ("gs://shop/drops/", "drops"), ("gs://shop", "")],
)
def test_a_gcs_root_lists_and_reads_like_a_local_one(gcs_emulator, tree, uri, prefix):
    gcs_emulator.create_bucket("shop")
    gcs_emulator.upload_tree(tree, "shop", prefix)
    # Decoys next to the root that must not leak into it.
    gcs_emulator.upload_tree(tree, "shop", "drops-old")
    gcs_emulator.create_bucket("other").blob("date=2026-03-04/orders.csv").upload_from_string("x")

    root = DataRoot(uri)
    check_tree(root)
    assert root.location(D1, "orders.csv") == f"gs://shop{'/' if prefix else ''}{prefix}" + (
        "/date=2026-03-01/orders.csv"
    )


def test_a_gcs_root_without_day_folders_is_reported(gcs_emulator, tree):
    gcs_emulator.create_bucket("shop")
    gcs_emulator.upload_tree(tree / "notes", "shop", "drops/notes")
    with pytest.raises(FileNotFoundError, match=r"no daily drops in gs://shop/drops"):
        DataRoot("gs://shop/drops").day_folders()
    with pytest.raises(FileNotFoundError, match=r"no daily drops in gs://shop/elsewhere"):
        DataRoot("gs://shop/elsewhere").day_folders()


def test_a_gcs_root_without_a_bucket_is_refused():
    with pytest.raises(ValueError, match="names no bucket"):
        DataRoot("gs:///drops").day_folders()


# ---------------------------------------------------------------------------------------------
# Ingest of a small drop, from a folder and from gs://
# ---------------------------------------------------------------------------------------------
ORDERS = {
    D1: "order_id,customer_id,item_id,quantity,ordered_at\n"
    "o1,0042,007,1,2026-03-01T11:02:00Z\n"
    "o1,0042,010,2,2026-03-01T11:02:00Z\n"
    "o2,c-7,007,1,2026-03-01T19:40:00Z\n",
    D2: "order_id,customer_id,item_id,quantity,ordered_at\no3,c-7,011,1,2026-03-02T12:15:00Z\n",
    D3: "order_id,customer_id,item_id,quantity,ordered_at\n"
    "o4,0042,011,3,2026-03-03T18:00:00Z\n"
    "o5,00099,010,1,2026-03-03T18:30:00Z\n",
}
MENU_CSV = (
    "item_id,name,ingredients,price\n"
    "007,Classic Combo,beef;cheddar;fries;cola,9.50\n"
    "010,Veggie Combo,veggie patty;salad;fries,8.90\n"
    "011,Chicken Combo,chicken;mayo;fries,9.20\n"
)
CUSTOMERS_CSV = "customer_id,signup_date\n0042,2025-12-01\nc-7,2026-01-15\n00099,2026-03-03\n"


def write_drop(root: Path) -> None:
    for day, text in ORDERS.items():
        write(root / f"date={day.isoformat()}" / "orders.csv", text)
    write(root / "date=2026-03-01" / "menu.csv", MENU_CSV)
    write(root / "date=2026-03-01" / "customers.csv", CUSTOMERS_CSV)


def without_source_file(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.drop(columns=SOURCE_FILE).reset_index(drop=True)


def test_ingest_reads_the_same_drop_from_gcs_as_from_a_folder(gcs_emulator, tmp_path):
    write_drop(tmp_path / "drops")
    gcs_emulator.create_bucket("shop")
    gcs_emulator.upload_tree(tmp_path / "drops", "shop", "drops")

    local = ingest(str(tmp_path / "drops"), D3, window_days=3)
    remote = ingest("gs://shop/drops", D3, window_days=3)

    assert local.violations == remote.violations == []
    assert local.days == remote.days == [D1, D2, D3]
    assert len(remote.orders) == 6
    assert list(remote.orders["customer_id"]) == ["0042", "0042", "c-7", "c-7", "0042", "00099"]
    assert list(remote.orders["item_id"][:2]) == ["007", "010"]  # ids stay strings
    pd.testing.assert_frame_equal(
        without_source_file(remote.orders), without_source_file(local.orders)
    )
    pd.testing.assert_frame_equal(without_source_file(remote.menu), without_source_file(local.menu))
    pd.testing.assert_frame_equal(
        without_source_file(remote.customers), without_source_file(local.customers)
    )
    assert remote.menu["ingredients"][0] == "beef;cheddar;fries;cola"
    assert set(remote.orders[SOURCE_FILE]) == {
        f"gs://shop/drops/date={day.isoformat()}/orders.csv" for day in (D1, D2, D3)
    }

    window = ingest("gs://shop/drops", D3, window_days=2)
    assert window.days == [D2, D3]
    assert list(window.orders["order_id"]) == ["o3", "o4", "o5"]
    assert window.menu is not None  # the snapshot of D1 is still the newest one


def test_a_gcs_root_in_a_missing_bucket_is_reported(gcs_emulator):
    with pytest.raises(FileNotFoundError, match=r"gs://nowhere/drops: bucket nowhere does not"):
        DataRoot("gs://nowhere/drops").day_folders()
