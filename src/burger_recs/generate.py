"""Synthetic daily drops for the burger shop, for demos, tests and load tests.

:func:`generate_data` writes one folder per day in the input contract of
:mod:`burger_recs.contract`::

    <out>/date=YYYY-MM-DD/orders.csv      order_id, customer_id, item_id, quantity, ordered_at
    <out>/date=YYYY-MM-DD/menu.csv        item_id, name, ingredients, price   (snapshot)
    <out>/date=YYYY-MM-DD/customers.csv   customer_id, signup_date, city      (snapshot)

The data is made to be learnable. Each customer mixes a few taste profiles ("classic",
"vegetarian", "spicy", ...), each profile prefers some ingredients, and a customer picks a
combo through a profile with odds that grow with how well the combo's ingredients fit it, times
a Zipf-like popularity. Customers also reorder their favourites, order at their own rates, more
on Fridays and Saturdays, new combos launch at about 1/2 and 3/4 of the range, and new
customers arrive in weekly cohorts.

The generator streams: per-customer state is kept in a few numpy arrays, each day is drawn
with vectorised numpy and written with pyarrow before the next one starts, and big snapshots
are written in blocks. The same arguments give byte-identical files.
"""

from __future__ import annotations

import datetime
import math
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from burger_recs.contract import (
    CUSTOMERS,
    DAY_FOLDER_PATTERN,
    DAY_FOLDER_PREFIX,
    INGREDIENT_SEPARATOR,
    MENU,
    ORDERS,
)

__all__ = ["INGREDIENTS", "GenerationSummary", "generate_data"]

# ---------------------------------------------------------------------------------------------
# Vocabulary
# ---------------------------------------------------------------------------------------------
_PROTEINS = ("beef patty", "chicken", "veggie patty", "fish", "halloumi")
_EXTRAS = (
    "cheddar",
    "blue cheese",
    "swiss cheese",
    "bacon",
    "jalapeño",
    "avocado",
    "caramelized onions",
    "mushrooms",
    "fried egg",
    "pickles",
    "salad",
    "pineapple",
    "BBQ sauce",
    "truffle mayo",
    "sriracha mayo",
    "ketchup",
)
_SIDES = ("fries", "sweet potato fries", "onion rings")
_DRINKS = ("cola", "lemonade", "milkshake", "iced tea")

INGREDIENTS: tuple[str, ...] = _PROTEINS + _EXTRAS + _SIDES + _DRINKS
"""Every ingredient a generated combo can contain."""

_ING_INDEX = {name: i for i, name in enumerate(INGREDIENTS)}
_MEAT = {"beef patty": -4.0, "chicken": -4.0, "fish": -3.0, "bacon": -4.0}


@dataclass(frozen=True)
class _Profile:
    """A taste profile: ingredient weights plus words to name the combos built for it."""

    name: str
    share: float  # how common the profile is among customers and menu items
    weights: dict[str, float]
    adjectives: tuple[str, ...]


_PROFILES: tuple[_Profile, ...] = (
    _Profile(
        "classic",
        0.22,
        {
            "beef patty": 2.0,
            "cheddar": 1.5,
            "pickles": 1.5,
            "ketchup": 1.5,
            "fries": 1.5,
            "cola": 1.5,
            "salad": 0.5,
            "truffle mayo": -1.0,
            "halloumi": -1.0,
        },
        ("Classic", "Original", "Diner", "Hometown", "Golden"),
    ),
    _Profile(
        "bbq",
        0.16,
        {
            "beef patty": 1.5,
            "bacon": 2.5,
            "BBQ sauce": 2.5,
            "onion rings": 2.0,
            "cheddar": 1.0,
            "milkshake": 1.5,
            "salad": -1.0,
            "veggie patty": -2.0,
        },
        ("Smoky", "Pitmaster", "Texas", "Ranch", "Hickory"),
    ),
    _Profile(
        "spicy",
        0.14,
        {
            "jalapeño": 3.0,
            "sriracha mayo": 3.0,
            "chicken": 1.5,
            "beef patty": 1.0,
            "onion rings": 1.0,
            "cola": 1.0,
            "milkshake": -1.0,
            "pineapple": -1.0,
        },
        ("Fiery", "Inferno", "Blazing", "Volcano", "Diablo"),
    ),
    _Profile(
        "premium",
        0.12,
        {
            "truffle mayo": 3.0,
            "blue cheese": 2.5,
            "swiss cheese": 1.5,
            "mushrooms": 2.0,
            "caramelized onions": 2.0,
            "beef patty": 1.5,
            "sweet potato fries": 1.5,
            "ketchup": -1.5,
            "cola": -1.0,
        },
        ("Royal", "Gourmet", "Signature", "Deluxe", "Truffle Club"),
    ),
    _Profile(
        "vegetarian",
        0.10,
        {
            "veggie patty": 3.0,
            "halloumi": 3.0,
            "avocado": 2.0,
            "salad": 2.0,
            "mushrooms": 1.0,
            "sweet potato fries": 1.5,
            "lemonade": 1.5,
            **_MEAT,
        },
        ("Garden", "Green", "Harvest", "Meadow", "Sprout"),
    ),
    _Profile(
        "light",
        0.10,
        {
            "chicken": 2.5,
            "avocado": 2.0,
            "salad": 2.5,
            "iced tea": 2.0,
            "lemonade": 1.0,
            "bacon": -2.0,
            "milkshake": -2.0,
            "fries": -1.0,
            "BBQ sauce": -1.0,
        },
        ("Fresh", "Lean", "Sunny", "Crisp", "Fit"),
    ),
    _Profile(
        "island",
        0.07,
        {
            "fish": 3.0,
            "pineapple": 3.0,
            "avocado": 1.0,
            "iced tea": 2.0,
            "sriracha mayo": 1.0,
            "beef patty": -1.0,
            "blue cheese": -1.5,
        },
        ("Island", "Aloha", "Coastal", "Harbour", "Tiki"),
    ),
    _Profile(
        "brunch",
        0.09,
        {
            "fried egg": 3.0,
            "bacon": 1.5,
            "swiss cheese": 2.0,
            "avocado": 1.0,
            "caramelized onions": 1.0,
            "milkshake": 2.0,
            "sweet potato fries": 0.5,
        },
        ("Sunrise", "Brunch", "Morning", "Farmhouse", "Breakfast Club"),
    ),
)
_K = len(_PROFILES)
_PROFILE_SHARE = np.array([p.share for p in _PROFILES]) / sum(p.share for p in _PROFILES)
# (profiles x ingredients) weight matrix.
_W = np.zeros((_K, len(INGREDIENTS)))
for _k, _profile in enumerate(_PROFILES):
    for _ing, _w in _profile.weights.items():
        _W[_k, _ING_INDEX[_ing]] = _w

_PROTEIN_WORD = {
    "beef patty": "",
    "chicken": "Chicken",
    "veggie patty": "Veggie",
    "fish": "Fish",
    "halloumi": "Halloumi",
}
_SIGNATURE_WORD = {
    "bacon": "Bacon",
    "jalapeño": "Jalapeño",
    "avocado": "Avocado",
    "blue cheese": "Blue Cheese",
    "truffle mayo": "Truffle",
    "BBQ sauce": "BBQ",
    "mushrooms": "Mushroom",
    "caramelized onions": "Onion",
    "fried egg": "Egg",
    "pineapple": "Pineapple",
    "sriracha mayo": "Sriracha",
    "cheddar": "Cheddar",
    "swiss cheese": "Swiss",
    "pickles": "Pickle",
}
_SIZES = (
    ("", 0.0, 0.45),
    ("Double", 2.5, 0.25),
    ("Triple", 4.5, 0.08),
    ("Stack", 3.5, 0.1),
    ("Jr.", -1.5, 0.12),
)
_SUFFIXES = ("Combo", "Combo", "Meal", "Box")
_PROTEIN_PRICE = {
    "beef patty": 7.0,
    "chicken": 6.5,
    "veggie patty": 6.5,
    "fish": 7.5,
    "halloumi": 7.0,
}
_EXTRA_PRICE = {
    "truffle mayo": 1.6,
    "blue cheese": 1.3,
    "bacon": 1.2,
    "avocado": 1.2,
    "fried egg": 0.9,
    "swiss cheese": 0.9,
    "mushrooms": 0.8,
}
_CITIES = (
    "Amsterdam",
    "Rotterdam",
    "Utrecht",
    "The Hague",
    "Eindhoven",
    "Groningen",
    "Tilburg",
    "Almere",
    "Breda",
    "Nijmegen",
    "Haarlem",
    "Leiden",
)
_CITY_SHARE = np.array([20, 14, 10, 10, 7, 6, 5, 5, 5, 5, 4, 4], dtype=float)

# ---------------------------------------------------------------------------------------------
# Behaviour knobs
# ---------------------------------------------------------------------------------------------
_WEEKDAY_FACTOR = np.array([0.75, 0.8, 0.85, 0.95, 1.45, 1.6, 1.0])  # Monday .. Sunday
_WEEKDAY_FACTOR = _WEEKDAY_FACTOR / _WEEKDAY_FACTOR.mean()
_ORDERS_PER_CUSTOMER_DAY = 2.0 / 30.0  # about two orders a month on average
_RATE_SHAPE = 1.2  # Gamma shape of the per-customer order rates (lower: more unequal)
_TASTE_CONCENTRATION = 0.12  # Dirichlet concentration: low means one profile dominates
_TASTE_SHARPNESS = 2.2  # how strongly ingredient fit drives the choice of a combo
_ZIPF_EXPONENT = 0.9
_NOVELTY_BOOST, _NOVELTY_DAYS = 3.0, 6.0  # launch boost of a new combo and its decay
_REPEAT_ALPHA, _REPEAT_BETA = 2.0, 2.5  # Beta prior of a customer's reorder probability
_NEW_FAVOURITE = 0.15  # chance that a freshly tried combo becomes the second favourite
_QUANTITY_P = np.array([0.72, 0.17, 0.06, 0.03, 0.02])
_INITIAL_CUSTOMER_SHARE = 0.7  # the rest arrive in weekly cohorts
_COHORT_EVERY = 7
_LAUNCH_FRACTIONS = (0.5, 0.75)
_NEW_ITEM_SHARE = 0.06  # share of the menu launched in each wave
_BLOCK = 1 << 18  # customers per block when drawing state or writing a snapshot
_ORDER_CHUNK = 1 << 19  # order rows per written batch

_SEED_ITEMS, _SEED_CUSTOMERS, _SEED_DAY = 1, 2, 3


@dataclass(frozen=True)
class GenerationSummary:
    """What :func:`generate_data` wrote.

    Attributes:
        first_date: The first day written.
        last_date: The last day written.
        days: Number of day folders.
        customers: Customers in the last customers snapshot.
        items: Items in the last menu snapshot.
        orders: Orders written over all days.
        files_written: Number of CSV files written.
    """

    first_date: datetime.date
    last_date: datetime.date
    days: int
    customers: int
    items: int
    orders: int
    files_written: int


@dataclass(frozen=True)
class _Menu:
    """Every combo the shop will ever sell over the range, in item-index order."""

    ids: pa.Array  # string item ids
    names: list[str]
    ingredients: list[str]  # joined with INGREDIENT_SEPARATOR
    prices: list[str]  # formatted with two decimals
    launch_day: np.ndarray  # day index from which the item is on the menu
    popularity: np.ndarray  # Zipf-like base popularity, float64
    affinity: np.ndarray  # (profiles x items) ingredient fit


@dataclass
class _Customers:
    """Per-customer state, indexed by customer number (arrival order)."""

    ids_width: int
    arrival_day: np.ndarray  # int32, non-decreasing
    signup_offset: np.ndarray  # int32, days relative to the first day
    city: np.ndarray  # uint8 index into _CITIES
    taste_cdf: np.ndarray  # float32 (customers x profiles), cumulative profile mix
    rate_cdf: np.ndarray  # float64 cumulative order rates (for drawing who orders)
    repeat_p: np.ndarray  # float32 reorder probability
    favourites: np.ndarray  # int32 (customers x 2), -1 while unknown


def generate_data(
    out: str | Path,
    customers: int = 2000,
    days: int = 60,
    seed: int = 42,
    end_date: datetime.date | None = None,
    items: int = 40,
    progress: Callable[[str], None] | None = None,
) -> GenerationSummary:
    """Write ``days`` daily drops of synthetic orders, menus and customers under ``out``.

    Args:
        out: Folder to write the ``date=YYYY-MM-DD`` folders into; created if missing.
        customers: Customers known on the last day (about 70% exist from the first day, the
            rest arrive in weekly cohorts).
        days: Number of consecutive days to write, ending with ``end_date``.
        seed: Random seed; the same arguments give byte-identical files.
        end_date: The last day written; defaults to today (UTC).
        items: Menu items on the last day (a few of them launch mid-range).
        progress: Called with a short message after each day is written.

    Returns:
        A summary of what was written.

    Raises:
        ValueError: If an argument is out of range.
        TypeError: If ``end_date`` is not a date.
        FileExistsError: If ``out`` already holds ``date=`` folders.
        NotADirectoryError: If ``out`` is a file.
    """
    _check_args(customers, days, seed, items)
    if end_date is None:
        end_date = datetime.datetime.now(datetime.UTC).date()
    elif isinstance(end_date, datetime.datetime):
        end_date = end_date.date()
    elif not isinstance(end_date, datetime.date):
        raise TypeError(f"end_date must be a datetime.date, got {end_date!r}")
    out = Path(out)
    _check_output_folder(out)
    first_date = end_date - datetime.timedelta(days=days - 1)

    launch_days = sorted({_launch_day(days, f) for f in _LAUNCH_FRACTIONS} - {0})
    menu = _make_menu(items, launch_days, seed)
    state = _make_customers(customers, days, seed)

    out.mkdir(parents=True, exist_ok=True)
    cohort_days = set(np.unique(state.arrival_day).tolist())
    menu_days = {0, *launch_days}
    id_tables = _IdTables(first_date, days, menu, state.ids_width)
    files = 0
    total_orders = 0
    for d in range(days):
        date = first_date + datetime.timedelta(days=d)
        folder = out / f"{DAY_FOLDER_PREFIX}{date.isoformat()}"
        folder.mkdir(exist_ok=True)
        if d in menu_days:
            _write_menu(folder / MENU.file_names()[0], menu, d)
            files += 1
        if d in cohort_days:
            _write_customers(folder / CUSTOMERS.file_names()[0], state, d, id_tables)
            files += 1
        n = _write_orders(folder / ORDERS.file_names()[0], d, date, seed, state, menu, id_tables)
        files += 1
        total_orders += n
        if progress is not None:
            progress(f"{date.isoformat()}: {n:,} orders")

    return GenerationSummary(
        first_date=first_date,
        last_date=end_date,
        days=days,
        customers=customers,
        items=items,
        orders=total_orders,
        files_written=files,
    )


# ---------------------------------------------------------------------------------------------
# Checks
# ---------------------------------------------------------------------------------------------
def _check_args(customers: int, days: int, seed: int, items: int) -> None:
    """Raise ValueError for arguments out of range."""
    for name, value, low in (("customers", customers, 1), ("days", days, 1), ("items", items, 5)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer):
            raise ValueError(f"{name} must be an integer, got {value!r}")
        if value < low:
            raise ValueError(f"{name} must be at least {low}, got {value}")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")


def _check_output_folder(out: Path) -> None:
    """Raise FileExistsError if ``out`` already holds day folders."""
    if not out.exists():
        return
    if not out.is_dir():
        raise NotADirectoryError(f"output path {out} exists and is not a folder")
    existing = sorted(p.name for p in out.iterdir() if DAY_FOLDER_PATTERN.match(p.name))
    if existing:
        raise FileExistsError(
            f"output folder {out} already holds {len(existing)} day folder(s) "
            f"({existing[0]} ... {existing[-1]}); delete them or choose another folder"
        )


def _launch_day(days: int, fraction: float) -> int:
    """Return the day index of a launch wave (0 means: on the menu from the start)."""
    return int(days * fraction) if days >= 4 else 0


def _rng(seed: int, *key: int) -> np.random.Generator:
    """Return an independent generator for one part of the data."""
    return np.random.default_rng(np.random.SeedSequence([seed, *key]))


# ---------------------------------------------------------------------------------------------
# Menu
# ---------------------------------------------------------------------------------------------
def _make_menu(items: int, launch_days: list[int], seed: int) -> _Menu:
    """Draw every combo, its launch day and its popularity."""
    rng = _rng(seed, _SEED_ITEMS)
    per_wave = max(1, round(items * _NEW_ITEM_SHARE))
    launch = np.zeros(items, dtype=np.int32)
    # The last indices launch in waves, so that item ids grow with launch time.
    for w, day in enumerate(reversed(launch_days)):
        launch[items - per_wave * (w + 1) : items - per_wave * w] = day

    width = max(4, len(str(items - 1)))
    ids = [f"i{i:0{width}d}" for i in range(items)]
    styles = rng.choice(_K, size=items, p=_PROFILE_SHARE)
    # Every profile gets at least one of the first combos, so every taste has something.
    styles[: min(_K, items)] = rng.permutation(_K)[: min(_K, items)]
    names: list[str] = []
    ingredients: list[str] = []
    prices: list[str] = []
    x = np.zeros((items, len(INGREDIENTS)))
    seen: dict[str, int] = {}
    for i in range(items):
        combo, name, price = _make_combo(rng, _PROFILES[styles[i]], styles[i])
        seen[name] = seen.get(name, 0) + 1
        if seen[name] > 1:
            name = f"{name} No. {seen[name]}"
        names.append(name)
        ingredients.append(INGREDIENT_SEPARATOR.join(combo))
        prices.append(f"{price:.2f}")
        x[i, [_ING_INDEX[c] for c in combo]] = 1.0

    # Zipf-like popularity over a random ranking; launched combos land in the top 40%.
    score = rng.random(items)
    score[launch > 0] *= 0.4
    rank = np.empty(items, dtype=np.int64)
    rank[np.argsort(score, kind="stable")] = np.arange(items)
    popularity = (rank + 1.0) ** -_ZIPF_EXPONENT
    affinity = (_W @ x.T) / np.sqrt(x.sum(axis=1))[None, :]
    return _Menu(
        pa.array(ids, pa.string()), names, ingredients, prices, launch, popularity, affinity
    )


def _make_combo(
    rng: np.random.Generator, profile: _Profile, k: int
) -> tuple[list[str], str, float]:
    """Draw one combo in a profile's style: its ingredients, name and price."""
    w = _W[k]

    def pick(group: tuple[str, ...], n: int) -> list[str]:
        p = np.exp(2.5 * np.array([w[_ING_INDEX[g]] for g in group]))
        chosen = rng.choice(len(group), size=n, replace=False, p=p / p.sum())
        return [group[c] for c in sorted(chosen)]

    protein = pick(_PROTEINS, 1)
    extras = pick(_EXTRAS, int(rng.integers(1, 5)))
    side = pick(_SIDES, 1)
    drink = pick(_DRINKS, 1) if rng.random() < 0.6 else []
    combo = protein + extras + side + drink

    signature = [e for e in extras if e in _SIGNATURE_WORD]
    signature_word = (
        _SIGNATURE_WORD[max(signature, key=lambda e: w[_ING_INDEX[e]])] if signature else ""
    )
    size_i = rng.choice(len(_SIZES), p=[s[2] for s in _SIZES])
    size, size_price, _ = _SIZES[size_i]
    words = [
        profile.adjectives[rng.integers(len(profile.adjectives))],
        signature_word,
        _PROTEIN_WORD[protein[0]],
        size,
        _SUFFIXES[rng.integers(len(_SUFFIXES))],
    ]
    name = " ".join(word for word in words if word)

    price = _PROTEIN_PRICE[protein[0]] + size_price + 2.0 + (1.8 if drink else 0.0)
    price += sum(_EXTRA_PRICE.get(e, 0.6) for e in extras)
    price = math.floor(price) + (0.49 if rng.random() < 0.4 else 0.99)
    return combo, name, price


# ---------------------------------------------------------------------------------------------
# Customers
# ---------------------------------------------------------------------------------------------
def _make_customers(customers: int, days: int, seed: int) -> _Customers:
    """Draw arrival days and per-customer state, in blocks of customers."""
    cohort_days = list(range(_COHORT_EVERY, days, _COHORT_EVERY))
    initial = max(1, round(customers * _INITIAL_CUSTOMER_SHARE)) if cohort_days else customers
    arrival = np.zeros(customers, dtype=np.int32)
    if cohort_days and customers > initial:
        # Split the newcomers evenly over the cohorts, oldest cohort first.
        bounds = np.linspace(initial, customers, len(cohort_days) + 1).round().astype(np.int64)
        for day, lo, hi in zip(cohort_days, bounds[:-1], bounds[1:], strict=True):
            arrival[lo:hi] = day

    signup = np.empty(customers, dtype=np.int32)
    city = np.empty(customers, dtype=np.uint8)
    taste_cdf = np.empty((customers, _K), dtype=np.float32)
    rates = np.empty(customers, dtype=np.float64)
    repeat_p = np.empty(customers, dtype=np.float32)
    alpha = _TASTE_CONCENTRATION * _K * _PROFILE_SHARE
    city_p = _CITY_SHARE / _CITY_SHARE.sum()
    for b, lo in enumerate(range(0, customers, _BLOCK)):
        hi = min(customers, lo + _BLOCK)
        n = hi - lo
        rng = _rng(seed, _SEED_CUSTOMERS, b)
        arrived = arrival[lo:hi]
        signup[lo:hi] = np.where(
            arrived > 0,
            arrived - rng.integers(0, _COHORT_EVERY, size=n),
            -rng.integers(1, 731, size=n),
        )
        city[lo:hi] = rng.choice(len(_CITIES), size=n, p=city_p)
        taste = rng.dirichlet(alpha, size=n)
        cdf = np.cumsum(taste, axis=1)
        cdf[:, -1] = 1.0
        taste_cdf[lo:hi] = cdf
        rates[lo:hi] = rng.gamma(_RATE_SHAPE, _ORDERS_PER_CUSTOMER_DAY / _RATE_SHAPE, size=n)
        repeat_p[lo:hi] = rng.beta(_REPEAT_ALPHA, _REPEAT_BETA, size=n)
    np.clip(rates, 0.0, 1.0, out=rates)
    return _Customers(
        ids_width=max(7, len(str(customers - 1))),
        arrival_day=arrival,
        signup_offset=signup,
        city=city,
        taste_cdf=taste_cdf,
        rate_cdf=np.cumsum(rates),
        repeat_p=repeat_p,
        favourites=np.full((customers, 2), -1, dtype=np.int32),
    )


# ---------------------------------------------------------------------------------------------
# Orders
# ---------------------------------------------------------------------------------------------
def _draw_orders(
    d: int, weekday: int, seed: int, state: _Customers, menu: _Menu
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Draw day ``d``'s orders, sorted by time, and update the customers' favourites.

    Returns:
        Customer indices, item indices, quantities and seconds after midnight, in time order.
    """
    rng = _rng(seed, _SEED_DAY, d)
    active = int(np.searchsorted(state.arrival_day, d, side="right"))
    all_rates = float(state.rate_cdf[active - 1])
    n = max(1, int(rng.poisson(all_rates * _WEEKDAY_FACTOR[weekday])))  # never an empty day

    # Who orders: in proportion to the customers' own rates.
    u = rng.random(n) * all_rates
    cust = np.searchsorted(state.rate_cdf[:active], u, side="right")
    np.minimum(cust, active - 1, out=cust)

    # What: a combo drawn through one of the customer's taste profiles ...
    profile = (state.taste_cdf[cust] < rng.random(n, dtype=np.float32)[:, None]).sum(axis=1)
    np.minimum(profile, _K - 1, out=profile)
    weights = _item_weights(d, menu)
    item = np.empty(n, dtype=np.int32)
    u = rng.random(n)
    for k in range(_K):
        rows = np.flatnonzero(profile == k)
        if rows.size:
            cdf = np.cumsum(weights[k])
            picked = np.searchsorted(cdf, u[rows] * cdf[-1], side="right")
            item[rows] = np.minimum(picked, len(cdf) - 1)
    # ... or, often, one of their favourites again.
    fav = state.favourites[cust]
    slot = (rng.random(n) < 0.3).astype(np.intp)  # the second favourite less often
    again = fav[np.arange(n), slot]
    again = np.where(again >= 0, again, fav[:, 0])
    repeat = (rng.random(n) < state.repeat_p[cust]) & (again >= 0)
    item = np.where(repeat, again, item).astype(np.int32)

    quantity = (rng.choice(len(_QUANTITY_P), size=n, p=_QUANTITY_P) + 1).astype(np.int8)
    seconds = _draw_seconds(rng, n, weekday)
    promote = rng.random(n) < _NEW_FAVOURITE

    order = np.argsort(seconds, kind="stable")
    cust, item, quantity, seconds = cust[order], item[order], quantity[order], seconds[order]
    _update_favourites(state, cust, item, ~repeat[order], promote[order])
    return cust, item, quantity, seconds


def _item_weights(d: int, menu: _Menu) -> np.ndarray:
    """Return the (profiles x items) odds of ordering each combo on day ``d``."""
    on_menu = menu.launch_day <= d
    age = np.maximum(d - menu.launch_day, 0)
    novelty = np.where(
        (menu.launch_day > 0) & on_menu, 1.0 + _NOVELTY_BOOST * np.exp(-age / _NOVELTY_DAYS), 1.0
    )
    base = np.where(on_menu, menu.popularity * novelty, 0.0)
    return base[None, :] * np.exp(_TASTE_SHARPNESS * menu.affinity)


def _draw_seconds(rng: np.random.Generator, n: int, weekday: int) -> np.ndarray:
    """Draw order times (seconds after midnight): lunch, dinner and late-night peaks."""
    late = 0.2 if weekday in (4, 5) else 0.08
    centre = np.array([12.5, 19.0, 22.5]) * 3600
    spread = np.array([0.9, 1.3, 1.0]) * 3600
    peak = rng.choice(3, size=n, p=[0.42, 0.58 - late, late])
    seconds = rng.normal(centre[peak], spread[peak]).astype(np.int64)
    return np.mod(seconds, 86_400).astype(np.int32)


def _update_favourites(
    state: _Customers, cust: np.ndarray, item: np.ndarray, fresh: np.ndarray, promote: np.ndarray
) -> None:
    """Learn favourites from the day's freshly chosen (not repeated) orders.

    A customer's first combo becomes their favourite; the next different one their second
    favourite, which a later new combo may replace now and then. The last order of the day
    counts when a customer ordered more than once.
    """
    cust, item, promote = cust[fresh], item[fresh], promote[fresh]
    if cust.size == 0:
        return
    _, last = np.unique(cust[::-1], return_index=True)
    pick = cust.size - 1 - last
    cust, item, promote = cust[pick], item[pick], promote[pick]
    fav = state.favourites[cust]
    first = fav[:, 0] < 0
    second = ~first & (item != fav[:, 0]) & ((fav[:, 1] < 0) | promote)
    state.favourites[cust[first], 0] = item[first]
    state.favourites[cust[second], 1] = item[second]


# ---------------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------------
_WRITE_OPTIONS = pa_csv.WriteOptions(include_header=False, quoting_style="none")


class _IdTables:
    """Lookup tables that turn the integer state into contract strings quickly."""

    _SIGNUP_BACK = 731

    def __init__(self, first_date: datetime.date, days: int, menu: _Menu, id_width: int):
        seconds = range(86_400)
        self.clock = pa.array(
            [f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}" for s in seconds], pa.string()
        )
        self.dates = pa.array(
            [
                (first_date + datetime.timedelta(days=o)).isoformat()
                for o in range(-self._SIGNUP_BACK, days)
            ],
            pa.string(),
        )
        self.items = menu.ids
        self.cities = pa.array(_CITIES, pa.string())
        self.id_width = id_width

    def customer_ids(self, index: np.ndarray) -> pa.Array:
        """Return the string ids of customer numbers ``index``."""
        return _prefixed(index, "c", self.id_width)

    def signup_dates(self, offset: np.ndarray) -> pa.Array:
        """Return ``YYYY-MM-DD`` for days relative to the first day."""
        return self.dates.take(pa.array(offset + self._SIGNUP_BACK))


def _prefixed(numbers: np.ndarray, prefix: str, width: int) -> pa.Array:
    """Return ``prefix`` + the zero-padded numbers, as a string array."""
    digits = pc.utf8_lpad(pc.cast(pa.array(numbers), pa.string()), width, "0")
    return pc.binary_join_element_wise(prefix, digits, "")


def _write_csv(path: Path, columns: tuple[str, ...], batches: Iterable[pa.RecordBatch]) -> None:
    """Write batches to ``path`` atomically: to a temporary name first, then rename."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with tmp.open("wb") as f:
            f.write((",".join(columns) + "\n").encode())
            writer: pa_csv.CSVWriter | None = None
            for batch in batches:
                if writer is None:
                    writer = pa_csv.CSVWriter(f, batch.schema, write_options=_WRITE_OPTIONS)
                writer.write_batch(batch)
            if writer is not None:
                writer.close()
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _write_menu(path: Path, menu: _Menu, d: int) -> None:
    """Write the menu snapshot of day ``d``: every combo launched by then."""
    on = np.flatnonzero(menu.launch_day <= d)
    batch = pa.record_batch(
        [
            menu.ids.take(pa.array(on)),
            pa.array([menu.names[i] for i in on], pa.string()),
            pa.array([menu.ingredients[i] for i in on], pa.string()),
            pa.array([menu.prices[i] for i in on], pa.string()),
        ],
        names=list(MENU.required_columns),
    )
    _write_csv(path, MENU.required_columns, [batch])


_CUSTOMER_COLUMNS = (*CUSTOMERS.required_columns, "city")


def _write_customers(path: Path, state: _Customers, d: int, ids: _IdTables) -> None:
    """Write the customers snapshot of day ``d``: everyone who arrived by then, in blocks."""
    active = int(np.searchsorted(state.arrival_day, d, side="right"))

    def batches() -> Iterator[pa.RecordBatch]:
        for lo in range(0, active, _BLOCK):
            hi = min(active, lo + _BLOCK)
            yield pa.record_batch(
                [
                    ids.customer_ids(np.arange(lo, hi)),
                    ids.signup_dates(state.signup_offset[lo:hi]),
                    ids.cities.take(pa.array(state.city[lo:hi])),
                ],
                names=list(_CUSTOMER_COLUMNS),
            )

    _write_csv(path, _CUSTOMER_COLUMNS, batches())


def _write_orders(
    path: Path,
    d: int,
    date: datetime.date,
    seed: int,
    state: _Customers,
    menu: _Menu,
    ids: _IdTables,
) -> int:
    """Draw and write day ``d``'s orders; return how many were written."""
    cust, item, quantity, seconds = _draw_orders(d, date.weekday(), seed, state, menu)
    n = len(cust)
    day_prefix = f"{date.isoformat()}T"

    def batches() -> Iterator[pa.RecordBatch]:
        for lo in range(0, n, _ORDER_CHUNK):
            hi = min(n, lo + _ORDER_CHUNK)
            yield pa.record_batch(
                [
                    _prefixed(np.arange(lo + 1, hi + 1), f"o{d:04d}-", 7),
                    ids.customer_ids(cust[lo:hi]),
                    ids.items.take(pa.array(item[lo:hi])),
                    pa.array(quantity[lo:hi]),
                    pc.binary_join_element_wise(
                        day_prefix, ids.clock.take(pa.array(seconds[lo:hi])), "Z", ""
                    ),
                ],
                names=list(ORDERS.required_columns),
            )

    _write_csv(path, ORDERS.required_columns, batches())
    return n
