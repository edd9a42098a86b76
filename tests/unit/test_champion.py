"""The champion's store: scorers as arrays in the results database, promotion in one go."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
import sqlalchemy as sa

from burger_recs.champion import (
    EVALUATION,
    KEPT_CHAMPIONS,
    SERVING,
    StoredScorer,
    current_champion,
    load_scorer,
    record_model,
    roll_back,
)
from burger_recs.contract import model_artifacts, models
from burger_recs.evaluation import RankingScores
from burger_recs.scoring import Factors
from burger_recs.steps.evaluate import gate, serving

DAY = dt.date(2026, 3, 30)


def scorer(version: str, customers=("c1", "c3"), items=("i1", "i2")) -> StoredScorer:
    rng = np.random.default_rng(len(version))
    factors = Factors(
        rng.random((len(customers), 3), dtype=np.float32),
        rng.random((len(items), 3), dtype=np.float32),
        rng.random(len(items), dtype=np.float32),
    )
    return StoredScorer(version, np.array(customers), np.array(items), factors, DAY)


def row(version: str) -> dict:
    return {
        "model_version": version,
        "run_id": f"run-{version}",
        "run_date": DAY,
        "trained_until": DAY,
        "code_version": "abc",
        "metrics": {"model_precision_at_k": 0.1},
        "params": {"k": 10},
    }


def test_a_scorer_reads_back_exactly_and_without_pickle():
    kept = scorer("lightfm-1")
    back = StoredScorer.from_bytes(kept.to_bytes())
    assert back.version == "lightfm-1" and back.trained_until == DAY
    assert list(back.customer_ids) == ["c1", "c3"] and list(back.item_ids) == ["i1", "i2"]
    for name in ("users", "items", "item_bias"):
        np.testing.assert_array_equal(getattr(back.factors, name), getattr(kept.factors, name))


def test_aligned_scores_new_customers_by_bias_and_never_serves_unknown_items():
    kept = scorer("lightfm-1")
    factors = kept.aligned(np.array(["c1", "c2", "c3"]), np.array(["i0", "i1", "i2"]))
    np.testing.assert_array_equal(factors.users[0], kept.factors.users[0])
    np.testing.assert_array_equal(factors.users[1], np.zeros(3))  # signed up since
    np.testing.assert_array_equal(factors.users[2], kept.factors.users[1])
    assert np.isneginf(factors.item_bias[0])  # new on the menu: the champion cannot rank it
    np.testing.assert_array_equal(factors.item_bias[1:], kept.factors.item_bias)


def test_champions_are_kept_by_day_the_newest_with_their_scorers(engine):
    assert current_champion(engine) == ""
    versions = [f"lightfm-{n}" for n in range(7)]  # one a day, oldest first
    for n, version in enumerate(versions):
        with engine.begin() as conn:
            kept = {SERVING: scorer(version), EVALUATION: scorer(version)}
            day = DAY - dt.timedelta(days=len(versions) - 1 - n)
            record_model(conn, row(version) | {"run_date": day}, promote=True, scorers=kept)
    with engine.begin() as conn:  # a gated challenger changes nothing
        record_model(conn, row("lightfm-gated"), promote=False)
    assert current_champion(engine) == current_champion(engine, DAY) == "lightfm-6"
    # Each kept day's champion is its own; before the kept ones, none.
    assert current_champion(engine, DAY - dt.timedelta(days=2)) == "lightfm-4"
    assert current_champion(engine, DAY - dt.timedelta(days=4)) == "lightfm-2"
    assert current_champion(engine, DAY - dt.timedelta(days=5)) == ""  # scorers deleted
    with engine.connect() as conn:
        rows = {r.model_version: r for r in conn.execute(sa.select(models))}
        kept_versions = set(conn.execute(sa.select(model_artifacts.c.model_version)).scalars())
    assert kept_versions == set(versions[-KEPT_CHAMPIONS:])
    assert rows["lightfm-0"].location is None and rows["lightfm-6"].location == "model_artifacts"
    assert rows["lightfm-gated"].champion is False


def test_a_rollback_undoes_the_newest_promotion_for_good(engine):
    for n, version in enumerate(("lightfm-good", "lightfm-bad")):
        with engine.begin() as conn:
            kept = {SERVING: scorer(version), EVALUATION: scorer(version)}
            day = DAY + dt.timedelta(days=n)
            record_model(conn, row(version) | {"run_date": day}, promote=True, scorers=kept)
    with pytest.raises(LookupError, match="the champion is now lightfm-bad, not lightfm-good"):
        roll_back(engine, "lightfm-good")  # confirmed another: nothing happens
    assert roll_back(engine, "lightfm-bad") == ("lightfm-bad", "lightfm-good")
    assert current_champion(engine, DAY + dt.timedelta(days=1)) == "lightfm-good"
    assert load_scorer(engine, "lightfm-bad", SERVING) is None
    with engine.begin() as conn:  # a rerun of its day trains the same model: never again
        kept = {SERVING: scorer("lightfm-bad"), EVALUATION: scorer("lightfm-bad")}
        bad = row("lightfm-bad") | {"run_date": DAY + dt.timedelta(days=1)}
        record_model(conn, bad, promote=True, scorers=kept)
    assert current_champion(engine) == "lightfm-good"
    assert roll_back(engine) == ("lightfm-good", "")
    with pytest.raises(LookupError, match="no champion to roll back"):
        roll_back(engine)


def test_a_champion_serves_only_its_own_day_and_later_ones_and_is_not_displaced(engine):
    later = row("lightfm-later")  # the newest day's model, promoted first
    earlier = row("lightfm-earlier") | {"run_date": DAY - dt.timedelta(days=3)}
    with engine.begin() as conn:
        kept = {SERVING: scorer("lightfm-later"), EVALUATION: scorer("lightfm-later")}
        record_model(conn, later, promote=True, scorers=kept)
    assert current_champion(engine, DAY) == "lightfm-later"
    # A backfill of an older day: the later model has seen its holdout, so no champion.
    assert current_champion(engine, DAY - dt.timedelta(days=3)) == ""
    with engine.begin() as conn:  # that day's model passes: the champion of its day only
        kept = {SERVING: scorer("lightfm-earlier"), EVALUATION: scorer("lightfm-earlier")}
        record_model(conn, earlier, promote=True, scorers=kept)
    assert current_champion(engine) == current_champion(engine, DAY) == "lightfm-later"
    assert current_champion(engine, DAY - dt.timedelta(days=1)) == "lightfm-earlier"
    assert load_scorer(engine, "lightfm-later", SERVING) is not None


def test_a_promotion_that_fails_changes_nothing(engine):
    with engine.begin() as conn:
        kept = {SERVING: scorer("lightfm-1"), EVALUATION: scorer("lightfm-1")}
        record_model(conn, row("lightfm-1"), promote=True, scorers=kept)
    with pytest.raises(RuntimeError, match="publish failed"), engine.begin() as conn:
        kept = {SERVING: scorer("lightfm-2"), EVALUATION: scorer("lightfm-2")}
        record_model(conn, row("lightfm-2"), promote=True, scorers=kept)
        raise RuntimeError("publish failed after the promotion")
    assert current_champion(engine) == "lightfm-1"
    assert load_scorer(engine, "lightfm-1", SERVING) is not None


def test_a_promotion_needs_both_scorers(sqlite_engine):
    with pytest.raises(ValueError, match="serving and evaluation"), sqlite_engine.begin() as c:
        record_model(c, row("lightfm-1"), promote=True, scorers={SERVING: scorer("lightfm-1")})


def scores(p: float) -> RankingScores:
    return RankingScores([p], [p], 0.5, 10)


@pytest.mark.parametrize(
    ("model", "champion", "passes"),
    [
        (0.20, None, True),  # beats popularity (0.10 x 1.1), no champion
        (0.20, 0.21, True),  # within the margin of the champion (0.21 x 0.9 = 0.189)
        (0.18, 0.21, False),  # more than the margin below the champion
        (0.10, 0.05, False),  # does not beat popularity by the margin
    ],
)
def test_the_gate_weighs_popularity_and_the_champion(model, champion, passes):
    champion_scores = None if champion is None else scores(champion)
    passed, reason = gate(scores(model), scores(0.10), 0.1, champion_scores)
    assert passed is passes
    assert ("champion" in reason) is (champion is not None and model >= 0.11)


@pytest.mark.parametrize(
    ("passed", "champion", "serve", "expected"),
    [
        (True, 0.5, True, "challenger"),
        (False, 0.12, True, "champion"),  # the champion did better than popularity
        (False, 0.08, True, "popularity"),  # popularity did better
        (False, None, True, "popularity"),  # no champion yet
        (False, 0.12, False, ""),  # the old behaviour: nothing published
    ],
)
def test_a_gated_day_is_served_by_the_better_of_champion_and_popularity(
    passed, champion, serve, expected
):
    champion_scores = None if champion is None else scores(champion)
    served_by, why = serving(passed, scores(0.10), champion_scores, serve)
    assert served_by == expected and why


def test_the_champion_promoted_again_keeps_its_scorers_without_rewriting_them(sqlite_engine):
    with sqlite_engine.begin() as conn:
        kept = {SERVING: scorer("lightfm-1"), EVALUATION: scorer("lightfm-1")}
        record_model(conn, row("lightfm-1"), promote=True, scorers=kept)
    with sqlite_engine.begin() as conn:  # a rerun of its day: the same model passes again
        record_model(conn, row("lightfm-1"), promote=True)
    assert current_champion(sqlite_engine) == "lightfm-1"
    assert load_scorer(sqlite_engine, "lightfm-1", SERVING) is not None
    with pytest.raises(RuntimeError, match="run the day again"), sqlite_engine.begin() as c:
        record_model(c, row("lightfm-2"), promote=True)  # not the champion: it needs scorers
