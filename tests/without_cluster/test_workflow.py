"""The workflows pass actionlint; the end-to-end workflow runs the e2e tests and always
deletes the cluster it made.

The e2e job runs here with stand-ins for make, kubectl and the venv's python
(tests/support/workflow_jobs.py); the tests check the commands it calls. The CI/CD
workflow's own tests are in tests/production/test_ci_workflow.py.
"""

import subprocess
import sys

from tests.support.workflow_expressions import STATUSES, condition
from tests.support.workflow_jobs import REPO, WORKFLOWS, contexts, load, pull_request, run_job

BIN = sys.executable.rsplit("/", 1)[0]
WORKFLOW = load("e2e.yml")
(JOB,) = WORKFLOW["jobs"]
E2E_TESTS = ".venv/bin/python -m pytest -m e2e tests/e2e"
DIAGNOSE = "bin/kubectl --context kind-burger-recs"


def test_workflows_pass_actionlint():
    workflows = sorted(map(str, WORKFLOWS.glob("*.yml")))
    assert workflows
    result = subprocess.run(
        [f"{BIN}/actionlint", "-shellcheck", f"{BIN}/shellcheck", *workflows],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_it_runs_the_e2e_tests_on_a_hosted_runner_then_deletes_the_cluster(tmp_path):
    assert WORKFLOW["jobs"][JOB]["runs-on"].startswith("ubuntu-")
    run = run_job(WORKFLOW, JOB, tmp_path, pull_request())
    assert run.result == "success"
    assert run.position("make venv") < run.position(E2E_TESTS)
    assert run.commands()[-1] == "make dev-cluster-down"
    assert not run.called(DIAGNOSE)  # what the cluster looked like: after a failure only


def test_after_a_failed_e2e_test_it_shows_the_cluster_and_still_deletes_it(tmp_path):
    # kubectl fails too (the cluster may be half made): the diagnostics go on regardless.
    failed = {".venv/bin/python": 1, "bin/kubectl": 1}
    run = run_job(WORKFLOW, JOB, tmp_path, pull_request(), exit_codes=failed)
    assert run.result == "failure"
    assert run.position(E2E_TESTS) < run.position(f"{DIAGNOSE} get pods")
    assert run.commands()[-1] == "make dev-cluster-down"


def test_the_cluster_is_deleted_whatever_failed_or_was_cancelled(tmp_path):
    run = run_job(WORKFLOW, JOB, tmp_path, pull_request(), exit_codes={"make venv": 2})
    assert run.result == "failure"
    assert not run.called(E2E_TESTS)
    assert run.commands()[-1] == "make dev-cluster-down"
    (down,) = [
        s for s in WORKFLOW["jobs"][JOB]["steps"] if s.get("name") == "make dev-cluster-down"
    ]
    assert all(condition(down["if"], contexts(pull_request()), s) for s in STATUSES)
