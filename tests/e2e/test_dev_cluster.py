"""`make dev-cluster && make submit WAIT=1` end to end, then the database checked.

Needs Docker, internet and about 8 GB of free memory; deselected from `make test` (marker
e2e). Runs in .github/workflows/e2e.yml, or by hand: `.venv/bin/python -m pytest -m e2e
tests/e2e -s`. It leaves the cluster up for a look; `make dev-cluster-down` removes it.
"""

import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.support.pipeline import ONE_SHARD_DAY

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
KUBECTL = ["bin/kubectl", "--context", "kind-burger-recs"]


def make(*args: str, timeout: int = 3600) -> str:
    """Run make in the repository, streaming its output; return the output."""
    process = subprocess.run(
        ["make", "--no-print-directory", *args],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
        env={**os.environ, "DRY_RUN": ""},
    )
    print(process.stdout)
    assert process.returncode == 0, f"make {' '.join(args)} failed:\n{process.stdout[-3000:]}"
    return process.stdout


def kubectl(*args: str) -> str:
    return subprocess.run(
        [*KUBECTL, *args], cwd=REPO, capture_output=True, text=True, check=True, timeout=120
    ).stdout


def psql(query: str) -> list[list[str]]:
    out = kubectl(
        "-n",
        "burger-recs",
        "exec",
        "statefulset/postgres",
        "--",
        "psql",
        "-U",
        "burger",
        "-d",
        "burger_recs",
        "-tA",
        "-F",
        "|",
        "-c",
        query,
    )
    return [line.split("|") for line in out.splitlines() if line]


@pytest.fixture(scope="module")
def cluster():
    """The dev cluster, created (or brought up to date) by `make dev-cluster`."""
    first = make("dev-cluster")
    assert "Kubeflow UI   http://localhost:8080" in first
    again = make("dev-cluster")
    assert "nothing to change, it was up to date" in again
    # The emulator's sample shop ends on the day it was generated: run for that day.
    ready = kubectl(
        "-n", "burger-recs", "exec", "deploy/gcs-emulator", "--", "cat", "/tmp/ready/sample-shop"
    )
    return re.search(r"\.\.(\d{4}-\d\d-\d\d) ", ready).group(1)


def test_a_submitted_run_publishes_the_day_and_a_resubmit_reuses_the_version(cluster):
    run_date = cluster
    out = make("submit", "WAIT=1", f"RUN_DATE={run_date}")
    assert re.search(r"pipeline version burger-recs-daily-[0-9a-f]{12}: uploaded", out) or (
        "already uploaded" in out
    )
    assert "http://localhost:8080/#/runs/details/" in out
    for step in ONE_SHARD_DAY:
        assert re.search(rf"^  {step} +SUCCEEDED$", out, re.MULTILINE), step
    assert re.search(r"^run \S+ SUCCEEDED after", out, re.MULTILINE)

    rows = psql(
        "select status, rows_written, customers, code_version from pipeline_runs "
        f"where run_date = '{run_date}' order by finished_at desc limit 1"
    )
    (status, rows_written, customers, code_version) = rows[0]
    assert status in ("published", "gated")
    if status == "published":
        assert int(rows_written) == 10 * int(customers) > 0
        (count,) = psql(f"select count(*) from recommendations where run_date = '{run_date}'")
        assert int(count[0]) == int(rows_written)
    assert code_version

    again = make("submit", f"RUN_DATE={run_date}")
    assert "already uploaded (same content), reused" in again
