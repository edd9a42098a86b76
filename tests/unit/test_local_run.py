"""Running the compiled pipeline with kfp.local (burger_recs.pipelines.local_run): its parameters.

The runs themselves are tests/pipelines/test_local_run.py.
"""

import pytest

from burger_recs.pipelines.compile import compiled_pipeline
from burger_recs.pipelines.local_run import parse_params


def test_params_are_typed_and_unknown_ones_rejected():
    assert parse_params(
        ["k=5", "exclude_ordered=true", "learning_rate=0.1"], compiled_pipeline()
    ) == {"k": 5, "exclude_ordered": True, "learning_rate": 0.1}
    with pytest.raises(ValueError, match=r"no such parameter; known: .*epochs"):
        parse_params(["epoch=3"], compiled_pipeline())
    with pytest.raises(ValueError, match="expected int"):
        parse_params(["k=ten"], compiled_pipeline())
    with pytest.raises(ValueError, match="--run-date"):
        parse_params(["run_date=2026-01-01"], compiled_pipeline())
