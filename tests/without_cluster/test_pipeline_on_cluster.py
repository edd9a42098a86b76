"""The compiled pipeline's cluster settings: Secrets by name, pull policy, requests, retries."""

import pytest
import yaml
from kfp import compiler, dsl, kubernetes

from burger_recs import runs
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
    assert set(cluster.TASKS) == set(images.STEPS) | EXTRA_TASKS


def test_secrets_reach_only_the_steps_that_need_them_by_name_and_key(ir):
    _, executors = ir
    secrets = {
        name.removeprefix("exec-"): [
            (s["secretName"], [(k["secretKey"], k["envVar"]) for k in s["keyToEnv"]], s["optional"])
            for s in executor.get("secretAsEnv", [])
        ]
        for name, executor in executors.items()
    }
    # A failure note only: the notes role's credential, which may write nothing else.
    notes = ("burger-recs-database-notes", [("BURGER_RECS_NOTES_DATABASE_URL",) * 2], True)
    # The champion to read and a failure note: the reader role's (check-inputs, evaluate,
    # recommend), which may read nothing else and write nothing but notes.
    reads = ("burger-recs-database-reader", [("DATABASE_URL",) * 2], True)
    database = ("burger-recs-database", [("DATABASE_URL",) * 2], False)
    alerts = ("burger-recs-alerts", [("ALERT_WEBHOOK_URL",) * 2, ("KUBEFLOW_UI_URL",) * 2], True)
    assert secrets == {
        "check-inputs": [("burger-recs-storage", [("STORAGE_EMULATOR_HOST",) * 2], True), reads],
        "ingest": [("burger-recs-storage", [("STORAGE_EMULATOR_HOST",) * 2], True), notes],
        "validate": [notes],
        "train": [notes],
        "evaluate": [reads],
        "recommend": [reads],
        "publish": [database],
        "shard-plan": [notes],
        "recommend-shard": [reads],
        "stage-shard": [database],
        "commit": [database],
        "finish": [database, alerts],
    }


def test_images_are_never_pulled_again_and_every_step_requests_cpu_and_memory(ir):
    spec, executors = ir
    assert {e["imagePullPolicy"] for e in executors.values()} == {"IfNotPresent"}
    assert len(executors) == len(cluster.TASKS)
    for name, executor in spec["deploymentSpec"]["executors"].items():
        resources = executor["container"]["resources"]
        step = cluster.TASKS[name.removeprefix("exec-").replace("-", "_")]
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


# What changes from run to run of the same day: KFP's per-run placeholders (kfp.dsl,
# PIPELINE_JOB_*_PLACEHOLDER and PIPELINE_TASK_ID_PLACEHOLDER) and the pipeline's run_id.
PER_RUN = ("{{$.pipeline_job_", "{{$.pipeline_task_uuid}}")


def _per_run_inputs(task: dict) -> list[str]:
    """The task's parameter inputs that differ from one run of the same day to the next."""
    found = []
    for name, value in task.get("inputs", {}).get("parameters", {}).items():
        constant = str(value.get("runtimeValue", {}).get("constant", ""))
        channel = value.get("componentInputParameter", "").removeprefix("pipelinechannel--")
        if constant.startswith(PER_RUN) or channel == "run_id":
            found.append(name)
    return found


def test_no_cacheable_task_takes_a_per_run_value_and_every_pod_gets_the_run_id(ir):
    """On a cluster the driver resolves placeholders before the cache key: one kills the cache.

    backend/src/v2/driver/resolve.go resolves ``{{$.pipeline_job_uuid}}`` and the run's
    times for a task's inputs; backend/src/v2/driver/cache.go and cacheutils/cache.go
    (GenerateCacheKey) key on those resolved values (KFP 2.17.0). The run id reaches every
    step through its environment instead (burger_recs.runs.RUN_ID_ENV).
    """
    spec, executors = ir
    tasks = {n: t for n, t in _all_tasks(spec).items() if "componentRef" in t}
    cacheable = {n for n, t in tasks.items() if t.get("cachingOptions", {}).get("enableCache")}
    assert cacheable == {
        "ingest",
        "validate",
        "train",
        "evaluate",
        "recommend",
        "shard-plan",
        "recommend-shard",
    }
    assert {name: _per_run_inputs(tasks[name]) for name in cacheable} == {
        name: [] for name in cacheable
    }
    # The tasks that always run still take the run's id (the check, publishing, finish).
    assert "orchestrator_run_id" in _per_run_inputs(tasks["publish"])
    wanted = [{"fieldPath": cluster.RUN_ID_FIELD_PATH, "name": runs.RUN_ID_ENV}]
    assert {name: e.get("fieldPathAsEnv") for name, e in executors.items()} == {
        name: wanted for name in executors
    }
    assert cluster.RUN_ID_FIELD_PATH == "metadata.labels['pipeline/runid']"


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
