"""Publishing a day of recommendations, on SQLite and PostgreSQL (burger_recs.steps.publish)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
import sqlalchemy as sa

from burger_recs import db, metrics
from burger_recs.contract import menu_items, recommendations
from burger_recs.steps.publish import publish
from tests.support.database import DAY, OTHER_DAY, K, run_record, run_rows


def recs_frame(customers: list[str], items: list[str], k: int = K) -> pd.DataFrame:
    """Top-k rows per customer, in scrambled order; scores fall with the rank."""
    rows = [
        {
            "customer_id": customer,
            "rank": rank,
            "item_id": items[(n + rank) % len(items)],
            "score": round(1.0 - rank / 10 - n / 100, 4),
        }
        for n, customer in enumerate(customers)
        for rank in range(1, k + 1)
    ]
    return pd.DataFrame(rows).sample(frac=1, random_state=3).reset_index(drop=True)


def day_rows(engine: sa.Engine, day: dt.date) -> pd.DataFrame:
    query = sa.select(recommendations).where(recommendations.c.run_date == day)
    with engine.connect() as conn:
        frame = pd.DataFrame(conn.execute(query).mappings().all())
    if frame.empty:
        return frame
    return frame.sort_values(["customer_id", "rank"]).reset_index(drop=True)


def as_published(recs: pd.DataFrame) -> list[tuple]:
    """The (customer_id, rank, item_id, score) rows of a frame, in key order."""
    keys = ["customer_id", "rank", "item_id", "score"]
    frame = recs[keys].sort_values(["customer_id", "rank"])
    return [(c, int(r), i, pytest.approx(s)) for c, r, i, s in frame.itertuples(index=False)]


ITEMS = ["i01", "i02", "i03", "i04", "i05"]
MENU = pd.DataFrame(
    {
        "item_id": ITEMS,
        "name": [f"Combo {i}" for i in ITEMS],
        "ingredients": ["beef;cheddar;fries"] * 5,
        "price": [9.5, 10.0, 8.25, 11.0, 7.5],
    }
)


def test_publish_writes_k_ranked_rows_per_customer_and_the_run(engine):
    customers = ["c001", "c002", "0042"]
    recs = recs_frame(customers, ITEMS)

    written = publish(engine, run_record(DAY, "run-1"), recs, MENU)

    assert written == len(customers) * K
    rows = day_rows(engine, DAY)
    assert len(rows) == len(customers) * K
    assert rows.groupby("customer_id")["rank"].apply(list).to_dict() == {
        c: list(range(1, K + 1)) for c in customers
    }
    assert as_published(rows) == as_published(recs)
    assert set(rows["run_date"]) == {DAY}
    assert set(rows["model_version"]) == {"model-1"}
    assert set(rows["code_version"]) == {"code-abc"}

    run = run_rows(engine)["run-1"]
    assert run["status"] == "published"
    assert run["run_date"] == DAY
    assert run["metrics"] == {
        "precision_at_k": 0.25,
        "baseline_precision_at_k": 0.125,
        # The day's own figures: every menu item recommended, today's model served everyone,
        # no previous day to measure churn against.
        "catalogue_coverage": 1.0,
        "served_share_model": 1.0,
        "served_share_champion": 0.0,
        "served_share_popularity": 0.0,
    }
    assert run["params"] == {"k": K}
    assert run["rows_written"] == len(customers) * K
    assert run["customers"] == len(customers)
    assert run["model_version"] == "model-1"
    assert run["code_version"] == "code-abc"
    assert run["data_uri"] == "gs://shop/drops"
    assert run["finished_at"] is not None


def test_republishing_a_day_replaces_it_and_leaves_other_days_alone(engine):
    other = recs_frame(["c001", "c002"], ITEMS)
    publish(engine, run_record(OTHER_DAY, "run-0"), other, MENU)
    publish(engine, run_record(DAY, "run-1"), recs_frame(["c001", "c002", "c003"], ITEMS), MENU)

    replacement = recs_frame(["c002", "c004"], ["i05", "i04", "i03", "i02"])
    replacement["score"] = replacement["score"] / 2
    publish(engine, run_record(DAY, "run-2", model_version="model-2"), replacement, MENU)

    rows = day_rows(engine, DAY)
    assert as_published(rows) == as_published(replacement)  # exactly one copy: the new one
    assert set(rows["model_version"]) == {"model-2"}
    assert as_published(day_rows(engine, OTHER_DAY)) == as_published(other)
    assert set(day_rows(engine, OTHER_DAY)["model_version"]) == {"model-1"}
    assert sorted(run_rows(engine)) == ["run-0", "run-1", "run-2"]


def test_a_gated_run_writes_no_rows_and_keeps_the_published_day(engine):
    recs = recs_frame(["c001", "c002"], ITEMS)
    publish(engine, run_record(DAY, "run-1"), recs, MENU)

    gated = run_record(DAY, "run-2", status="gated", message="model below baseline")
    written = publish(engine, gated, recs_frame(["c009"], ITEMS), MENU)

    assert written == 0
    rows = day_rows(engine, DAY)
    assert as_published(rows) == as_published(recs)
    assert set(rows["model_version"]) == {"model-1"}
    run = run_rows(engine)["run-2"]
    assert run["status"] == "gated"
    assert run["rows_written"] == 0
    assert run["message"] == "model below baseline"


def test_a_published_run_without_rows_is_refused(engine):
    with pytest.raises(ValueError, match="nothing to publish"):
        publish(engine, run_record(DAY, "run-1"), recs_frame([], ITEMS), MENU)
    assert run_rows(engine) == {}


def test_a_key_violation_mid_transaction_keeps_the_old_day_and_records_no_run(engine):
    old = recs_frame(["c001", "c002"], ITEMS)
    publish(engine, run_record(DAY, "run-1"), old, MENU)
    broken = recs_frame(["c001", "c002", "c003"], ITEMS)
    broken = pd.concat([broken, broken.iloc[[0]]], ignore_index=True)  # a duplicate key

    with pytest.raises(Exception, match=r"(?i)unique|duplicate"):
        publish(engine, run_record(DAY, "run-2", model_version="model-2"), broken, MENU)

    rows = day_rows(engine, DAY)
    assert as_published(rows) == as_published(old)
    assert set(rows["model_version"]) == {"model-1"}
    assert sorted(run_rows(engine)) == ["run-1"]


def test_a_crash_after_loading_half_keeps_the_old_day_and_records_no_run(engine, monkeypatch):
    old = recs_frame(["c001", "c002"], ITEMS)
    publish(engine, run_record(DAY, "run-1"), old, MENU)
    real_load = db.load_rows
    loaded = []

    def load_half_then_crash(conn, table, rows):
        real_load(conn, table, rows.iloc[: len(rows) // 2])
        loaded.append(len(rows) // 2)
        raise RuntimeError("the pod was evicted")

    monkeypatch.setattr(db, "load_rows", load_half_then_crash)
    new = recs_frame(["c003", "c004", "c005", "c006"], ITEMS)
    with pytest.raises(RuntimeError, match="evicted"):
        publish(engine, run_record(DAY, "run-2"), new, MENU)

    assert loaded == [len(new) // 2]  # the half was written inside the transaction...
    assert as_published(day_rows(engine, DAY)) == as_published(old)  # ...and rolled back
    assert sorted(run_rows(engine)) == ["run-1"]


def test_menu_names_are_stored_and_shown_by_rank_for_the_latest_day(engine):
    publish(engine, run_record(OTHER_DAY, "run-0"), recs_frame(["c001", "c002"], ITEMS), MENU)
    renamed = MENU.assign(name=MENU["name"].str.upper())
    latest = recs_frame(["c001"], ["i05", "i03", "i01"])
    publish(engine, run_record(DAY, "run-1", model_version="model-2"), latest, renamed)

    with engine.connect() as conn:
        menu = {r.item_id: r for r in conn.execute(sa.select(menu_items))}
    assert {i: m.name for i, m in menu.items()} == {i: f"COMBO {i.upper()}" for i in ITEMS}
    assert {m.last_seen for m in menu.values()} == {DAY}
    assert menu["i03"].price == pytest.approx(8.25)

    day, rows = db.customer_recommendations(engine, "c001")
    assert day == DAY  # the customer's latest day
    expected = latest.sort_values("rank")
    assert [r.rank for r in rows] == list(range(1, K + 1))
    assert [r.item_id for r in rows] == list(expected["item_id"])
    assert [r.name for r in rows] == [f"COMBO {i.upper()}" for i in expected["item_id"]]
    assert {r.model_version for r in rows} == {"model-2"}

    day, rows = db.customer_recommendations(engine, "c002")
    assert day == OTHER_DAY  # c002 has nothing on DAY: their own latest day is shown
    assert [r.rank for r in rows] == list(range(1, K + 1))

    day, rows = db.customer_recommendations(engine, "c001", OTHER_DAY)
    assert day == OTHER_DAY
    assert [r.model_version for r in rows] == ["model-1"] * K
    assert db.customer_recommendations(engine, "nobody") == (None, [])


@pytest.mark.postgres
def test_postgresql_loads_the_rows_with_copy(pg_engine, monkeypatch):
    import psycopg

    copies: list[str] = []
    real_copy = psycopg.Cursor.copy

    def spy_copy(self, statement, *args, **kwargs):
        copies.append(str(statement))
        return real_copy(self, statement, *args, **kwargs)

    monkeypatch.setattr(psycopg.Cursor, "copy", spy_copy)
    statements: list[str] = []
    sa.event.listen(
        pg_engine,
        "before_cursor_execute",
        lambda _conn, _cursor, statement, *_: statements.append(statement),
    )

    recs = recs_frame(["c001", "c002"], ITEMS)
    publish(pg_engine, run_record(DAY, "run-1"), recs, MENU)

    assert copies == [
        "COPY recommendations (run_date, customer_id, rank, item_id, score, model_version, "
        "code_version) FROM STDIN"
    ]
    assert not [s for s in statements if s.lstrip().upper().startswith("INSERT INTO RECOMMEND")]
    assert as_published(day_rows(pg_engine, DAY)) == as_published(recs)


@pytest.mark.postgres
def test_postgresql_retries_the_whole_day_when_the_connection_is_killed(
    pg_engine, monkeypatch, no_sleep
):
    waits = no_sleep  # tenacity's backoff, made instant
    old = recs_frame(["c001"], ITEMS)
    publish(pg_engine, run_record(DAY, "run-1"), old, MENU)
    real_load = db.load_rows
    attempts = []

    def load_on_a_killed_connection(conn, table, rows):
        attempts.append(len(rows))
        if len(attempts) == 1:  # the server ends the session between the DELETE and the COPY
            pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
            killer = db.make_engine(pg_engine.url.render_as_string(hide_password=False))
            with killer.connect() as other:
                other.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            killer.dispose()
        real_load(conn, table, rows)

    monkeypatch.setattr(db, "load_rows", load_on_a_killed_connection)
    new = recs_frame(["c002", "c003"], ITEMS)
    assert publish(pg_engine, run_record(DAY, "run-2"), new, MENU) == len(new)

    assert len(attempts) == 2
    assert len(waits) == 1
    assert as_published(day_rows(pg_engine, DAY)) == as_published(new)
    assert sorted(run_rows(pg_engine)) == ["run-1", "run-2"]


# ---------------------------------------------------------------------------------------------
# The day's figures in the run record: coverage, churn, served shares (burger_recs.metrics)
# ---------------------------------------------------------------------------------------------
def top_lists(lists: dict[str, list[str]]) -> pd.DataFrame:
    """customer_id, rank, item_id, score rows of each customer's items, best first."""
    rows = [
        {"customer_id": customer, "rank": rank, "item_id": item, "score": 1.0 - rank / 10}
        for customer, items in lists.items()
        for rank, item in enumerate(items, start=1)
    ]
    return pd.DataFrame(rows)


# Today's menu: i05 has left it. Yesterday and today, each customer's top 3. Hand-computed:
#   c001 {i01,i02,i03} -> {i01,i02,i04}  Jaccard 2/4 = 0.5  first item kept
#   c002 {i01,i02,i03} -> {i03,i02,i01}  Jaccard 3/3 = 1    first item changed
#   c003 only yesterday, c004 only today.
# Mean Jaccard 0.75, first item changed for 1 of 2; today recommends i01..i04: 4 of 4 items
# on the menu (i05 is off it).
TODAY_MENU = MENU.assign(on_menu=[True, True, True, True, False])
YESTERDAY = {"c001": ["i01", "i02", "i03"], "c002": ["i01", "i02", "i03"],
             "c003": ["i01", "i02", "i05"]}  # fmt: skip
TODAY = {"c001": ["i01", "i02", "i04"], "c002": ["i03", "i02", "i01"],
         "c004": ["i01", "i02", "i03"]}  # fmt: skip


def test_publish_records_coverage_churn_and_shares_against_the_previous_published_day(engine):
    before = OTHER_DAY - dt.timedelta(days=2)  # not the latest day before DAY
    publish(engine, run_record(before, "run-0"), top_lists(TODAY), MENU)
    publish(engine, run_record(OTHER_DAY, "run-1"), top_lists(YESTERDAY), MENU)
    record = run_record(DAY, "run-2", status="gated", served_by="champion")

    publish(engine, record, top_lists(TODAY), TODAY_MENU)

    figures = run_rows(engine)["run-2"]["metrics"]
    assert figures == record.metrics
    assert figures["catalogue_coverage"] == 1.0
    assert figures["churn_mean_jaccard"] == 0.75
    assert figures["churn_first_changed_share"] == 0.5
    assert figures["churn_customers"] == 2
    assert figures["churn_previous_day"] == OTHER_DAY.isoformat()
    assert (figures["served_share_champion"], figures["served_share_model"]) == (1.0, 0.0)
    assert figures["precision_at_k"] == 0.25  # the evaluation's figures stay
    # Yesterday's own record: its coverage over yesterday's menu (i04 not recommended).
    assert run_rows(engine)["run-1"]["metrics"]["catalogue_coverage"] == 0.8


def test_a_day_nobody_served_records_zero_shares_and_no_coverage_or_churn(engine):
    publish(engine, run_record(OTHER_DAY, "run-1"), top_lists(YESTERDAY), MENU)
    unserved = run_record(DAY, "run-2", status="gated", served_by=None)

    assert publish(engine, unserved, top_lists(TODAY), TODAY_MENU) == 0

    figures = run_rows(engine)["run-2"]["metrics"]
    assert {k: v for k, v in figures.items() if k.startswith("served_share_")} == {
        "served_share_model": 0.0,
        "served_share_champion": 0.0,
        "served_share_popularity": 0.0,
    }
    assert not [k for k in figures if k.startswith(("churn_", "catalogue_"))]


def test_the_previous_day_is_read_before_the_publishing_transaction(sqlite_engine, monkeypatch):
    publish(sqlite_engine, run_record(OTHER_DAY, "run-1"), top_lists(YESTERDAY), MENU)
    events: list[str] = []
    real_read = metrics.previous_day_rows

    def read(engine, day):
        found = real_read(engine, day)
        events.append(f"read {len(found[1])} rows")
        return found

    monkeypatch.setattr(metrics, "previous_day_rows", read)
    sa.event.listen(sqlite_engine, "begin", lambda _conn: events.append("begin"))

    def statement(_conn, _cursor, sql, *_):
        if sql.startswith("DELETE FROM recommendations"):
            events.append("delete")

    sa.event.listen(sqlite_engine, "before_cursor_execute", statement)

    publish(sqlite_engine, run_record(DAY, "run-2"), top_lists(TODAY), TODAY_MENU)

    writing_begins = events.index("delete") - 1
    assert events[writing_begins] == "begin"  # the DELETE opens the writing transaction
    assert events.index("read 9 rows") < writing_begins  # the read was done before it
    assert run_rows(sqlite_engine)["run-2"]["metrics"]["churn_customers"] == 2


def test_the_step_records_the_figures_and_writes_the_trend_page(
    sqlite_engine, tmp_path, monkeypatch, taste_shop, taste_evaluation
):
    from burger_recs.steps import publish as step

    monkeypatch.setenv("DATABASE_URL", sqlite_engine.url.render_as_string(hide_password=False))
    taste_shop.save(tmp_path / "validated")
    taste_evaluation.save(tmp_path / "evaluation.json")
    items = list(taste_shop.menu["item_id"])
    top_lists({"c000": items[:3], "c001": items[3:6]}).to_parquet(tmp_path / "recs.parquet")

    record = step.run(
        recs_path=str(tmp_path / "recs.parquet"),
        data_dir=str(tmp_path / "validated"),
        evaluation_path=str(tmp_path / "evaluation.json"),
        model_version="model-1",
        run_id="run-1",
        data_uri="gs://shop/drops",
        trends_path=str(tmp_path / "trends" / "trends.html"),
    )

    figures = run_rows(sqlite_engine)["run-1"]["metrics"]
    assert figures == record.metrics
    assert figures["catalogue_coverage"] == pytest.approx(6 / len(items), abs=1e-6)
    assert figures["served_share_model"] == 1.0
    assert figures["model_precision_at_k_returning"] == pytest.approx(
        taste_evaluation.model.segments["returning"].precision[-1], abs=1e-6
    )
    page = (tmp_path / "trends" / "trends.html").read_text()
    day = taste_shop.run_date
    assert f'<tr><td class="day">{day}</td><td class="status">published</td>' in page
    assert "1 of 30 days have a published or gated run" in page
