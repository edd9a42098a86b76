"""The production overlay and the Argo CD Application, validated without a cluster.

The overlay is built with the venv's kubectl (kustomize); built-in objects are validated
against the Kubernetes schemas of the kind node's version, KFP's and Argo CD's resources
against documented subsets of their CRD schemas (schemas.py).
"""

import datetime as dt

import jsonschema
import kubernetes_validate
import pytest
import yaml

from burger_recs import deploy
from burger_recs.components import cluster, images
from burger_recs.components.images import RECONCILER
from burger_recs.deploy import production, schedule
from tests.production.schemas import validate_object
from tests.support.kfp_double import daily_time
from tests.support.manifests import build

APPLICATION = yaml.safe_load(production.APPLICATION.read_text())
PROJECT = yaml.safe_load(production.PROJECT.read_text())


@pytest.fixture(scope="module")
def prod():
    return build(production.OVERLAY)


def _one(objects, kind, name=None):
    (found,) = [o for o in objects if o["kind"] == kind and name in (None, o["metadata"]["name"])]
    return found


def _reconciler(objects):
    return _one(objects, "Job", production.RECONCILER_JOB)


def _validate(obj):
    validate_object(obj)


def test_the_overlay_builds_and_every_object_validates(prod):
    assert sorted(o["kind"] for o in prod) == [
        "ConfigMap",
        "CronJob",
        "Job",
        "Job",
        "Pipeline",
        "PipelineVersion",
        "Role",
        "RoleBinding",
        "ServiceAccount",
    ]
    for obj in prod:
        try:
            _validate(obj)
        except (kubernetes_validate.ValidationError, jsonschema.ValidationError) as exc:
            pytest.fail(f"{obj['kind']}/{obj['metadata']['name']}: {exc.message}")
        # A rendering made without --image-pull-secret names none.
        assert "imagePullSecret" not in str(obj)
        # Where KFP keeps pipelines and runs the steps' pods: the overlay's, set once.
        assert obj["metadata"]["namespace"] == production.overlay_namespace() == deploy.NAMESPACE


def test_the_schemas_refuse_what_the_api_server_would(prod):
    version = _one(prod, "PipelineVersion")
    for broken in (
        {**version, "spec": {**version["spec"], "codeSourceUrl": "x"}},  # misspelt
        {**version, "spec": {k: v for k, v in version["spec"].items() if k != "pipelineSpec"}},
        {**version, "metadata": {**version["metadata"], "name": "Burger_Recs"}},
    ):
        with pytest.raises(jsonschema.ValidationError):
            _validate(broken)
    with pytest.raises(jsonschema.ValidationError):
        _validate({**APPLICATION, "spec": {**APPLICATION["spec"], "syncPolicy": {"auto": {}}}})


def test_the_reconciler_job_runs_after_each_sync_on_the_rendered_version(prod):
    job = _reconciler(prod)
    annotations = job["metadata"]["annotations"]
    assert annotations["argocd.argoproj.io/hook"] == "PostSync"
    assert annotations["argocd.argoproj.io/hook-delete-policy"] == "BeforeHookCreation"
    pod = job["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    # The reconciler's image in the production registry, pinned by the lock's digest (or,
    # in a tag-only preview rendering, by its content tag alone).
    lock = production.read_lock(production.OVERLAY / production.LOCK)
    assert container["image"].startswith(f"{lock.registry}/burger-recs-reconciler:")
    version = _one(prod, "PipelineVersion")
    if version["metadata"]["annotations"]["burger-recs/images"] == "pinned":
        assert container["image"] == lock.images[RECONCILER]
    # `burger-recs reconcile-schedule`, in an image without console script or CLI module.
    assert container["command"] == ["python", "-m", "burger_recs.deploy.schedule"]
    env = {e["name"]: e for e in container["env"]}
    # The version this sync applies, put there by kustomize from the PipelineVersion.
    assert env[deploy.VERSION_ENV]["value"] == _one(prod, "PipelineVersion")["metadata"]["name"]
    assert env[deploy.HOST_ENV]["value"] == deploy.IN_CLUSTER_HOST
    assert env[deploy.TIMEZONE_ENV]["valueFrom"]["configMapKeyRef"] == {
        "name": "pipeline-install-config",
        "key": "cronScheduleTimezone",
        "optional": True,
    }
    # Its schedule file is the ConfigMap kustomize made from schedule.yaml.
    config = _one(prod, "ConfigMap")
    (mount,) = [m for m in container["volumeMounts"] if m["name"] == "schedule"]
    (volume,) = [v for v in pod["volumes"] if v["name"] == "schedule"]
    assert volume["configMap"]["name"] == config["metadata"]["name"]
    args = container["args"]
    assert args[args.index("--schedule") + 1] == f"{mount['mountPath']}/schedule.yaml"
    assert schedule.parse_schedule(config["data"]["schedule.yaml"]) == schedule.load_schedule(
        production.OVERLAY / "schedule.yaml"
    )
    # No Kubernetes API access, non-root, read-only root filesystem.
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True


def test_the_pipeline_version_belongs_to_the_pipeline_and_is_applied_after_it(prod):
    pipeline, version = _one(prod, "Pipeline"), _one(prod, "PipelineVersion")
    assert version["spec"]["pipelineName"] == pipeline["metadata"]["name"]
    info = version["spec"]["pipelineSpec"]["pipelineInfo"]["name"]
    assert (
        info
        == pipeline["metadata"]["name"]
        == schedule.load_schedule(production.OVERLAY / "schedule.yaml").pipeline
    )
    wave = "argocd.argoproj.io/sync-wave"
    assert int(pipeline["metadata"]["annotations"][wave]) < int(
        version["metadata"]["annotations"][wave]
    )
    assert version["spec"]["codeSourceURL"].startswith(production.repo_url() + "/tree/")


def _secret_refs(version):
    platform = version["spec"]["platformSpec"]["platforms"]["kubernetes"]
    return [
        secret
        for executor in platform["deploymentSpec"]["executors"].values()
        for secret in executor.get("secretAsEnv", [])
    ]


def test_secrets_are_referenced_by_name_and_never_defined(prod, compiled_docs):
    assert not [o for o in prod if o["kind"] == "Secret"]
    # A reference is a name and keys, nothing else.
    refs = _secret_refs(_one(prod, "PipelineVersion"))
    named = {"secretName", "secretNameParameter", "keyToEnv", "optional"}
    assert refs and all(set(ref) <= named for ref in refs)
    for ref in refs:
        constant = ref["secretNameParameter"]["runtimeValue"]["constant"]
        assert constant == ref["secretName"]
        assert all(set(key) == {"envVar", "secretKey"} for key in ref["keyToEnv"])
    # The code names the Secrets components/cluster.py declares (production provides them).
    fresh = _one(compiled_docs, "PipelineVersion")
    assert {ref["secretName"] for ref in _secret_refs(fresh)} == {
        cluster.DATABASE.name,
        cluster.NOTES.name,
        cluster.READER.name,
        cluster.STORAGE.name,
        cluster.ALERTS.name,
    }
    # The reconciler takes no value from a Secret, and no credential as a plain value.
    (container,) = _reconciler(prod)["spec"]["template"]["spec"]["containers"]
    assert not [e for e in container["env"] if "secretKeyRef" in e.get("valueFrom", {})]
    # The migration reads the owner's credential, which no step names.
    (container,) = _one(prod, "Job", production.MIGRATE_JOB)["spec"]["template"]["spec"][
        "containers"
    ]
    owner = {e["valueFrom"]["secretKeyRef"]["name"] for e in container["env"] if "valueFrom" in e}
    assert owner == {"burger-recs-database-owner"}
    assert not owner & {ref["secretName"] for ref in _secret_refs(fresh)}


def test_the_migration_runs_before_each_sync_as_the_tables_owner_in_the_reconcilers_image(prod):
    job = _one(prod, "Job", production.MIGRATE_JOB)
    annotations = job["metadata"]["annotations"]
    # Before the sync applies the new PipelineVersion, so its steps find their revision.
    assert annotations["argocd.argoproj.io/hook"] == "PreSync"
    assert annotations["argocd.argoproj.io/hook-delete-policy"] == "BeforeHookCreation"
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert container["command"] == ["python", "-m", "burger_recs.migrations"]
    assert (
        container["image"]
        == _one(prod, "Job", production.RECONCILER_JOB)["spec"]["template"]["spec"]["containers"][
            0
        ]["image"]
    )
    assert "burger_recs.migrations.__main__" in images.RUNS_MODULE[images.RECONCILER]
    staged = images.module_files(images.RECONCILER)
    assert "src/burger_recs/migrations/env.py" in staged
    assert any(f.startswith("src/burger_recs/migrations/versions/") for f in staged)
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["BURGER_RECS_NOTES_ROLE"] == "burger_recs_notes"


def test_the_application_syncs_the_overlay_automatically_with_prune_and_self_heal():
    _validate(APPLICATION)
    spec = APPLICATION["spec"]
    assert spec["source"]["path"] == production.OVERLAY.relative_to(production.REPO).as_posix()
    assert spec["source"]["targetRevision"] == "main"
    assert spec["syncPolicy"]["automated"] == {"prune": True, "selfHeal": True}
    assert spec["destination"]["namespace"] == production.overlay_namespace()
    assert spec["destination"]["server"] == "https://kubernetes.default.svc"
    # The repository the rendering's codeSourceURL names.
    assert production.repo_url() == spec["source"]["repoURL"].removesuffix(".git")
    # Deleting the Application must not delete the pipeline and its history.
    assert "resources-finalizer.argocd.argoproj.io" not in APPLICATION["metadata"].get(
        "finalizers", []
    )


def _group_kind(obj):
    group = obj["apiVersion"].rpartition("/")[0] if "/" in obj["apiVersion"] else ""
    return {"group": group, "kind": obj["kind"]}


def test_the_application_deploys_through_a_project_that_admits_only_the_overlays_kinds(prod):
    _validate(PROJECT)
    spec = PROJECT["spec"]
    assert APPLICATION["spec"]["project"] == PROJECT["metadata"]["name"] != "default"
    assert PROJECT["metadata"]["namespace"] == APPLICATION["metadata"]["namespace"]
    assert spec["sourceRepos"] == [APPLICATION["spec"]["source"]["repoURL"]]
    assert spec["destinations"] == [APPLICATION["spec"]["destination"]]
    assert spec["clusterResourceWhitelist"] == []  # nothing cluster-scoped
    # Exactly the kinds the overlay holds: one more in git fails to sync, one fewer is unused.
    admitted = sorted(spec["namespaceResourceWhitelist"], key=lambda gk: (gk["group"], gk["kind"]))
    deployed = sorted({tuple(_group_kind(o).items()) for o in prod})
    assert admitted == [dict(gk) for gk in deployed]
    with pytest.raises(jsonschema.ValidationError):  # a misspelt field is refused
        _validate({**PROJECT, "spec": {**spec, "namespaceResourceWhiteList": []}})


def test_the_watchdog_runs_after_the_scheduled_run_in_the_reconcilers_image(prod):
    """The CronJob checks the day the 23:30 run processes, after it had time to finish."""
    watchdog = _one(prod, "CronJob")
    (container,) = watchdog["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    job = _reconciler(prod)
    (reconcile,) = job["spec"]["template"]["spec"]["containers"]
    assert container["image"] == reconcile["image"]  # pinned by the rendering, like the Job's
    module = container["command"][-1]
    assert container["command"] == ["python", "-m", module]
    assert module in images.entry_modules(RECONCILER)  # the image holds what it runs
    # Fires due-after hours past the scheduled run's tick, in UTC: 23:30 + 4 h = 03:30.
    scheduled = schedule.parse_schedule(production.OVERLAY.joinpath("schedule.yaml").read_text())
    tick = dt.datetime.strptime(daily_time(scheduled.cron) or "", "%H:%M")
    due = float(container["args"][container["args"].index("--due-after") + 1])
    minute, hour = watchdog["spec"]["schedule"].split()[:2]
    fires = (tick + dt.timedelta(hours=due)).time()
    assert (int(hour), int(minute)) == (fires.hour, fires.minute)
    assert watchdog["spec"]["timeZone"] == "Etc/UTC"
    # Its credentials come from the Secrets by name, never as values.
    refs = {e["name"]: e["valueFrom"]["secretKeyRef"]["name"] for e in container["env"]}
    assert refs == {"DATABASE_URL": cluster.DATABASE.name, "ALERT_WEBHOOK_URL": cluster.ALERTS.name}


def test_the_namespace_is_the_overlays_and_the_rendering_follows_it():
    """Multi-user Kubeflow runs pipelines in a profile namespace: one line to change."""
    (pipeline, version) = production.compile_manifests(namespace="team-burgers")
    assert {pipeline["metadata"]["namespace"], version["metadata"]["namespace"]} == {"team-burgers"}
    assert PROJECT["spec"]["destinations"][0]["namespace"] == production.overlay_namespace()


def test_the_runs_service_account_may_read_no_secret_but_the_artifact_stores(prod):
    """The least the 2.17.0 driver, launcher and Argo executor need (runner.yaml cites each
    rule), against upstream pipeline-runner's get on every Secret and exec into any pod."""
    (account,) = [o for o in prod if o["kind"] == "ServiceAccount"]
    assert account["metadata"]["name"] == deploy.RUNNER
    role, binding = _one(prod, "Role"), _one(prod, "RoleBinding")
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": deploy.RUNNER, "namespace": deploy.NAMESPACE}
    ]
    rules = {(r["apiGroups"][0], r["resources"][0]): r for r in role["rules"]}
    assert all(len(r["apiGroups"]) == len(r["resources"]) == 1 for r in role["rules"])
    assert rules[("", "secrets")]["resourceNames"] == ["mlpipeline-minio-artifact"]
    assert cluster.DATABASE.name not in str(role) and cluster.ALERTS.name not in str(role)
    assert rules[("", "configmaps")]["resourceNames"] == ["kfp-launcher"]
    assert rules[("", "pods")]["verbs"] == ["get"]
    assert not any("exec" in r or "log" in r for (_, r) in rules)
    assert {verb for r in role["rules"] for verb in r["verbs"]} <= {"get", "create", "patch"}
