"""The CI/CD workflow (.github/workflows/ci.yml), by what its jobs do for each event.

Each job runs here as a runner would run it, with stand-ins for make, git, gh, docker and
kubectl (tests/support/workflow_jobs.py): its conditions are evaluated for the event
(tests/support/workflow_expressions.py), its scripts run with bash, and the tests check the
commands they call. actionlint runs over every workflow in
tests/without_cluster/test_workflow.py.
"""

import re

import pytest
import sqlalchemy as sa

from tests.support import scan
from tests.support.workflow_expressions import evaluate, interpolate
from tests.support.workflow_jobs import (
    SHA,
    WORKFLOWS,
    contexts,
    github,
    load,
    pull_request,
    push,
    run_job,
)

PATH = WORKFLOWS / "ci.yml"
WORKFLOW = load("ci.yml")
SECRETS = {"PROD_REGISTRY_USERNAME": "ci-robot", "PROD_REGISTRY_PASSWORD": "stub-password"}
CHANGED = {"git diff": 1}  # `git diff --quiet` finds a new rendering to deliver
SHORT = SHA[:12]
EVENTS = {
    "pull request": pull_request(),
    "push to main": push("main"),
    "push to another branch": push("feature"),
    "manual run on main": github("workflow_dispatch", "refs/heads/main"),
}


def _deploy(tmp_path, event=None, vars=None, exit_codes=CHANGED, needs="success"):
    return run_job(
        WORKFLOW,
        "deploy",
        tmp_path,
        event or push("main"),
        vars=vars,
        secrets=SECRETS,
        needs=needs,
        exit_codes=exit_codes,
    )


def test_it_runs_on_pull_requests_pushes_to_main_and_by_hand():
    triggers = WORKFLOW["on"]
    assert set(triggers) == {"pull_request", "push", "workflow_dispatch"}
    assert triggers["push"]["branches"] == ["main"]


@pytest.mark.parametrize("event", EVENTS)
def test_every_run_lints_tests_and_checks_the_rendering(tmp_path, event):
    run = run_job(WORKFLOW, "check", tmp_path, EVENTS[event])
    assert run.result == "success"
    assert run.position("make venv") < run.position("make lint") < run.position("make test")
    assert run.called("make render-prod CHECK=1")
    assert not run.called("make push-prod-images") and not run.called("git")


def test_a_failed_check_stops_there_and_deploys_nothing(tmp_path):
    run = run_job(WORKFLOW, "check", tmp_path, push("main"), exit_codes={"make lint": 2})
    assert run.result == "failure"
    assert not run.called("make test") and not run.called("make render-prod")
    assert WORKFLOW["jobs"]["deploy"]["needs"] == "check"
    assert _deploy(tmp_path / "deploy", needs="failure").result == "skipped"


def test_the_tests_reach_the_postgresql_service_with_a_password_made_for_the_run(tmp_path):
    run = run_job(WORKFLOW, "check", tmp_path, pull_request())
    (test,) = run.called("make test")
    # CI=true makes the PostgreSQL tests fail, rather than skip, without a server.
    assert test.env["CI"] == "true"
    url = sa.make_url(test.env["BURGER_RECS_TEST_POSTGRES_URL"])
    service = WORKFLOW["jobs"]["check"]["services"]["postgres"]
    account = {k: interpolate(v, contexts(pull_request())) for k, v in service["env"].items()}
    assert (url.drivername, url.host) == ("postgresql", "127.0.0.1")
    assert f"{url.port}:5432" in service["ports"]
    assert (url.username, url.password, url.database) == (
        account["POSTGRES_USER"],
        account["POSTGRES_PASSWORD"],
        account["POSTGRES_DB"],
    )
    again = interpolate(service["env"]["POSTGRES_PASSWORD"], contexts(pull_request(run_id=4243)))
    assert again != url.password


@pytest.mark.parametrize("event", EVENTS)
def test_only_a_push_to_main_deploys(tmp_path, event):
    run = _deploy(tmp_path, EVENTS[event], exit_codes={})
    assert (run.result != "skipped") == (event == "push to main")


def test_main_pushes_the_images_renders_for_the_pushed_commit_and_commits_it(tmp_path):
    run = _deploy(tmp_path)  # RENDER_DELIVERY unset
    assert run.result == "success"
    assert (
        run.position("docker login")
        < run.position("make push-prod-images")
        # The version's codeSourceURL names the pushed commit.
        < run.position(f"make render-prod COMMIT={SHA}")
        < run.position(".venv/bin/kubectl kustomize manifests/overlays/prod")
        < run.position("git add manifests/overlays/prod")
        < run.position(f"git commit -m 'Render production for {SHORT}'")
        < run.position("git push origin HEAD:main")
    )
    assert [str(c) for c in run.called("git push")] == ["git push origin HEAD:main"]
    assert not run.called("gh")


def test_with_render_delivery_pull_request_the_rendering_is_proposed_instead(tmp_path):
    run = _deploy(tmp_path, vars={"RENDER_DELIVERY": "pull-request"})
    assert run.result == "success"
    branch = f"render-prod/{SHORT}"
    assert [str(c) for c in run.called("git push")] == [f"git push origin HEAD:refs/heads/{branch}"]
    (pr,) = run.called("gh pr create")
    assert run.position("git push") < run.calls.index(pr)
    assert pr.argv[3:7] == ("--base", "main", "--head", branch)
    assert pr.env["GH_TOKEN"] == push("main")["token"]


def test_render_delivery_defaults_to_commit_and_takes_the_variable_when_set():
    env = WORKFLOW["jobs"]["deploy"]["env"]["RENDER_DELIVERY"]
    assert interpolate(env, contexts(push("main"))) == "commit"
    assert interpolate(env, contexts(push("main"), vars={"RENDER_DELIVERY": "x"})) == "x"
    registry = WORKFLOW["env"]["PROD_REGISTRY"]
    assert interpolate(registry, contexts(push("main"))) == "registry.example.com/burger-recs"
    assert interpolate(registry, contexts(push("main"), vars={"PROD_REGISTRY": "r/x"})) == "r/x"


def test_an_unknown_delivery_fails_and_pushes_nothing(tmp_path):
    run = _deploy(tmp_path, vars={"RENDER_DELIVERY": "push"})
    assert run.result == "failure"
    assert "RENDER_DELIVERY must be commit or pull-request" in run.steps[-1].output
    assert not run.called("git push") and not run.called("gh")


def test_an_unchanged_rendering_delivers_nothing(tmp_path):
    run = _deploy(tmp_path, exit_codes={})  # `git diff --quiet`: no change
    assert run.result == "success"
    assert run.called("make render-prod")
    assert not run.called("git commit") and not run.called("git push")


def test_a_failed_image_push_renders_and_delivers_nothing(tmp_path):
    run = _deploy(tmp_path, exit_codes={**CHANGED, "make push-prod-images": 2})
    assert run.result == "failure"
    assert not run.called("make render-prod") and not run.called("git")


def test_the_registry_login_reads_the_secrets_and_takes_the_password_on_stdin(tmp_path):
    registry = "registry.corp.example/shop/burger-recs"
    run = _deploy(tmp_path, vars={"PROD_REGISTRY": registry})
    (login,) = run.called("docker login")
    assert login.argv == (
        "docker",
        "login",
        "registry.corp.example",  # the registry's host
        "--username",
        SECRETS["PROD_REGISTRY_USERNAME"],
        "--password-stdin",
    )
    assert login.stdin == SECRETS["PROD_REGISTRY_PASSWORD"]
    password = SECRETS["PROD_REGISTRY_PASSWORD"]
    for call in run.calls:
        assert password not in call.argv
        if call is not login:
            assert password not in call.env.values()
    (push_images,) = run.called("make push-prod-images")
    assert push_images.env["PROD_REGISTRY"] == registry


def test_credentials_come_from_repository_secrets_by_name():
    text = PATH.read_text()
    assert set(re.findall(r"secrets\.([A-Z_]+)", text)) == {
        "PROD_REGISTRY_USERNAME",
        "PROD_REGISTRY_PASSWORD",
    }
    # Nothing credential-like is written in the file itself (the test database's password
    # is made per run from its id).
    literal = re.sub(r"\$\{\{[^}]*\}\}", "***", text)  # an expression is no literal
    assert scan.findings(literal) == []


def test_a_new_run_cancels_the_older_one_of_a_pull_request_never_one_on_main():
    group, cancel = WORKFLOW["concurrency"]["group"], WORKFLOW["concurrency"]["cancel-in-progress"]
    pr, other_pr, main = (contexts(e) for e in (pull_request(7), pull_request(8), push("main")))
    assert interpolate(group, pr) != interpolate(group, other_pr) != interpolate(group, main)
    assert evaluate(cancel, pr) is True and evaluate(cancel, main) is False
    # Deploys run one at a time, in order; a newer push waits instead of cancelling one.
    deploy = WORKFLOW["jobs"]["deploy"]["concurrency"]
    assert "${{" not in deploy["group"] and deploy["cancel-in-progress"] is False


def test_only_the_deploy_job_may_write_to_the_repository():
    assert WORKFLOW["permissions"] == {"contents": "read"}
    assert "permissions" not in WORKFLOW["jobs"]["check"]
    assert WORKFLOW["jobs"]["deploy"]["permissions"] == {
        "contents": "write",
        "pull-requests": "write",
    }
