"""A day's figures beyond precision: new and returning customers, coverage, churn, who served.

- **New and returning customers.** :class:`RankingSums` adds up each evaluated customer's
  hits, recall and AUC as the evaluate step scores them block by block, for all customers
  and, in the same pass, for segments of them (:func:`customer_segments`: *new*, no order in
  the window before the holdout; *returning*, at least one).
- **Catalogue coverage** (:func:`catalogue_coverage`): the share of the run day's menu that
  is recommended to anyone.
- **Churn** (:func:`churn`): how each customer's top-k moved from the previous published
  day: the mean Jaccard similarity of the two item sets, over the customers present on both
  days, and the share whose first item changed. Computed over whole columns (integer codes,
  sorted keys, ``np.bincount``), never a Python loop per customer: a day of 100,000
  customers x 10 is a million rows.
- **Who served** (:func:`served_shares`): the share of customers served by today's model,
  the champion and popularity.

:func:`published_figures` gathers the last three for a run record. The publish and commit
steps call :func:`record_figures` with the rows they publish: it reads the previous published
day (:func:`previous_day_rows`) before their transaction and adds the figures to the record.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
import sqlalchemy as sa

from burger_recs import db
from burger_recs.contract import recommendations
from burger_recs.evaluation import CHALLENGER, CHAMPION, POPULARITY, RankingScores
from burger_recs.runs import RunRecord, RunStatus
from burger_recs.validated import ON_MENU

log = logging.getLogger(__name__)

NEW, RETURNING = "new", "returning"
"""The customer segments of the evaluation: no order before the holdout, or some."""

SERVED_SHARES = {
    CHALLENGER: "served_share_model",
    CHAMPION: "served_share_champion",
    POPULARITY: "served_share_popularity",
}
"""The run-record figure of each scorer's share of the customers served."""

COVERAGE = "catalogue_coverage"
CHURN_JACCARD = "churn_mean_jaccard"
CHURN_FIRST_CHANGED = "churn_first_changed_share"
CHURN_CUSTOMERS = "churn_customers"
CHURN_PREVIOUS_DAY = "churn_previous_day"

LOGGED = (COVERAGE, CHURN_JACCARD, CHURN_FIRST_CHANGED, CHURN_CUSTOMERS, *SERVED_SHARES.values())
"""The figures of :func:`published_figures` that the publishing steps log as KFP metrics."""


# ---------------------------------------------------------------------------------------------
# Ranking figures, overall and by segment, in one scoring pass
# ---------------------------------------------------------------------------------------------
def customer_segments(train: sp.csr_matrix) -> dict[str, np.ndarray]:
    """Return the new and returning masks over the customers (rows) of ``train``.

    Args:
        train: (customers x items) interactions of the window before the holdout.

    Returns:
        ``{NEW: mask, RETURNING: mask}``: returning customers have at least one interaction
        in ``train``, new ones none. Each customer is in exactly one.
    """
    returning = np.asarray(train.getnnz(axis=1)).ravel() > 0
    return {NEW: ~returning, RETURNING: returning}


@dataclass
class _Totals:
    """Running sums over the customers of one segment."""

    hits: np.ndarray
    recall: np.ndarray
    auc: float = 0.0
    customers: int = 0
    auc_customers: int = 0

    def scores(self, k: int) -> RankingScores:
        n = max(self.customers, 1)
        precision = (self.hits / (np.arange(k) + 1) / n).tolist()
        auc = self.auc / max(self.auc_customers, 1)
        return RankingScores(precision, (self.recall / n).tolist(), auc, self.customers)


class RankingSums:
    """Ranking figures summed block by block over all customers and over segments of them.

    The evaluate step scores the customers in blocks; each block's per-customer figures are
    added here once, to the overall sums and to the sums of each segment the customers are
    in, so the segments cost no second scoring pass.
    """

    def __init__(self, k: int, segments: Mapping[str, np.ndarray] | None = None) -> None:
        """Start empty sums.

        Args:
            k: the cut-off: figures at 1..k.
            segments: name -> a boolean mask over all customer rows (e.g.
                :func:`customer_segments`).
        """
        self.k = k
        self.segments = {
            name: np.asarray(mask, dtype=bool) for name, mask in (segments or {}).items()
        }
        self._all = self._empty()
        self._parts = {name: self._empty() for name in self.segments}

    def _empty(self) -> _Totals:
        return _Totals(np.zeros(self.k), np.zeros(self.k))

    def add(self, rows: np.ndarray, hits: np.ndarray, recall: np.ndarray, auc: np.ndarray) -> None:
        """Add one block of customers.

        Args:
            rows: the block's customer rows (indices into the segment masks).
            hits: (customers x k) hits among each customer's top 1..k (cumulative).
            recall: (customers x k) each customer's recall@1..k.
            auc: each customer's ROC AUC over the servable items; NaN where it is undefined
                (no servable positive, or no negative item): the mean AUC is over the
                customers with one.
        """
        self._add(self._all, hits, recall, auc)
        for name, mask in self.segments.items():
            inside = mask[rows]
            self._add(self._parts[name], hits[inside], recall[inside], auc[inside])

    @staticmethod
    def _add(totals: _Totals, hits: np.ndarray, recall: np.ndarray, auc: np.ndarray) -> None:
        totals.hits += hits.sum(axis=0)
        totals.recall += recall.sum(axis=0)
        defined = ~np.isnan(auc)
        totals.auc += float(auc[defined].sum())
        totals.auc_customers += int(defined.sum())
        totals.customers += len(hits)

    def scores(self) -> RankingScores:
        """Return the means over all customers, with each segment's in ``segments``."""
        overall = self._all.scores(self.k)
        parts = {name: totals.scores(self.k) for name, totals in self._parts.items()}
        return RankingScores(
            overall.precision, overall.recall, overall.auc, overall.customers, segments=parts
        )


# ---------------------------------------------------------------------------------------------
# Coverage, churn and who served: a published day
# ---------------------------------------------------------------------------------------------
def menu_item_ids(menu: pd.DataFrame) -> np.ndarray:
    """Return the ids (str) of the items on the run day's menu (``on_menu``, else all)."""
    if ON_MENU in menu.columns:
        menu = menu[menu[ON_MENU].astype(bool)]
    return np.unique(menu["item_id"].to_numpy(dtype=str))


def catalogue_coverage(recommended: pd.Series | np.ndarray, on_menu: np.ndarray) -> float:
    """Return the share of the menu's items recommended to at least one customer.

    Args:
        recommended: the item ids of a day's recommendation rows (repeats allowed).
        on_menu: the ids of the items on the run day's menu; a recommended id not among
            them is not counted.

    Returns:
        A share in [0, 1]; 0.0 for an empty menu.
    """
    menu = np.unique(np.asarray(on_menu, dtype=str))
    if not len(menu):
        return 0.0
    served = pd.Series(recommended).drop_duplicates().to_numpy(dtype=str)
    return float(np.isin(menu, served).mean())


@dataclass(frozen=True)
class Churn:
    """How the top-k lists of one day moved from those of an earlier day.

    Attributes:
        customers_before: customers with recommendations on the earlier day.
        customers_after: customers with recommendations on the later day.
        common: customers with recommendations on both days.
        mean_jaccard: the mean over the common customers of the Jaccard similarity of their
            two item sets (None without common customers); 1 means nothing moved.
        first_changed: common customers whose first (lowest rank) item changed.
        first_changed_share: ``first_changed / common`` (None without common customers).
    """

    customers_before: int
    customers_after: int
    common: int
    mean_jaccard: float | None
    first_changed: int
    first_changed_share: float | None


def churn(before: pd.DataFrame, after: pd.DataFrame) -> Churn:
    """Return how each customer's top-k moved from ``before``'s rows to ``after``'s.

    Vectorised: customers and items become integer codes, each (customer, item) pair one
    integer key, and the set sizes and intersections per customer come from sorted keys,
    ``np.intersect1d`` and ``np.bincount``.

    Args:
        before: the earlier day's rows: customer_id, rank, item_id (a customer's rows are
            their top-k; a repeated item counts once).
        after: the later day's rows, likewise.
    """
    n_before = len(before)
    customer_codes, customers = pd.factorize(
        pd.concat([before["customer_id"], after["customer_id"]], ignore_index=True).astype(str)
    )
    item_codes, items = pd.factorize(
        pd.concat([before["item_id"], after["item_id"]], ignore_index=True).astype(str)
    )
    n_customers, n_items = len(customers), max(len(items), 1)
    keys = customer_codes.astype(np.int64) * n_items + item_codes
    set_before, set_after = _distinct(keys[:n_before]), _distinct(keys[n_before:])
    size_before = np.bincount(set_before // n_items, minlength=n_customers)
    size_after = np.bincount(set_after // n_items, minlength=n_customers)
    both = np.intersect1d(set_before, set_after, assume_unique=True)
    shared = np.bincount(both // n_items, minlength=n_customers)
    common = (size_before > 0) & (size_after > 0)
    jaccard = shared[common] / (size_before + size_after - shared)[common]
    ranks = pd.concat([before["rank"], after["rank"]], ignore_index=True).to_numpy()
    first_before, first_after = (
        _first_items(customer_codes[part], ranks[part], item_codes[part], n_customers)
        for part in (slice(None, n_before), slice(n_before, None))
    )
    changed = int((first_before[common] != first_after[common]).sum())
    n = int(common.sum())
    return Churn(
        customers_before=int((size_before > 0).sum()),
        customers_after=int((size_after > 0).sum()),
        common=n,
        mean_jaccard=float(jaccard.mean()) if n else None,
        first_changed=changed,
        first_changed_share=changed / n if n else None,
    )


def _distinct(values: np.ndarray) -> np.ndarray:
    """Return the distinct values, sorted.

    A sort, several times faster here than ``np.unique``, which hashes (numpy 2.3).
    """
    ordered = np.sort(values)
    return ordered[np.r_[True, ordered[1:] != ordered[:-1]]] if len(ordered) else ordered


def _first_items(
    customers: np.ndarray, ranks: np.ndarray, items: np.ndarray, n_customers: int
) -> np.ndarray:
    """Return each customer's lowest-ranked item code (-1 for a customer without rows)."""
    first = np.full(n_customers, -1, dtype=np.int64)
    if not len(customers):
        return first
    order = np.lexsort((ranks, customers))
    sorted_customers = customers[order]
    starts = np.flatnonzero(np.r_[True, sorted_customers[1:] != sorted_customers[:-1]])
    first[sorted_customers[starts]] = items[order][starts]
    return first


def served_shares(served_by: str | pd.Series | np.ndarray) -> dict[str, float]:
    """Return the share of customers served by each scorer, as run-record figures.

    Args:
        served_by: the scorer that serves the whole day (:data:`CHALLENGER`,
            :data:`CHAMPION`, :data:`POPULARITY`, or "" when nobody is served), or each
            served customer's scorer, for a day whose customers are served by several.

    Returns:
        ``served_share_model``, ``served_share_champion``, ``served_share_popularity``: each
        in [0, 1], summing to 1 when anyone is served, all 0 when nobody is.
    """
    if isinstance(served_by, str):
        return {key: float(served_by == scorer) for scorer, key in SERVED_SHARES.items()}
    scorers = pd.Series(np.asarray(served_by, dtype=object))
    counts = scorers.value_counts()
    total = len(scorers)
    return {
        key: float(counts.get(scorer, 0)) / total if total else 0.0
        for scorer, key in SERVED_SHARES.items()
    }


def published_figures(
    recs: pd.DataFrame | None,
    served_by: str | pd.Series | np.ndarray,
    menu: pd.DataFrame | None = None,
    previous: pd.DataFrame | None = None,
    previous_day: dt.date | None = None,
) -> dict[str, float | int | str]:
    """Return a published day's figures for its run record (``pipeline_runs.metrics``).

    Args:
        recs: the day's rows (customer_id, rank, item_id...); None or empty when nothing is
            published: then only the served shares (all 0) are returned.
        served_by: who served the day (see :func:`served_shares`).
        menu: the menu, with ``on_menu``; without it there is no coverage.
        previous: the previous published day's rows (:func:`previous_day_rows`); without
            them, or without customers on both days, there is no churn.
        previous_day: that day, recorded with the churn.

    Returns:
        ``served_share_*``; ``catalogue_coverage``; ``churn_mean_jaccard``,
        ``churn_first_changed_share``, ``churn_customers`` (customers on both days) and
        ``churn_previous_day`` (ISO date). A figure that cannot be computed is left out.
    """
    figures: dict[str, float | int | str] = {}
    if recs is None or recs.empty:
        figures.update(served_shares(""))
        return figures
    figures.update(served_shares(served_by))
    if menu is not None:
        figures[COVERAGE] = round(catalogue_coverage(recs["item_id"], menu_item_ids(menu)), 6)
    if previous is not None and not previous.empty:
        moved = churn(previous, recs)
        if moved.mean_jaccard is not None and moved.first_changed_share is not None:
            figures[CHURN_JACCARD] = round(moved.mean_jaccard, 6)
            figures[CHURN_FIRST_CHANGED] = round(moved.first_changed_share, 6)
            figures[CHURN_CUSTOMERS] = moved.common
            if previous_day is not None:
                figures[CHURN_PREVIOUS_DAY] = previous_day.isoformat()
    return figures


def logged_figures(figures: Mapping[str, object] | None) -> dict[str, float]:
    """Return the numbers among :data:`LOGGED` in a record's figures, for KFP Metrics."""
    return {
        name: float(value)
        for name, value in (figures or {}).items()
        if name in LOGGED and isinstance(value, int | float) and not isinstance(value, bool)
    }


def record_figures(
    engine: sa.Engine,
    record: RunRecord,
    recs: pd.DataFrame | None,
    menu: pd.DataFrame | None,
) -> None:
    """Add the day's coverage, churn and served shares to ``record.metrics``.

    What the publishing steps (publish, commit) call before their transaction: it reads the
    previous published day (the latest before ``record.run_date``) from ``engine`` on a
    connection of its own, so the transaction that follows stays as short as the load. A
    failed record gains nothing.

    Args:
        engine: the results database.
        record: the run's record.
        recs: the rows to publish, None when nothing is published.
        menu: the menu, with ``on_menu`` (None: no coverage).
    """
    if record.status is RunStatus.FAILED:
        return
    started = time.monotonic()
    previous_day, previous = None, None
    if recs is not None:
        previous_day, previous = previous_day_rows(engine, record.run_date)
    figures = published_figures(recs, record.served_by or "", menu, previous, previous_day)
    record.metrics = {**(record.metrics or {}), **figures}
    log.info(
        "%s %s: coverage %s, churn %s against %s, in %.2fs",
        record.run_id,
        record.run_date,
        figures.get(COVERAGE, "-"),
        figures.get(CHURN_JACCARD, "-"),
        previous_day or "no previous day",
        time.monotonic() - started,
    )


# ---------------------------------------------------------------------------------------------
# The published days, from the results database
# ---------------------------------------------------------------------------------------------
TOP_K_COLUMNS = ["customer_id", "rank", "item_id"]


def top_k_rows(
    conn: sa.Connection, table: sa.Table, *where: sa.ColumnElement[bool]
) -> pd.DataFrame:
    """Return the (customer_id, rank, item_id) rows of a table of recommendations.

    Read through the driver's own cursor into a frame: a day is a million rows at 100,000
    customers, and building a SQLAlchemy row per row, then a frame from those, took five
    times as long (5.5 s against 1.1 s on SQLite). The conditions' values are rendered into
    the statement by SQLAlchemy (they are dates and names of the code, never user text), in
    the connection's schema (``BURGER_RECS_DB_SCHEMA``).

    Args:
        conn: a connection to the results database.
        table: ``recommendations``, or a table of the same columns (a shard's staging).
        where: conditions on its rows.
    """
    query = sa.select(*(table.c[name] for name in TOP_K_COLUMNS)).where(*where)
    translate = conn.get_execution_options().get("schema_translate_map")
    statement = query.compile(
        dialect=conn.dialect,
        schema_translate_map=translate,
        render_schema_translate=bool(translate),
        compile_kwargs={"literal_binds": True},
    )
    cursor = conn.connection.cursor()
    try:
        cursor.execute(str(statement))
        rows = cursor.fetchall()
    finally:
        cursor.close()
    return pd.DataFrame.from_records(rows, columns=TOP_K_COLUMNS)


def published_rows(conn: sa.Connection, day: dt.date) -> pd.DataFrame:
    """Return a published day's (customer_id, rank, item_id) rows."""
    return top_k_rows(conn, recommendations, recommendations.c.run_date == day)


def previous_published_day(conn: sa.Connection, day: dt.date) -> dt.date | None:
    """Return the latest day before ``day`` with published recommendations, or None."""
    r = recommendations.c
    found = conn.execute(sa.select(sa.func.max(r.run_date)).where(r.run_date < day)).scalar()
    if isinstance(found, str):  # SQLite's max() of a date column comes back as text
        return dt.date.fromisoformat(found)
    return found


def previous_day_rows(engine: sa.Engine, day: dt.date) -> tuple[dt.date | None, pd.DataFrame]:
    """Return the previous published day before ``day`` and its rows (empty when none).

    Retries transient database errors (:func:`burger_recs.db.with_retries`).
    """

    def read() -> tuple[dt.date | None, pd.DataFrame]:
        with engine.connect() as conn:
            previous = previous_published_day(conn, day)
            if previous is None:
                return None, pd.DataFrame(columns=TOP_K_COLUMNS)
            return previous, published_rows(conn, previous)

    return db.with_retries(read)
