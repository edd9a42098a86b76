"""Drawing the shop day by day: the menu, the customers and their orders, vectorised."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pyarrow as pa

from burger_recs.contract import (
    DAY_FOLDER_PATTERN,
    INGREDIENT_SEPARATOR,
)
from burger_recs.generate.shop import (
    _BLOCK,
    _CITIES,
    _CITY_SHARE,
    _COHORT_EVERY,
    _DRINKS,
    _EXTRA_PRICE,
    _EXTRAS,
    _ING_INDEX,
    _INITIAL_CUSTOMER_SHARE,
    _K,
    _NEW_FAVOURITE,
    _NEW_ITEM_SHARE,
    _NOVELTY_BOOST,
    _NOVELTY_DAYS,
    _ORDERS_PER_CUSTOMER_DAY,
    _PROFILE_SHARE,
    _PROFILES,
    _PROTEIN_PRICE,
    _PROTEIN_WORD,
    _PROTEINS,
    _QUANTITY_P,
    _RATE_SHAPE,
    _REPEAT_ALPHA,
    _REPEAT_BETA,
    _SEED_CUSTOMERS,
    _SEED_DAY,
    _SEED_ITEMS,
    _SIDES,
    _SIGNATURE_WORD,
    _SIZES,
    _SUFFIXES,
    _TASTE_CONCENTRATION,
    _TASTE_SHARPNESS,
    _W,
    _WEEKDAY_FACTOR,
    _ZIPF_EXPONENT,
    INGREDIENTS,
    _Customers,
    _Menu,
    _Profile,
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
