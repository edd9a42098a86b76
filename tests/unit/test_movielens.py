"""MovieLens 100k into the data contract: reading the files, importing daily drops."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from burger_recs import movielens
from burger_recs.cli import app
from burger_recs.steps import ingest, validate
from tests.support.movielens_files import EMPTY_DAY, FIRST_DAY, SPECIAL_TITLES, write_fake_movielens


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return write_fake_movielens(tmp_path_factory.mktemp("ml-100k"))


@pytest.fixture(scope="module")
def ml(folder) -> movielens.MovieLens:
    return movielens.read_movielens(folder)


@pytest.fixture(scope="module")
def imported(folder, tmp_path_factory) -> tuple[Path, movielens.ImportSummary]:
    out = tmp_path_factory.mktemp("drops")
    return out, movielens.import_movielens(folder, out)


def test_read_parses_ratings_genres_latin1_titles_and_zip_codes(ml):
    assert list(ml.base.columns) == list(movielens.RATING_COLUMNS)
    assert len(ml.base) + len(ml.test) == 120 * 16
    assert (ml.test.groupby("user_id").size() == 2).all()
    titles = ml.items.set_index("item_id")["title"]
    assert titles[1] == SPECIAL_TITLES[1] and titles[2] == "Amélie (2001)"
    genres = ml.items.set_index("item_id")["genres"]
    assert genres[1] == ("Action",) and genres[35] == ("Comedy", "Drama")
    assert ml.users.set_index("user_id")["zip_code"][7] == "00007"  # kept as text
    assert ml.ratings["timestamp"].is_monotonic_increasing


def test_read_names_missing_files(tmp_path):
    (tmp_path / "ua.base").write_text("1\t1\t5\t874965758\n")
    with pytest.raises(FileNotFoundError, match=r"ua\.test, u\.item, u\.genre, u\.user missing"):
        movielens.read_movielens(tmp_path)


def test_contract_frames_keep_ratings_at_or_above_the_threshold(ml):
    all_frames = movielens.contract_frames(ml, ml.ratings, min_rating=1)
    liked = movielens.contract_frames(ml, ml.ratings, min_rating=4)
    assert len(all_frames.orders) == len(ml.ratings)
    assert len(liked.orders) == (ml.ratings["rating"] >= 4).sum() < len(ml.ratings)
    orders = liked.orders
    assert orders["order_id"].is_unique
    assert orders["customer_id"].str.fullmatch(r"u\d{4}").all()
    assert (orders["ordered_at"].str[:10] == orders["day"]).all()
    menu = liked.menu.set_index("item_id")
    assert menu.loc["m0035", "ingredients"] == "Comedy;Drama"
    with pytest.raises(ValueError, match="min_rating"):
        movielens.contract_frames(ml, ml.ratings, min_rating=0)


def test_import_writes_every_day_and_passes_ingest_and_validate(imported, ml):
    out, summary = imported
    days = sorted(p.name for p in out.iterdir())
    assert days[0] == f"date={FIRST_DAY}" and len(days) == summary.days == 70
    assert summary.empty_days == 1 and summary.orders == len(ml.ratings)
    empty = out / f"date={FIRST_DAY + dt.timedelta(days=EMPTY_DAY)}" / "orders.csv"
    assert empty.read_text().strip() == "order_id,customer_id,item_id,quantity,ordered_at"
    # The whole range as one window: the unchanged ingest and validate steps accept it.
    drop = ingest.ingest(str(out), summary.last_date, summary.days)
    assert validate.check(drop) == []
    data = validate.typed(drop)
    assert len(data.orders) == summary.orders
    assert data.menu.set_index("item_id").loc["m0001", "name"] == SPECIAL_TITLES[1]
    assert set(data.customers.columns) >= {"customer_id", "signup_date", "age", "occupation"}


def test_customers_appear_in_the_snapshot_of_their_first_rating_day(imported, ml):
    out, _ = imported
    first_day = (
        pd.to_datetime(ml.ratings.groupby("user_id")["timestamp"].min(), unit="s", utc=True)
        .dt.date.rename(index=movielens.customer_id)
        .to_dict()
    )
    snapshots = sorted(out.glob("date=*/customers.csv"))
    assert len(snapshots) == len(set(first_day.values()))
    for path in snapshots:
        day = dt.date.fromisoformat(path.parent.name.removeprefix("date="))
        listed = set(pd.read_csv(path, dtype=str)["customer_id"])
        assert listed == {c for c, first in first_day.items() if first <= day}


def test_windows_inside_the_range_validate(imported):
    out, summary = imported
    drop = ingest.ingest(str(out), summary.first_date + dt.timedelta(days=20), 7)
    assert validate.check(drop) == []


def test_import_refuses_to_overwrite_unless_forced(folder, tmp_path):
    movielens.import_movielens(folder, tmp_path, min_rating=5)
    with pytest.raises(FileExistsError):
        movielens.import_movielens(folder, tmp_path)
    summary = movielens.import_movielens(folder, tmp_path, min_rating=1, force=True)
    written = sum(len(pd.read_csv(p)) for p in tmp_path.glob("date=*/orders.csv"))
    assert written == summary.orders and summary.skipped_ratings == 0


def test_import_command(folder, tmp_path):
    runner = CliRunner()
    out = tmp_path / "drops"
    result = runner.invoke(
        app, ["import-movielens", str(folder), "--out", str(out), "--min-rating", "4"]
    )
    assert result.exit_code == 0, result.output
    assert "70 days" in result.output and "lower ones left out" in result.output
    again = runner.invoke(app, ["import-movielens", str(folder), "--out", str(out)])
    assert again.exit_code == 1 and "--force" in again.output
    missing = runner.invoke(app, ["import-movielens", str(tmp_path / "nope"), "--out", str(out)])
    assert missing.exit_code == 1 and "not a MovieLens 100k folder" in missing.output
