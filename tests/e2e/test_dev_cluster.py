"""`make dev-cluster && make submit WAIT=1` end to end, then the database checked.

Needs Docker, internet and about 8 GB of free memory; deselected from `make test` (marker
e2e). Runs in .github/workflows/e2e.yml, or by hand: `.venv/bin/python -m pytest -m e2e
tests/e2e -s`. It leaves the cluster up for a look; `make dev-cluster-down` removes it.
"""

import os
import re
import subprocess
import time
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


def test_a_broken_drop_fails_naming_its_step_and_the_log_outlives_the_workflow(cluster):
    """A data root without the day's drops: the run is recorded failed, naming the step, and
    the failed step's log is read from its note after the Workflow and its pods are deleted
    (as Argo's TTL does an hour after the run; KFP 2.17.0 workflowDefaults)."""
    run_date = cluster
    process = subprocess.run(
        ["make", "--no-print-directory", "submit", "WAIT=1", f"RUN_DATE={run_date}",
         "DATA=gs://burger-shop/no-such-shop"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=3600,
        env={**os.environ, "DRY_RUN": ""},
    )  # fmt: skip
    print(process.stdout)
    assert process.returncode != 0, "a run on a missing drop must fail"
    (run_id,) = re.findall(r"runs/details/([0-9a-f-]{36})", process.stdout)[-1:]
    assert f"burger-recs logs {run_id}" in process.stdout  # submit points at the records
    ((status, message),) = psql(
        f"select status, message from pipeline_runs where run_id = '{run_id}'"
    )
    step = message.split(" failed:")[0]
    assert status == "failed" and step in ONE_SHARD_DAY, message

    kubectl("-n", "kubeflow", "delete", "workflow", "-l", f"pipeline/runid={run_id}", "--wait")
    kubectl("-n", "kubeflow", "wait", "--for=delete", "pod", "-l", f"pipeline/runid={run_id}",
            "--timeout=120s")  # fmt: skip
    assert (
        kubectl("-n", "kubeflow", "get", "pods", "-l", f"pipeline/runid={run_id}", "-o", "name")
        == ""
    )

    forward = subprocess.Popen(
        [*KUBECTL, "-n", "burger-recs", "port-forward", "svc/postgres", "55433:5432"], cwd=REPO
    )
    try:
        url = "postgresql://burger:dev-only-password@127.0.0.1:55433/burger_recs"
        for _ in range(30):
            shown = subprocess.run(
                [".venv/bin/burger-recs", "logs", run_id, "--database-url", url],
                cwd=REPO, capture_output=True, text=True, timeout=60,
            )  # fmt: skip
            if shown.returncode == 0:
                break
            time.sleep(1)
    finally:
        forward.terminate()
    assert shown.returncode == 0, shown.stderr
    assert f"== {step} failed at" in shown.stdout
    assert "-- the end of its log --" in shown.stdout
    # The step's own log lines, from its note (configure_logging's first line names the step).
    assert re.search(r"INFO step \S+: code ", shown.stdout), shown.stdout


def test_the_dev_cluster_runs_productions_overlay_with_the_dev_schedule(cluster):
    """`make dev-cluster` applies production's overlay as Argo CD would: the pipeline version
    through its resources, the migration Job, and the reconciler's recurring run on the dev
    schedule, pointing at that version."""
    from burger_recs.deploy import DEV_HOST, production, schedule
    from burger_recs.deploy.kfp_api import KfpApi

    def complete(job: str) -> str:
        return kubectl("-n", "kubeflow", "get", "job", job, "-o",
                       "jsonpath={.status.conditions[?(@.type=='Complete')].status}")  # fmt: skip

    assert complete(production.MIGRATE_JOB) == "True"
    assert complete(production.RECONCILER_JOB) == "True"
    versions = kubectl("-n", "kubeflow", "get", "pipelineversions.pipelines.kubeflow.org",
                       "-o", "jsonpath={.items[*].metadata.name}").split()  # fmt: skip
    dev = schedule.load_schedule(REPO / "manifests" / "overlays" / "dev" / "schedule.yaml")
    (recurring,) = KfpApi(DEV_HOST).find_recurring_runs(dev.name)
    assert recurring["trigger"]["cron_schedule"]["cron"] == dev.cron
    assert recurring["pipeline_version_reference"]["pipeline_version_id"]
    assert recurring["status"] == "ENABLED" and recurring.get("no_catchup") is True
    assert versions, "the overlay's PipelineVersion is a resource of the cluster"
    # Its first run: the schedule's tick at 06:00 UTC processes the day that closed at 00:00
    # (settings.resolve_run_date), as tests/production/test_schedule.py checks on the double.
