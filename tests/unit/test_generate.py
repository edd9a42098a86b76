"""Tests of the synthetic data generator (burger_recs.generate)."""

from __future__ import annotations

import datetime
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from burger_recs.contract import CUSTOMERS, MENU, ORDERS
from burger_recs.generate import INGREDIENTS, GenerationSummary, draw, generate_data, write

END = datetime.date(2026, 11, 24)  # a Tuesday
TIMESTAMP = re.compile(r"^(\d{4}-\d{2}-\d{2})T\d{2}:\d{2}:\d{2}Z$")
PRICE = re.compile(r"^\d+\.\d{2}$")


@dataclass
class Drops:
    """Everything one generator run wrote, read back as strings."""

    root: Path
    summary: GenerationSummary
    dates: list[str]
    orders: pd.DataFrame  # all days, with a "date" column (the folder's day)
    menus: dict[str, pd.DataFrame]  # date -> snapshot
    customers: dict[str, pd.DataFrame]  # date -> snapshot


def load(root: Path, summary: GenerationSummary) -> Drops:
    folders = sorted(p for p in root.iterdir() if p.name.startswith("date="))
    dates = [p.name.removeprefix("date=") for p in folders]
    orders, menus, customers = [], {}, {}
    for date, folder in zip(dates, folders, strict=True):
        orders.append(pd.read_csv(folder / "orders.csv", dtype=str).assign(date=date))
        if (folder / "menu.csv").exists():
            menus[date] = pd.read_csv(folder / "menu.csv", dtype=str, keep_default_na=False)
        if (folder / "customers.csv").exists():
            customers[date] = pd.read_csv(folder / "customers.csv", dtype=str)
    return Drops(root, summary, dates, pd.concat(orders, ignore_index=True), menus, customers)


def run(root: Path, **kwargs) -> Drops:
    kwargs.setdefault("end_date", END)
    return load(root, generate_data(root, **kwargs))


def newest_at_or_before(snapshots: dict[str, pd.DataFrame], date: str) -> pd.DataFrame:
    usable = [d for d in snapshots if d <= date]
    assert usable, f"no snapshot at or before {date}"
    return snapshots[max(usable)]


def file_bytes(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


@pytest.fixture(scope="module")
def drops(tmp_path_factory: pytest.TempPathFactory) -> Drops:
    """Eight weeks, 1,500 customers, 40 items: big enough for the statistical checks."""
    return run(tmp_path_factory.mktemp("drops") / "data", customers=1500, days=56, items=40)


# ---------------------------------------------------------------------------------------------
# Contract invariants
# ---------------------------------------------------------------------------------------------
def check_invariants(d: Drops) -> None:
    s = d.summary
    expected_dates = [
        (s.first_date + datetime.timedelta(days=i)).isoformat() for i in range(s.days)
    ]
    assert d.dates == expected_dates, "one folder per day, no gaps"
    assert s.last_date.isoformat() == expected_dates[-1]

    # Columns and file names.
    for folder in d.root.iterdir():
        names = {p.name for p in folder.iterdir()}
        assert "orders.csv" in names
        assert names <= {"orders.csv", "menu.csv", "customers.csv"}, names  # no temp files
    assert d.dates[0] in d.menus and d.dates[0] in d.customers
    assert list(d.orders.columns[:-1]) == list(ORDERS.required_columns)
    for menu in d.menus.values():
        assert list(menu.columns) == list(MENU.required_columns)
    for cust in d.customers.values():
        assert list(cust.columns[:2]) == list(CUSTOMERS.required_columns)
        assert "city" in cust.columns
    assert d.summary.files_written == len(list(d.root.rglob("*.csv")))

    # Orders.
    o = d.orders
    assert len(o) == s.orders
    assert (o.groupby("date").size().reindex(d.dates, fill_value=0) >= 1).all()
    assert o.order_id.is_unique
    assert o.notna().all().all()
    qty = o.quantity.astype(int)
    assert (o.quantity == qty.astype(str)).all()
    assert qty.between(1, 5).all()
    stamp_dates = o.ordered_at.str.extract(TIMESTAMP)[0]
    assert (stamp_dates == o.date).all(), "timestamps are ISO UTC and inside their folder's day"

    # Snapshots only grow; the last ones hold everything.
    for snapshots, key in ((d.menus, "item_id"), (d.customers, "customer_id")):
        previous: set[str] = set()
        for date in sorted(snapshots):
            ids = snapshots[date][key]
            assert ids.is_unique
            assert previous <= set(ids), f"{key} removed on {date}"
            previous = set(ids)
    last_menu = d.menus[max(d.menus)]
    last_customers = d.customers[max(d.customers)]
    assert len(last_menu) == s.items
    assert len(last_customers) == s.customers
    assert set(o.item_id) <= set(last_menu.item_id)
    assert set(o.customer_id) <= set(last_customers.customer_id)
    for date, day in o.groupby("date"):
        assert set(day.item_id) <= set(newest_at_or_before(d.menus, date).item_id), date
        cust = newest_at_or_before(d.customers, date)
        assert set(day.customer_id) <= set(cust.customer_id), date

    # Menu content.
    for menu in d.menus.values():
        assert (menu.name.str.len() > 0).all()
        parts = menu.ingredients.str.split(";")
        assert parts.map(len).between(3, 7).all()
        assert parts.map(lambda xs: set(xs) <= set(INGREDIENTS) and len(set(xs)) == len(xs)).all()
        assert menu.price.str.fullmatch(PRICE).all()
        assert (menu.price.astype(float) > 0).all()

    # Customers: sign-up dates are dates no later than the snapshot.
    for date, cust in d.customers.items():
        signup = pd.to_datetime(cust.signup_date, format="%Y-%m-%d")
        assert (signup <= pd.Timestamp(date)).all()


def test_invariants_hold(drops: Drops) -> None:
    check_invariants(drops)


@pytest.mark.parametrize(
    ("customers", "days", "items"),
    [(1, 1, 5), (1, 30, 5), (3, 20, 6), (50, 9, 200)],
)
def test_invariants_hold_for_tiny_and_odd_sizes(
    tmp_path: Path, customers: int, days: int, items: int
) -> None:
    d = run(tmp_path / "data", customers=customers, days=days, items=items, seed=7)
    check_invariants(d)
    assert d.summary.days == days == len(d.dates)


def test_small_blocks_write_the_same_contract(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Big runs draw customers and write snapshots and orders in several blocks per file.
    monkeypatch.setattr(draw, "_BLOCK", 64)
    monkeypatch.setattr(write, "_BLOCK", 64)
    monkeypatch.setattr(write, "_ORDER_CHUNK", 10)
    d = run(tmp_path / "data", customers=300, days=16, items=12)
    check_invariants(d)
    assert len(d.customers[d.dates[0]]) > 3 * 64
    assert d.orders.groupby("date").size().max() > 3 * 10


def test_summary(drops: Drops) -> None:
    s = drops.summary
    assert (s.first_date, s.last_date, s.days) == (END - datetime.timedelta(days=55), END, 56)
    assert (s.customers, s.items) == (1500, 40)
    assert s.orders == len(drops.orders)
    with pytest.raises(AttributeError):
        s.orders = 0  # type: ignore[misc]


def test_orders_per_customer_are_realistic(drops: Drops) -> None:
    # About 1-3 orders per customer per month.
    active_customer_days = sum(
        len(newest_at_or_before(drops.customers, date)) for date in drops.dates
    )
    per_month = len(drops.orders) / active_customer_days * 30
    assert 1.0 <= per_month <= 3.0, per_month
    # Customers differ in how often they order.
    counts = drops.orders.customer_id.value_counts()
    assert counts.max() >= 5 * counts.median()


# ---------------------------------------------------------------------------------------------
# Determinism
# ---------------------------------------------------------------------------------------------
def test_same_arguments_give_identical_bytes(tmp_path: Path) -> None:
    args = {"customers": 300, "days": 16, "items": 12, "seed": 3, "end_date": END}
    generate_data(tmp_path / "a", **args)
    generate_data(tmp_path / "b", **args)
    a, b = file_bytes(tmp_path / "a"), file_bytes(tmp_path / "b")
    assert len(a) > 16
    assert a == b


def test_another_seed_gives_other_data(tmp_path: Path) -> None:
    args = {"customers": 300, "days": 5, "items": 12, "end_date": END}
    generate_data(tmp_path / "a", seed=1, **args)
    generate_data(tmp_path / "b", seed=2, **args)
    a, b = file_bytes(tmp_path / "a"), file_bytes(tmp_path / "b")
    assert a.keys() == b.keys()
    assert all(a[k] != b[k] for k in a)


# ---------------------------------------------------------------------------------------------
# Realism
# ---------------------------------------------------------------------------------------------
def test_new_items_launch_mid_range_and_get_ordered(drops: Drops) -> None:
    menu_dates = sorted(drops.menus)
    assert len(menu_dates) == 3, menu_dates  # the first day and two launch waves
    first, *later = menu_dates
    for date in later:
        position = drops.dates.index(date) / len(drops.dates)
        assert 0.4 <= position <= 0.8, (date, position)
    new = set(drops.menus[menu_dates[-1]].item_id) - set(drops.menus[first].item_id)
    assert len(new) >= 2
    ordered = Counter(drops.orders.item_id)
    assert all(ordered[item] >= 5 for item in new), {item: ordered[item] for item in new}


def test_new_customers_arrive_in_cohorts(drops: Drops) -> None:
    dates = sorted(drops.customers)
    assert len(dates) >= 5
    sizes = [len(drops.customers[d]) for d in dates]
    assert sizes == sorted(sizes) and sizes[0] < sizes[-1]
    assert sizes[0] <= 0.8 * sizes[-1]
    newcomers = set(drops.customers[dates[-1]].customer_id) - set(
        drops.customers[dates[0]].customer_id
    )
    later_orders = drops.orders[drops.orders.date >= dates[1]]
    assert len(newcomers & set(later_orders.customer_id)) >= 0.3 * len(newcomers)


def test_fridays_and_saturdays_are_busier(drops: Drops) -> None:
    per_day = drops.orders.groupby("date").size()
    weekday = pd.to_datetime(per_day.index).day_of_week
    weekend = per_day[(weekday == 4) | (weekday == 5)].mean()
    midweek = per_day[weekday <= 3].mean()
    assert weekend > 1.3 * midweek, (weekend, midweek)


def test_customers_reorder_their_favourites(drops: Drops) -> None:
    o = drops.orders.sort_values(["date", "ordered_at", "order_id"])
    repeated = o.duplicated(["customer_id", "item_id"]).mean()
    # Taste alone gives about 0.35 here; reordering favourites lifts it to about 0.5.
    assert repeated > 0.42, repeated
    # Regular customers put a good part of their orders on one favourite.
    per_customer = o.groupby("customer_id").size()
    regulars = per_customer[per_customer >= 4].index
    favourite = o[o.customer_id.isin(regulars)].groupby(["customer_id", "item_id"]).size()
    share = (favourite.groupby(level=0).max() / per_customer[regulars]).mean()
    assert share > 0.52, share


def test_popularity_is_skewed(drops: Drops) -> None:
    counts = drops.orders.item_id.value_counts()
    top = counts.head(max(1, round(len(counts) * 0.1))).sum()
    assert top / counts.sum() > 0.2, top / counts.sum()


def test_order_times_spread_over_the_day(drops: Drops) -> None:
    hours = drops.orders.ordered_at.str.slice(11, 13).astype(int)
    share = hours.value_counts(normalize=True)
    assert share.loc[[11, 12, 13, 17, 18, 19, 20]].sum() > 0.5
    assert share.get(4, 0.0) < 0.02


def test_item_names_are_readable(drops: Drops) -> None:
    menu = drops.menus[max(drops.menus)]
    assert menu.name.is_unique
    assert menu.name.str.fullmatch(r"[A-Z][\w'.ñ ]+").all()
    assert menu.name.str.contains(r"Combo|Meal|Box").all()


def test_the_taste_signal_is_learnable(drops: Drops) -> None:
    """Ordering history and ingredients predict next week's orders better than popularity."""
    o = drops.orders
    test_dates = drops.dates[-7:]
    train, test = o[~o.date.isin(test_dates)], o[o.date.isin(test_dates)]
    menu = drops.menus[max(drops.menus)]
    items = list(menu.item_id)
    index = {item: i for i, item in enumerate(items)}
    vocab = sorted(INGREDIENTS)
    features = np.zeros((len(items), len(vocab)))
    for i, ingredients in enumerate(menu.ingredients):
        for ingredient in ingredients.split(";"):
            features[i, vocab.index(ingredient)] = 1.0
    features /= np.linalg.norm(features, axis=1, keepdims=True)
    popularity = np.zeros(len(items))
    for item, n in train.item_id.value_counts().items():
        popularity[index[item]] = n
    popularity /= popularity.max()

    history = {c: [index[i] for i in g] for c, g in train.groupby("customer_id").item_id}
    truth = {c: {index[i] for i in g} for c, g in test.groupby("customer_id").item_id}
    users = [c for c in truth if c in history]
    assert len(users) >= 300

    def precision_at_5(score, exclude_seen: bool = False) -> float:
        hits = []
        for c in users:
            s = score(c).astype(float)
            relevant = truth[c]
            if exclude_seen:  # only items new to the customer count, and can be ranked
                s[history[c]] = -np.inf
                relevant = relevant - set(history[c])
                if not relevant:
                    continue
            top = np.argsort(-s, kind="stable")[:5]
            hits.append(len(relevant & set(top.tolist())) / 5)
        return float(np.mean(hits))

    def own(c: str) -> np.ndarray:
        return np.bincount(history[c], minlength=len(items)) + 0.01 * popularity

    def taste(c: str) -> np.ndarray:
        profile = features[history[c]].sum(axis=0)
        return features @ (profile / np.linalg.norm(profile)) + 0.3 * popularity

    popular = precision_at_5(lambda c: popularity)
    assert precision_at_5(own) > 1.3 * popular
    assert precision_at_5(taste) > 1.3 * popular
    # The ingredients alone carry signal: they find the customer's next new combo too.
    assert precision_at_5(taste, exclude_seen=True) > 1.25 * precision_at_5(
        lambda c: popularity, exclude_seen=True
    )


# ---------------------------------------------------------------------------------------------
# Arguments, output folder, progress, atomic writes
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"customers": 0}, "customers must be at least 1"),
        ({"days": 0}, "days must be at least 1"),
        ({"items": 4}, "items must be at least 5"),
        ({"seed": -1}, "seed must be a non-negative integer"),
        ({"customers": 2.5}, "customers must be an integer"),
        ({"items": "40"}, "items must be an integer"),
    ],
)
def test_bad_arguments_raise(tmp_path: Path, kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        generate_data(tmp_path / "data", **kwargs)
    assert not (tmp_path / "data").exists()


def test_end_date_must_be_a_date(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="end_date"):
        generate_data(tmp_path / "data", end_date="2026-11-24")  # type: ignore[arg-type]


def test_refuses_a_file_as_output(tmp_path: Path) -> None:
    out = tmp_path / "data"
    out.write_text("not a folder")
    with pytest.raises(NotADirectoryError, match=re.escape(str(out))):
        generate_data(out, customers=5, days=2)


def test_accepts_a_datetime_as_end_date(tmp_path: Path) -> None:
    moment = datetime.datetime(2026, 11, 24, 23, 59, tzinfo=datetime.UTC)
    summary = generate_data(tmp_path / "data", customers=5, days=2, end_date=moment)
    assert summary.last_date == END


def test_refuses_a_folder_with_day_folders(tmp_path: Path) -> None:
    out = tmp_path / "data"
    (out / "date=2020-01-01").mkdir(parents=True)
    with pytest.raises(FileExistsError, match=re.escape(str(out))):
        generate_data(out, customers=5, days=2)
    assert [p.name for p in out.iterdir()] == ["date=2020-01-01"]


def test_accepts_an_existing_folder_without_day_folders(tmp_path: Path) -> None:
    out = tmp_path / "data"
    out.mkdir()
    (out / "README.txt").write_text("hello")
    generate_data(str(out), customers=5, days=2, end_date=END)
    assert sorted(p.name for p in out.iterdir()) == [
        "README.txt",
        "date=2026-11-23",
        "date=2026-11-24",
    ]


def test_end_date_defaults_to_today_utc(tmp_path: Path) -> None:
    before = datetime.datetime.now(datetime.UTC).date()
    summary = generate_data(tmp_path / "data", customers=5, days=2)
    after = datetime.datetime.now(datetime.UTC).date()
    assert summary.last_date in {before, after}
    assert (tmp_path / "data" / f"date={summary.last_date.isoformat()}" / "orders.csv").exists()


def test_progress_reports_each_day(tmp_path: Path) -> None:
    messages: list[str] = []
    summary = generate_data(
        tmp_path / "data", customers=50, days=4, end_date=END, progress=messages.append
    )
    assert len(messages) == 4
    assert messages[0].startswith("2026-11-21: ") and messages[-1].startswith("2026-11-24: ")
    counts = [int(re.fullmatch(r"\S+: ([\d,]+) orders", m)[1].replace(",", "")) for m in messages]
    assert sum(counts) == summary.orders


def test_files_are_written_atomically(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    class Boom(RuntimeError):
        pass

    real_prefixed = write._prefixed

    def prefixed(numbers, prefix: str, width: int):
        if prefix == "o0001-":  # day two's order ids: the file is open, its header written
            raise Boom
        return real_prefixed(numbers, prefix, width)

    monkeypatch.setattr(write, "_prefixed", prefixed)
    with pytest.raises(Boom):
        generate_data(tmp_path / "data", customers=20, days=3, end_date=END)
    day1, day2 = (tmp_path / "data" / f"date=2026-11-{d}" for d in (22, 23))
    assert (day1 / "orders.csv").exists()
    assert list(day2.iterdir()) == []  # neither orders.csv nor a temporary file
