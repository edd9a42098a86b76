"""The generated shop: its ingredients, taste profiles, menu names and prices, and rates."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

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
