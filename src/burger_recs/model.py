"""The model: a hybrid LightFM model of customers and menu items, and how it is built.

What train fits and what evaluate and recommend read: the fitted model with its id mappings
(:class:`TrainedModel`), the interaction and item-feature matrices, the model's ids and
version. Items are described by their own identity and by their ingredients, so an item
added to the menu today is recommended through the ingredients it shares with items
customers ordered. Items that left the menu during the window are in the model too: their
orders still teach it what customers like (and what their ingredients are worth), and
``ValidatedData.on_menu`` keeps them out of what is recommended.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import pickle
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp
from lightfm import LightFM

from burger_recs.contract import INGREDIENT_SEPARATOR
from burger_recs.scoring import Factors
from burger_recs.settings import TrainParams
from burger_recs.validated import ValidatedData
from burger_recs.version import code_version


@dataclass
class TrainedModel:
    """A fitted model with the id mappings needed to score and to explain it.

    Attributes:
        model: the fitted LightFM model.
        customer_ids: row i of the interaction matrix is customer_ids[i].
        item_ids: column j is item_ids[j].
        item_features: (items x features) matrix the model was fitted with.
        has_history: customers with at least one order in the training data.
        params: the hyper-parameters.
        trained_until: the last day of training data.
        interactions: number of (customer, item) pairs trained on.
        feature_names: the names of the item features (item ids, then ingredients).
        code_version: the code that trained the model.
    """

    model: LightFM
    customer_ids: np.ndarray
    item_ids: np.ndarray
    item_features: sp.csr_matrix
    has_history: np.ndarray
    params: TrainParams
    trained_until: dt.date
    interactions: int
    feature_names: list[str] = field(default_factory=list)
    code_version: str = field(default_factory=code_version)

    def factors(self) -> Factors:
        """Return the model as factor matrices for vectorised scoring.

        Customers without history get a zero vector, so they are scored by item bias alone
        (a learned popularity), not by an untrained random embedding.
        """
        item_bias, item_emb = self.model.get_item_representations(self.item_features)
        _, user_emb = self.model.get_user_representations()
        users = np.where(self.has_history[:, None], user_emb, 0).astype(np.float32)
        return Factors(users, item_emb.astype(np.float32), item_bias.astype(np.float32))

    def save(self, path: str | Path) -> str:
        """Pickle the model to ``path`` and return its version (a hash of the bytes)."""
        data = pickle.dumps(self, protocol=pickle.HIGHEST_PROTOCOL)
        Path(path).write_bytes(data)
        return model_version(data)

    @staticmethod
    def load(path: str | Path) -> TrainedModel:
        """Load a model written by :meth:`save` (a pipeline artifact, so trusted)."""
        return pickle.loads(Path(path).read_bytes())  # noqa: S301 - our own artifact


def model_version(data: bytes) -> str:
    """Return the version of a pickled model: ``lightfm-`` and 12 hex digits of its hash."""
    return f"lightfm-{hashlib.sha256(data).hexdigest()[:12]}"


def interaction_matrix(
    orders: pd.DataFrame, customer_ids: np.ndarray, item_ids: np.ndarray
) -> sp.csr_matrix:
    """Return a binary (customers x items) matrix: 1 where the customer ordered the item.

    ``customer_ids`` and ``item_ids`` are sorted; they may be object arrays (as the model
    keeps them), and are searched as fixed-width unicode so that the search compares
    machine strings, not Python objects (5x faster at a million customers).
    """
    rows = np.searchsorted(customer_ids.astype(str), orders["customer_id"].to_numpy(dtype=str))
    cols = np.searchsorted(item_ids.astype(str), orders["item_id"].to_numpy(dtype=str))
    matrix = sp.csr_matrix(
        (np.ones(len(rows), dtype=np.float32), (rows, cols)),
        shape=(len(customer_ids), len(item_ids)),
    )
    matrix.sum_duplicates()
    matrix.data[:] = 1.0
    return matrix


def item_feature_matrix(
    menu: pd.DataFrame, item_ids: np.ndarray, identity_weight: float = 0.0
) -> tuple[sp.csr_matrix, list]:
    """Return (items x (items + ingredients)) features, each row summing to 1, and names.

    Args:
        menu: the items with their ingredients.
        item_ids: the model's items, in order.
        identity_weight: the item's own feature's share of its row, the ingredients sharing
            the rest equally; 0 weighs the identity like one ingredient (1 / (1 + n)).
    """
    menu = menu.set_index("item_id").loc[item_ids]
    ingredients = [
        sorted({p.strip().lower() for p in str(text).split(INGREDIENT_SEPARATOR) if p.strip()})
        for text in menu["ingredients"]
    ]
    vocabulary = sorted({i for row in ingredients for i in row})
    position = {name: len(item_ids) + j for j, name in enumerate(vocabulary)}
    rows, cols = [], []
    for i, row in enumerate(ingredients):
        rows += [i] * (1 + len(row))
        cols += [i, *(position[name] for name in row)]
    matrix = sp.csr_matrix(
        (np.ones(len(rows), dtype=np.float32), (rows, cols)),
        shape=(len(item_ids), len(item_ids) + len(vocabulary)),
    )
    if identity_weight > 0:
        counts = np.array([len(row) for row in ingredients], dtype=np.float32)
        # The identity keeps identity_weight; an item without ingredients keeps it all.
        share = np.where(counts > 0, (1 - identity_weight) / np.maximum(counts, 1), 0)
        weights = np.concatenate([[1.0 if c == 0 else identity_weight, *[s] * int(c)]
                                  for c, s in zip(counts, share, strict=True)])  # fmt: skip
        matrix = sp.csr_matrix(
            (weights.astype(np.float32), (rows, cols)),
            shape=(len(item_ids), len(item_ids) + len(vocabulary)),
        )
    row_sums = np.asarray(matrix.sum(axis=1)).ravel()
    normalised = sp.diags(1.0 / row_sums).astype(np.float32) @ matrix
    names = [f"item:{i}" for i in item_ids] + [f"ingredient:{n}" for n in vocabulary]
    return normalised.tocsr(), names


def order_weights(orders: pd.DataFrame, until: dt.date, half_life: float = 0.0) -> np.ndarray:
    """Return each order's weight: halved every ``half_life`` days before ``until`` (0: 1)."""
    if half_life <= 0:
        return np.ones(len(orders), dtype=np.float32)
    days = (pd.Timestamp(until) - pd.to_datetime(orders["day"])).dt.days
    return np.power(0.5, days.to_numpy(dtype=np.float64) / half_life).astype(np.float32)


def weighted_interactions(
    orders: pd.DataFrame,
    customer_ids: np.ndarray,
    item_ids: np.ndarray,
    until: dt.date,
    half_life: float = 0.0,
    weigh_repeats: bool = False,
) -> tuple[sp.coo_matrix, sp.coo_matrix]:
    """Return the binary interactions and their LightFM sample weights, in the same order.

    A pair's weight is that of its latest order (recency, :func:`order_weights`), times
    ``1 + ln(orders of the pair)`` with ``weigh_repeats``.
    """
    rows = np.searchsorted(customer_ids.astype(str), orders["customer_id"].to_numpy(dtype=str))
    cols = np.searchsorted(item_ids.astype(str), orders["item_id"].to_numpy(dtype=str))
    pairs = (
        pd.DataFrame({"row": rows, "col": cols, "w": order_weights(orders, until, half_life)})
        .groupby(["row", "col"], sort=True)["w"]
        .agg(["max", "size"])
    )
    weights = pairs["max"].to_numpy(dtype=np.float32, copy=True)  # LightFM writes into it
    if weigh_repeats:
        weights = weights * (1 + np.log(pairs["size"].to_numpy(dtype=np.float32)))
    index = pairs.index.to_frame(index=False)
    shape = (len(customer_ids), len(item_ids))
    coords = (index["row"].to_numpy(), index["col"].to_numpy())
    ones = sp.coo_matrix((np.ones(len(weights), dtype=np.float32), coords), shape=shape)
    return ones, sp.coo_matrix((weights, coords), shape=shape)


def popularity(
    orders: pd.DataFrame, item_ids: np.ndarray, until: dt.date, half_life: float = 0.0
) -> np.ndarray:
    """Return each item's order count (recent orders weighing more with ``half_life``)."""
    cols = np.searchsorted(item_ids.astype(str), orders["item_id"].to_numpy(dtype=str))
    weights = order_weights(orders, until, half_life)
    return np.bincount(cols, weights=weights, minlength=len(item_ids)).astype(np.float32)


def model_ids(data: ValidatedData) -> tuple[np.ndarray, np.ndarray]:
    """Return the sorted customer ids and item ids a model of ``data`` has rows for.

    Every known customer and every item of ``data.menu``, whether or not it has orders: the
    items in force on some day of the window, those that have left the menu since included
    (``data.on_menu`` tells them apart).
    """
    customer_ids = np.sort(data.customers["customer_id"].astype(str).unique())
    item_ids = np.sort(data.menu["item_id"].astype(str).unique())
    return customer_ids, item_ids


def new_model(params: TrainParams) -> LightFM:
    """Return an unfitted LightFM with the hyper-parameters (and seed) of ``params``."""
    return LightFM(
        no_components=params.no_components,
        loss=params.loss,
        learning_rate=params.learning_rate,
        item_alpha=params.item_alpha,
        user_alpha=params.user_alpha,
        random_state=np.random.RandomState(params.seed),
    )
