"""Container tests: Docker and the step images must be there (in CI they must), and they
run on the same generated shop (``shop_data``, tests/conftest.py) as the embedded pipeline tests.
"""

import pytest

from burger_recs.components.images import STEPS, image_ref
from tests.support.services import docker_problem, skip_or_fail


@pytest.fixture(scope="module", autouse=True)
def docker_ready():
    problem = docker_problem({step: image_ref(step) for step in STEPS})
    if problem:
        skip_or_fail(problem, f"container tests must run in CI: {problem}")
