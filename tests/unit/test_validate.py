"""Tests of the validate step (burger_recs.steps.validate) over real files on disk.

The bad inputs live in tests/data/bad_inputs/<case>/: each is the valid base drop
(tests/support/drops.py) with exactly one thing broken, plus an ``expect.txt`` holding
substrings the failure message must contain (see the README there). Every case is checked
here, through the ingest and validate steps as the pipeline runs them; a few representative
ones also run through the compiled pipeline (tests/pipelines/test_bad_inputs.py).
"""

from __future__ import annotations

import datetime as dt
import gzip
import re
import shutil
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from burger_recs.contract import Violation
from burger_recs.drop import Drop
from burger_recs.steps import ingest, validate
from tests.support.drops import (
    CASES,
    CASES_DIR,
    FIRST_DAY,
    MENU_CSV,
    ORDERS,
    ORDERS_HEADER,
    RUN_DATE,
    WINDOW_DAYS,
    base_files,
    expected_lines,
    write_base,
)

EXAMPLE = re.compile(r"^line \d+: ")


def edit(path: Path, old: str, new: str) -> None:
    """Replace one occurrence of ``old`` in a file (which must hold it exactly once)."""
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} is not in {path} exactly once"
    path.write_text(text.replace(old, new), encoding="utf-8")


def day(root: Path, date: str, name: str = "orders.csv") -> Path:
    return root / f"date={date}" / name


def check(root: Path, run_date: dt.date = RUN_DATE, window_days: int = WINDOW_DAYS):
    drop = ingest.ingest(str(root), run_date, window_days)
    return drop, validate.check(drop)


@pytest.fixture
def base(tmp_path: Path) -> Path:
    return write_base(tmp_path / "data")


# ---------------------------------------------------------------------------------------------
# The base drop is valid
# ---------------------------------------------------------------------------------------------
def test_base_drop_is_valid_and_typed(base: Path) -> None:
    drop, violations = check(base)
    assert violations == []
    data = validate.typed(drop)
    orders = data.orders
    assert len(orders) == 12
    assert pd.api.types.is_integer_dtype(orders["quantity"])
    assert orders["quantity"].tolist() == [q for rows in ORDERS.values() for _, _, q, _ in rows]
    assert isinstance(orders["ordered_at"].dtype, pd.DatetimeTZDtype)
    assert str(orders["ordered_at"].dt.tz) == "UTC"
    assert orders["ordered_at"].iloc[0] == pd.Timestamp("2026-03-01T11:15:00Z")
    assert orders["day"].tolist() == [d for d, rows in ORDERS.items() for _ in rows]
    assert set(orders.columns) == {
        "order_id",
        "customer_id",
        "item_id",
        "quantity",
        "ordered_at",
        "day",
    }
    assert data.menu["price"].tolist() == [8.5, 9.0, 9.5, 8.0, 10.0]
    assert sorted(data.customers["customer_id"]) == [f"C{i}" for i in range(1, 7)]
    assert (data.window_start, data.run_date) == (dt.date(2026, 3, 1), RUN_DATE)


def test_a_day_without_orders_is_valid(base: Path) -> None:
    day(base, "2026-03-03").write_text(ORDERS_HEADER + "\n")
    drop, violations = check(base)
    assert violations == []
    assert len(validate.typed(drop).orders) == 9


# ---------------------------------------------------------------------------------------------
# The bad inputs in tests/data/bad_inputs
# ---------------------------------------------------------------------------------------------
def test_the_bad_input_cases_are_there() -> None:
    assert len(CASES) >= 14, f"expected at least 14 case folders in {CASES_DIR}"
    for case in CASES:
        assert expected_lines(case), f"{case.name}/expect.txt names nothing to expect"


def tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != "expect.txt"
    }


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.name)
def test_each_case_is_the_base_with_one_kind_of_file_broken(case: Path) -> None:
    base = {name: text.encode() for name, text in base_files().items()}
    found = tree(case)
    changed = {name for name in base.keys() | found.keys() if base.get(name) != found.get(name)}
    assert changed, "the case is the valid base unchanged"
    # "date=2026-03-02/orders.csv/part-00000.csv" and "date=…/orders.csv.gz" are both orders.
    kinds = {name.split("/")[1].split(".")[0] for name in changed}
    assert len(kinds) == 1, f"more than one kind of file differs from the base: {sorted(changed)}"


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.name)
def test_bad_input_is_reported(case: Path) -> None:
    _, violations = check(case)
    assert violations, "the broken drop passed validation"
    message = validate.failure_message(violations)
    for expected in expected_lines(case):
        assert expected in message, f"{expected!r} is not in the message:\n{message}"
    root = str(case)
    for v in violations:
        # Every problem names a file or folder of the case (the data root for the window).
        assert v.file == root or v.file.startswith(root + "/"), v
        assert Path(v.file).exists(), v
        assert v.rule, v
        if v.count:
            assert 1 <= len(v.examples) <= min(v.count, validate.MAX_EXAMPLES), v
        if v.file != root and v.count:  # row-level: examples say which lines
            assert all(EXAMPLE.match(e) for e in v.examples), v


# Cases whose one broken thing is rightly reported more than once.
VIOLATION_COUNTS = {
    "duplicate_order_id_across_days": 2,  # once in each of the two files
    "whitespace_padded_id": 2,  # 'C1 ' is badly formed and, so, not a known customer
}


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.name)
def test_one_broken_thing_is_reported_once(case: Path) -> None:
    _, violations = check(case)
    described = "\n".join(v.describe() for v in violations)
    assert len(violations) == VIOLATION_COUNTS.get(case.name, 1), described


def test_line_numbers_in_examples_are_the_files_lines(base: Path) -> None:
    # Blank lines and a value spanning two lines must not shift the line numbers.
    day(base, "2026-03-02").write_text(
        f"{ORDERS_HEADER},note\n"
        "\n"
        'O-0302-1,C4,B4,1,"2026-03-02T11:50:00Z",\n'
        'O-0302-2,C1,B5,1,2026-03-02T13:20:00Z,"no onions,\nplease"\n'
        "\n"
        "O-0302-3,C5,B1,zero,2026-03-02T20:10:00Z,\n"
    )
    _, violations = check(base)
    assert [(v.column, v.examples) for v in violations] == [("quantity", ("line 7: 'zero'",))]


def test_all_problems_are_collected_at_once(base: Path) -> None:
    edit(day(base, "2026-03-02"), ",B5,1,", ",B5,-2,")  # a row rule
    raw = day(base, "2026-03-03").read_bytes()
    day(base, "2026-03-03").write_bytes(gzip.compress(raw))  # an unreadable file
    edit(day(base, FIRST_DAY, "menu.csv"), ",9.50", ",cheap")  # a rule of another file
    _, violations = check(base)
    found = sorted((Path(v.file).parent.name, Path(v.file).name, v.column) for v in violations)
    assert found == [
        ("date=2026-03-01", "menu.csv", "price"),
        ("date=2026-03-02", "orders.csv", "quantity"),
        ("date=2026-03-03", "orders.csv", ""),
    ]
    message = validate.failure_message(violations)
    assert message.startswith("input data breaks the contract in 3 way(s)")
    assert all(phrase in message for phrase in ("'-2'", "gzip", "'cheap'"))


def test_every_problem_is_listed_up_to_the_limit() -> None:
    violations = [Violation(f"f{i}.csv", "c", "rule") for i in range(5)]
    message = validate.failure_message(violations, limit=3)
    assert "f2.csv" in message and "f3.csv" not in message
    assert "2 more" in message


def test_a_day_missing_at_the_start_of_the_window_is_reported(base: Path) -> None:
    shutil.rmtree(base / "date=2026-03-02")
    # The window 03-02..03-04 starts on the missing day; the shop did have a drop before it.
    _, violations = check(base, window_days=3)
    assert [v.examples for v in violations] == [("2026-03-02",)]
    assert "misses days inside the window" in violations[0].rule


def test_days_before_the_first_drop_are_not_missing(base: Path) -> None:
    _, violations = check(base, window_days=28)
    assert violations == []


def test_extra_columns_are_kept(base: Path) -> None:
    for date in ORDERS:
        path = day(base, date)
        lines = path.read_text().splitlines()
        channel = ["channel"] + ["app" if n % 2 else "web" for n in range(1, len(lines))]
        path.write_text("".join(f"{a},{b}\n" for a, b in zip(lines, channel, strict=True)))
    menu = MENU_CSV.splitlines()
    day(base, FIRST_DAY, "menu.csv").write_text(
        "".join(f"{line},{'vegan' if n == 0 else 'no'}\n" for n, line in enumerate(menu))
    )
    drop, violations = check(base)
    assert violations == []
    data = validate.typed(drop)
    assert data.orders["channel"].tolist()[:3] == ["app", "web", "app"]
    assert data.menu["vegan"].tolist() == ["no"] * 5
    assert data.customers["city"].tolist()[:2] == ["Berlin", "Hamburg"]


def test_a_byte_order_mark_is_accepted(base: Path) -> None:
    for path in base.rglob("*.csv"):
        path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    drop, violations = check(base)
    assert violations == []
    data = validate.typed(drop)
    assert data.orders.columns[0] == "order_id"
    assert data.menu.columns[0] == "item_id"
    assert data.customers.columns[0] == "customer_id"


def to_parquet(csv_root: Path, parquet_root: Path) -> None:
    """Write every CSV of the drop as Parquet with the column types a producer would use."""
    types = {
        "quantity": pa.int64(),
        "ordered_at": pa.timestamp("us", tz="UTC"),
        "price": pa.float64(),
        "signup_date": pa.date32(),
    }
    for path in csv_root.rglob("*.csv"):
        frame = pd.read_csv(path, dtype=str)
        columns = {}
        for name in frame.columns:
            values = frame[name]
            if name in ("ordered_at", "signup_date"):
                values = pd.to_datetime(values, utc=True)
                values = values.dt.date if name == "signup_date" else values
            elif name == "quantity":
                values = values.astype("int64")
            elif name == "price":
                values = values.astype(float)
            columns[name] = pa.array(values.tolist(), types.get(name, pa.string()))
        out = parquet_root / path.relative_to(csv_root).with_suffix(".parquet")
        out.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.table(columns), out)


def test_csv_and_parquet_give_the_same_typed_frames(base: Path, tmp_path: Path) -> None:
    parquet_root = tmp_path / "parquet"
    to_parquet(base, parquet_root)
    assert not list(parquet_root.rglob("*.csv"))
    from_csv, csv_violations = check(base)
    from_parquet, parquet_violations = check(parquet_root)
    assert csv_violations == parquet_violations == []
    assert from_parquet.orders["_file"].str.endswith(".parquet").all()
    a, b = validate.typed(from_csv), validate.typed(from_parquet)
    for name in ("orders", "menu", "customers"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name), obj=name)


def test_a_parquet_file_with_a_bad_value_is_reported_with_its_row(
    base: Path, tmp_path: Path
) -> None:
    edit(day(base, "2026-03-02"), ",B5,1,", ",B5,500,")
    parquet_root = tmp_path / "parquet"
    to_parquet(base, parquet_root)
    _, violations = check(parquet_root)
    assert [(Path(v.file).name, v.column, v.examples) for v in violations] == [
        ("orders.parquet", "quantity", ("line 3: '500'",))
    ]


def test_a_corrupt_parquet_file_is_reported(base: Path) -> None:
    day(base, "2026-03-02").unlink()
    day(base, "2026-03-02", "orders.parquet").write_bytes(b"PAR1 not really")
    _, violations = check(base)
    assert [(Path(v.file).name, v.rule[:31]) for v in violations] == [
        ("orders.parquet", "is not a readable Parquet file ")
    ]


# ---------------------------------------------------------------------------------------------
# The step: report always, output only when valid
# ---------------------------------------------------------------------------------------------
def saved_drop(root: Path, folder: Path) -> Path:
    ingest.ingest(str(root), RUN_DATE, WINDOW_DAYS).save(folder)
    return folder


def test_run_writes_the_report_and_no_output_when_invalid(base: Path, tmp_path: Path) -> None:
    edit(day(base, "2026-03-02"), ",B5,1,", ",B5,0,")
    edit(day(base, "2026-03-04"), ",C5,", ",C7,")
    drop_dir = saved_drop(base, tmp_path / "drop")
    out_dir, report = tmp_path / "validated", tmp_path / "report.md"
    with pytest.raises(validate.ValidationFailed) as failure:
        validate.run(str(drop_dir), str(out_dir), str(report))
    assert "2 way(s)" in str(failure.value)
    assert not out_dir.exists()
    text = report.read_text()
    assert "**Result: 2 problem(s); nothing was trained or published.**" in text
    assert "date=2026-03-02/orders.csv | quantity" in text
    assert "date=2026-03-04/orders.csv | customer_id" in text
    assert "line 3: 'C7'" in text


def test_run_writes_the_typed_data_when_valid(base: Path, tmp_path: Path) -> None:
    drop_dir = saved_drop(base, tmp_path / "drop")
    out_dir, report = tmp_path / "validated", tmp_path / "report.md"
    validate.run(str(drop_dir), str(out_dir), str(report))
    assert "**Result: valid.**" in report.read_text()
    data = validate.ValidatedData.load(out_dir)
    assert len(data.orders) == 12
    assert data.orders["quantity"].sum() == 16
    assert (data.window_start, data.run_date) == (dt.date(2026, 3, 1), RUN_DATE)


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.name)
def test_the_steps_stop_every_bad_input_at_validate_naming_what_is_wrong(
    case: Path, tmp_path: Path
) -> None:
    """What the pipeline runs for a broken drop: ingest saves it, validate refuses it.

    The message is the one the failed run carries; tests/pipelines/test_bad_inputs.py runs a
    few representative cases through the compiled pipeline as well.
    """
    drop_dir, out_dir, report = tmp_path / "drop", tmp_path / "validated", tmp_path / "report.md"
    ingest.run(str(case), RUN_DATE.isoformat(), WINDOW_DAYS, str(drop_dir))
    with pytest.raises(validate.ValidationFailed) as failure:
        validate.run(str(drop_dir), str(out_dir), str(report))
    message = str(failure.value)
    for expected in expected_lines(case):
        assert expected in message, f"{expected!r} is not in the message:\n{message}"
    assert not out_dir.exists()  # nothing for train to read
    assert "nothing was trained or published" in report.read_text()


def test_a_saved_drop_validates_like_the_drop_itself(tmp_path: Path) -> None:
    case = CASES_DIR / "duplicate_order_id_across_days"
    drop = ingest.ingest(str(case), RUN_DATE, WINDOW_DAYS)
    drop.save(tmp_path / "drop")
    assert validate.check(Drop.load(tmp_path / "drop")) == validate.check(drop) != []
