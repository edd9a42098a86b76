"""A local HTTP double of the KFP v2beta1 REST API, strict about what it accepts.

A real ``http.server`` on 127.0.0.1 in a thread. It serves what the kfp SDK's ``kfp.Client``
(kfp 2.17.0, kfp/client/client.py; the project's only client, burger_recs/deploy/kfp_api.py)
sends for this project, and checks each request the way the real API server reads it: paths,
query parameters, multipart uploads and JSON bodies. Body fields are checked against the
models of ``kfp_server_api`` (the client generated from the server's API, which the SDK
uses), so a misspelt or invented field is refused. Every refused request is kept in
``violations`` and answered with HTTP 400, like the server's InvalidArgument.

Each endpoint names the upstream behaviour it mirrors, in kubeflow/pipelines at tag 2.17.0:
the routes of backend/api/v2beta1/*.proto (grpc-gateway: JSON with the proto's field names,
empty lists left out), and the server code named beside the endpoint.

Runs move through ``run_script``: each GET of a run returns the next snapshot, and the last
one from then on. Recurring runs (the production schedule's reconciler) are created, listed,
enabled, disabled and deleted as the server does, with its checks of cron and concurrency.
"""

from __future__ import annotations

import datetime as dt
import email.policy
import itertools
import json
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import kfp_server_api
import yaml

API = "/apis/v2beta1"
PACKAGE_EXTENSIONS = (".yaml", ".yml", ".json", ".zip", ".tar.gz", ".tgz")
# The JSON types the server accepts for each IR parameter type.
PARAMETER_TYPES = {
    "STRING": (str,),
    "NUMBER_INTEGER": (int,),
    "NUMBER_DOUBLE": (int, float),
    "BOOLEAN": (bool,),
}
NOW = "2026-11-24T07:00:00Z"


class Refused(Exception):
    """A request the real API would refuse: (HTTP status, gRPC code, message)."""

    def __init__(self, status: int, message: str, code: int = 3) -> None:
        super().__init__(message)
        self.status, self.code = status, code


@dataclass
class Request:
    """One request as the double received it."""

    method: str
    path: str
    query: dict[str, list[str]]
    body: object = None
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)


def check_fields(value: object, model: str, where: str) -> None:
    """Refuse fields that the ``kfp_server_api`` model (and its nested models) lacks."""
    cls = getattr(kfp_server_api, model)
    if not isinstance(value, dict):
        raise Refused(400, f"{where}: expected a JSON object for {model}")
    fields = {json_name: name for name, json_name in cls.attribute_map.items()}
    for key, item in value.items():
        if key not in fields:
            raise Refused(400, f'{where}: unknown field "{key}" in {model}')
        kind = cls.openapi_types[fields[key]]
        if kind.startswith("V2beta1") and item is not None:
            check_fields(item, kind, f"{where}.{key}")


def name_filter(query: dict[str, list[str]]) -> str:
    """Return the name an ``EQUALS display_name`` filter asks for, as kfp.Client sends it."""
    try:
        parsed = json.loads(query["filter"][0])
        (predicate,) = parsed["predicates"]
        assert predicate["operation"] in (1, "EQUALS")
        assert predicate["key"] in ("display_name", "name")
        value = predicate.get("stringValue", predicate.get("string_value"))
        assert isinstance(value, str)
        return value
    except (KeyError, ValueError, AssertionError, TypeError):
        raise Refused(400, f"bad filter {query.get('filter')}") from None


class KfpDouble:
    """The double's state (pipelines, versions, experiments, runs) and its HTTP server."""

    def __init__(self) -> None:
        self.pipelines: dict[str, dict] = {}
        self.versions: dict[str, dict] = {}
        self.specs: dict[str, dict] = {}  # version id -> its pipeline spec
        self.experiments: dict[str, dict] = {}
        self.runs: dict[str, dict] = {}
        self.recurring_runs: dict[str, dict] = {}
        self.run_script: list[dict] = [{"state": "SUCCEEDED"}]
        self.requests: list[Request] = []
        self.violations: list[str] = []
        # Set to make the next upload lose a race: the version appears, the upload gets 409.
        self.lose_upload_race = False
        self._ids = itertools.count(1)
        self._gets: dict[str, int] = {}
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )

    @property
    def url(self) -> str:
        """The double's base URL."""
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> KfpDouble:
        """Serve in a background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()

    def calls(self, method: str | None = None, path: str | None = None) -> list[Request]:
        """Return the requests received, optionally those with this method and path."""
        return [
            r
            for r in self.requests
            if (method is None or r.method == method) and (path is None or r.path == path)
        ]

    def _id(self, kind: str) -> str:
        return f"{kind}-{next(self._ids)}"

    # -- the API ---------------------------------------------------------------------------
    def handle(self, request: Request) -> dict:
        """Answer one request (raises Refused)."""
        route = (request.method, request.path.removeprefix(API))
        parts = route[1].strip("/").split("/")
        if route == ("GET", "/healthz"):
            # backend/src/apiserver/main.go, newHealthzResponse: kfp.Client() asks it whether
            # KFP is multi-user (a single-user standalone KFP here).
            return {"commit_sha": "unknown", "tag_name": "unknown", "multi_user": False}
        if route == ("GET", "/pipelines"):
            # pipeline.proto ListPipelines; kfp.Client.get_pipeline_id filters by name.
            name = name_filter(request.query)
            found = [p for p in self.pipelines.values() if p["display_name"] == name]
            return {"pipelines": found, "total_size": len(found)} if found else {}
        if route == ("POST", "/pipelines"):
            # pipeline.proto CreatePipeline (body: the pipeline).
            return self._create_pipeline(request.body)
        if route == ("POST", "/pipelines/upload_version"):
            # pipeline_upload_server.go uploadPipelineVersion (multipart, not grpc-gateway).
            return self._upload_version(request)
        if request.method == "GET" and parts[0] == "pipelines" and parts[2:] == ["versions"]:
            # pipeline.proto ListPipelineVersions: by name, or the newest one page at a time.
            if parts[1] not in self.pipelines:
                raise Refused(404, f"pipeline {parts[1]} not found", code=5)
            found = [v for v in self.versions.values() if v["pipeline_id"] == parts[1]]
            if "filter" in request.query:
                name = name_filter(request.query)
                found = [v for v in found if v["display_name"] == name]
            found = _sorted_page(found, request.query)
            return {"pipeline_versions": found, "total_size": len(found)} if found else {}
        if route == ("GET", "/experiments"):
            # experiment.proto ListExperiments; kfp.Client.get_experiment filters by name.
            name = name_filter(request.query)
            found = [e for e in self.experiments.values() if e["display_name"] == name]
            return {"experiments": found, "total_size": len(found)} if found else {}
        if route == ("POST", "/experiments"):
            # experiment.proto CreateExperiment (body: the experiment).
            check_fields(request.body, "V2beta1Experiment", "experiment")
            if not request.body.get("display_name"):
                raise Refused(400, "experiment needs a display_name")
            experiment = {**request.body, "experiment_id": self._id("experiment")}
            self.experiments[experiment["experiment_id"]] = experiment
            return experiment
        if route == ("POST", "/runs"):
            # run.proto CreateRun (body: the run).
            return self._create_run(request.body)
        if request.method == "GET" and parts[0] == "runs" and len(parts) == 2:
            # run.proto GetRun: the state and the tasks' details (run_script).
            return self._get_run(parts[1])
        if parts[0] == "recurringruns":
            # recurring_run.proto: Create, List, Get, Enable, Disable, Delete.
            return self._recurring_runs(request, parts[1:])
        raise Refused(404, f"no route {request.method} {request.path}", code=5)

    def _create_pipeline(self, body: object) -> dict:
        check_fields(body, "V2beta1Pipeline", "pipeline")
        if body.get("pipeline_id"):
            raise Refused(400, "pipeline_id is assigned by the server")
        if not body.get("display_name"):
            raise Refused(400, "pipeline needs a display_name")
        if any(p["display_name"] == body["display_name"] for p in self.pipelines.values()):
            raise Refused(409, f"pipeline {body['display_name']} already exists", code=6)
        pipeline = {**body, "pipeline_id": self._id("pipeline"), "created_at": NOW}
        self.pipelines[pipeline["pipeline_id"]] = pipeline
        return pipeline

    def add_version(self, pipeline_id: str, name: str, spec: dict) -> dict:
        """Store a version as an upload would (also for tests that pre-populate)."""
        version = {
            "pipeline_id": pipeline_id,
            "pipeline_version_id": self._id("version"),
            "display_name": name,
            "name": name,
            "created_at": NOW,
        }
        self.versions[version["pipeline_version_id"]] = version
        self.specs[version["pipeline_version_id"]] = spec
        return version

    def _upload_version(self, request: Request) -> dict:
        query = {key: values[0] for key, values in request.query.items()}
        unknown = set(query) - {"name", "display_name", "pipelineid", "description", "tags"}
        if unknown:
            raise Refused(400, f"unknown query parameters {sorted(unknown)}")
        if set(request.files) != {"uploadfile"}:
            parts = list(request.files)
            raise Refused(400, f"expected one file part named uploadfile, got {parts}")
        filename, content = request.files["uploadfile"]
        if not filename.endswith(PACKAGE_EXTENSIONS):
            raise Refused(400, f"unexpected package file name {filename!r}")
        if query.get("pipelineid") not in self.pipelines:
            raise Refused(404, f"pipeline {query.get('pipelineid')} not found", code=5)
        try:
            tags = json.loads(query.get("tags") or "{}")
        except ValueError:
            tags = None
        if not isinstance(tags, dict) or not all(isinstance(v, str) for v in tags.values()):
            # "Failed to parse tags query parameter. Expected JSON object with string keys
            # and values"
            raise Refused(400, "tags must be a JSON object of strings")
        spec = next(yaml.safe_load_all(content.decode()))
        for key in ("pipelineInfo", "root", "deploymentSpec", "schemaVersion"):
            if key not in spec:
                raise Refused(400, f"the package is no pipeline spec: no {key}")
        pipeline_id = query["pipelineid"]
        # buildPipelineName: the name, else the display name, else the file's name; the
        # display name defaults to the name.
        name = query.get("name") or query.get("display_name") or filename
        taken = any(
            v["pipeline_id"] == pipeline_id and v["display_name"] == name
            for v in self.versions.values()
        )
        if self.lose_upload_race:
            self.lose_upload_race = False
            self.add_version(pipeline_id, name, spec)
            taken = True
        if taken:
            raise Refused(409, f"pipeline version {name} already exists", code=6)
        version = self.add_version(pipeline_id, name, spec)
        version["display_name"] = query.get("display_name") or name
        version["description"] = query.get("description", "")
        if tags:
            version["tags"] = tags
        return version

    def _check_target(self, body: dict) -> None:
        """Check what a run or recurring run starts: a known version, experiment, parameters."""
        reference = body.get("pipeline_version_reference")
        if bool(reference) == bool(body.get("pipeline_spec")):
            raise Refused(400, "give either pipeline_version_reference or pipeline_spec")
        version = self.versions.get(reference.get("pipeline_version_id", ""))
        if version is None or version["pipeline_id"] != reference.get("pipeline_id"):
            raise Refused(404, f"no pipeline version {reference}", code=5)
        if body.get("experiment_id") and body["experiment_id"] not in self.experiments:
            raise Refused(404, f"experiment {body['experiment_id']} not found", code=5)
        self._check_parameters(version, body)

    def _create_run(self, body: object) -> dict:
        check_fields(body, "V2beta1Run", "run")
        if not body.get("display_name"):
            raise Refused(400, "run needs a display_name")
        self._check_target(body)
        run = {**body, "run_id": self._id("run"), "state": "PENDING", "created_at": NOW}
        self.runs[run["run_id"]] = run
        return run

    def _check_parameters(self, version: dict, body: dict) -> None:
        spec = self.specs[version["pipeline_version_id"]]
        declared = spec["root"]["inputDefinitions"]["parameters"]
        given = (body.get("runtime_config") or {}).get("parameters") or {}
        for name, value in given.items():
            if name not in declared:
                raise Refused(400, f"unknown parameter {name}")
            allowed = PARAMETER_TYPES[declared[name]["parameterType"]]
            if not isinstance(value, allowed) or (bool not in allowed and isinstance(value, bool)):
                raise Refused(400, f"parameter {name}={value!r} is not {allowed}")
        for name, definition in declared.items():
            required = "defaultValue" not in definition and not definition.get("isOptional")
            if required and name not in given:
                raise Refused(400, f"missing parameter {name}")

    # -- recurring runs --------------------------------------------------------------------
    def _recurring_runs(self, request: Request, rest: list[str]) -> dict:
        if not rest:
            if request.method == "POST":
                return self._create_recurring_run(request.body)
            if request.method == "GET":
                # ListRecurringRuns; kfp.Client.list_recurring_runs pages with a filter.
                unknown = set(request.query) - {
                    "filter",
                    "page_size",
                    "page_token",
                    "sort_by",
                    "experiment_id",
                    "namespace",
                }
                if unknown:
                    raise Refused(400, f"unknown query parameters {sorted(unknown)}")
                found = list(self.recurring_runs.values())
                if "filter" in request.query:
                    name = name_filter(request.query)
                    found = [r for r in found if r["display_name"] == name]
                if "experiment_id" in request.query:
                    wanted = request.query["experiment_id"][0]
                    found = [r for r in found if r.get("experiment_id") == wanted]
                # The proto names this field recurringRuns, and the server keeps proto names.
                return {"recurringRuns": found, "total_size": len(found)} if found else {}
        elif len(rest) == 1:
            run_id, _, verb = rest[0].partition(":")
            if run_id not in self.recurring_runs:
                raise Refused(404, f"recurring run {run_id} not found", code=5)
            run = self.recurring_runs[run_id]
            if request.method == "GET" and not verb:  # GetRecurringRun
                return run
            if request.method == "DELETE" and not verb:  # DeleteRecurringRun: its runs stay
                del self.recurring_runs[run_id]
                return {}
            if request.method == "POST" and verb in ("enable", "disable"):
                # EnableRecurringRun, DisableRecurringRun: in place, the id kept.
                if request.body:
                    raise Refused(400, f":{verb} takes no body")
                enabled = verb == "enable"
                run["mode"] = "ENABLE" if enabled else "DISABLE"
                run["status"] = "ENABLED" if enabled else "DISABLED"
                return {}
        raise Refused(404, f"no route {request.method} {request.path}", code=5)

    def _create_recurring_run(self, body: object) -> dict:
        # CreateRecurringRun, with the checks of server/api_converter.go (toModelJob): a name,
        # max concurrency 1 to 10, a robfig/cron expression, a known mode.
        check_fields(body, "V2beta1RecurringRun", "recurring_run")
        for output in ("recurring_run_id", "status", "created_at", "updated_at", "error"):
            if output in body:
                raise Refused(400, f"{output} is set by the server")
        if not body.get("display_name"):
            raise Refused(400, "Recurring run's name cannot be empty")
        self._check_target(body)
        # int64 is a JSON string (the SDK sends a number, which the server also reads).
        concurrency = str(body.get("max_concurrency", "0"))
        if not concurrency.isdigit() or not 1 <= int(concurrency) <= 10:
            raise Refused(
                400, "Max concurrency of a recurring run must be at least 1 and at most 10"
            )
        trigger = body.get("trigger") or {}
        if len(trigger) != 1 or not (trigger.get("cron_schedule") or {}).get("cron"):
            raise Refused(400, f"expected a trigger with a cron schedule, got {trigger}")
        cron = trigger["cron_schedule"]["cron"]
        if not (cron.startswith("@") or len(cron.split()) in (5, 6)):
            raise Refused(400, f"Schedule cron is not a supported format: {cron!r}")
        mode = body.get("mode", "MODE_UNSPECIFIED")
        if mode not in ("MODE_UNSPECIFIED", "ENABLE", "DISABLE"):
            raise Refused(400, f"Recurring run's mode is invalid: {mode}")
        enabled = mode == "ENABLE"
        run = {
            **body,
            "recurring_run_id": self._id("recurring"),
            "max_concurrency": concurrency,
            "mode": "ENABLE" if enabled else "DISABLE",
            "status": "ENABLED" if enabled else "DISABLED",
            "created_at": NOW,
            "updated_at": NOW,
            "namespace": "",
        }
        self.recurring_runs[run["recurring_run_id"]] = run
        return run

    def _get_run(self, run_id: str) -> dict:
        if run_id not in self.runs:
            raise Refused(404, f"run {run_id} not found", code=5)
        n = self._gets.get(run_id, 0)
        self._gets[run_id] = n + 1
        snapshot = self.run_script[min(n, len(self.run_script) - 1)]
        return {**self.runs[run_id], **snapshot}


def _sorted_page(items: list[dict], query: dict[str, list[str]]) -> list[dict]:
    """Order by ``sort_by`` (``created_at desc``: the newest first) and keep one page."""
    sort_by = query.get("sort_by", [""])[0]
    if sort_by not in ("", "created_at", "created_at desc"):
        raise Refused(400, f"cannot sort by {sort_by!r}")
    if sort_by:
        # Equal timestamps: the later created (inserted) one counts as newer.
        ranked = sorted(enumerate(items), key=lambda pair: (pair[1]["created_at"], pair[0]))
        items = [item for _, item in ranked]
        if sort_by.endswith(" desc"):
            items.reverse()
    size = query.get("page_size", [""])[0]
    return items[: int(size)] if size else items


def snapshot(state: str, *tasks: dict) -> dict:
    """A run as GET returns it: its state and its tasks' details."""
    return {"state": state, "run_details": {"task_details": list(tasks)}}


def task(name: str, state: str, pods: tuple[str, ...] = (), when: int = 0, **extra) -> dict:
    """A task's details: the driver and executor pods appear as child tasks."""
    created = (dt.datetime(2026, 11, 24, 7) + dt.timedelta(minutes=when)).isoformat() + "Z"
    return {
        "task_id": f"task-{name}-{when}",
        "display_name": name,
        "create_time": created,
        "state": state,
        "child_tasks": [{"pod_name": pod} for pod in pods],
        **extra,
    }


def _handler(double: KfpDouble) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:  # keep the test output clean
            pass

        def _serve(self) -> None:
            url = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            request = Request(self.command, url.path, parse_qs(url.query))
            try:
                ctype = self.headers.get("Content-Type", "")
                if ctype.startswith("multipart/form-data"):
                    message = BytesParser(policy=email.policy.HTTP).parsebytes(
                        f"Content-Type: {ctype}\r\n\r\n".encode() + raw
                    )
                    for part in message.iter_parts():
                        name = part.get_param("name", header="content-disposition")
                        request.files[name] = (part.get_filename(), part.get_payload(decode=True))
                elif raw:
                    if not ctype.startswith("application/json"):
                        raise Refused(400, f"a JSON body needs Content-Type JSON, got {ctype!r}")
                    request.body = json.loads(raw)
                double.requests.append(request)
                status, answer = 200, double.handle(request)
            except Refused as exc:
                if exc.status == 400 or (exc.status == 404 and "no route" in str(exc)):
                    double.violations.append(f"{self.command} {url.path}: {exc}")
                status = exc.status
                answer = {"error": str(exc), "message": str(exc), "code": exc.code}
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_DELETE = _serve

    return Handler


def raw_request(double: KfpDouble, method: str, path: str, body: object) -> tuple[int, dict]:
    """Send a JSON request by hand (what no SDK model can express); return status and answer."""
    request = urllib.request.Request(
        f"{double.url}{API}{path}",
        data=json.dumps(body).encode(),
        method=method,
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")
