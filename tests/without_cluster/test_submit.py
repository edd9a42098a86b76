"""`burger-recs submit` and `burger-recs retry` against a local double of the KFP v2beta1 API.

The client is the kfp SDK's (deploy/kfp_api.py); the double (tests/support/kfp_double.py)
checks every request as the real API reads it, so what the SDK sends for this project is held
to the API's contract. The last tests show the double refuses what the API refuses, and that
the SDK's own calls, used directly, pass it too.
"""

import json
import warnings

import pytest
from typer.testing import CliRunner

from burger_recs.cli import app
from burger_recs.deploy import NAMESPACE_ENV
from burger_recs.deploy import submit as kfp
from burger_recs.deploy.kfp_api import KfpApi, KfpError, version_name
from burger_recs.pipelines.compile import retarget_images
from tests.support.kfp_double import (
    NOW,
    WORKFLOW,
    BadAnswer,
    check_answer,
    raw_request,
    snapshot,
    task,
)
from tests.support.pipeline import FINAL, ONE_SHARD_DAY, SHARDED, TASKS

ARGS = {"data_uri": "gs://burger-shop/drops", "run_date": "2026-11-24", "k": 5}


def ir_name(ir_text):
    """The name submit gives the version holding this IR."""
    spec, platform = kfp.ir_specs(ir_text)
    return version_name(spec["pipelineInfo"]["name"], spec, platform)


class Clock:
    """A clock that moves only when the code under test sleeps."""

    def __init__(self):
        self.now = 0.0
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


def _submit(double, ir_text, wait=False, logs=None, clock=None, **kwargs):
    lines = []
    clock = clock or Clock()
    run = kfp.submit(
        KfpApi(double.url),
        ir_text,
        dict(ARGS),
        "abc123def456",
        "http://ui.example",
        lines.append,
        wait=wait,
        fetch_logs=logs or (lambda run_id: pytest.fail(f"logs of {run_id} fetched")),
        sleep=clock.sleep,
        clock=clock,
        **kwargs,
    )
    return run, lines


def test_first_submit_creates_the_pipeline_uploads_the_version_and_starts_a_run(
    kfp_double, ir_text
):
    run, lines = _submit(kfp_double, ir_text)

    (pipeline,) = kfp_double.pipelines.values()
    assert pipeline["display_name"] == "burger-recs-daily"
    (version,) = kfp_double.versions.values()
    assert version["display_name"] == ir_name(ir_text)
    assert version["pipeline_id"] == pipeline["pipeline_id"]
    (upload,) = kfp_double.calls("POST", "/apis/v2beta1/pipelines/upload_version")
    filename, content = upload.files["uploadfile"]
    assert filename.endswith(".yaml")  # the server tells the format by the extension
    assert content.decode() == ir_text  # exactly the compiled IR, platform spec included
    assert json.loads(upload.query["tags"][0]) == {"code_version": "abc123def456"}
    (stored,) = kfp_double.runs.values()
    assert stored["runtime_config"]["parameters"] == ARGS
    assert stored["pipeline_version_reference"] == {
        "pipeline_id": pipeline["pipeline_id"],
        "pipeline_version_id": version["pipeline_version_id"],
    }
    assert stored["experiment_id"] in kfp_double.experiments
    assert "abc123def456" in stored["display_name"] and "2026-11-24" in stored["display_name"]
    assert "code_version=abc123def456" in stored["description"]
    assert f"pipeline_version={ir_name(ir_text)}" in stored["description"]
    assert f"http://ui.example/#/runs/details/{run['run_id']}" in "\n".join(lines)


def test_the_same_content_reuses_its_version_and_a_change_makes_a_new_one(kfp_double, ir_text):
    _submit(kfp_double, ir_text)
    _, lines = _submit(kfp_double, ir_text)
    assert len(kfp_double.versions) == 1 and len(kfp_double.runs) == 2
    assert len(kfp_double.calls("POST", "/apis/v2beta1/pipelines/upload_version")) == 1
    assert "already uploaded" in lines[0]
    assert len(kfp_double.calls("POST", "/apis/v2beta1/pipelines")) == 1  # created once
    assert len(kfp_double.experiments) == 1

    moved = retarget_images(ir_text, "registry.example.com/shop")
    assert ir_name(moved) != ir_name(ir_text)
    _submit(kfp_double, moved)
    assert len(kfp_double.versions) == 2
    assert len(kfp_double.pipelines) == 1


def test_a_version_uploaded_meanwhile_by_someone_else_is_used(kfp_double, ir_text):
    kfp_double.lose_upload_race = True
    _, lines = _submit(kfp_double, ir_text)
    assert "already uploaded" in lines[0]
    (version,) = kfp_double.versions.values()
    (run,) = kfp_double.runs.values()
    assert (
        run["pipeline_version_reference"]["pipeline_version_id"] == (version["pipeline_version_id"])
    )


def test_following_a_run_prints_each_step_state_once_and_stops_at_the_end(kfp_double, ir_text):
    kfp_double.run_script = [
        snapshot("PENDING"),
        snapshot("RUNNING", task("check-inputs", "SUCCEEDED"), task("ingest", "RUNNING", when=1)),
        snapshot("RUNNING", task("check-inputs", "SUCCEEDED"), task("ingest", "RUNNING", when=1)),
        snapshot(
            "RUNNING",
            task("check-inputs", "SUCCEEDED"),
            task("ingest", "SUCCEEDED", when=1),
            task("validate", "RUNNING", when=2),
        ),
        snapshot(
            "SUCCEEDED", *(task(step, "SUCCEEDED", when=i) for i, step in enumerate(ONE_SHARD_DAY))
        ),
    ]
    clock = Clock()
    run, lines = _submit(kfp_double, ir_text, wait=True, clock=clock)

    assert run["state"] == "SUCCEEDED"
    followed = lines[lines.index("following the run:") + 1 : -1]
    states = [line.split() for line in followed]
    assert states == [
        ["check-inputs", "SUCCEEDED"],
        ["ingest", "RUNNING"],
        ["ingest", "SUCCEEDED"],
        ["validate", "RUNNING"],
        ["validate", "SUCCEEDED"],
        ["train", "SUCCEEDED"],
        ["evaluate", "SUCCEEDED"],
        ["recommend", "SUCCEEDED"],
        ["publish", "SUCCEEDED"],
    ]
    assert clock.sleeps == [5.0] * 4  # one poll per snapshot before the last
    assert lines[-1].startswith(f"run {run['run_id']} SUCCEEDED after 0:00:20")


def test_a_failed_run_names_its_failed_steps_and_shows_its_pods_logs_by_run_label(
    kfp_double, ir_text
):
    # What the API returns names no pod (tests/support/kfp_double.py: snapshot, task), so
    # the logs are those of the run's pods, by the label every pod of the run carries.
    kfp_double.run_script = [
        snapshot(
            "FAILED",
            task("ingest", "SUCCEEDED", attempts=("SUCCEEDED",)),
            task("validate", "FAILED", when=1),
        )
    ]
    fetched = []

    def logs(run_id):
        fetched.append(run_id)
        return f"[pod/{WORKFLOW}-system-container-impl-1/main] ValueError: orders.csv line 2\n"

    run, lines = _submit(kfp_double, ir_text, wait=True, logs=logs)
    text = "\n".join(lines)
    assert run["state"] == "FAILED"
    assert fetched == [run["run_id"]]
    assert "--- validate failed" in text and "--- ingest" not in text
    assert f"kubectl -n kubeflow logs -l pipeline/runid={run['run_id']} --all-containers" in text
    assert "  [pod/" in text and "ValueError: orders.csv line 2" in text
    # The pods go with the Workflow; the failed step's note keeps its log in the database.
    assert f"once the pods are gone: burger-recs logs {run['run_id']} --database-url" in text
    # The Workflow's own nodes (root, exit handler, drivers) are no steps: never shown.
    followed = lines[lines.index("following the run:") + 1 :]
    assert [
        line.split()[0] for line in followed if line.startswith("  ") and len(line.split()) == 2
    ] == [
        "ingest",
        "validate",
    ]


def test_a_step_is_its_own_node_whatever_its_retries_and_iterations():
    retried = snapshot("RUNNING", task("publish", "SUCCEEDED", attempts=("FAILED", "SUCCEEDED")))
    assert kfp.task_states(retried, ONE_SHARD_DAY) == {"publish": kfp.TaskState("SUCCEEDED")}
    # A step in a ParallelFor: one node per iteration, combined.
    shards = ["stage-shard"]
    for states, shown in (
        (("SUCCEEDED", "SUCCEEDED"), "SUCCEEDED"),
        (("SUCCEEDED", "FAILED"), "FAILED"),
        (("FAILED", "RUNNING"), "RUNNING"),
    ):
        run = snapshot(
            "RUNNING", *(task("stage-shard", s, iteration=i) for i, s in enumerate(states))
        )
        assert kfp.task_states(run, shards)["stage-shard"].state == shown


def test_a_run_that_fails_before_any_step_says_where_to_look(kfp_double, ir_text):
    kfp_double.run_script = [snapshot("FAILED")]
    fetched = []
    run, lines = _submit(
        kfp_double, ir_text, wait=True, logs=lambda run_id: fetched.append(run_id) or ""
    )
    text = "\n".join(lines)
    assert "no step failed" in text
    assert fetched == [run["run_id"]]
    assert f"get pods -l pipeline/runid={run['run_id']}" in text


def test_the_logs_command_selects_the_runs_pods_by_its_label(tmp_path):
    kubectl = tmp_path / "kubectl"
    kubectl.write_text('#!/bin/sh\necho "$*"\n')
    kubectl.chmod(0o755)
    fetch = kfp.kubectl_logs(str(kubectl), "kind-burger-recs", tail=25)
    assert fetch("5d0c").split() == [
        *("--context", "kind-burger-recs", "-n", "kubeflow", "logs"),
        *("-l", "pipeline/runid=5d0c", "--all-containers", "--prefix", "--tail=25"),
    ]
    kubectl.write_text('#!/bin/sh\necho "no resources" >&2\nexit 1\n')
    assert fetch("5d0c") == "(no logs: no resources)"


def test_waiting_gives_up_after_the_timeout(kfp_double, ir_text):
    kfp_double.run_script = [snapshot("RUNNING", task("ingest", "RUNNING"))]
    with pytest.raises(KfpError, match="still RUNNING after 60s"):
        _submit(kfp_double, ir_text, wait=True, timeout_seconds=60)


def test_api_errors_and_an_unreachable_api_are_reported(kfp_double):
    api = KfpApi(kfp_double.url)
    with pytest.raises(KfpError, match=r"HTTP 404.*run nope not found") as failure:
        api.get_run("nope")
    assert failure.value.status == 404
    kfp_double.stop()
    with pytest.raises(KfpError, match="cannot reach the KFP API"):
        api.get_run("nope")


def test_steps_follow_the_pipeline_order(ir_text):
    # Ingest's check comes first; the sharded branch's tasks come after the one-shard branch
    # they replace; the exit handler's final task comes last: the order of the cluster
    # settings, which name every task once.
    assert kfp.step_order(ir_text) == [*ONE_SHARD_DAY, *SHARDED, FINAL] == list(TASKS)
    assert ONE_SHARD_DAY[:2] == ("check-inputs", "ingest") and "publish" in ONE_SHARD_DAY


def test_the_command_submits_the_retargeted_ir_and_fails_with_the_failed_run(
    kfp_double, ir_text, tmp_path
):
    # A stand-in for kubectl that prints what it was asked for.
    kubectl = tmp_path / "kubectl"
    kubectl.write_text('#!/bin/sh\necho "logs: $*"\n')
    kubectl.chmod(0o755)
    kfp_double.run_script = [snapshot("FAILED", task("ingest", "FAILED", attempts=("FAILED",) * 2))]
    result = CliRunner().invoke(
        app,
        [
            "submit",
            "--host",
            kfp_double.url,
            "--ui",
            "http://ui.example",
            "--registry",
            "registry.example.com/shop",
            "--run-date",
            "2026-11-20",
            "--param",
            "k=5",
            "--wait",
            "--kubectl",
            str(kubectl),
            "--kube-context",
            "kind-burger-recs",
        ],
    )
    assert result.exit_code == 1, result.output
    (run,) = kfp_double.runs.values()
    assert (
        f"logs: --context kind-burger-recs -n kubeflow logs -l pipeline/runid={run['run_id']} "
        "--all-containers --prefix --tail=40" in result.output
    )
    (upload,) = kfp_double.calls("POST", "/apis/v2beta1/pipelines/upload_version")
    uploaded = upload.files["uploadfile"][1].decode()
    assert uploaded == retarget_images(ir_text, "registry.example.com/shop")
    assert run["runtime_config"]["parameters"] == {
        "data_uri": "gs://burger-shop/drops",
        "run_date": "2026-11-20",
        "k": 5,
    }


def test_an_image_pull_secret_is_added_to_the_uploaded_ir_only_when_asked(kfp_double, ir_text):
    lines = []
    kfp.submit(
        KfpApi(kfp_double.url),
        ir_text,
        dict(ARGS),
        "v1",
        "http://ui",
        lines.append,
        image_pull_secrets=["regcred"],
    )
    (upload,) = kfp_double.calls("POST", "/apis/v2beta1/pipelines/upload_version")
    spec, platform = kfp.ir_specs(upload.files["uploadfile"][1].decode())
    executors = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    assert set(executors) == set(spec["deploymentSpec"]["executors"])
    assert all(e["imagePullSecret"][0]["secretName"] == "regcred" for e in executors.values())
    # Another content, so another version than the registry-neutral IR's.
    (version,) = kfp_double.versions.values()
    assert version["display_name"] != ir_name(ir_text)
    assert version["display_name"] == ir_name(upload.files["uploadfile"][1].decode())
    with pytest.raises(KfpError, match="no Secret name"):
        kfp.submit(KfpApi(kfp_double.url), ir_text, {}, "v1", "", print, image_pull_secrets=["A"])


def test_the_command_rejects_unknown_parameters_before_calling_the_api(kfp_double):
    result = CliRunner().invoke(app, ["submit", "--host", kfp_double.url, "--param", "kk=5"])
    assert result.exit_code == 1
    assert "no such parameter" in result.output
    assert kfp_double.requests == []


# -- burger-recs retry ----------------------------------------------------------------------
def _ended_run(double, ir_text, state):
    """A run submitted and followed to its end in ``state`` (its last GET said so)."""
    double.run_script = [snapshot(state, task("ingest", state))]
    run, _ = _submit(double, ir_text, wait=True, logs=lambda run_id: "")
    assert run["state"] == state
    return run["run_id"]


def _retry(double, run_id, wait=False):
    lines = []
    clock = Clock()
    run = kfp.retry(
        KfpApi(double.url),
        run_id,
        ONE_SHARD_DAY,
        "http://ui.example",
        lines.append,
        wait=wait,
        fetch_logs=lambda run_id: pytest.fail(f"logs of {run_id} fetched"),
        sleep=clock.sleep,
        clock=clock,
    )
    return run, lines


def test_retrying_a_failed_run_asks_kfp_for_exactly_that_run_and_prints_its_link(
    kfp_double, ir_text
):
    other = _ended_run(kfp_double, ir_text, "FAILED")
    run_id = _ended_run(kfp_double, ir_text, "FAILED")
    before = dict(kfp_double.runs[other])

    run, lines = _retry(kfp_double, run_id)

    assert run is None  # not followed
    retries = [r for r in kfp_double.requests if r.path.endswith(":retry")]
    assert [(r.method, r.path, r.query, r.body) for r in retries] == [
        ("POST", f"/apis/v2beta1/runs/{run_id}:retry", {}, None)
    ]
    assert lines[0].startswith(f"run {run_id} retried")
    assert f"  Kubeflow   http://ui.example/#/runs/details/{run_id}" in lines
    # As the server records it: RUNNING again, in place (no new run), the other untouched.
    assert kfp_double.runs[run_id]["state"] == "RUNNING"
    assert kfp_double.runs[run_id]["state_history"][-1]["state"] == "RUNNING"
    assert kfp_double.runs[other] == before
    assert len(kfp_double.runs) == 2


def test_a_retried_run_is_followed_to_its_end_like_a_submitted_one(kfp_double, ir_text):
    run_id = _ended_run(kfp_double, ir_text, "FAILED")
    kfp_double.run_script = [
        snapshot(
            "RUNNING",
            task("check-inputs", "SUCCEEDED"),
            task("ingest", "SUCCEEDED", when=1),
            task("validate", "RUNNING", when=2),
        ),
        snapshot(
            "SUCCEEDED", *(task(step, "SUCCEEDED", when=i) for i, step in enumerate(ONE_SHARD_DAY))
        ),
    ]
    run, lines = _retry(kfp_double, run_id, wait=True)
    assert run["state"] == "SUCCEEDED" and run["run_id"] == run_id
    followed = lines[lines.index("following the run:") + 1 : -1]
    assert [line.split() for line in followed][:4] == [
        ["check-inputs", "SUCCEEDED"],
        ["ingest", "SUCCEEDED"],
        ["validate", "RUNNING"],
        ["validate", "SUCCEEDED"],
    ]
    assert lines[-1] == (
        f"run {run_id} SUCCEEDED after 0:00:05: http://ui.example/#/runs/details/{run_id}"
    )


def test_a_run_that_did_not_fail_is_refused_with_the_servers_reason(kfp_double, ir_text):
    run_id = _ended_run(kfp_double, ir_text, "SUCCEEDED")
    before = dict(kfp_double.runs[run_id])
    with pytest.raises(KfpError) as refused:
        _retry(kfp_double, run_id)
    assert refused.value.status == 409
    assert str(refused.value) == (
        f"KFP refused: retry run {run_id}: HTTP 409: Failed to retry a run: Failed to retry run "
        f"{run_id}: BadRequestError: Workflow must be Failed/Error to retry: workflow cannot be "
        "retried"
    )
    assert kfp_double.runs[run_id] == before


def test_an_unknown_run_id_fails_clearly(kfp_double):
    with pytest.raises(KfpError, match=r"^no run nope at http://127\.0\.0\.1:\d+: ") as failure:
        _retry(kfp_double, "nope")
    assert failure.value.status == 404
    assert str(failure.value).endswith(
        "HTTP 404: Failed to retry a run: Failed to retry run "
        "nope due to error fetching the run: Failed to fetch run nope: ResourceNotFoundError: "
        "Run nope not found"
    )


def test_the_retry_command_follows_the_run_and_fails_with_its_logs(kfp_double, ir_text, tmp_path):
    kubectl = tmp_path / "kubectl"
    kubectl.write_text('#!/bin/sh\necho "logs: $*"\n')
    kubectl.chmod(0o755)
    run_id = _ended_run(kfp_double, ir_text, "FAILED")
    kfp_double.run_script = [snapshot("FAILED", task("validate", "FAILED", when=1))]
    command = ["retry", run_id, "--host", kfp_double.url, "--ui", "http://ui.example", "--wait"]
    options = ["--timeout", "60", "--kubectl", str(kubectl), "--kube-context", "kind-burger-recs"]
    result = CliRunner().invoke(app, [*command, *options])
    assert result.exit_code == 1, result.output
    assert f"http://ui.example/#/runs/details/{run_id}" in result.output
    assert "--- validate failed" in result.output
    assert (
        f"logs: --context kind-burger-recs -n kubeflow logs -l pipeline/runid={run_id} "
        "--all-containers --prefix --tail=40" in result.output
    )
    assert len(kfp_double.calls("POST", f"/apis/v2beta1/runs/{run_id}:retry")) == 1

    # It failed again: retried again, not waiting this time: the link, exit 0.
    result = CliRunner().invoke(app, ["retry", run_id, "--host", kfp_double.url])
    assert result.exit_code == 0, result.output
    assert f"http://localhost:8080/#/runs/details/{run_id}" in result.output


def test_the_retry_command_says_why_kfp_refused(kfp_double, ir_text):
    succeeded = _ended_run(kfp_double, ir_text, "SUCCEEDED")
    for run_id, reason in (
        (succeeded, "Workflow must be Failed/Error to retry"),
        ("nope", "no run nope at "),
    ):
        result = CliRunner().invoke(app, ["retry", run_id, "--host", kfp_double.url, "--wait"])
        assert result.exit_code == 1, result.output
        assert "error: " in result.output and reason in result.output
        assert "following the run" not in result.output


def test_the_double_refuses_what_the_real_api_refuses(kfp_double, ir_text):
    # The SDK's models cannot send an unknown field: a request by hand can.
    status, answer = raw_request(
        kfp_double, "POST", "/pipelines", {"displayName": "camelCase is not the API's"}
    )
    assert status == 400 and "unknown field" in answer["message"]
    api = KfpApi(kfp_double.url)
    version = kfp.ensure_version(api, ir_text, "v1")
    for parameters, error in (
        ({"run_date": "2026-11-24"}, "missing parameter data_uri"),
        ({**ARGS, "k": "5"}, "parameter k='5'"),
        ({**ARGS, "kk": 5}, "unknown parameter kk"),
    ):
        with pytest.raises(KfpError, match=error):
            api.create_run("x", "", None, version.reference(), parameters)
    kfp_double.violations.clear()  # refused on purpose


# -- the double agrees with the kfp SDK ---------------------------------------------------
@pytest.fixture
def sdk_client(kfp_double, monkeypatch, tmp_path):
    import kfp

    monkeypatch.setenv("HOME", str(tmp_path))  # no saved kfp context
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return kfp.Client(host=kfp_double.url)


def test_the_double_accepts_what_the_kfp_sdk_sends(kfp_double, sdk_client, ir_text, tmp_path):
    """The SDK's own requests pass the double's checks, and it reads the double's answers."""
    ours = KfpApi(kfp_double.url)
    pipeline = {"pipeline_id": ours.create_pipeline("burger-recs-daily", "")}
    assert sdk_client.get_pipeline_id("burger-recs-daily") == pipeline["pipeline_id"]
    assert sdk_client.get_pipeline_id("another") is None
    package = tmp_path / "pipeline.yaml"
    package.write_text(ir_text)
    version = sdk_client.upload_pipeline_version(
        str(package), "sdk-version", pipeline_id=pipeline["pipeline_id"]
    )
    assert version.pipeline_version_id in kfp_double.versions
    experiment = sdk_client.create_experiment("sdk-experiment")
    created = sdk_client.run_pipeline(
        experiment.experiment_id,
        "sdk-run",
        pipeline_id=pipeline["pipeline_id"],
        version_id=version.pipeline_version_id,
        params=dict(ARGS),
    )
    kfp_double.run_script = [snapshot("FAILED", task("ingest", "FAILED"))]
    run = sdk_client.get_run(created.run_id)
    assert run.state == "FAILED"
    (detail,) = [d for d in run.run_details.task_details if d.display_name == "ingest"]
    # No pod name: the child is the executor's Argo node id.
    assert detail.pod_name is None and detail.child_tasks[0].pod_name.startswith(WORKFLOW)
    assert detail.run_id == created.run_id and detail.create_time.year == 2026
    assert NOW.startswith(str(run.created_at.year))

    # Where our client uses the SDK's generated calls (for the fields its methods cannot
    # set), it sends the same paths, and the same fields wherever the SDK's methods send one.
    sdk_upload = kfp_double.calls("POST", "/apis/v2beta1/pipelines/upload_version")[-1]
    sdk_run = kfp_double.calls("POST", "/apis/v2beta1/runs")[-1]
    kfp.submit(ours, ir_text, dict(ARGS), "v1", "http://ui", lambda line: None)
    our_upload = kfp_double.calls("POST", "/apis/v2beta1/pipelines/upload_version")[-1]
    our_run = kfp_double.calls("POST", "/apis/v2beta1/runs")[-1]
    assert set(sdk_upload.query) <= set(our_upload.query)
    assert set(sdk_upload.files) == set(our_upload.files) == {"uploadfile"}
    assert set(sdk_run.body) - {"service_account"} <= set(our_run.body)
    assert sdk_run.body["runtime_config"].keys() == our_run.body["runtime_config"].keys()
    sdk_find, *_, our_find = kfp_double.calls("GET", "/apis/v2beta1/pipelines")
    # The same filter, to the byte of JSON, for the same name.
    assert sdk_find.query["filter"] == our_find.query["filter"]


def test_every_answer_of_the_double_is_one_the_kfp_sdk_reads_and_the_server_fills(
    kfp_double, ir_text
):
    """The double's answers are checked on every request (kfp_double._answer); here, that the
    check refuses what the real API never returns, and that a bad answer fails loudly."""
    for answer, model, error in (
        ({"run_id": "r", "labels": {}}, "V2beta1Run", r"has no field \['labels'\]"),
        ({"state": "DONE"}, "V2beta1Run", "is no V2beta1RuntimeState"),
        ({"created_at": "yesterday"}, "V2beta1Run", "no RFC 3339 time"),
        ({"pod_name": "p"}, "V2beta1PipelineTaskDetail", r"never fills \['pod_name'\]"),
        ({"code_source_url": "u"}, "V2beta1PipelineVersion", "never fills"),
        ({"max_concurrency": 1}, "V2beta1RecurringRun", "is no str"),  # int64: a string
    ):
        with pytest.raises(BadAnswer, match=error):
            check_answer(answer, model, model)
    api = KfpApi(kfp_double.url)
    version = kfp.ensure_version(api, ir_text, "v1")
    run = api.create_run("x", "", None, version.reference(), dict(ARGS))
    detail = {**task("ingest", "FAILED")[1], "pod_name": "ingest-pod"}
    kfp_double.run_script = [{"state": "FAILED", "run_details": {"task_details": [detail]}}]
    with pytest.raises(KfpError, match=r"HTTP 500.*never fills"):
        api.get_run(run["run_id"])
    assert kfp_double.violations == [
        f"answer to GET /apis/v2beta1/runs/{run['run_id']}: V2beta1Run.run_details"
        ".task_details[0]: the server never fills ['pod_name'] of V2beta1PipelineTaskDetail"
    ]
    kfp_double.violations.clear()  # made on purpose


def test_the_pods_are_looked_for_in_the_namespace_configured(monkeypatch):
    monkeypatch.delenv(NAMESPACE_ENV, raising=False)
    assert kfp.logs_command("run-1")[:2] == ["-n", "kubeflow"]
    monkeypatch.setenv(NAMESPACE_ENV, "team-burgers")  # a multi-user profile namespace
    assert kfp.logs_command("run-1")[:2] == ["-n", "team-burgers"]
    assert kfp.logs_hint("run-1").startswith("kubectl -n team-burgers logs -l pipeline/runid=")
