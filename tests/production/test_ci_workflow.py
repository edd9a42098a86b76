"""The CI/CD workflow: checks on every pull request, deploys from main through git.

actionlint runs over every workflow in tests/cluster/test_workflow.py; this checks what the
workflow does.
"""

import re
import subprocess
import sys
from pathlib import Path

import yaml

from tests.support import scan

REPO = Path(__file__).resolve().parents[2]
PATH = REPO / ".github" / "workflows" / "ci.yml"
WORKFLOW = yaml.safe_load(PATH.read_text())
# PyYAML reads the key `on` as True.
TRIGGERS = WORKFLOW.get("on", WORKFLOW.get(True))


def _runs(job):
    return [step.get("run", "") for step in WORKFLOW["jobs"][job]["steps"]]


def test_it_passes_actionlint():
    bin_dir = Path(sys.executable).parent
    result = subprocess.run(
        [str(bin_dir / "actionlint"), "-shellcheck", str(bin_dir / "shellcheck"), str(PATH)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_pull_request_is_linted_tested_and_its_rendering_checked():
    assert "pull_request" in TRIGGERS
    assert TRIGGERS["push"]["branches"] == ["main"]
    runs = _runs("check")
    assert runs.index("make lint") < runs.index("make test")
    assert "make render-prod CHECK=1" in runs
    assert "if" not in WORKFLOW["jobs"]["check"]  # on every event
    # The PostgreSQL tests run: CI=true makes them fail rather than skip without a server.
    env = WORKFLOW["jobs"]["check"]["env"]
    assert env["CI"] == "true" and env["BURGER_RECS_TEST_POSTGRES_URL"].startswith("postgresql://")


def test_main_pushes_the_images_renders_and_delivers_the_rendering():
    deploy = WORKFLOW["jobs"]["deploy"]
    assert deploy["needs"] == "check"
    assert deploy["if"] == "github.event_name == 'push' && github.ref == 'refs/heads/main'"
    runs = _runs("deploy")
    push = next(i for i, r in enumerate(runs) if r == "make push-prod-images")
    render = next(i for i, r in enumerate(runs) if r.startswith("make render-prod"))
    deliver = next(i for i, r in enumerate(runs) if "RENDER_DELIVERY" in r)
    assert push < render < deliver
    assert 'COMMIT="$GITHUB_SHA"' in runs[render]  # codeSourceURL names the pushed commit
    assert "git push origin" in runs[deliver] and "gh pr create" in runs[deliver]
    assert "vars.RENDER_DELIVERY || 'commit'" in deploy["env"]["RENDER_DELIVERY"]
    # Deploys never overlap, and a newer push does not cancel one under way.
    assert deploy["concurrency"]["cancel-in-progress"] is False
    assert deploy["permissions"] == {"contents": "write", "pull-requests": "write"}
    assert WORKFLOW["permissions"] == {"contents": "read"}


def test_credentials_come_from_repository_secrets_by_name():
    text = PATH.read_text()
    assert set(re.findall(r"secrets\.([A-Z_]+)", text)) == {
        "PROD_REGISTRY_USERNAME",
        "PROD_REGISTRY_PASSWORD",
    }
    assert "--password-stdin" in text
    # Nothing credential-like is written in the file itself (the test database's password
    # is made per run from its id).
    literal = re.sub(r"\$\{\{[^}]*\}\}", "***", text)  # an expression is no literal
    assert scan.findings(literal) == []
