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

from burger_recs.generate.days import (
    GenerationSummary,
    generate_data,
)
from burger_recs.generate.shop import (
    INGREDIENTS,
)

__all__ = [
    "INGREDIENTS",
    "GenerationSummary",
    "generate_data",
]
