"""The job runner the workflow tests use: conditions, scripts, stubs and what they record."""

from tests.support.workflow_jobs import SHA, push, run_job

BUILD = """printf '%s' "$TOKEN" | docker login -u "$WHO"
make build "WHERE=$WHERE" SHA="$GITHUB_SHA"
"""
WORKFLOW = {
    "env": {"WHERE": "${{ vars.WHERE || 'default' }}"},
    "jobs": {
        "build": {
            "if": "github.ref == 'refs/heads/main'",
            "env": {"TOKEN": "${{ secrets.TOKEN }}"},
            "steps": [
                {"uses": "actions/checkout@v5"},
                {"name": "build", "run": BUILD, "env": {"WHO": "me"}},
                {"name": "test", "run": "make test | tail -n 1"},
                {"name": "not after a failure", "run": "git push"},
                {"name": "report", "if": "failure()", "run": "gh run view || true"},
                {"name": "unknown", "if": "always()", "run": "curl https://example.com"},
            ],
        }
    },
}


def test_it_runs_the_scripts_with_stubs_that_record_argv_stdin_and_environment(tmp_path):
    run = run_job(WORKFLOW, "build", tmp_path, push("main"), secrets={"TOKEN": "t0k"})
    assert run.commands() == [
        "docker login -u me",
        f"make build WHERE=default SHA={SHA}",
        "make test",
        "git push",
    ], run.steps
    login, build = run.calls[:2]
    assert login.stdin == "t0k" and build.env["WHO"] == "me" and "WHO" not in run.calls[2].env
    assert run.steps[0].skipped_because.startswith("uses")
    assert run.step("report").ran is False
    # Only stubs and a few harmless tools are on PATH: nothing real runs.
    assert run.step("unknown").exit_code == 127 and run.result == "failure"


def test_a_failed_step_skips_the_next_ones_but_not_those_for_failure(tmp_path):
    run = run_job(WORKFLOW, "build", tmp_path, push("main"), exit_codes={"make test": 3})
    assert run.result == "failure"
    assert run.step("test").exit_code == 3  # pipefail: tail's success does not hide it
    assert run.step("not after a failure").ran is False
    assert run.commands()[-1] == "gh run view"


def test_a_false_job_condition_or_a_failed_needed_job_skips_the_job(tmp_path):
    assert run_job(WORKFLOW, "build", tmp_path, push("feature")).result == "skipped"
    assert run_job(WORKFLOW, "build", tmp_path, push("main"), needs="failure").result == "skipped"
