"""Submit the compiled pipeline to Kubeflow Pipelines and follow the run (``burger-recs submit``).

Through the one KFP client (``kfp_api.KfpApi``, the kfp SDK): find or create the pipeline,
upload the IR as a version named by its content (``kfp_api.version_name``: the same content is
the same version, never a duplicate), start a run whose name and description carry the code
version, and optionally follow it, printing each step's state and, when it fails, the logs.
``burger-recs retry`` asks KFP to run a failed run's failed steps again, in the same run, and
follows it the same way. ``burger-recs backfill --cluster`` starts one run per day from one
version (``prepare_version``, ``start_run``) and follows several at once, a ``RunWatch`` each.

The v2beta1 API serves no logs and names no pod: at KFP 2.17 a task detail's ``pod_name`` is
never filled, and its ``child_tasks`` are Argo node ids, not pod names
(backend/src/apiserver/server/api_converter.go, toApiPipelineTaskDetail and toModelTask). So
the logs come from the run's pods, found by the label the API server puts on every pod of a
run, through a small injectable function (``kubectl logs -l`` by default).
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import yaml

from burger_recs.deploy import NAMESPACE, NAMESPACE_ENV, RUNNER
from burger_recs.deploy.kfp_api import KfpApi, KfpError, version_name
from burger_recs.deploy.pull_secrets import ir_with_image_pull_secrets

EXPERIMENT = "burger-recs"
# Run and task states after which nothing changes any more.
FINAL_STATES = frozenset({"SUCCEEDED", "FAILED", "CANCELED", "SKIPPED"})
# The label of every pod of a run, valued its run id: KFP 2.17's API server sets it
# (backend/src/apiserver/template/v2_template.go, SetPodMetadataLabels(LabelKeyWorkflowRunId);
# the key in backend/src/common/util/consts.go). The compiler puts no label or annotation
# naming the task on a pod (backend/src/v2/compiler/argocompiler), so the logs shown are
# those of all the run's pods, each line prefixed with its pod and container.
RUN_ID_LABEL = "pipeline/runid"
LOG_TAIL = 40

Echo = Callable[[str], None]
# Given a run id, the logs of the run's pods.
LogFetcher = Callable[[str], str]


@dataclass(frozen=True)
class PipelineVersion:
    """An uploaded pipeline version."""

    pipeline_id: str
    version_id: str
    name: str
    created: bool

    def reference(self) -> dict[str, str]:
        """Return the version as the API references it."""
        return {"pipeline_id": self.pipeline_id, "pipeline_version_id": self.version_id}


def ir_specs(ir_text: str) -> tuple[dict, dict | None]:
    """Return the IR's pipeline spec and its platform spec (None when it has none).

    The compiled file is one YAML document, or two when kfp-kubernetes added a platform spec.
    """
    docs = [doc for doc in yaml.safe_load_all(ir_text) if doc]
    return docs[0], (docs[1] if len(docs) > 1 else None)


def step_order(ir_text: str) -> list[str]:
    """Return the pipeline's steps in the order they run (dependencies first).

    Sub-DAGs (conditions, loops) are expanded in place, so the steps inside a branch are
    listed where the branch runs.
    """
    spec, _ = ir_specs(ir_text)
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
    spec, platform = ir_specs(ir_text)
    name = spec["pipelineInfo"]["name"]
    pipeline_id = api.find_pipeline_id(name) or api.create_pipeline(
        name, spec["pipelineInfo"].get("description", "")
    )
    wanted = version_name(name, spec, platform)
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
    labels: Mapping[str, str] | None = None,
) -> dict:
    """Start a run of ``version`` with ``arguments`` (in ``experiment``, made if new).

    ``labels`` are added to those of ``run_labels`` in the run's description.
    """
    found = api.create_experiment(experiment, "burger-recs runs started by `make submit`")
    run_date = str(arguments.get("run_date", ""))
    described = {**run_labels(version, run_date, code_version), **(labels or {})}
    return api.create_run(
        f"daily {run_date} code {code_version}",
        " ".join(f"{key}={value}" for key, value in described.items()),
        found["experiment_id"],
        version.reference(),
        arguments,
        service_account=RUNNER,  # overlays/prod/runner: the least RBAC the run needs
    )


@dataclass(frozen=True)
class TaskState:
    """A step of a run as the API last reported it."""

    state: str
    error: str = ""


def _combined(states: list[str]) -> str:
    """One state for a step that ran several times (once per ParallelFor iteration)."""
    for state in ("RUNNING", "PENDING", "CANCELING", "FAILED", "CANCELED"):
        if state in states:
            return state
    if set(states) == {"SKIPPED"}:
        return "SKIPPED"
    return "SUCCEEDED" if "SUCCEEDED" in states else states[0]


def task_states(run: dict, steps: list[str]) -> dict[str, TaskState]:
    """Return the state of each step that has started, from the run's task details.

    The task details are the nodes of the run's Argo Workflow (toModelTasks in
    backend/src/apiserver/server/api_converter.go): a step is the node named after its task,
    whose state covers its retries (they are nodes below it); a step inside a ParallelFor has
    one such node per iteration, combined here (any running, else any failed, else done).
    """
    entries: dict[str, list[dict]] = {}
    for task in (run.get("run_details") or {}).get("task_details") or []:
        if task.get("display_name") in steps:
            entries.setdefault(task["display_name"], []).append(task)
    states = {}
    for step, tasks in entries.items():
        state = _combined([task.get("state") or "PENDING" for task in tasks])
        errors = [(task.get("error") or {}).get("message", "") for task in tasks]
        states[step] = TaskState(state, next((e for e in errors if e), ""))
    return states


def run_namespace() -> str:
    """Return the namespace the runs' pods are in: ``KFP_NAMESPACE``, else ``kubeflow``."""
    return os.environ.get(NAMESPACE_ENV, "").strip() or NAMESPACE


def logs_command(run_id: str, namespace: str | None = None, tail: int = LOG_TAIL) -> list[str]:
    """Return the kubectl arguments that print the last lines of every container of a run."""
    selector = f"{RUN_ID_LABEL}={run_id}"
    return [
        "-n",
        namespace or run_namespace(),
        "logs",
        "-l",
        selector,
        "--all-containers",
        "--prefix",
        f"--tail={tail}",
    ]


def logs_hint(run_id: str) -> str:
    """Return the kubectl command line that prints a run's logs, for a person to run."""
    return " ".join(["kubectl", *logs_command(run_id)])


def records_hint(run_id: str) -> str:
    """Return the command that prints a run's failed steps' logs from the results database."""
    return f"burger-recs logs {run_id} --database-url URL (the cluster's results database)"


def kubectl_logs(
    kubectl: str = "kubectl",
    context: str | None = None,
    namespace: str | None = None,
    tail: int = LOG_TAIL,
) -> LogFetcher:
    """Return a function that prints the last lines of a run's pods' logs with kubectl."""

    def fetch(run_id: str) -> str:
        command = [kubectl, *(["--context", context] if context else [])]
        command += logs_command(run_id, namespace, tail)
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=120)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"(no logs: {exc})"
        if result.returncode != 0:
            return f"(no logs: {result.stderr.strip() or 'kubectl logs failed'})"
        return result.stdout or "(no logs: no pod of the run is left)"

    return fetch


class RunWatch:
    """One run being followed: each ``poll`` asks for it once and prints its steps' changes.

    ``follow`` polls one run to its end; ``burger-recs backfill --cluster`` polls several in
    turn, each with its own watch.
    """

    def __init__(self, api: KfpApi, run_id: str, steps: list[str], echo: Echo) -> None:
        self.api = api
        self.run_id = run_id
        self.steps = steps
        self.echo = echo
        self.run: dict = {}
        self.states: dict[str, TaskState] = {}
        self._shown: dict[str, str] = {}

    @property
    def state(self) -> str:
        """The run's state as last reported (PENDING before the first poll)."""
        return self.run.get("state") or "PENDING"

    @property
    def ended(self) -> bool:
        """Whether the run's last reported state is final (``FINAL_STATES``)."""
        return self.state in FINAL_STATES

    def poll(self) -> dict:
        """Get the run, print each step whose state changed since the last poll; return it.

        Raises:
            KfpError: the API refused or could not be reached.
        """
        self.run = self.api.get_run(self.run_id)
        self.states = task_states(self.run, self.steps)
        for step in self.steps:
            if step in self.states and self._shown.get(step) != self.states[step].state:
                self._shown[step] = self.states[step].state
                self.echo(f"  {step:<10} {self.states[step].state}")
        return self.run

    def explain_failure(self, fetch_logs: LogFetcher) -> None:
        """Print the run's error, its failed steps and the last lines of its pods' logs."""
        _explain_failure(self.run, self.states, fetch_logs, self.echo)


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

    When the run has not succeeded, prints the failed steps and the logs of the run's pods.

    Raises:
        KfpError: the run did not end within ``timeout_seconds`` (it goes on running).
    """
    watch = RunWatch(api, run_id, steps, echo)
    started = clock()
    while True:
        watch.poll()
        if watch.ended:
            break
        if clock() - started > timeout_seconds:
            raise KfpError(f"run {run_id} is still {watch.state} after {timeout_seconds:.0f}s")
        sleep(poll_seconds)
    if watch.state != "SUCCEEDED":
        watch.explain_failure(fetch_logs)
    return watch.run


def _explain_failure(
    run: dict, states: dict[str, TaskState], fetch_logs: LogFetcher, echo: Echo
) -> None:
    run_id = str(run.get("run_id"))
    failed = [(step, task) for step, task in states.items() if task.state == "FAILED"]
    message = (run.get("error") or {}).get("message")
    if message:
        echo(f"run error: {message}")
    for step, task in failed:
        echo(f"--- {step} failed{': ' + task.error if task.error else ''}")
    if not failed:
        echo("no step failed")
    echo(f"--- logs of the run's pods, last lines of each container ({logs_hint(run_id)}):")
    for line in fetch_logs(run_id).rstrip("\n").splitlines():
        echo(f"  {line}")
    pods = f"kubectl -n {run_namespace()} get pods -l {RUN_ID_LABEL}={run_id}"
    echo(f"    every pod of the run: {pods}")
    # The pods go with the Workflow (an hour after the run ends, KFP 2.17.0's Argo defaults);
    # the failed step's note keeps the end of its log in the results database.
    echo(f"    once the pods are gone: {records_hint(run_id)}")


def run_url(ui: str, run_id: str) -> str:
    """Return the Kubeflow UI's page of a run."""
    return f"{ui.rstrip('/')}/#/runs/details/{run_id}"


def prepare_version(
    api: KfpApi,
    ir_text: str,
    code_version: str,
    echo: Echo,
    image_pull_secrets: Sequence[str] = (),
) -> tuple[PipelineVersion, str]:
    """Add the image pull Secrets to the IR, find or upload its version, say which.

    The first half of ``submit``; ``burger-recs backfill --cluster`` starts all its runs from
    the one version it returns.

    Returns:
        The version, and the IR it holds (with the Secrets).

    Raises:
        KfpError: a Secret's name is no Kubernetes name, or the API refused.
    """
    try:
        ir_text = ir_with_image_pull_secrets(ir_text, image_pull_secrets)
    except ValueError as exc:
        raise KfpError(str(exc)) from None
    version = ensure_version(api, ir_text, code_version)
    what = "uploaded" if version.created else "already uploaded (same content), reused"
    echo(f"pipeline version {version.name}: {what}")
    return version, ir_text


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
    image_pull_secrets: Sequence[str] = (),
) -> dict:
    """Upload the IR (if new), start a run, print where to look; with ``wait``, follow it.

    ``image_pull_secrets`` are added to every step of the IR first (a private registry's).

    Returns:
        The run as created, or as it ended when ``wait``.
    """
    version, ir_text = prepare_version(api, ir_text, code_version, echo, image_pull_secrets)
    run = start_run(api, version, arguments, code_version)
    run_id = run["run_id"]
    echo(f"run {run.get('display_name', run_id)} started")
    _print_where(run_id, ui, echo)
    if not wait:
        return run
    return _follow_to_the_end(
        api,
        run_id,
        step_order(ir_text),
        ui,
        echo,
        fetch_logs or kubectl_logs(),
        sleep,
        clock,
        timeout_seconds,
    )


def retry(
    api: KfpApi,
    run_id: str,
    steps: list[str],
    ui: str,
    echo: Echo,
    wait: bool = False,
    fetch_logs: LogFetcher | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    timeout_seconds: float = 7200.0,
) -> dict | None:
    """Ask KFP to retry a failed run, print where to look; with ``wait``, follow it.

    KFP runs the run's failed steps again in the same run (the same id and link) and keeps
    the steps that succeeded (``KfpApi.retry_run``). ``steps`` are the steps to show while
    following, in their order (the compiled pipeline's).

    Returns:
        The run as it ended when ``wait``, else None.

    Raises:
        KfpError: no such run, KFP refused to retry it (its message says why, e.g. the run
            did not fail), or the API could not be reached.
    """
    try:
        api.retry_run(run_id)
    except KfpError as exc:
        if exc.status == 404:
            raise KfpError(f"no run {run_id} at {api.host}: {exc}", exc.status) from None
        if exc.status is not None:
            raise KfpError(f"KFP refused: {exc}", exc.status) from None
        raise
    echo(f"run {run_id} retried: its failed steps run again, the steps that succeeded are kept")
    _print_where(run_id, ui, echo)
    if not wait:
        return None
    return _follow_to_the_end(
        api, run_id, steps, ui, echo, fetch_logs or kubectl_logs(), sleep, clock, timeout_seconds
    )


def _print_where(run_id: str, ui: str, echo: Echo) -> None:
    """Print a run's id, its page in the Kubeflow UI and where its steps' logs are."""
    echo(f"  run id     {run_id}")
    echo(f"  Kubeflow   {run_url(ui, run_id)}")
    echo(f"  step logs  the step's Logs tab in the UI, or {logs_hint(run_id)}")


def _follow_to_the_end(
    api: KfpApi,
    run_id: str,
    steps: list[str],
    ui: str,
    echo: Echo,
    fetch_logs: LogFetcher,
    sleep: Callable[[float], None],
    clock: Callable[[], float],
    timeout_seconds: float,
) -> dict:
    """Follow a run (``follow``), then print how it ended, after how long, and its link."""
    started = clock()
    echo("following the run:")
    run = follow(
        api,
        run_id,
        steps,
        fetch_logs,
        echo,
        sleep=sleep,
        clock=clock,
        timeout_seconds=timeout_seconds,
    )
    elapsed = dt.timedelta(seconds=round(clock() - started))
    echo(f"run {run_id} {run.get('state')} after {elapsed}: {run_url(ui, run_id)}")
    return run
