"""Train: a hybrid LightFM model of customers and menu items.

Items are described by their own identity and by their ingredients, so an item added to the
menu today is recommended through the ingredients it shares with items customers ordered.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import pickle
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp
from lightfm import LightFM

from burger_recs.contract import INGREDIENT_SEPARATOR
from burger_recs.logs import configure as configure_logging
from burger_recs.scoring import Factors
from burger_recs.validated import ValidatedData
from burger_recs.version import code_version

log = logging.getLogger(__name__)

LOSSES = ("warp", "bpr", "logistic", "warp-kos")


@dataclass(frozen=True)
class TrainParams:
    """LightFM hyper-parameters (each one is a pipeline parameter).

    Attributes:
        loss: warp (default, optimises the top of the ranking), bpr, logistic or warp-kos.
        epochs: passes over the interactions.
        no_components: latent factors per customer and item.
        learning_rate: the SGD step.
        item_alpha: L2 penalty on item features.
        user_alpha: L2 penalty on customer features.
        seed: random seed; with num_threads=1 training is reproducible bit for bit.
        num_threads: training threads; more is faster but no longer reproducible.
    """

    loss: str = "warp"
    epochs: int = 30
    no_components: int = 32
    learning_rate: float = 0.05
    item_alpha: float = 1e-6
    user_alpha: float = 1e-6
    seed: int = 42
    num_threads: int = 1

    def __post_init__(self) -> None:
        problems = []
        if self.loss not in LOSSES:
            problems.append(f"loss must be one of {', '.join(LOSSES)}, got {self.loss!r}")
        for name in ("epochs", "no_components", "num_threads"):
            if getattr(self, name) < 1:
                problems.append(f"{name} must be at least 1, got {getattr(self, name)}")
        if not self.learning_rate > 0:
            problems.append(f"learning_rate must be positive, got {self.learning_rate}")
        if problems:
            raise ValueError("; ".join(problems))


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


def item_feature_matrix(menu: pd.DataFrame, item_ids: np.ndarray) -> tuple[sp.csr_matrix, list]:
    """Return (items x (items + ingredients)) features, each row summing to 1, and names."""
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
    row_sums = np.asarray(matrix.sum(axis=1)).ravel()
    matrix = sp.diags(1.0 / row_sums).astype(np.float32) @ matrix
    names = [f"item:{i}" for i in item_ids] + [f"ingredient:{n}" for n in vocabulary]
    return matrix.tocsr(), names


def model_ids(data: ValidatedData) -> tuple[np.ndarray, np.ndarray]:
    """Return the sorted customer ids and item ids a model of ``data`` has rows for.

    Every known customer and every menu item, whether or not it has orders.
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


def fit(data: ValidatedData, params: TrainParams, until: dt.date | None = None) -> TrainedModel:
    """Fit LightFM on the orders up to ``until`` (default: the whole window).

    Every known customer and every menu item gets a row, whether or not it has orders, so
    that the same model scores all of them.
    """
    until = until or data.run_date
    orders = data.orders[data.orders["day"] <= until.isoformat()]
    customer_ids, item_ids = model_ids(data)
    interactions = interaction_matrix(orders, customer_ids, item_ids)
    features, names = item_feature_matrix(data.menu, item_ids)
    model = new_model(params)
    log.info(
        "train: %d customers x %d items, %d interactions, until %s, %s",
        len(customer_ids),
        len(item_ids),
        interactions.nnz,
        until,
        asdict(params),
    )
    model.fit(
        interactions.tocoo(),
        item_features=features,
        epochs=params.epochs,
        num_threads=params.num_threads,
    )
    has_history = np.asarray(interactions.getnnz(axis=1) > 0)
    return TrainedModel(
        model,
        customer_ids,
        item_ids,
        features,
        has_history,
        params,
        until,
        interactions.nnz,
        names,
    )


def holdout_start(data: ValidatedData, holdout_days: int) -> dt.date:
    """Return the first held-out day: the last ``holdout_days`` days of the window.

    Raises:
        ValueError: the holdout would leave no day to train on.
    """
    window = (data.run_date - data.window_start).days + 1
    if not 1 <= holdout_days < window:
        raise ValueError(
            f"holdout_days must be between 1 and window_days - 1 = {window - 1}, got {holdout_days}"
        )
    return data.run_date - dt.timedelta(days=holdout_days - 1)


def run(
    data_dir: str, model_path: str, eval_model_path: str, holdout_days: int, params: TrainParams
) -> str:
    """Train entry point of the pipeline step.

    Fits the model that serves the day on the whole window, and the evaluation model (same
    configuration) on the window without its last ``holdout_days`` days.

    Returns:
        The version of the serving model.
    """
    configure_logging("train")
    data = ValidatedData.load(data_dir)
    evaluation_until = holdout_start(data, holdout_days) - dt.timedelta(days=1)
    fit(data, params, until=evaluation_until).save(eval_model_path)
    version = fit(data, params).save(model_path)
    log.info("train: saved %s", version)
    return version
