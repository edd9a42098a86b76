"""Fixtures for the cluster tests: the KFP API double and the compiled pipeline."""

import pytest

from burger_recs.compile import compiled_pipeline
from tests.cluster.kfp_double import KfpDouble


@pytest.fixture
def kfp_double():
    """A running KFP API double; the test fails if any request broke the API's contract."""
    double = KfpDouble().start()
    yield double
    double.stop()
    assert double.violations == [], "requests the real KFP API would refuse"


@pytest.fixture(scope="session")
def ir_text():
    """The checked-in compiled pipeline."""
    return compiled_pipeline().read_text()
