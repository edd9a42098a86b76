"""`burger-recs submit` against a local double of the KFP v2beta1 API.

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
from burger_recs.compile import retarget_images
from burger_recs.deploy import submit as kfp
from burger_recs.deploy.kfp_api import KfpApi, KfpError, version_name
from tests.support.kfp_double import NOW, raw_request, snapshot, task

ARGS = {"data_uri": "gs://burger-shop/drops", "run_date": "2026-11-24", "k": 5}
STEPS = ["ingest", "validate", "train", "evaluate", "recommend", "publish"]


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
        fetch_logs=logs or (lambda pod: pytest.fail(f"logs of {pod} fetched")),
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
        snapshot("RUNNING", task("ingest", "RUNNING")),
        snapshot("RUNNING", task("ingest", "RUNNING")),
        snapshot("RUNNING", task("ingest", "SUCCEEDED"), task("validate", "RUNNING", when=1)),
        snapshot("SUCCEEDED", *(task(step, "SUCCEEDED", when=i) for i, step in enumerate(STEPS))),
    ]
    clock = Clock()
    run, lines = _submit(kfp_double, ir_text, wait=True, clock=clock)

    assert run["state"] == "SUCCEEDED"
    followed = lines[lines.index("following the run:") + 1 : -1]
    states = [line.split() for line in followed]
    assert states == [
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


def test_a_failed_step_shows_its_error_and_the_logs_of_its_pods(kfp_double, ir_text):
    kfp_double.run_script = [
        snapshot(
            "FAILED",
            task("ingest", "SUCCEEDED", pods=("ingest-driver", "ingest-pod")),
            task(
                "validate",
                "FAILED",
                pods=("validate-driver", "validate-pod"),
                when=1,
                error={"message": "exit status 1"},
            ),
            task("root", "FAILED"),  # not a step: never shown
        )
    ]
    fetched = []

    def logs(pod):
        fetched.append(pod)
        return f"ValueError: orders.csv line 2 ({pod})\n"

    run, lines = _submit(kfp_double, ir_text, wait=True, logs=logs)
    text = "\n".join(lines)
    assert run["state"] == "FAILED"
    assert fetched == ["validate-driver", "validate-pod"]
    assert "--- validate failed: exit status 1" in text
    assert "  ValueError: orders.csv line 2 (validate-pod)" in text
    assert "root" not in text


def test_a_retried_step_shows_its_latest_attempt_and_all_its_pods():
    run = snapshot(
        "RUNNING",
        task("publish", "SUCCEEDED", pods=("publish-2",), when=5),
        task("publish", "FAILED", pods=("publish-1",), when=2),
    )
    (state,) = kfp.task_states(run, STEPS).values()
    assert state.state == "SUCCEEDED"
    assert state.pods == ["publish-1", "publish-2"]


def test_a_run_that_fails_before_any_step_says_where_to_look(kfp_double, ir_text):
    kfp_double.run_script = [{"state": "FAILED", "error": {"message": "secret not found"}}]
    run, lines = _submit(kfp_double, ir_text, wait=True)
    text = "\n".join(lines)
    assert "run error: secret not found" in text
    assert f"pipeline/runid={run['run_id']}" in text


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
    # The sharded branch's tasks come after the one-shard branch they replace; the exit
    # handler's final task comes last.
    sharded = ["shard-plan", "recommend-shard", "stage-shard", "commit"]
    assert kfp.step_order(ir_text) == [*STEPS, *sharded, "finish"]


def test_the_command_submits_the_retargeted_ir_and_fails_with_the_failed_run(
    kfp_double, ir_text, tmp_path
):
    # A stand-in for kubectl that prints what it was asked for.
    kubectl = tmp_path / "kubectl"
    kubectl.write_text('#!/bin/sh\necho "logs: $*"\n')
    kubectl.chmod(0o755)
    kfp_double.run_script = [snapshot("FAILED", task("ingest", "FAILED", pods=("ingest-pod",)))]
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
    assert (
        "logs: --context kind-burger-recs -n kubeflow logs ingest-pod --all-containers"
        in result.output
    )
    (upload,) = kfp_double.calls("POST", "/apis/v2beta1/pipelines/upload_version")
    uploaded = upload.files["uploadfile"][1].decode()
    assert uploaded == retarget_images(ir_text, "registry.example.com/shop")
    (run,) = kfp_double.runs.values()
    assert run["runtime_config"]["parameters"] == {
        "data_uri": "gs://burger-shop/drops",
        "run_date": "2026-11-20",
        "k": 5,
    }


def test_the_command_rejects_unknown_parameters_before_calling_the_api(kfp_double):
    result = CliRunner().invoke(app, ["submit", "--host", kfp_double.url, "--param", "kk=5"])
    assert result.exit_code == 1
    assert "no such parameter" in result.output
    assert kfp_double.requests == []


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
    kfp_double.run_script = [
        snapshot("FAILED", task("ingest", "FAILED", pods=("ingest-pod",), error={"message": "x"}))
    ]
    run = sdk_client.get_run(created.run_id)
    assert run.state == "FAILED"
    (detail,) = run.run_details.task_details
    assert detail.display_name == "ingest" and detail.child_tasks[0].pod_name == "ingest-pod"
    assert detail.create_time.year == 2026
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
