"""A tiny shop with an obvious taste structure, for model tests on small frames.

The ``taste_shop`` and ``taste_model`` fixtures (tests/unit/conftest.py) hold one of each.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from burger_recs.settings import TrainParams
from burger_recs.validated import ValidatedData

RUN_DATE = dt.date(2026, 3, 28)
WINDOW_DAYS = 28
# Enough for the tiny shop's tastes, and quick.
FAST_TRAIN = TrainParams(epochs=15, no_components=8)


def tiny_shop(customers: int = 60, days: int = WINDOW_DAYS, seed: int = 0) -> ValidatedData:
    """Two kinds of customers: beef lovers order beef combos, veggies order veggie combos.

    Items b0..b4 contain beef, v0..v4 contain a veggie patty; p0 is ordered by everyone now
    and then (the popular item). Each customer orders about every other day.
    """
    rng = np.random.default_rng(seed)
    items = [f"b{i}" for i in range(5)] + [f"v{i}" for i in range(5)] + ["p0"]
    menu = pd.DataFrame(
        {
            "item_id": items,
            "name": [f"Combo {i}" for i in items],
            "ingredients": ["beef;cheddar;fries"] * 5
            + ["veggie patty;salad;fries"] * 5
            + ["chicken;fries;cola"],
            "price": 9.5,
        }
    )
    customer_ids = [f"c{i:03d}" for i in range(customers)]
    rows = []
    start = RUN_DATE - dt.timedelta(days=days - 1)
    for n, customer in enumerate(customer_ids):
        prefix = "b" if n % 2 == 0 else "v"
        favourites = rng.choice(5, size=3, replace=False)
        for d in range(days):
            if rng.random() < 0.5:
                item = "p0" if rng.random() < 0.15 else f"{prefix}{rng.choice(favourites)}"
                day = start + dt.timedelta(days=d)
                rows.append((customer, item, day))
    orders = pd.DataFrame(rows, columns=["customer_id", "item_id", "day_date"])
    orders["order_id"] = [f"o{i}" for i in range(len(orders))]
    orders["quantity"] = 1
    orders["ordered_at"] = pd.to_datetime(orders["day_date"]).dt.tz_localize("UTC") + pd.Timedelta(
        hours=12
    )
    orders["day"] = orders["day_date"].astype(str)
    orders = orders.drop(columns="day_date")
    customers_frame = pd.DataFrame({"customer_id": customer_ids, "signup_date": "2026-01-01"})
    return ValidatedData(RUN_DATE, start, orders, menu, customers_frame)
