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


def test_the_runs_service_account_cannot_read_the_database_secret(cluster):
    """The pipeline's pods run as burger-recs-runner, which may read no Secret but the
    artifact store's (manifests/overlays/prod/runner/runner.yaml)."""
    runner = "system:serviceaccount:kubeflow:burger-recs-runner"

    def can(*what: str) -> str:
        done = subprocess.run(
            [*KUBECTL, "auth", "can-i", *what, "-n", "kubeflow", f"--as={runner}"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
        )
        return done.stdout.strip()

    assert can("get", "secret/burger-recs-database") == "no"
    assert can("list", "secrets") == "no"
    assert can("create", "pods/exec") == "no"
    assert can("get", "secret/mlpipeline-minio-artifact") == "yes"
    assert can("get", "configmap/kfp-launcher") == "yes"


def test_a_rerun_of_the_same_day_takes_the_unchanged_steps_from_kfps_cache(cluster):
    """No cacheable task takes a per-run value (the run id reaches steps through the
    environment), so the second run of a day reuses ingest ... recommend on the cluster."""
    run_date = cluster
    make("submit", "WAIT=1", f"RUN_DATE={run_date}")  # the day, computed (or cached) once
    again = make("submit", "WAIT=1", f"RUN_DATE={run_date}")
    assert re.search(r"^run \S+ SUCCEEDED after", again, re.MULTILINE)
    # A task served from the cache is reported SKIPPED by the v2beta1 API (run.proto
    # RuntimeState: "skipped ... due to caching") or SUCCEEDED without running its executor;
    # either way the train step's pod does not run again: its log line is absent.
    (run_id,) = re.findall(r"runs/details/([0-9a-f-]{36})", again)[-1:]
    logs = kubectl(
        "-n", "kubeflow", "logs", "-l", f"pipeline/runid={run_id}", "--all-containers", "--tail=-1"
    )
    assert "step train: code" not in logs
    assert "step publish: code" in logs  # the publishing steps always run
