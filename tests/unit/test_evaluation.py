"""An evaluation's outcome (burger_recs.evaluation)."""

import datetime as dt
import json

import pytest

from burger_recs.evaluation import CHAMPION, Evaluation, RankingScores


def test_evaluation_round_trips_through_json(tmp_path, taste_evaluation):
    result = taste_evaluation
    assert set(result.model.segments) == {"new", "returning"}
    result.save(tmp_path / "e.json")
    again = Evaluation.load(tmp_path / "e.json")
    assert again == result


def test_an_evaluation_saved_before_the_split_still_loads(tmp_path, taste_evaluation):
    taste_evaluation.save(tmp_path / "e.json")
    payload = json.loads((tmp_path / "e.json").read_text())
    for scorer in ("model", "baseline"):
        del payload[scorer]["segments"]
    (tmp_path / "e.json").write_text(json.dumps(payload))
    assert Evaluation.load(tmp_path / "e.json").model.segments == {}


def scores(p: float, new: float | None, returning: float) -> RankingScores:
    """Scores with precision and recall p overall, and per segment (None: no new customer)."""
    segments = {"returning": RankingScores([returning], [returning / 2], 0.5, 8)}
    segments["new"] = RankingScores([new or 0.0], [(new or 0.0) / 2], 0.5, 2 if new else 0)
    return RankingScores([p], [p], 0.5, 10, segments=segments)


def test_metrics_split_precision_and_recall_by_new_and_returning_customers():
    evaluation = Evaluation(
        k=1,
        holdout_start=dt.date(2026, 3, 22),
        model=scores(0.4, 0.1, 0.5),
        baseline=scores(0.3, 0.2, 0.3),
        publishable=False,
        reason="",
        champion=scores(0.35, None, 0.4),
        champion_version="m0",
        served_by=CHAMPION,
    )
    figures = evaluation.metrics()
    assert figures["model_precision_at_k_new"] == 0.1
    assert figures["model_precision_at_k_returning"] == 0.5
    assert figures["model_recall_at_k_new"] == 0.05
    assert figures["model_recall_at_k_returning"] == 0.25
    assert figures["baseline_precision_at_k_new"] == 0.2
    assert figures["baseline_recall_at_k_returning"] == 0.15
    # The champion scored no new customer: no figure rather than a misleading 0.
    assert "champion_precision_at_k_new" not in figures
    assert figures["champion_precision_at_k_returning"] == 0.4
    assert figures["champion_recall_at_k_returning"] == 0.2
    # The scorer that served the day, whichever it is.
    assert figures["served_precision_at_k"] == 0.35
    assert figures["served_precision_at_k_returning"] == 0.4
    assert "served_precision_at_k_new" not in figures
    assert (figures["eval_customers_new"], figures["eval_customers_returning"]) == (2, 8)
    assert all(isinstance(v, int | float) for v in figures.values())  # KFP Metrics: numbers


def test_metrics_without_a_split_are_the_headline_figures_alone():
    plain = RankingScores([0.2], [0.3], 0.6, 5)
    figures = Evaluation(1, dt.date(2026, 3, 22), plain, plain, True, "").metrics()
    assert not [name for name in figures if name.endswith(("_new", "_returning"))]
    assert figures["served_precision_at_k"] == pytest.approx(0.2)
