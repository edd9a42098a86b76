"""Champion and challenger: the model that serves when today's does not pass, and where it is.

Every run trains a *challenger*. It becomes a *champion* when it passes the quality gate
(burger_recs.steps.evaluate). Champions are kept by the day they were trained for: the
champion of a day is the newest of that day or an earlier one (:func:`current_champion`),
never a model of a later day, which has seen that day's holdout; the newest
:data:`KEPT_CHAMPIONS` keep their scorers, and :func:`roll_back` undoes the newest promotion.
The champions' scorers are kept in the results database (``model_artifacts``), not on a
disk: the database is the one place every runner's steps already reach (kfp.local's artifact
folders are per run, a cluster's pods share no disk), and keeping them there makes promoting
a model part of the same transaction that publishes its day (:func:`record_model`), so that
a crash leaves the previous champions and the previous day, never one without the other.

A scorer is kept as factor matrices only (:class:`StoredScorer`: ids, user and item factors,
item biases; not LightFM's training state), about ``(customers + items) x factors x 4``
bytes: 13 MB at 100,000 customers. Two are kept for each champion: its serving model (scores
today's customers when it serves) and its evaluation model, fitted without the holdout days
of its own run, so that it is scored on a later run's holdout without having seen those days.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
from dataclasses import dataclass

import numpy as np
import sqlalchemy as sa

from burger_recs import db
from burger_recs.contract import model_artifacts, models
from burger_recs.evaluation import Evaluation
from burger_recs.runs import RunRecord
from burger_recs.scoring import Factors

log = logging.getLogger(__name__)

SERVING, EVALUATION = "serving", "evaluation"
LOCATION = "model_artifacts"
"""Where a champion's scorers are: the ``model_artifacts`` table of the results database."""
ROLLED_BACK = "rolled back"
"""The ``location`` of a champion rolled back (:func:`roll_back`): it is never promoted again."""
KEPT_CHAMPIONS = 5
"""How many champions keep their scorers, the newest by day: a backfill or rerun of any of
their days is compared with (and may be served by) the champion valid for it."""


@dataclass(frozen=True)
class StoredScorer:
    """A model's scorer as factor matrices with its ids: what a later run needs to score.

    Attributes:
        version: the model's version.
        customer_ids: row i of ``factors.users`` is customer_ids[i] (sorted).
        item_ids: row j of ``factors.items`` is item_ids[j] (sorted).
        factors: the scorer; customers without history have zero factors.
        trained_until: the last day of the model's training data.
    """

    version: str
    customer_ids: np.ndarray
    item_ids: np.ndarray
    factors: Factors
    trained_until: dt.date

    def to_bytes(self) -> bytes:
        """Return the scorer as compressed NumPy arrays (no pickle: safe to read back)."""
        buffer = io.BytesIO()
        np.savez_compressed(
            buffer,
            version=np.array(self.version),
            customer_ids=self.customer_ids.astype(str),
            item_ids=self.item_ids.astype(str),
            users=self.factors.users,
            items=self.factors.items,
            item_bias=self.factors.item_bias,
            trained_until=np.array(self.trained_until.isoformat()),
        )
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> StoredScorer:
        """Read a scorer written by :meth:`to_bytes`."""
        with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
            return cls(
                version=str(arrays["version"]),
                customer_ids=arrays["customer_ids"],
                item_ids=arrays["item_ids"],
                factors=Factors(arrays["users"], arrays["items"], arrays["item_bias"]),
                trained_until=dt.date.fromisoformat(str(arrays["trained_until"])),
            )

    def aligned(self, customer_ids: np.ndarray, item_ids: np.ndarray) -> Factors:
        """Return this scorer for today's customers and items (both sorted).

        A customer it does not know (signed up since) gets zero factors, so item biases
        alone rank for them; an item it does not know (new on the menu) scores ``-inf`` and
        is never recommended by it.
        """
        users = np.zeros((len(customer_ids), self.factors.users.shape[1]), dtype=np.float32)
        known, rows = _positions(self.customer_ids, customer_ids)
        users[known] = self.factors.users[rows]
        items = np.zeros((len(item_ids), self.factors.items.shape[1]), dtype=np.float32)
        bias = np.full(len(item_ids), -np.inf, dtype=np.float32)
        known, rows = _positions(self.item_ids, item_ids)
        items[known] = self.factors.items[rows]
        bias[known] = self.factors.item_bias[rows]
        return Factors(users, items, bias)


def _positions(kept: np.ndarray, wanted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return which of ``wanted`` are in sorted ``kept``, and their rows there."""
    kept, wanted = kept.astype(str), wanted.astype(str)
    rows = np.searchsorted(kept, wanted).clip(0, max(len(kept) - 1, 0))
    known = (kept[rows] == wanted) if len(kept) else np.zeros(len(wanted), dtype=bool)
    return np.flatnonzero(known), rows[known]


def current_champion(engine: sa.Engine, day: dt.date | None = None) -> str:
    """Return the champion for ``day`` (default: the newest), or "" when none is kept.

    The champion valid for a day is the newest kept champion of that day or an earlier one.
    A model of a later day was trained on that day's holdout (a backfill or a rerun of an
    older day), so it may neither be compared on it nor serve it.
    """
    db.require_schema(engine)
    with engine.connect() as conn:
        return current_champion_in(conn, day)


def current_champion_in(conn: sa.Connection, day: dt.date | None = None) -> str:
    """Return :func:`current_champion` read on ``conn`` (inside a transaction)."""
    valid = models.c.run_date <= day if day is not None else sa.true()
    query = (
        sa.select(models.c.model_version)
        .where(models.c.champion.is_(True), valid)
        .where(
            sa.exists().where(
                (model_artifacts.c.model_version == models.c.model_version)
                & (model_artifacts.c.kind == SERVING)
            )
        )
        .order_by(*_by_day())
        .limit(1)
    )
    return conn.execute(query).scalar() or ""


def load_scorer(engine: sa.Engine, version: str, kind: str) -> StoredScorer | None:
    """Return one of a model's kept scorers, or None when it is not (or no longer) kept."""
    if not version:
        return None
    query = sa.select(model_artifacts.c.data).where(
        (model_artifacts.c.model_version == version) & (model_artifacts.c.kind == kind)
    )
    with engine.connect() as conn:
        data = conn.execute(query).scalar()
    return None if data is None else StoredScorer.from_bytes(data)


def record_model(
    conn: sa.Connection,
    row: dict,
    promote: bool,
    scorers: dict[str, StoredScorer] | None = None,
) -> None:
    """Record a run's challenger; when it is promoted, keep it as a champion (in ``conn``).

    Called inside the transaction that publishes the day, so that the champions change
    exactly when the day does. A promoted model keeps its scorers and stays a champion, valid
    for its day and the later ones (:func:`current_champion`); the scorers of all but the
    newest :data:`KEPT_CHAMPIONS` champions (by day) are deleted (their ``models`` rows stay,
    with ``location`` None). So a backfill of an older day promotes its own model without
    displacing a later day's champion, and a bad promotion can be rolled back
    (:func:`roll_back`).

    Args:
        conn: a connection inside the publishing transaction.
        row: the ``models`` row (model_version, run_id, run_date, trained_until,
            code_version, metrics, params).
        promote: whether the challenger passed and becomes a champion.
        scorers: its scorers by kind (:data:`SERVING`, :data:`EVALUATION`), when promoted;
            None for a champion promoted again (its scorers are kept already).
    """
    version = row["model_version"]
    now = dt.datetime.now(dt.UTC)
    existing = conn.execute(
        sa.select(models.c.champion, models.c.promoted_at, models.c.location).where(
            models.c.model_version == version
        )
    ).first()
    kept = {
        "champion": bool(existing.champion) if existing else False,
        "promoted_at": existing.promoted_at if existing else None,
        "location": existing.location if existing else None,
    }
    if promote and scorers is None and kept["location"] == LOCATION and kept["champion"]:
        promote = False  # a champion already, its scorers kept: it stays so
    if promote and kept["location"] == ROLLED_BACK:
        log.warning("model %s passed, but it was rolled back: it is not promoted again", version)
        promote = False
    if promote:
        if scorers is None:
            raise RuntimeError(
                f"model {version} was the champion when this run evaluated it, but its "
                "scorers are no longer kept (rolled back, or older than the kept champions): "
                "run the day again"
            )
        if set(scorers) != {SERVING, EVALUATION}:
            raise ValueError("a promoted model needs its serving and evaluation scorers")
        conn.execute(model_artifacts.delete().where(model_artifacts.c.model_version == version))
        conn.execute(
            model_artifacts.insert(),
            [
                {"model_version": version, "kind": k, "data": s.to_bytes()}
                for k, s in scorers.items()
            ],
        )
        kept = {"champion": True, "promoted_at": now, "location": LOCATION}
    db.upsert(conn, models, [{**row, **kept, "recorded_at": now}])
    if promote:
        _keep_newest_champions(conn)
    log.info(
        "model %s recorded%s", version, " and promoted to champion" if promote else " (challenger)"
    )


def _by_day() -> tuple[sa.ColumnElement, ...]:
    """The champions' order, newest first: by the day they were trained for, then promoted."""
    return (models.c.run_date.desc(), models.c.promoted_at.desc())


def _keep_newest_champions(conn: sa.Connection, keep: int | None = None) -> None:
    """Delete the scorers of all but the newest ``keep`` champions (by day)."""
    keep = KEPT_CHAMPIONS if keep is None else keep
    kept = sa.select(models.c.model_version).where(
        models.c.champion.is_(True), models.c.location == LOCATION
    )
    older = list(conn.execute(kept.order_by(*_by_day()).offset(keep)).scalars())
    if older:
        conn.execute(model_artifacts.delete().where(model_artifacts.c.model_version.in_(older)))
        conn.execute(models.update().where(models.c.model_version.in_(older)).values(location=None))
        log.info("champions older than the newest %d: scorers of %s deleted", keep, older)


def roll_back(engine: sa.Engine, version: str = "") -> tuple[str, str]:
    """Roll the champion the next run would take back, for good.

    It is a champion no more, its scorers are deleted, and it is marked
    :data:`ROLLED_BACK`, so that a rerun of its day (whose cached training gives the same
    model) never promotes it again. The next run takes the champion before it
    (:func:`current_champion`), or popularity when none is kept. The days it served stay as
    they were published.

    Args:
        engine: the results database.
        version: the champion to roll back, as the user confirmed it; it must still be the
            one the next run would take (default: whichever that is).

    Returns:
        The model rolled back, and the champion now ("" for none).

    Raises:
        LookupError: there is no champion to roll back, or ``version`` is no longer it.
    """

    def transaction() -> str:
        with engine.begin() as conn:
            newest = current_champion_in(conn)
            if not newest:
                raise LookupError("there is no champion to roll back")
            if version and newest != version:
                raise LookupError(
                    f"the champion is now {newest}, not {version}: nothing was rolled back"
                )
            conn.execute(
                models.update()
                .where(models.c.model_version == newest)
                .values(champion=False, location=ROLLED_BACK)
            )
            conn.execute(model_artifacts.delete().where(model_artifacts.c.model_version == newest))
            return newest

    db.require_schema(engine)
    rolled_back = db.with_retries(transaction)
    return rolled_back, current_champion(engine)


@dataclass(frozen=True)
class ModelUpdate:
    """What publishing a day records about its challenger (:func:`record_model`).

    Attributes:
        row: its ``models`` row.
        promote: whether it became the champion.
        scorers: its serving and evaluation scorers, when promoted.
    """

    row: dict
    promote: bool
    scorers: dict[str, StoredScorer] | None = None


def challenger_update(
    evaluation: Evaluation,
    record: RunRecord,
    model_version: str,
    model_path: str,
    eval_model_path: str,
) -> ModelUpdate | None:
    """Return the challenger's update for the ``models`` table (None without its paths).

    Its scorers are read from the train step's models only when it is promoted.
    """
    if not model_path:
        return None
    row = {
        "model_version": model_version,
        "run_id": record.run_id,
        "run_date": record.run_date,
        "trained_until": record.run_date,
        "code_version": record.code_version,
        "metrics": evaluation.metrics(),
        "params": evaluation.params,
    }
    if not evaluation.publishable:
        return ModelUpdate(row, promote=False)
    if evaluation.champion_version == model_version:
        # A rerun of the champion's own day and data: its scorers are kept already.
        return ModelUpdate(row, promote=True)
    from burger_recs.model import TrainedModel  # LightFM: only when a model is promoted

    scorers = {}
    for kind, path in ((SERVING, model_path), (EVALUATION, eval_model_path)):
        model = TrainedModel.load(path)
        scorers[kind] = StoredScorer(
            model_version, model.customer_ids, model.item_ids, model.factors(), model.trained_until
        )
    return ModelUpdate(row, promote=True, scorers=scorers)
