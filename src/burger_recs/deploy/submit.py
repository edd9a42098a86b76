"""Submit the compiled pipeline to Kubeflow Pipelines and follow the run (``make submit``).

Talks to the KFP v2beta1 REST API with the same paths and bodies as the kfp SDK's
``kfp.Client`` (kfp 2.17): find or create the pipeline, upload the IR as a version named by
its content (the same content is the same version, never a duplicate), start a run whose name
and description carry the code version, and optionally follow it, printing each step's state
and the logs of a failed step. The v2beta1 API serves no logs, so they come from the step's
pods through a small injectable function (``kubectl logs`` by default).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import requests
import yaml

API = "/apis/v2beta1"
# The dev cluster's endpoints: the host ports kind-cluster.yaml maps to the KFP API and UI.
DEV_HOST = "http://localhost:8888"
DEV_UI = "http://localhost:8080"
# The dev cluster's data root: the GCS emulator's sample shop (manifests/overlays/dev).
DEV_DATA_URI = "gs://burger-shop/drops"
EXPERIMENT = "burger-recs"
# Where a standalone KFP runs the steps' pods.
NAMESPACE = "kubeflow"
# Run and task states after which nothing changes any more.
FINAL_STATES = frozenset({"SUCCEEDED", "FAILED", "CANCELED", "SKIPPED"})
# Filter predicates as kfp.Client sends them: Predicate.Operation EQUALS is 1.
_EQUALS = 1

Echo = Callable[[str], None]
LogFetcher = Callable[[str], str]


class KfpError(RuntimeError):
    """The KFP API refused a request or could not be reached."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class KfpApi:
    """The few calls of the KFP v2beta1 REST API that submitting needs."""

    def __init__(
        self, host: str, session: requests.Session | None = None, timeout: float = 60.0
    ) -> None:
        self.host = host.rstrip("/")
        self.session = session or requests.Session()
        self.timeout = timeout

    def _call(self, method: str, path: str, **kwargs) -> dict:
        url = f"{self.host}{API}{path}"
        try:
            response = self.session.request(method, url, timeout=self.timeout, **kwargs)
        except requests.RequestException as exc:
            raise KfpError(f"cannot reach the KFP API at {self.host}: {exc}") from None
        if not response.ok:
            try:
                body = response.json()
                detail = body.get("message") or body.get("error") or response.text
            except ValueError:
                detail = response.text
            raise KfpError(
                f"{method} {API}{path}: HTTP {response.status_code}: {str(detail)[:500]}",
                response.status_code,
            )
        return response.json() if response.content else {}

    @staticmethod
    def _by_name(name: str) -> dict[str, str]:
        predicate = {"operation": _EQUALS, "key": "display_name", "stringValue": name}
        return {"filter": json.dumps({"predicates": [predicate]})}

    def find_pipeline(self, name: str) -> dict | None:
        """Return the pipeline whose display name is ``name``, or None."""
        found = self._call("GET", "/pipelines", params=self._by_name(name)).get("pipelines")
        return found[0] if found else None

    def create_pipeline(self, name: str, description: str) -> dict:
        """Create a pipeline without versions."""
        body = {"display_name": name, "name": name, "description": description}
        return self._call("POST", "/pipelines", json=body)

    def find_version(self, pipeline_id: str, name: str) -> dict | None:
        """Return the pipeline's version whose display name is ``name``, or None."""
        path = f"/pipelines/{pipeline_id}/versions"
        found = self._call("GET", path, params=self._by_name(name)).get("pipeline_versions")
        return found[0] if found else None

    def upload_version(
        self,
        pipeline_id: str,
        name: str,
        package: str,
        description: str,
        tags: dict[str, str],
    ) -> dict:
        """Upload a compiled pipeline (IR YAML) as a new version of the pipeline."""
        params = {
            "name": name,
            "display_name": name,
            "pipelineid": pipeline_id,
            "description": description,
            "tags": json.dumps(tags, sort_keys=True),
        }
        # The server tells the package's format by the file name's extension.
        files = {"uploadfile": (f"{name}.yaml", package.encode(), "application/x-yaml")}
        return self._call("POST", "/pipelines/upload_version", params=params, files=files)

    def find_experiment(self, name: str) -> dict | None:
        """Return the experiment whose display name is ``name``, or None."""
        found = self._call("GET", "/experiments", params=self._by_name(name)).get("experiments")
        return found[0] if found else None

    def create_experiment(self, name: str, description: str) -> dict:
        """Create an experiment."""
        return self._call(
            "POST", "/experiments", json={"display_name": name, "description": description}
        )

    def create_run(self, run: dict) -> dict:
        """Start a run (a ``V2beta1Run`` body)."""
        return self._call("POST", "/runs", json=run)

    def get_run(self, run_id: str) -> dict:
        """Return a run with its state and its tasks' details."""
        return self._call("GET", f"/runs/{run_id}")


@dataclass(frozen=True)
class PipelineVersion:
    """An uploaded pipeline version."""

    pipeline_id: str
    version_id: str
    name: str
    created: bool


def pipeline_spec(ir_text: str) -> dict:
    """Return the pipeline spec: the first YAML document of the IR."""
    return next(yaml.safe_load_all(ir_text))


def version_name(ir_text: str) -> str:
    """Return the name of the version holding this IR: the pipeline's name and a hash.

    The same IR gives the same name; any change (code, images, parameters) another one.
    """
    name = pipeline_spec(ir_text)["pipelineInfo"]["name"]
    return f"{name}-{hashlib.sha256(ir_text.encode()).hexdigest()[:12]}"


def step_order(ir_text: str) -> list[str]:
    """Return the pipeline's steps in the order they run (dependencies first).

    Sub-DAGs (conditions, loops) are expanded in place, so the steps inside a branch are
    listed where the branch runs.
    """
    spec = pipeline_spec(ir_text)
    components = spec.get("components", {})

    def expand(tasks: dict) -> list[str]:
        done: list[str] = []
        order: list[str] = []
        while len(done) < len(tasks):
            ready = sorted(
                name
                for name, task in tasks.items()
                if name not in done and set(task.get("dependentTasks", [])) <= set(done)
            )
            if not ready:
                raise ValueError("the pipeline's tasks depend on each other in a cycle")
            name = ready[0]
            done.append(name)
            inner = components.get(tasks[name]["componentRef"]["name"], {}).get("dag")
            order += expand(inner["tasks"]) if inner else [name]
        return order

    return expand(spec["root"]["dag"]["tasks"])


def ensure_version(api: KfpApi, ir_text: str, code_version: str) -> PipelineVersion:
    """Find or create the pipeline, then find or upload the version of this IR."""
    spec = pipeline_spec(ir_text)
    name = spec["pipelineInfo"]["name"]
    pipeline = api.find_pipeline(name) or api.create_pipeline(
        name, spec["pipelineInfo"].get("description", "")
    )
    pipeline_id = pipeline["pipeline_id"]
    wanted = version_name(ir_text)
    found = api.find_version(pipeline_id, wanted)
    if found:
        return PipelineVersion(pipeline_id, found["pipeline_version_id"], wanted, created=False)
    try:
        uploaded = api.upload_version(
            pipeline_id,
            wanted,
            ir_text,
            description=f"first uploaded from code version {code_version}",
            tags={"code_version": code_version},
        )
    except KfpError as exc:
        # Uploaded meanwhile by someone else: the same content, so the same version.
        found = api.find_version(pipeline_id, wanted) if exc.status == 409 else None
        if not found:
            raise
        return PipelineVersion(pipeline_id, found["pipeline_version_id"], wanted, created=False)
    return PipelineVersion(pipeline_id, uploaded["pipeline_version_id"], wanted, created=True)


def run_labels(version: PipelineVersion, run_date: str, code_version: str) -> dict[str, str]:
    """Return the labels a run carries (in its description: v2beta1 runs have no labels)."""
    return {"code_version": code_version, "run_date": run_date, "pipeline_version": version.name}


def start_run(
    api: KfpApi,
    version: PipelineVersion,
    arguments: dict[str, object],
    code_version: str,
    experiment: str = EXPERIMENT,
) -> dict:
    """Start a run of ``version`` with ``arguments``; return the created run."""
    found = api.find_experiment(experiment) or api.create_experiment(
        experiment, "burger-recs runs started by `make submit`"
    )
    run_date = str(arguments.get("run_date", ""))
    labels = run_labels(version, run_date, code_version)
    body = {
        "display_name": f"daily {run_date} code {code_version}",
        "description": " ".join(f"{key}={value}" for key, value in labels.items()),
        "experiment_id": found["experiment_id"],
        "pipeline_version_reference": {
            "pipeline_id": version.pipeline_id,
            "pipeline_version_id": version.version_id,
        },
        "runtime_config": {"parameters": arguments},
    }
    return api.create_run(body)


@dataclass
class TaskState:
    """A step of a run as the API last reported it."""

    state: str
    pods: list[str] = field(default_factory=list)
    error: str = ""


def task_states(run: dict, steps: list[str]) -> dict[str, TaskState]:
    """Return the state of each step that has started, from the run's task details.

    A step may appear more than once (retries); its latest entry gives the state and every
    entry its pods.
    """
    entries: dict[str, list[dict]] = {}
    for task in (run.get("run_details") or {}).get("task_details") or []:
        if task.get("display_name") in steps:
            entries.setdefault(task["display_name"], []).append(task)
    states = {}
    for step, tasks in entries.items():
        tasks.sort(key=lambda t: t.get("create_time") or "")
        pods: list[str] = []
        for task in tasks:
            names = [task.get("pod_name")]
            names += [child.get("pod_name") for child in task.get("child_tasks") or []]
            pods += [name for name in names if name and name not in pods]
        latest = tasks[-1]
        error = (latest.get("error") or {}).get("message", "")
        states[step] = TaskState(latest.get("state") or "PENDING", pods, error)
    return states


def kubectl_logs(
    kubectl: str = "kubectl",
    context: str | None = None,
    namespace: str = NAMESPACE,
    tail: int = 60,
) -> LogFetcher:
    """Return a function that prints the last lines of a pod's logs with kubectl."""

    def fetch(pod: str) -> str:
        command = [kubectl, *(["--context", context] if context else []), "-n", namespace]
        command += ["logs", pod, "--all-containers", "--prefix", f"--tail={tail}"]
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"(no logs: {exc})"
        if result.returncode != 0:
            return f"(no logs: {result.stderr.strip() or 'kubectl logs failed'})"
        return result.stdout

    return fetch


def follow(
    api: KfpApi,
    run_id: str,
    steps: list[str],
    fetch_logs: LogFetcher,
    echo: Echo,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    poll_seconds: float = 5.0,
    timeout_seconds: float = 7200.0,
) -> dict:
    """Poll the run until it ends, printing each step's state changes; return the last run.

    When the run has failed, prints the logs of each failed step's pods.

    Raises:
        KfpError: the run did not end within ``timeout_seconds`` (it goes on running).
    """
    shown: dict[str, str] = {}
    started = clock()
    while True:
        run = api.get_run(run_id)
        states = task_states(run, steps)
        for step in steps:
            if step in states and shown.get(step) != states[step].state:
                shown[step] = states[step].state
                echo(f"  {step:<10} {states[step].state}")
        state = run.get("state") or "PENDING"
        if state in FINAL_STATES:
            break
        if clock() - started > timeout_seconds:
            raise KfpError(f"run {run_id} is still {state} after {timeout_seconds:.0f}s")
        sleep(poll_seconds)
    if state != "SUCCEEDED":
        _explain_failure(run, states, fetch_logs, echo)
    return run


def _explain_failure(
    run: dict, states: dict[str, TaskState], fetch_logs: LogFetcher, echo: Echo
) -> None:
    failed = [(step, task) for step, task in states.items() if task.state == "FAILED"]
    message = (run.get("error") or {}).get("message")
    if message:
        echo(f"run error: {message}")
    for step, task in failed:
        echo(f"--- {step} failed{': ' + task.error if task.error else ''}")
        if not task.pods:
            echo("  (no pod recorded for this step)")
        for pod in task.pods:
            echo(f"--- {step}: logs of pod {pod}")
            for line in fetch_logs(pod).rstrip("\n").splitlines():
                echo(f"  {line}")
    if not failed:
        echo(
            f"no step failed; look at the run's pods: kubectl -n {NAMESPACE} get pods "
            f"-l pipeline/runid={run.get('run_id')}"
        )


def run_url(ui: str, run_id: str) -> str:
    """Return the Kubeflow UI's page of a run."""
    return f"{ui.rstrip('/')}/#/runs/details/{run_id}"


def submit(
    api: KfpApi,
    ir_text: str,
    arguments: dict[str, object],
    code_version: str,
    ui: str,
    echo: Echo,
    wait: bool = False,
    fetch_logs: LogFetcher | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    timeout_seconds: float = 7200.0,
) -> dict:
    """Upload the IR (if new), start a run, print where to look; with ``wait``, follow it.

    Returns:
        The run as created, or as it ended when ``wait``.
    """
    version = ensure_version(api, ir_text, code_version)
    what = "uploaded" if version.created else "already uploaded (same content), reused"
    echo(f"pipeline version {version.name}: {what}")
    run = start_run(api, version, arguments, code_version)
    run_id = run["run_id"]
    echo(f"run {run.get('display_name', run_id)} started")
    echo(f"  run id     {run_id}")
    echo(f"  Kubeflow   {run_url(ui, run_id)}")
    echo(f"  step logs  the step's Logs tab in the UI, or kubectl -n {NAMESPACE} logs <pod>")
    if not wait:
        return run
    started = clock()
    echo("following the run:")
    run = follow(
        api,
        run_id,
        step_order(ir_text),
        fetch_logs or kubectl_logs(),
        echo,
        sleep=sleep,
        clock=clock,
        timeout_seconds=timeout_seconds,
    )
    elapsed = dt.timedelta(seconds=round(clock() - started))
    echo(f"run {run_id} {run.get('state')} after {elapsed}: {run_url(ui, run_id)}")
    return run
