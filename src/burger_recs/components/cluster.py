"""How each step runs on a Kubernetes cluster: its Secrets, requests, retries and caching.

KFP platform settings only, applied by the pipeline to every task; the embedded and
container runs (kfp.local) ignore them. Secrets reach a step as environment variables read
from Kubernetes Secrets in the namespace the runs' pods run in (``kubeflow`` for a standalone
KFP): the compiled IR names the Secret and its keys, never a value. The dev cluster's overlay
(manifests/overlays/dev) creates these Secrets; production provides Secrets of the same names.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kfp import kubernetes
from kfp.dsl import PipelineTask

from burger_recs.runs import NOTES_DATABASE_URL_ENV, RUN_ID_ENV


@dataclass(frozen=True)
class SecretEnv:
    """A Kubernetes Secret whose keys become a step's environment variables."""

    name: str
    keys: tuple[str, ...]
    optional: bool = False


# DATABASE_URL (burger_recs.db) for the steps that write the day and the run record.
DATABASE = SecretEnv("burger-recs-database", ("DATABASE_URL",))
# For the steps that read the champion (check-inputs names it, evaluate and recommend load its
# scorers; without it: no champion to fall back on) and leave a failure note for the final
# task (burger_recs.runs.noted) when they fail: a role that may do that and nothing else
# (burger_recs.migrations.grant_reader). Optional.
READER = SecretEnv("burger-recs-database-reader", ("DATABASE_URL",), optional=True)
# The steps that only ever write a failure note log in as a role that may write notes and
# nothing else (burger_recs.migrations.grant_notes); optional: without it the final task
# records the failure without naming the step.
NOTES = SecretEnv("burger-recs-database-notes", (NOTES_DATABASE_URL_ENV,), optional=True)
# The alert webhook (a secret URL) and the Kubeflow UI's address for links, for the final
# task; optional: without it no alert is sent.
ALERTS = SecretEnv("burger-recs-alerts", ("ALERT_WEBHOOK_URL", "KUBEFLOW_UI_URL"), optional=True)
# GCS settings for ingest: on the dev cluster STORAGE_EMULATOR_HOST (burger_recs.storage).
# Optional, because in production GCS access may come from Workload Identity instead.
STORAGE = SecretEnv("burger-recs-storage", ("STORAGE_EMULATOR_HOST",), optional=True)


@dataclass(frozen=True)
class OnCluster:
    """One step's cluster settings.

    Attributes:
        cpu: CPU request.
        memory: memory request.
        retries: retries after a failure; only for steps whose failures may be transient
            (network, database) and that are safe to run again.
        secrets: Secrets the step reads as environment variables.
        cache: whether KFP may serve the step from its cache. Off for steps that read or
            write outside KFP (the drops may change, the database must be written).

    Both runners key a cacheable task on its inputs, image and command: kfp.local before it
    resolves placeholders (kfp/local/orchestrator/task_executor.py, kfp 2.17.0), KFP's driver
    after (backend/src/v2/driver/resolve.go, then backend/src/v2/cacheutils/cache.go,
    GenerateCacheKey). So a cacheable task takes no per-run value at all (no run id, no run
    time; a test over the compiled IR checks it): the run id reaches every step through its
    environment (:data:`RUN_ID_FIELD_PATH`), which neither runner's cache key includes, and an
    unchanged step is served across runs on a cluster as it is locally.
    """

    cpu: str
    memory: str
    retries: int = 0
    secrets: tuple[SecretEnv, ...] = field(default_factory=tuple)
    cache: bool = True


# Training, evaluation and scoring are deterministic: a failure there would only repeat.
TASKS = {
    # The check runs on every run: it resolves the day and fingerprints the drops, which are
    # outside the pipeline. Ingest takes that fingerprint, so a cache serves it only while
    # the day's drops are unchanged.
    "check_inputs": OnCluster("100m", "256Mi", retries=1, secrets=(STORAGE, READER), cache=False),
    "ingest": OnCluster("250m", "512Mi", retries=1, secrets=(STORAGE, NOTES)),
    "validate": OnCluster("250m", "1Gi", secrets=(NOTES,)),
    "train": OnCluster("1", "1Gi", secrets=(NOTES,)),
    "evaluate": OnCluster("500m", "1Gi", secrets=(READER,)),
    "recommend": OnCluster("500m", "1Gi", secrets=(READER,)),
    # Publishing a day is atomic and replaces the day, so running it again is safe.
    "publish": OnCluster("250m", "512Mi", retries=1, secrets=(DATABASE,), cache=False),
    # Sharded days: a plan, then score and stage each shard, then one atomic commit.
    "shard_plan": OnCluster("100m", "256Mi", secrets=(NOTES,)),
    "recommend_shard": OnCluster("500m", "1Gi", secrets=(READER,)),
    # Staging a shard replaces its staging table; a commit that already happened is a no-op.
    # Inside the ParallelFor this retry may not happen: KFP 2.17.0 compiles it like any task's
    # (backend/src/v2/compiler/argocompiler: dag.go DAG and task, container.go
    # addContainerExecutorTemplate), but kubeflow/pipelines#12389 and #13897 (open) report
    # that a task in a ParallelFor is not retried. A failed shard then fails the run; rerun the day.
    "stage_shard": OnCluster("250m", "512Mi", retries=1, secrets=(DATABASE,), cache=False),
    "commit": OnCluster("250m", "512Mi", retries=1, secrets=(DATABASE,), cache=False),
    # The final task: records every run and alerts. Recording again is an upsert, so safe.
    "finish": OnCluster("100m", "256Mi", retries=1, secrets=(DATABASE, ALERTS), cache=False),
}
# Images are content-tagged and pushed before a run, or loaded into kind: never re-pulled.
PULL_POLICY = "IfNotPresent"
# Every pod of a run carries its run id as the label pipeline/runid, on runs created by the
# API server (backend/src/apiserver/template/v2_template.go, SetPodMetadataLabels) and by a
# recurring run's controller (backend/src/crd/controller/scheduledworkflow/util/
# scheduled_workflow.go, NewWorkflow) alike, KFP 2.17.0; the driver turns a field path into
# the container's environment (backend/src/v2/driver/k8s.go, GetFieldPathAsEnv), which is no
# part of the cache key (backend/src/v2/cacheutils/cache.go, GenerateCacheKey). A label read
# this way is asserted on a cluster by test_data/sdk_compiled_pipelines/valid/critical/
# pipeline_with_pod_metadata.py.
RUN_ID_FIELD_PATH = "metadata.labels['pipeline/runid']"


def on_cluster(**tasks: PipelineTask) -> None:
    """Apply each step's cluster settings (``TASKS``) to its task, given by step name.

    Raises:
        ValueError: a task of ``TASKS`` is missing, or a task names no step.
    """
    if set(tasks) != set(TASKS):
        raise ValueError(f"expected a task for each of {sorted(TASKS)}, got {sorted(tasks)}")
    for step, task in tasks.items():
        _apply(TASKS[step], task)


def _apply(settings: OnCluster, task: PipelineTask) -> None:
    task.set_cpu_request(settings.cpu).set_memory_request(settings.memory)
    if settings.retries:
        # One short retry for a lost pod or node; database and GCS faults are already
        # retried inside the step, and a permanent error (wrong password) must fail fast,
        # also under kfp.local, which follows this policy.
        task.set_retry(
            num_retries=settings.retries,
            backoff_duration="5s",
            backoff_factor=2.0,
            backoff_max_duration="60s",
        )
    if not settings.cache:
        task.set_caching_options(enable_caching=False)
    kubernetes.set_image_pull_policy(task, PULL_POLICY)
    kubernetes.use_field_path_as_env(task, RUN_ID_ENV, RUN_ID_FIELD_PATH)
    for secret in settings.secrets:
        kubernetes.use_secret_as_env(
            task, secret.name, {key: key for key in secret.keys}, optional=secret.optional
        )
