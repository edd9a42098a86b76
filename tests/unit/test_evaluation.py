"""An evaluation's outcome (burger_recs.evaluation)."""

from burger_recs.evaluation import Evaluation


def test_evaluation_round_trips_through_json(tmp_path, taste_evaluation):
    result = taste_evaluation
    result.save(tmp_path / "e.json")
    again = Evaluation.load(tmp_path / "e.json")
    assert again == result
