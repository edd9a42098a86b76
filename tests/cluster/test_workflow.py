"""The end-to-end workflow: actionlint passes, and it runs the e2e test and cleans up."""

import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yml"))


def test_workflows_pass_actionlint():
    assert WORKFLOWS
    result = subprocess.run(
        [str(BIN / "actionlint"), "-shellcheck", str(BIN / "shellcheck"), *map(str, WORKFLOWS)],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_e2e_workflow_runs_the_e2e_tests_and_always_deletes_the_cluster():
    workflow = yaml.safe_load((REPO / ".github" / "workflows" / "e2e.yml").read_text())
    (job,) = workflow["jobs"].values()
    assert job["runs-on"].startswith("ubuntu-")
    runs = [step.get("run", "") for step in job["steps"]]
    assert any("pytest -m e2e tests/e2e" in run for run in runs)
    (down,) = [step for step in job["steps"] if step.get("run") == "make dev-cluster-down"]
    assert down["if"] == "always()"
