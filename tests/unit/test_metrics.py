"""A day's figures beyond precision (burger_recs.metrics), on hand-computed cases."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from burger_recs import db, metrics
from burger_recs.evaluation import CHALLENGER, CHAMPION, POPULARITY
from burger_recs.metrics import NEW, RETURNING
from burger_recs.migrations import migrate
from burger_recs.steps.publish import publish
from tests.support.database import DAY, OTHER_DAY, drop_tables, run_record


def tops(lists: dict[str, list[str]]) -> pd.DataFrame:
    """customer_id, rank, item_id rows of each customer's items (best first), rows reversed."""
    rows = [
        (customer, rank, item)
        for customer, items in lists.items()
        for rank, item in enumerate(items, start=1)
    ]
    return pd.DataFrame(rows[::-1], columns=["customer_id", "rank", "item_id"])


# ---------------------------------------------------------------------------------------------
# New and returning customers
# ---------------------------------------------------------------------------------------------
def test_customers_with_an_order_before_the_holdout_are_returning_the_others_new():
    train = sp.csr_matrix(np.array([[1, 0, 0], [0, 0, 0], [0, 2, 1]], dtype=np.float32))
    segments = metrics.customer_segments(train)
    assert segments[RETURNING].tolist() == [True, False, True]
    assert segments[NEW].tolist() == [False, True, False]


def test_ranking_sums_split_blocks_by_segment_in_one_pass():
    # Three customers in two blocks, k = 2. Hits among top 1..2 (cumulative) and recall@1..2:
    #   row 0 (returning): hits [1, 1], recall [0.5, 0.5], AUC 1.0
    #   row 1 (new):       hits [0, 1], recall [0.0, 1.0], AUC 0.5
    #   row 2 (returning): hits [0, 0], recall [0.0, 0.0], AUC undefined (no negative item)
    returning = np.array([True, False, True])
    sums = metrics.RankingSums(2, {NEW: ~returning, RETURNING: returning})
    sums.add(np.array([0, 1]), np.array([[1, 1], [0, 1]]), np.array([[0.5, 0.5], [0, 1]]),
             np.array([1.0, 0.5]))  # fmt: skip
    sums.add(np.array([2]), np.array([[0, 0]]), np.array([[0.0, 0.0]]), np.array([np.nan]))

    scores = sums.scores()
    # precision@j = hits@j / j / customers
    assert scores.precision == pytest.approx([1 / 3, 2 / 2 / 3])
    assert scores.recall == pytest.approx([0.5 / 3, 1.5 / 3])
    assert scores.auc == pytest.approx(1.5 / 2)  # over the customers with a defined AUC
    assert scores.customers == 3
    new, back = scores.segments[NEW], scores.segments[RETURNING]
    assert (new.precision, new.recall, new.auc, new.customers) == ([0.0, 0.5], [0.0, 1.0], 0.5, 1)
    assert back.precision == pytest.approx([0.5, 0.25])
    assert back.recall == pytest.approx([0.25, 0.25])
    assert (back.auc, back.customers) == (1.0, 2)  # row 2's AUC is undefined: not in it
    assert new.segments == {} and back.segments == {}


def test_a_segment_without_customers_has_zero_figures_and_no_customers():
    sums = metrics.RankingSums(1, {NEW: np.array([False])})
    sums.add(np.array([0]), np.array([[1]]), np.array([[1.0]]), np.array([1.0]))
    assert sums.scores().segments[NEW].customers == 0
    assert sums.scores().segments[NEW].precision == [0.0]


# ---------------------------------------------------------------------------------------------
# Coverage, churn, served shares
# ---------------------------------------------------------------------------------------------
MENU = pd.DataFrame(
    {
        "item_id": ["i1", "i2", "i3", "i4", "gone"],
        "name": "Combo",
        "ingredients": "beef",
        "price": 9.5,
        "on_menu": [True, True, True, True, False],
    }
)


def test_coverage_is_the_share_of_todays_menu_recommended_to_anyone():
    assert metrics.menu_item_ids(MENU).tolist() == ["i1", "i2", "i3", "i4"]
    # i1 and i2 of the four items on the menu; "gone" (off the menu) and "x" do not count.
    recommended = pd.Series(["i1", "i1", "i2", "gone", "x"])
    assert metrics.catalogue_coverage(recommended, metrics.menu_item_ids(MENU)) == 0.5
    assert metrics.catalogue_coverage(recommended, np.array(["i1"])) == 1.0
    assert metrics.catalogue_coverage(recommended, np.array([], dtype=str)) == 0.0
    # A menu without on_menu: every item is on it.
    assert metrics.menu_item_ids(MENU.drop(columns="on_menu")).tolist()[-1] == "i4"
    assert len(metrics.menu_item_ids(MENU.drop(columns="on_menu"))) == 5


# Before and after, each customer's top 3, best first. Hand-computed:
#   a  {i1,i2,i3} -> {i3,i2,i1}  Jaccard 3/3 = 1    first item changed (i1 -> i3)
#   b  {i1,i2,i3} -> {i1,i5,i6}  Jaccard 1/5 = 0.2  first item kept
#   c  {i4,i5,i6} -> {i4,i5,i7}  Jaccard 2/4 = 0.5  first item kept
#   d only before; e only after.
BEFORE = {"a": ["i1", "i2", "i3"], "b": ["i1", "i2", "i3"], "c": ["i4", "i5", "i6"],
          "d": ["i1", "i2", "i3"]}  # fmt: skip
AFTER = {"a": ["i3", "i2", "i1"], "b": ["i1", "i5", "i6"], "c": ["i4", "i5", "i7"],
         "e": ["i1", "i2", "i3"]}  # fmt: skip


def test_churn_is_the_mean_jaccard_of_the_customers_on_both_days():
    moved = metrics.churn(tops(BEFORE), tops(AFTER))
    assert (moved.customers_before, moved.customers_after, moved.common) == (4, 4, 3)
    assert moved.mean_jaccard == pytest.approx((1 + 0.2 + 0.5) / 3)
    assert moved.first_changed == 1
    assert moved.first_changed_share == pytest.approx(1 / 3)


def test_churn_counts_a_repeated_item_once_and_needs_common_customers():
    repeated = tops({"a": ["i1", "i1", "i2"]})
    assert metrics.churn(repeated, tops({"a": ["i1", "i2"]})).mean_jaccard == 1.0
    apart = metrics.churn(tops({"a": ["i1"]}), tops({"b": ["i1"]}))
    assert (apart.common, apart.mean_jaccard, apart.first_changed_share) == (0, None, None)
    empty = metrics.churn(tops({}), tops({"a": ["i1"]}))
    assert (empty.customers_before, empty.customers_after, empty.common) == (0, 1, 0)


def test_churn_takes_ids_of_any_string_dtype_and_numbers_as_text():
    before = tops({"1": ["7", "8"]}).astype({"customer_id": "string", "item_id": "string"})
    after = tops({"1": ["8", "9"]}).assign(customer_id=1)  # the same customer, as a number
    moved = metrics.churn(before, after)
    assert (moved.common, moved.mean_jaccard, moved.first_changed) == (1, pytest.approx(1 / 3), 1)


def test_served_shares_of_one_scorer_or_of_each_customer():
    assert metrics.served_shares(CHALLENGER) == {
        "served_share_model": 1.0,
        "served_share_champion": 0.0,
        "served_share_popularity": 0.0,
    }
    assert metrics.served_shares(POPULARITY)["served_share_popularity"] == 1.0
    assert set(metrics.served_shares("").values()) == {0.0}  # nobody served
    per_customer = pd.Series([CHALLENGER, POPULARITY, POPULARITY, CHAMPION])
    assert metrics.served_shares(per_customer) == {
        "served_share_model": 0.25,
        "served_share_champion": 0.25,
        "served_share_popularity": 0.5,
    }
    assert set(metrics.served_shares(np.array([], dtype=object)).values()) == {0.0}


def test_published_figures_gather_coverage_churn_and_shares():
    after = tops({customer: items[:2] for customer, items in AFTER.items()})
    figures = metrics.published_figures(after, CHAMPION, MENU, tops(BEFORE), OTHER_DAY)
    # Top 2 after: a {i3,i2}, b {i1,i5}, c {i4,i5}, e {i1,i2}. Jaccard against the top 3
    # before: a 2/3, b 1/4, c 2/3; first item changed for a only.
    assert figures == {
        "served_share_model": 0.0,
        "served_share_champion": 1.0,
        "served_share_popularity": 0.0,
        "catalogue_coverage": 1.0,  # i1..i4 all recommended (i5 is not on the menu)
        "churn_mean_jaccard": pytest.approx((2 / 3 + 1 / 4 + 2 / 3) / 3, abs=1e-6),
        "churn_first_changed_share": pytest.approx(1 / 3, abs=1e-6),
        "churn_customers": 3,
        "churn_previous_day": OTHER_DAY.isoformat(),
    }
    only_b = metrics.published_figures(tops({"b": ["i2"]}), CHAMPION, MENU)
    assert only_b["catalogue_coverage"] == 0.25
    # No menu, no previous day: neither coverage nor churn.
    assert set(metrics.published_figures(tops(AFTER), CHALLENGER)) == set(
        metrics.SERVED_SHARES.values()
    )
    # Nothing published: nobody served.
    assert metrics.published_figures(None, CHALLENGER, MENU, tops(BEFORE)) == {
        "served_share_model": 0.0,
        "served_share_champion": 0.0,
        "served_share_popularity": 0.0,
    }


def test_logged_figures_are_the_numbers_among_the_published_ones():
    figures = metrics.published_figures(tops(AFTER), CHALLENGER, MENU, tops(BEFORE), OTHER_DAY)
    logged = metrics.logged_figures({**figures, "model_auc": 0.7, "challenger_version": "m1"})
    assert set(logged) == set(figures) - {"churn_previous_day"}
    assert logged["churn_customers"] == 3.0
    assert metrics.logged_figures(None) == {}


# ---------------------------------------------------------------------------------------------
# The previous published day
# ---------------------------------------------------------------------------------------------
def _scored(lists: dict[str, list[str]]) -> pd.DataFrame:
    return tops(lists).assign(score=0.5)


def test_the_previous_published_day_is_the_latest_before_the_run_date(engine):
    earlier = OTHER_DAY - dt.timedelta(days=3)
    later = DAY + dt.timedelta(days=1)
    for day, lists in ((earlier, AFTER), (OTHER_DAY, BEFORE), (DAY, AFTER), (later, AFTER)):
        publish(engine, run_record(day, f"run-{day}"), _scored(lists))

    day, rows = metrics.previous_day_rows(engine, DAY)
    assert day == OTHER_DAY  # not the run date itself, nor a later day
    expected = tops(BEFORE).sort_values(["customer_id", "rank"]).reset_index(drop=True)
    got = rows.sort_values(["customer_id", "rank"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)
    assert metrics.previous_day_rows(engine, OTHER_DAY)[0] == earlier
    none, empty = metrics.previous_day_rows(engine, earlier)
    assert none is None and empty.empty


@pytest.mark.postgres
def test_the_previous_day_is_read_from_the_configured_schema(pg_engine, postgres_url, monkeypatch):
    with pg_engine.begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA IF EXISTS metrics_recs CASCADE")
        conn.exec_driver_sql("CREATE SCHEMA metrics_recs")
    monkeypatch.setenv(db.SCHEMA_ENV, "metrics_recs")
    engine = db.make_engine(postgres_url)
    drop_tables(pg_engine)  # so that only the configured schema has them
    migrate(engine)
    try:
        publish(engine, run_record(OTHER_DAY, "run-1"), _scored(BEFORE))
        day, rows = metrics.previous_day_rows(engine, DAY)
        assert day == OTHER_DAY and len(rows) == 12
    finally:
        engine.dispose()
        with pg_engine.begin() as conn:
            conn.exec_driver_sql("DROP SCHEMA metrics_recs CASCADE")
