"""The compiled pipeline's cluster settings: Secrets by name, pull policy, requests, retries."""

import pytest
import yaml
from kfp import compiler, dsl, kubernetes

from burger_recs.components import cluster, images
from burger_recs.deploy import pull_secrets


@pytest.fixture(scope="module")
def ir(ir_text):
    spec, platform = yaml.safe_load_all(ir_text)
    return spec, platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]


# The sharded branch's tasks, beside the steps and the final task.
SHARD_TASKS = {"shard_plan", "recommend_shard", "stage_shard"}
# Tasks in a step's image beside the step itself.
EXTRA_TASKS = {"check_inputs", *SHARD_TASKS}


def _all_tasks(spec):
    """Every task of the pipeline, including those inside conditions and loops."""
    found = dict(spec["root"]["dag"]["tasks"])
    for component in spec["components"].values():
        found |= component.get("dag", {}).get("tasks", {})
    return found


def test_every_step_has_cluster_settings():
    assert set(cluster.STEPS) == set(images.STEPS) | EXTRA_TASKS


def test_secrets_reach_only_the_steps_that_need_them_by_name_and_key(ir):
    _, executors = ir
    secrets = {
        name.removeprefix("exec-"): [
            (s["secretName"], [(k["secretKey"], k["envVar"]) for k in s["keyToEnv"]], s["optional"])
            for s in executor.get("secretAsEnv", [])
        ]
        for name, executor in executors.items()
    }
    notes = ("burger-recs-database", [("DATABASE_URL",) * 2], True)  # a failure note only
    database = ("burger-recs-database", [("DATABASE_URL",) * 2], False)
    alerts = ("burger-recs-alerts", [("ALERT_WEBHOOK_URL",) * 2, ("KUBEFLOW_UI_URL",) * 2], True)
    assert secrets == {
        "check-inputs": [("burger-recs-storage", [("STORAGE_EMULATOR_HOST",) * 2], True), notes],
        "ingest": [("burger-recs-storage", [("STORAGE_EMULATOR_HOST",) * 2], True), notes],
        "validate": [notes],
        "train": [notes],
        "evaluate": [notes],
        "recommend": [notes],
        "publish": [database],
        "shard-plan": [notes],
        "recommend-shard": [notes],
        "stage-shard": [database],
        "commit": [database],
        "finish": [database, alerts],
    }


def test_images_are_never_pulled_again_and_every_step_requests_cpu_and_memory(ir):
    spec, executors = ir
    assert {e["imagePullPolicy"] for e in executors.values()} == {"IfNotPresent"}
    assert len(executors) == len(cluster.STEPS)
    for name, executor in spec["deploymentSpec"]["executors"].items():
        resources = executor["container"]["resources"]
        step = cluster.STEPS[name.removeprefix("exec-").replace("-", "_")]
        assert resources["resourceCpuRequest"] == step.cpu
        assert resources["resourceMemoryRequest"] == step.memory


def test_only_steps_that_are_safe_to_repeat_retry_and_what_reads_outside_is_never_cached(ir):
    spec, _ = ir
    tasks = {n: t for n, t in _all_tasks(spec).items() if "componentRef" in t}
    tasks = {
        n: t
        for n, t in tasks.items()
        if not n.startswith(("condition", "for-loop", "exit-handler"))
    }
    retried = {name for name, t in tasks.items() if "retryPolicy" in t}
    # What reads the drops or writes the database; ingest may be cached, because it takes
    # the drops' fingerprint from the check, which never is.
    outside = {"check-inputs", "ingest", "publish", "stage-shard", "commit", "finish"}
    assert retried == outside
    assert {tasks[name]["retryPolicy"]["maxRetryCount"] for name in outside} == {1}
    uncached = {n for n, t in tasks.items() if not t["cachingOptions"].get("enableCache")}
    assert uncached == outside - {"ingest"}
    fingerprint = tasks["ingest"]["inputs"]["parameters"]["fingerprint"]
    assert fingerprint["taskOutputParameter"] == {
        "producerTask": "check-inputs",
        "outputParameterKey": "fingerprint",
    }


def test_a_pipeline_that_forgets_a_step_is_refused():
    @dsl.component(base_image="python:3.11")
    def step() -> None:
        pass

    with pytest.raises(ValueError, match="expected a task for each of"):

        @dsl.pipeline
        def incomplete():
            cluster.on_cluster(ingest=step())


def test_the_ir_in_git_names_no_pull_secret_one_is_added_to_every_executor_when_asked(ir_text):
    """The compiled IR stays registry-neutral; a private registry's Secret is added on the way
    out, in the very field kfp-kubernetes writes (kfp/kubernetes/image.py)."""
    assert "imagePullSecret" not in ir_text
    assert pull_secrets.ir_with_image_pull_secrets(ir_text, []) == ir_text
    spec, platform = yaml.safe_load_all(ir_text)
    added = pull_secrets.with_image_pull_secrets(spec, platform, ["regcred", "mirror"])
    executors = added["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    assert set(executors) == set(spec["deploymentSpec"]["executors"])
    for name, executor in executors.items():
        assert [s["secretName"] for s in executor["imagePullSecret"]] == ["regcred", "mirror"]
        before = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"][name]
        assert {k: v for k, v in executor.items() if k != "imagePullSecret"} == before
    assert "imagePullSecret" not in str(platform)  # the given spec is left as it was
    # Adding it twice adds nothing; a pipeline spec without a platform spec gets one.
    assert pull_secrets.with_image_pull_secrets(spec, added, ["regcred"]) == added
    bare = pull_secrets.with_image_pull_secrets(spec, None, ["regcred"])
    assert set(bare["platforms"]["kubernetes"]["deploymentSpec"]["executors"]) == set(executors)


@dsl.component(base_image="python:3.11")
def _pulled() -> None:
    pass


def test_the_pull_secret_field_is_the_one_kfp_kubernetes_writes(tmp_path):
    @dsl.pipeline
    def pulled():
        kubernetes.set_image_pull_secrets(_pulled(), ["regcred"])

    compiler.Compiler().compile(pulled, str(tmp_path / "p.yaml"))
    _, platform = yaml.safe_load_all((tmp_path / "p.yaml").read_text())
    (executor,) = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"].values()
    assert executor["imagePullSecret"] == pull_secrets.executor_field(["regcred"])
