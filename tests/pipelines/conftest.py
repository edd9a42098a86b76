"""Fixtures for pipeline runs: a small generated shop and a local run root."""

import datetime as dt

import pytest

from burger_recs.generate import generate_data

RUN_DATE = dt.date(2026, 3, 30)
# Small enough for seconds per run, large enough for the model to beat popularity.
SHOP = {"customers": 400, "days": 35, "items": 30, "seed": 7}
FAST_PARAMS = {"epochs": 10, "window_days": 21, "holdout_days": 7}


@pytest.fixture(scope="session")
def shop_data(tmp_path_factory):
    """A generated data root ending at RUN_DATE."""
    root = tmp_path_factory.mktemp("shop")
    generate_data(root, end_date=RUN_DATE, **SHOP)
    return root


def task_names(result) -> list[str]:
    """The tasks a kfp.local run ran, sorted (one output folder each; loop tasks one per item)."""
    return sorted(p.parent.name for p in result.artifacts.glob("*/**/executor_output.json"))
