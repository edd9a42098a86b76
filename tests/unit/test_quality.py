"""Model quality: the pipeline's code on MovieLens against published figures, and the search.

The reduced report runs on the real MovieLens 100k when it is beside the clone (as in CI) and
on a small look-alike otherwise; the comparison with the published figures needs the real one.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import inspect

import numpy as np
import pytest
from lightfm.evaluation import auc_score, precision_at_k
from typer.testing import CliRunner

from burger_recs import movielens, quality
from burger_recs.cli import app
from burger_recs.model import item_feature_matrix
from burger_recs.pipelines.compile import compiled_pipeline
from burger_recs.pipelines.local_run import pipeline_parameters
from burger_recs.settings import DEFAULTS, TrainParams
from burger_recs.steps import evaluate, train
from tests.support.movielens_files import real_dataset, write_fake_movielens

REAL = real_dataset()
QUICK = TrainParams(epochs=2, no_components=8)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """The real MovieLens 100k if present, else a look-alike written for the test."""
    return REAL or write_fake_movielens(tmp_path_factory.mktemp("ml-100k"))


@pytest.fixture(scope="module")
def ml(folder):
    return movielens.read_movielens(folder)


@pytest.fixture(scope="module")
def small_ml(tmp_path_factory):
    """The look-alike, for checks that hold on any data and should be quick."""
    return movielens.read_movielens(write_fake_movielens(tmp_path_factory.mktemp("small")))


@pytest.fixture(scope="module")
def report(folder):
    """`burger-recs quality` reduced: one seed, two epochs, one run date."""
    settings = dataclasses.replace(DEFAULTS, train=QUICK)
    return quality.movielens_report(folder, settings, seeds=[0], epochs=2, run_date_count=1)


def row(rows, scorer, exclude, features=quality.IDS):
    (found,) = [
        r
        for r in rows
        if r.scorer == scorer and r.exclude_train == exclude and r.features in (features, "-")
    ]
    return found


@pytest.mark.slow  # the reduced report: seconds
def test_reduced_report_covers_every_scorer_and_beats_popularity(report):
    rows = report.protocol
    kinds = {(r.scorer, r.features, r.exclude_train) for r in rows}
    for exclude in (False, True):
        for loss in quality.PROTOCOL_LOSSES:
            assert (loss, quality.IDS, exclude) in kinds
            assert (loss, quality.IDS_AND_GENRES, exclude) in kinds
        assert (quality.POPULARITY, "-", exclude) in kinds
    for r in rows:
        assert all(0 <= v <= 1 for v in (*r.precision, *r.auc))
    # Excluding what a user rated in training leaves more room for hits, for every scorer.
    for r in rows:
        if r.exclude_train:
            assert r.precision[0] > row(rows, r.scorer, False, r.features).precision[0]
    warp, popularity = row(rows, "warp", True), row(rows, quality.POPULARITY, True)
    assert warp.precision[0] > popularity.precision[0] * 1.3
    assert warp.auc[0] > popularity.auc[0] + 0.03


@pytest.mark.slow  # the reduced report: seconds
def test_reduced_report_runs_the_temporal_evaluation_on_imported_drops(report):
    (day,) = report.temporal
    assert day.run_date == report.summary.last_date
    assert day.holdout_start == day.run_date - dt.timedelta(days=6)
    assert 0 < day.new_customers <= day.customers
    assert day.by_history.keys() == {"returning", "new"}
    (evaluation,) = day.model
    assert evaluation.model.customers == evaluation.baseline.customers == day.customers
    assert evaluation.params["epochs"] == QUICK.epochs
    assert evaluation.params["holdout_days"] == 7
    if REAL:
        assert report.summary.orders == 100_000 and report.summary.days == 215


@pytest.mark.slow  # the reduced report: seconds
def test_reduced_report_renders_the_side_by_side_table(report):
    text = report.render()
    assert "| warp" in text and "| popularity (rating sums)" in text
    assert "0.927" in text and "0.90" in text  # the published figures
    assert "2 epochs" in text and "one seed" in text
    assert "customers (new)" in text and f"| {report.summary.last_date} |" in text


@pytest.mark.slow  # the documentation protocol on 100,000 ratings
@pytest.mark.skipif(REAL is None, reason="needs MovieLens 100k at ../shared/datasets/ml-100k")
def test_protocol_reproduces_the_published_figures(ml):
    """One seed of the full protocol: within 0.01 (p@10) and 0.02 (AUC) of the references."""
    rows = quality.protocol_rows(ml, seeds=[0], features=[quality.IDS])
    for scorer, exclude in (("warp", False), ("bpr", False), ("warp", True)):
        measured = row(rows, scorer, exclude)
        assert measured.within_tolerance(), measured
    # The pipeline's popularity baseline counts orders; the reference ranked by rating sums.
    assert row(rows, quality.RATING_SUMS, True).within_tolerance()
    assert row(rows, quality.POPULARITY, True).precision[0] > 0.109 + 0.01


def test_ranking_scores_agree_with_lightfm_evaluation(small_ml):
    """The evaluate step's metrics are LightFM's precision_at_k and auc_score."""
    data, train_m, test_m, _ = quality.protocol_data(small_ml, quality.IDS_AND_GENRES)
    model = train.fit(data, dataclasses.replace(quality.PROTOCOL_PARAMS, epochs=2))
    for exclude, known in ((False, None), (True, train_m)):
        ours = evaluate.ranking_scores(model.factors(), train_m, test_m, 10, exclude)
        kwargs = {"item_features": model.item_features, "train_interactions": known}
        assert ours.precision[-1] == pytest.approx(
            precision_at_k(model.model, test_m, k=10, **kwargs).mean(), abs=1e-3
        )
        assert ours.auc == pytest.approx(auc_score(model.model, test_m, **kwargs).mean(), abs=1e-3)


def test_protocol_data_features_are_identities_or_identities_and_genres(small_ml):
    ml = small_ml
    ids, *_ = quality.protocol_data(ml, quality.IDS)
    genres, train_m, test_m, sums = quality.protocol_data(ml, quality.IDS_AND_GENRES)
    items = np.sort(ids.menu["item_id"].unique())
    only_ids, _ = item_feature_matrix(ids.menu, items)
    with_genres, names = item_feature_matrix(genres.menu, items)
    assert only_ids.shape == (len(items), len(items))
    assert with_genres.shape[1] > len(items) and "ingredient:comedy" in names
    assert train_m.nnz == len(ml.base) and test_m.nnz == len(ml.test)
    assert train_m.multiply(test_m).nnz == 0  # the split does not overlap
    assert sums.sum() == ml.base["rating"].sum()


@pytest.mark.slow  # compiles the pipeline
def test_the_pipeline_and_its_compiled_ir_take_every_default_from_the_settings():
    from burger_recs.pipelines.daily_recommendations import daily_recommendations

    signature = inspect.signature(daily_recommendations.pipeline_func)
    declared = {name: p.default for name, p in signature.parameters.items()}
    compiled = pipeline_parameters(compiled_pipeline())
    for name in ("k", "window_days", "holdout_days", "exclude_ordered", "quality_margin", "shards"):
        assert getattr(DEFAULTS, name) == declared[name]
        kind, value = compiled[name]
        assert kind(value) == declared[name]
    for name in ("loss", "epochs", "no_components", "learning_rate", "seed", "num_threads"):
        assert getattr(DEFAULTS.train, name) == declared[name]
        assert type(getattr(DEFAULTS.train, name)) is type(declared[name])
        kind, value = compiled[name]
        assert kind(value) == declared[name]


def test_run_dates_keep_whole_windows_only():
    first, last = dt.date(2026, 1, 1), dt.date(2026, 3, 31)
    dates = quality.run_dates(first, last, count=5, every_days=28, window_days=56)
    assert dates == [dt.date(2026, 3, 3), dt.date(2026, 3, 31)]
    assert all(d - dt.timedelta(days=55) >= first for d in dates)


def test_search_ranks_candidates_best_first_and_blanks_ingredients_for_ids(taste_shop):
    shop = taste_shop
    assert (quality.with_item_features(shop, quality.IDS).menu["ingredients"] == "").all()
    assert quality.with_item_features(shop, quality.IDS_AND_INGREDIENTS) is shop
    candidates = quality.grid(["warp"], [1, 15], [8], [0.05])
    assert len(candidates) == 4
    assert {c.item_features for c in candidates} == set(quality.ITEM_FEATURES)
    results = quality.search(shop, candidates, seeds=[0, 1], k=3)
    means = [quality.mean(r.precision) for r in results]
    assert means == sorted(means, reverse=True)
    assert results[0].candidate.params.epochs == 15  # one epoch learns less
    assert all(len(r.precision) == 2 for r in results)
    table = quality.search_table(list(enumerate(results, 1)), k=3)
    assert table.count("\n") == 1 + len(results) and "p@3" in table


def test_markdown_table_right_aligns_numbers():
    table = quality.markdown_table(("name", "value"), [("a", "0.5"), ("bb", "0.25 ±0.01")])
    _, rule, first, _ = table.splitlines()
    assert rule == "|------|-----------:|"
    assert first == "| a    |        0.5 |"


def test_quality_command_prints_the_table(tmp_path):
    folder = write_fake_movielens(tmp_path / "ml-100k")
    result = CliRunner().invoke(
        app, ["quality", str(folder), "--seeds", "1", "--epochs", "1", "--run-dates", "1"]
    )
    assert result.exit_code == 0, result.output
    assert "LightFM documentation protocol" in result.output
    assert "temporal evaluation" in result.output
