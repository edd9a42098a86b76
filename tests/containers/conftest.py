"""Container tests: Docker and the step images must be there (in CI they must), and they
run on the same generated shop as the embedded pipeline tests.
"""

import os
import shutil
import subprocess

import pytest

from components.images import STEPS, image_ref
from tests.pipelines.conftest import shop_data  # noqa: F401 - a fixture shared with pipelines


def _docker_ready():
    if shutil.which("docker") is None:
        return "no docker client"
    if subprocess.run(["docker", "info"], capture_output=True).returncode != 0:
        return "no Docker engine answers"
    missing = [
        s
        for s in STEPS
        if subprocess.run(
            ["docker", "image", "inspect", image_ref(s)], capture_output=True
        ).returncode
        != 0
    ]
    if missing:
        return f"images not built (run `make images`): {', '.join(missing)}"
    return None


@pytest.fixture(scope="module", autouse=True)
def docker_ready():
    problem = _docker_ready()
    if problem:
        if os.environ.get("CI") == "true":
            pytest.fail(f"container tests must run in CI: {problem}")
        pytest.skip(problem)
