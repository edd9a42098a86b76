"""The compiled pipeline's cluster settings: Secrets by name, pull policy, requests, retries."""

import pytest
import yaml
from kfp import dsl

from components import cluster, images


@pytest.fixture(scope="module")
def ir(ir_text):
    spec, platform = yaml.safe_load_all(ir_text)
    return spec, platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]


# The sharded branch's tasks, beside the six steps and the final task.
SHARD_TASKS = {"shard_plan", "recommend_shard", "stage_shard"}


def _all_tasks(spec):
    """Every task of the pipeline, including those inside conditions and loops."""
    found = dict(spec["root"]["dag"]["tasks"])
    for component in spec["components"].values():
        found |= component.get("dag", {}).get("tasks", {})
    return found


def test_every_step_has_cluster_settings():
    assert set(cluster.STEPS) == set(images.STEPS) | SHARD_TASKS


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


def test_only_steps_that_are_safe_to_repeat_retry_and_they_are_never_cached(ir):
    spec, _ = ir
    tasks = {n: t for n, t in _all_tasks(spec).items() if "componentRef" in t}
    tasks = {
        n: t
        for n, t in tasks.items()
        if not n.startswith(("condition", "for-loop", "exit-handler"))
    }
    retried = {name for name, t in tasks.items() if "retryPolicy" in t}
    writers = {"ingest", "publish", "stage-shard", "commit", "finish"}
    assert retried == writers
    assert {tasks[name]["retryPolicy"]["maxRetryCount"] for name in writers} == {1}
    uncached = {n for n, t in tasks.items() if not t["cachingOptions"].get("enableCache")}
    assert uncached == writers  # they read the drops or write the database


def test_a_pipeline_that_forgets_a_step_is_refused():
    @dsl.component(base_image="python:3.11")
    def step() -> None:
        pass

    with pytest.raises(ValueError, match="expected a task for each of"):

        @dsl.pipeline
        def incomplete():
            cluster.on_cluster(ingest=step())
