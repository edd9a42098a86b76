"""MovieLens 100k in the daily-drop data contract, so that the unchanged pipeline runs on it.

MovieLens 100k (GroupLens) holds 100,000 ratings (1-5) of 1,682 movies by 943 users, made
between 1997-09-20 and 1998-04-22. Its licence forbids redistribution, so the project never
ships it: every function here takes the folder that holds it. The files read are::

    ua.base, ua.test   user id | item id | rating | unix timestamp   (tab-separated)
    u.item             movie id | title | release date | video date | URL | 19 genre flags
    u.genre            genre name | index
    u.user             user id | age | gender | occupation | zip code

``ua.base``/``ua.test`` is the split of the LightFM documentation's example (ten ratings of
every user held out); together they are the whole data set. The mapping into the contract:

- a rating of at least ``min_rating`` becomes an order of quantity 1, in the folder of its
  timestamp's day (UTC); its id is ``<customer>-<item>`` (a user rates a movie once);
- a movie becomes a menu item ``m0001``.. named by its title, its genres as ingredients and
  price 0 (the catalogue is one menu snapshot on the first day);
- a user becomes a customer ``u0001``.. who signs up on the day of their first rating (any
  rating); the customers snapshot is rewritten on every day someone signs up, and carries age,
  gender, occupation and zip code as extra columns;
- every day from the first rating to the last gets a folder, days without orders an
  ``orders.csv`` with the header only (the validate step rejects missing days).
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from burger_recs.contract import (
    CUSTOMERS,
    DAY_FOLDER_PATTERN,
    DAY_FOLDER_PREFIX,
    INGREDIENT_SEPARATOR,
    MENU,
    ORDERS,
)
from burger_recs.validated import ValidatedData

BASE_FILE = "ua.base"
TEST_FILE = "ua.test"
ITEM_FILE = "u.item"
GENRE_FILE = "u.genre"
USER_FILE = "u.user"
FILES = (BASE_FILE, TEST_FILE, ITEM_FILE, GENRE_FILE, USER_FILE)
RATING_COLUMNS = ("user_id", "item_id", "rating", "timestamp")
USER_COLUMNS = ("user_id", "age", "gender", "occupation", "zip_code")
CUSTOMER_EXTRA_COLUMNS = ("age", "gender", "occupation", "zip_code")
# The files are Latin-1 (a few titles have accented letters).
ENCODING = "latin-1"
RATINGS = (1, 2, 3, 4, 5)


@dataclass(frozen=True)
class MovieLens:
    """MovieLens 100k as read from its folder.

    Attributes:
        base: the training ratings (``ua.base``): user_id, item_id, rating, timestamp (ints).
        test: the held-out ratings (``ua.test``), same columns.
        items: item_id (int), title, release_date and genres (a tuple of genre names).
        users: user_id (int), age (int), gender, occupation, zip_code.
    """

    base: pd.DataFrame
    test: pd.DataFrame
    items: pd.DataFrame
    users: pd.DataFrame

    @property
    def ratings(self) -> pd.DataFrame:
        """Every rating (base and test), in time order."""
        both = pd.concat([self.base, self.test], ignore_index=True)
        return both.sort_values(["timestamp", "user_id", "item_id"], kind="stable").reset_index(
            drop=True
        )


@dataclass(frozen=True)
class ContractFrames:
    """MovieLens in the contract's columns, before it is split into daily folders.

    Attributes:
        orders: order_id, customer_id, item_id, quantity, ordered_at (ISO-8601 text), day.
        menu: item_id, name, ingredients, price, release_date.
        customers: customer_id, signup_date, age, gender, occupation, zip_code.
    """

    orders: pd.DataFrame
    menu: pd.DataFrame
    customers: pd.DataFrame


@dataclass(frozen=True)
class ImportSummary:
    """What :func:`import_movielens` wrote.

    Attributes:
        first_date: the first day folder.
        last_date: the last day folder.
        days: how many day folders (including days without orders).
        empty_days: days without a single order.
        orders: orders written.
        skipped_ratings: ratings below ``min_rating``, not written.
        customers: customers in the last snapshot.
        items: menu items.
    """

    first_date: dt.date
    last_date: dt.date
    days: int
    empty_days: int
    orders: int
    skipped_ratings: int
    customers: int
    items: int


def customer_id(user_id: int) -> str:
    """Return the contract's customer id of a MovieLens user id (``u0001``)."""
    return f"u{user_id:04d}"


def item_id(movie_id: int) -> str:
    """Return the contract's item id of a MovieLens movie id (``m0001``)."""
    return f"m{movie_id:04d}"


def read_movielens(folder: str | Path) -> MovieLens:
    """Read MovieLens 100k (the ua split, movies, genres and users) from ``folder``.

    Raises:
        FileNotFoundError: the folder or one of the files is missing.
        ValueError: a file does not look like MovieLens 100k.
    """
    folder = Path(folder)
    missing = [name for name in FILES if not (folder / name).is_file()]
    if missing:
        raise FileNotFoundError(
            f"{folder} is not a MovieLens 100k folder: {', '.join(missing)} missing "
            f"(it needs {', '.join(FILES)})"
        )
    base = _read_ratings(folder / BASE_FILE)
    test = _read_ratings(folder / TEST_FILE)
    genres = pd.read_csv(
        folder / GENRE_FILE, sep="|", header=None, names=["genre", "index"], encoding=ENCODING
    ).dropna()
    genre_names = genres.sort_values("index")["genre"].tolist()
    raw = pd.read_csv(
        folder / ITEM_FILE,
        sep="|",
        header=None,
        encoding=ENCODING,
        dtype=str,
        keep_default_na=False,
    )
    if raw.shape[1] != 5 + len(genre_names):
        raise ValueError(
            f"{folder / ITEM_FILE}: expected {5 + len(genre_names)} '|'-separated fields "
            f"(5 + one flag per genre of {GENRE_FILE}), found {raw.shape[1]}"
        )
    flags = raw.iloc[:, 5:].astype(int).to_numpy() > 0
    items = pd.DataFrame(
        {
            "item_id": raw[0].astype(int),
            "title": raw[1],
            "release_date": raw[2],
            "genres": [
                tuple(name for name, on in zip(genre_names, row, strict=True) if on)
                for row in flags
            ],
        }
    )
    users = pd.read_csv(
        folder / USER_FILE,
        sep="|",
        header=None,
        names=list(USER_COLUMNS),
        encoding=ENCODING,
        dtype={"zip_code": str},
    )
    return MovieLens(base, test, items, users)


def _read_ratings(path: Path) -> pd.DataFrame:
    frame = pd.read_csv(path, sep="\t", header=None, dtype="int64", encoding=ENCODING)
    if frame.shape[1] != len(RATING_COLUMNS):
        raise ValueError(
            f"{path}: expected {len(RATING_COLUMNS)} tab-separated fields "
            f"({', '.join(RATING_COLUMNS)}), found {frame.shape[1]}"
        )
    frame.columns = list(RATING_COLUMNS)
    return frame


def contract_frames(ml: MovieLens, ratings: pd.DataFrame, min_rating: int = 1) -> ContractFrames:
    """Map ratings, movies and users into the contract's columns (see the module docstring).

    Args:
        ml: the data set (its movies and users; signup days come from all its ratings).
        ratings: the ratings to turn into orders, e.g. ``ml.base`` or ``ml.ratings``.
        min_rating: the lowest rating that counts as an order (1: every rating).

    Raises:
        ValueError: min_rating is not one of 1..5.
    """
    if min_rating not in RATINGS:
        raise ValueError(f"min_rating must be one of 1..5, got {min_rating}")
    kept = ratings[ratings["rating"] >= min_rating].sort_values(
        ["timestamp", "user_id", "item_id"], kind="stable"
    )
    stamps = pd.to_datetime(kept["timestamp"], unit="s", utc=True)
    customers_of = kept["user_id"].map(customer_id)
    items_of = kept["item_id"].map(item_id)
    orders = pd.DataFrame(
        {
            "order_id": (customers_of + "-" + items_of).to_numpy(),
            "customer_id": customers_of.to_numpy(),
            "item_id": items_of.to_numpy(),
            "quantity": 1,
            "ordered_at": stamps.dt.strftime("%Y-%m-%dT%H:%M:%SZ").to_numpy(),
            "day": stamps.dt.strftime("%Y-%m-%d").to_numpy(),
        }
    )
    menu = pd.DataFrame(
        {
            "item_id": ml.items["item_id"].map(item_id),
            "name": ml.items["title"],
            "ingredients": [INGREDIENT_SEPARATOR.join(g) for g in ml.items["genres"]],
            "price": 0,
            "release_date": ml.items["release_date"],
        }
    )
    first_rating = ml.ratings.groupby("user_id")["timestamp"].min()
    signup = pd.to_datetime(ml.users["user_id"].map(first_rating), unit="s", utc=True)
    customers = pd.DataFrame(
        {
            "customer_id": ml.users["user_id"].map(customer_id),
            "signup_date": signup.dt.strftime("%Y-%m-%d"),
            **{column: ml.users[column] for column in CUSTOMER_EXTRA_COLUMNS},
        }
    )
    return ContractFrames(orders.reset_index(drop=True), menu, customers)


def validated_data(
    frames: ContractFrames, run_date: dt.date, window_start: dt.date
) -> ValidatedData:
    """Return the frames typed as the validate step hands them on, for in-memory runs.

    Used by the quality report to train on a split that is not temporal (``ua.base``); a
    temporal run reads the imported folders through ingest and validate instead.
    """
    orders = frames.orders.copy()
    orders["ordered_at"] = pd.to_datetime(orders["ordered_at"], utc=True, format="ISO8601")
    return ValidatedData(
        run_date, window_start, orders, frames.menu.copy(), frames.customers.copy()
    )


def import_movielens(
    folder: str | Path,
    out: str | Path,
    min_rating: int = 1,
    force: bool = False,
    progress: Callable[[str], None] | None = None,
) -> ImportSummary:
    """Write MovieLens 100k under ``out`` as daily drops in the data contract.

    Args:
        folder: the MovieLens 100k folder (``ua.base``, ``ua.test``, ``u.item``, ...).
        out: the data root to write ``date=YYYY-MM-DD`` folders into; created if missing.
        min_rating: the lowest rating that counts as an order (1: every rating).
        force: replace the day folders already in ``out``.
        progress: called with a short message every 30 written days.

    Returns:
        A summary of what was written.

    Raises:
        FileExistsError: ``out`` already holds day folders and ``force`` is False.
        FileNotFoundError: the MovieLens folder or one of its files is missing.
        ValueError: min_rating is not one of 1..5.
    """
    ml = read_movielens(folder)
    all_ratings = ml.ratings
    frames = contract_frames(ml, all_ratings, min_rating)
    out = Path(out)
    existing = [p for p in out.glob(f"{DAY_FOLDER_PREFIX}*") if DAY_FOLDER_PATTERN.match(p.name)]
    if existing and not force:
        raise FileExistsError(f"{out} already holds {len(existing)} day folders")
    for path in existing:
        shutil.rmtree(path)
    stamps = pd.to_datetime(all_ratings["timestamp"], unit="s", utc=True)
    first, last = stamps.min().date(), stamps.max().date()
    days = pd.date_range(first, last, freq="D").date
    orders_by_day = dict(tuple(frames.orders.groupby("day", sort=True)))
    signups = frames.customers.sort_values(["signup_date", "customer_id"], kind="stable")
    signup_days = set(signups["signup_date"])
    order_columns = list(ORDERS.required_columns)
    empty_days = 0
    for n, day in enumerate(days):
        iso = day.isoformat()
        target = out / f"{DAY_FOLDER_PREFIX}{iso}"
        target.mkdir(parents=True, exist_ok=True)
        if n == 0:
            _write(frames.menu, target / MENU.file_names()[0])
        if iso in signup_days:
            snapshot = signups[signups["signup_date"] <= iso]
            _write(snapshot, target / CUSTOMERS.file_names()[0])
        todays = orders_by_day.get(iso)
        if todays is None:
            empty_days += 1
            todays = frames.orders.iloc[:0]
        _write(todays[order_columns], target / ORDERS.file_names()[0])
        if progress and (n + 1) % 30 == 0:
            progress(f"{n + 1} of {len(days)} days written ({iso})")
    return ImportSummary(
        first_date=first,
        last_date=last,
        days=len(days),
        empty_days=empty_days,
        orders=len(frames.orders),
        skipped_ratings=len(all_ratings) - len(frames.orders),
        customers=len(frames.customers),
        items=len(frames.menu),
    )


def _write(frame: pd.DataFrame, path: Path) -> None:
    """Write a frame as UTF-8 CSV (pandas quotes titles that hold commas)."""
    frame.to_csv(path, index=False, encoding="utf-8")
