"""A local HTTP double of the KFP v2beta1 REST API, strict about what it accepts.

A real ``http.server`` on 127.0.0.1 in a thread. It serves what the kfp SDK's ``kfp.Client``
(kfp 2.17.0, kfp/client/client.py; the project's only client, burger_recs/deploy/kfp_api.py)
sends for this project, and checks each request the way the real API server reads it: paths,
query parameters, multipart uploads and JSON bodies. Body fields are checked against the
models of ``kfp_server_api`` (the client generated from the server's API, which the SDK
uses), so a misspelt or invented field is refused. Every refused request is kept in
``violations`` and answered with HTTP 400, like the server's InvalidArgument.

Its answers are held to the same models, and to what the server fills: every JSON body it
returns must deserialize into the ``kfp_server_api`` model of its route with no field the
model lacks, and with no field the server's converter never fills (``SERVER_FILLS``: the
model has ``pod_name`` on a task and ``code_source_url`` on a version, which KFP 2.17 never
returns), so that the client cannot come to read a field the real API leaves empty. An
answer that breaks this is a bug of the double: it is kept in ``violations`` and answered
with HTTP 500.

Each endpoint names the upstream behaviour it mirrors, in kubeflow/pipelines at tag 2.17.0:
the routes of backend/api/v2beta1/*.proto (grpc-gateway with the marshaler of
backend/src/apiserver/common/utils.go: proto field names, unpopulated fields left out), and
the server code named beside the endpoint. Errors carry the gRPC code grpc-gateway maps to
the HTTP status (InvalidArgument 3 = 400, NotFound 5 = 404, AlreadyExists 6 = 409,
Aborted 10 = 409; backend/src/common/util/error.go builds them: NewBadRequestError is
Aborted).

Runs move through ``run_script``: each GET of a run returns the next snapshot, and the last
one from then on; ``snapshot`` and ``task`` build the task details as the server derives them
from the run's Argo Workflow. ``script_for`` can give a run its own script when it is created
(e.g. by its run_date). A run whose last GET said FAILED can be retried (``POST
/runs/{id}:retry``): it is RUNNING again, and its GETs play its script from the start.
A run is active from its creation until a GET reports a final state; ``most_active`` keeps
the most runs active at once. ``on_run_end`` stands for the pipeline's final task, which runs
inside the run before KFP reports it ended (the exit handler is an exit lifecycle hook of the
run's Workflow: backend/src/v2/compiler/argocompiler/dag.go, common.go addExitTask): it is
called once per run, with the run, just before the first GET that reports it ended is
answered. Neither is server behaviour: they stand in for the pipeline.
Recurring runs (the production schedule's reconciler) are created, listed, enabled, disabled
and deleted as the server does, with its checks of cron and concurrency.
"""

from __future__ import annotations

import datetime as dt
import email.policy
import itertools
import json
import threading
import urllib.error
import urllib.request
import uuid
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import kfp_server_api
import yaml

API = "/apis/v2beta1"
# The package formats the upload tells by the file name (backend/src/apiserver/server/util.go).
PACKAGE_EXTENSIONS = (".yaml", ".yml", ".json", ".zip", ".tar.gz", ".tgz")
# The JSON types the server accepts for each IR parameter type (v2_template.go,
# validatePipelineJobInputs; stricter here: an integer parameter takes no 5.0).
PARAMETER_TYPES = {
    "STRING": (str,),
    "NUMBER_INTEGER": (int,),
    "NUMBER_DOUBLE": (int, float),
    "BOOLEAN": (bool,),
}
NOW = "2026-11-24T07:00:00Z"
# A time the server never set: time.Unix(0, 0) as a Timestamp (a finished_at of a run that
# has not finished, toApiRun), and Go's zero time (a node that has not finished, toApiTask...).
EPOCH = "1970-01-01T00:00:00Z"
ZERO_TIME = "0001-01-01T00:00:00Z"
# The Workflow a run's nodes belong to: the pipeline's name as generateName (argo.go, Compile)
# plus the 5 characters Kubernetes adds.
WORKFLOW = "burger-recs-daily-x7k2p"
# The service account the compiled Workflow runs as (argocompiler/argo.go, Compile; the
# default of backend/src/apiserver/common/const.go), which CreateRun records on the run.
SERVICE_ACCOUNT = "pipeline-runner"

# backend/src/apiserver/server/api_converter.go at 2.17.0: the fields each converter fills,
# for the models the client reads. The models (from the protos) have more, which the server
# never returns: a task's pod_name and executor_detail (toApiPipelineTaskDetail), a version's
# code_source_url (toApiPipelineVersion; only v1beta1 returns it).
SERVER_FILLS = {
    "V2beta1Pipeline": {  # toApiPipeline
        *("pipeline_id", "name", "display_name", "description", "created_at", "namespace"),
        *("tags", "error"),
    },
    "V2beta1PipelineVersion": {  # toApiPipelineVersion
        *("pipeline_id", "pipeline_version_id", "name", "display_name", "description"),
        *("created_at", "tags", "package_url", "pipeline_spec", "error"),
    },
    "V2beta1Experiment": {  # toApiExperiment
        *("experiment_id", "display_name", "description", "created_at", "last_run_created_at"),
        *("namespace", "storage_state"),
    },
    "V2beta1Run": {  # toApiRun
        *("run_id", "experiment_id", "recurring_run_id", "display_name", "description"),
        *("service_account", "runtime_config", "storage_state", "state", "state_history"),
        *("created_at", "scheduled_at", "finished_at", "run_details", "plugins_input"),
        *("plugins_output", "pipeline_version_reference", "pipeline_spec", "error"),
    },
    "V2beta1RunDetails": {"pipeline_context_id", "pipeline_run_context_id", "task_details"},
    "V2beta1PipelineTaskDetail": {  # toApiPipelineTaskDetail
        *("run_id", "task_id", "display_name", "create_time", "start_time", "end_time"),
        *("state", "execution_id", "inputs", "outputs", "parent_task_id", "state_history"),
        *("child_tasks", "error"),
    },
    "V2beta1RecurringRun": {  # toApiRecurringRun
        *("recurring_run_id", "display_name", "service_account", "description", "status"),
        *("created_at", "updated_at", "max_concurrency", "no_catchup", "trigger"),
        *("runtime_config", "namespace", "experiment_id", "plugins_input", "mode"),
        *("pipeline_version_reference", "pipeline_spec", "error"),
    },
}
# Fields an answer has that its model lacks. The healthz answer is not grpc-gateway's but a
# handler's, with fields the proto does not declare (backend/src/apiserver/main.go,
# healthzResponse); kfp.Client reads only multi_user.
BEYOND_THE_MODEL = {"V2beta1GetHealthzResponse": {"commit_sha", "tag_name"}}


class Refused(Exception):
    """A request the real API would refuse: (HTTP status, gRPC code, message)."""

    def __init__(self, status: int, message: str, code: int = 3) -> None:
        super().__init__(message)
        self.status, self.code = status, code


class BadAnswer(Exception):
    """An answer of the double the real API would never give (a bug of the double)."""


@dataclass
class Request:
    """One request as the double received it."""

    method: str
    path: str
    query: dict[str, list[str]]
    body: object = None
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)


def _model(name: str) -> type:
    return getattr(kfp_server_api.models, name)


def check_fields(value: object, model: str, where: str) -> None:
    """Refuse fields that the ``kfp_server_api`` model (and its nested models) lacks."""
    cls = _model(model)
    if not isinstance(value, dict):
        raise Refused(400, f"{where}: expected a JSON object for {model}")
    fields = {json_name: name for name, json_name in cls.attribute_map.items()}
    for key, item in value.items():
        if key not in fields:
            raise Refused(400, f'{where}: unknown field "{key}" in {model}')
        kind = cls.openapi_types[fields[key]]
        if kind.startswith("V2beta1") and item is not None:
            check_fields(item, kind, f"{where}.{key}")


def check_answer(value: object, kind: str, where: str) -> None:
    """Fail unless ``value`` is JSON the server could return as ``kind`` (a model or type).

    Strict where requests are lenient: types, enum values and times are checked too, no field
    may be missing from the model (``BEYOND_THE_MODEL`` aside) or beyond what the server
    fills (``SERVER_FILLS``), and the kfp SDK's own client must deserialize it.

    Raises:
        BadAnswer: what is wrong, and where.
    """
    if kind.startswith("list["):
        if not isinstance(value, list):
            raise BadAnswer(f"{where}: expected a list for {kind}")
        for i, item in enumerate(value):
            check_answer(item, kind[5:-1], f"{where}[{i}]")
        return
    if kind.startswith("dict("):
        if not isinstance(value, dict):
            raise BadAnswer(f"{where}: expected an object for {kind}")
        inner = kind[5:-1].split(", ", 1)[1]
        for key, item in value.items():
            check_answer(item, inner, f"{where}.{key}")
        return
    native = {"str": str, "int": int, "bool": bool, "float": (int, float)}
    if kind in native:
        if not isinstance(value, native[kind]) or (kind != "bool" and isinstance(value, bool)):
            raise BadAnswer(f"{where}: {value!r} is no {kind}")
        return
    if kind == "datetime":
        try:
            dt.datetime.fromisoformat(str(value))
        except ValueError:
            raise BadAnswer(f"{where}: {value!r} is no RFC 3339 time") from None
        return
    if kind == "object":
        return
    cls = _model(kind)
    if hasattr(cls, "allowable_values"):  # an enum: the server writes its name
        if value not in cls.allowable_values:
            raise BadAnswer(f"{where}: {value!r} is no {kind} ({cls.allowable_values})")
        return
    if not isinstance(value, dict):
        raise BadAnswer(f"{where}: expected an object for {kind}")
    fields = {json_name: name for name, json_name in cls.attribute_map.items()}
    extra = set(value) - set(fields) - BEYOND_THE_MODEL.get(kind, set())
    if extra:
        raise BadAnswer(f"{where}: {kind} has no field {sorted(extra)}")
    unfilled = set(value) - SERVER_FILLS.get(kind, set(value))
    if unfilled:
        raise BadAnswer(f"{where}: the server never fills {sorted(unfilled)} of {kind}")
    for key, item in value.items():
        if key in fields:
            check_answer(item, cls.openapi_types[fields[key]], f"{where}.{key}")


@dataclass
class _Body:
    """What kfp_server_api.ApiClient.deserialize reads of a response."""

    data: str


_READER: list = []  # one kfp_server_api.ApiClient, made when first needed


def deserialize(answer: object, model: str) -> object:
    """Return the answer as the kfp SDK's generated client reads it (its model object)."""
    if not _READER:
        _READER.append(kfp_server_api.ApiClient())
    return _READER[0].deserialize(_Body(json.dumps(answer)), model)


def _wire(message: dict) -> dict:
    """Leave out unpopulated fields, as the server's marshaler does (EmitUnpopulated false)."""
    return {k: v for k, v in message.items() if v not in (None, "", False, 0, [], {})}


def name_filter(query: dict[str, list[str]]) -> str:
    """Return the name an ``EQUALS display_name`` filter asks for, as kfp.Client sends it.

    The filter is a JSON-encoded backend/api/v2beta1/filter.proto Filter (an enum by name or
    number, protojson), read by backend/src/apiserver/filter/filter.go; only the one
    predicate the client sends is understood here, anything else is refused.
    """
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
        self.healthz = {
            "commit_sha": "unknown",
            "tag_name": "2.17.0",
            "multi_user": False,
            "pipeline_store": "kubernetes",
        }
        self.run_script: list[dict] = [{"state": "SUCCEEDED"}]
        # Given a run as created, its own script (None: run_script).
        self.script_for: Callable[[dict], list[dict] | None] | None = None
        # Called with a run just before the first GET that reports it ended is answered.
        self.on_run_end: Callable[[dict], None] | None = None
        self.most_active = 0  # the most runs active at once (created, not reported ended)
        self.requests: list[Request] = []
        self.violations: list[str] = []
        # Set to make the next upload lose a race: the version appears, the upload gets 409.
        self.lose_upload_race = False
        self._ids = itertools.count(1)
        self._gets: dict[str, int] = {}
        self._last_state: dict[str, str] = {}  # run id -> the state its last GET returned
        self._scripts: dict[str, list[dict]] = {}  # run id -> its own script (script_for)
        self._last_ticks: dict[str, dt.datetime] = {}  # recurring run id -> its last tick
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

    def active(self) -> list[str]:
        """Return the ids of the runs that are active: created, and not reported ended.

        A run is PENDING when created (resource_manager.go CreateRun) and its state is final
        once SUCCEEDED, FAILED, CANCELED or SKIPPED (backend/api/v2beta1/run.proto,
        RuntimeState: PENDING, RUNNING, CANCELING and PAUSED are not); here a run's state is
        the one its last GET returned.
        """
        return [
            run_id
            for run_id, run in self.runs.items()
            if self._last_state.get(run_id, run.get("state")) not in _ENDED
        ]

    def _count_active(self) -> None:
        self.most_active = max(self.most_active, len(self.active()))

    # -- the API ---------------------------------------------------------------------------
    def handle(self, request: Request) -> dict:
        """Answer one request (raises Refused; BadAnswer for an answer the API never gives)."""
        route = (request.method, request.path.removeprefix(API))
        parts = route[1].strip("/").split("/")
        if route == ("GET", "/healthz"):
            # backend/src/apiserver/main.go, newHealthzResponse (a plain handler, encoding/json;
            # pipeline_store omitted when empty): kfp.Client() asks whether KFP is multi-user
            # (not here), the reconciler which release it is (self.healthz: a 2.17.0 release
            # image, TAG_NAME set by upstream's build, in Kubernetes-native mode).
            return _answer(dict(self.healthz), "V2beta1GetHealthzResponse")
        if route == ("GET", "/pipelines"):
            # pipeline.proto ListPipelines; kfp.Client.get_pipeline_id filters by name.
            name = name_filter(request.query)
            found = [p for p in self.pipelines.values() if p["display_name"] == name]
            return _answer(_listed("pipelines", found), "V2beta1ListPipelinesResponse")
        if route == ("POST", "/pipelines"):
            # pipeline.proto CreatePipeline (body: the pipeline).
            return _answer(self._create_pipeline(request.body), "V2beta1Pipeline")
        if route == ("POST", "/pipelines/upload_version"):
            # pipeline_upload_server.go uploadPipelineVersion (multipart, not grpc-gateway; it
            # answers with the marshaler's proto names too).
            return _answer(self._upload_version(request), "V2beta1PipelineVersion")
        if request.method == "GET" and parts[0] == "pipelines" and parts[2:] == ["versions"]:
            # pipeline.proto ListPipelineVersions: by name, or the newest one page at a time.
            if parts[1] not in self.pipelines:
                raise Refused(404, f"pipeline {parts[1]} not found", code=5)
            found = [v for v in self.versions.values() if v["pipeline_id"] == parts[1]]
            if "filter" in request.query:
                name = name_filter(request.query)
                found = [v for v in found if v["display_name"] == name]
            found = _sorted_page(found, request.query)
            listed = _listed("pipeline_versions", found)
            return _answer(listed, "V2beta1ListPipelineVersionsResponse")
        if route == ("GET", "/experiments"):
            # experiment.proto ListExperiments; kfp.Client.get_experiment filters by name.
            name = name_filter(request.query)
            found = [e for e in self.experiments.values() if e["display_name"] == name]
            return _answer(_listed("experiments", found), "V2beta1ListExperimentsResponse")
        if route == ("POST", "/experiments"):
            # experiment.proto CreateExperiment (body: the experiment); the answer as
            # api_converter.go toApiExperiment builds it.
            check_fields(request.body, "V2beta1Experiment", "experiment")
            if not request.body.get("display_name"):
                raise Refused(400, "experiment needs a display_name")
            experiment = {
                **request.body,
                "experiment_id": self._id("experiment"),
                "created_at": NOW,
                "last_run_created_at": EPOCH,
                "storage_state": "AVAILABLE",
            }
            self.experiments[experiment["experiment_id"]] = _wire(experiment)
            return _answer(self.experiments[experiment["experiment_id"]], "V2beta1Experiment")
        if route == ("POST", "/runs"):
            # run.proto CreateRun (body: the run).
            return _answer(self._create_run(request.body), "V2beta1Run")
        if request.method == "GET" and parts[0] == "runs" and len(parts) == 2:
            # run.proto GetRun: the state and the tasks' details (run_script).
            return _answer(self._get_run(parts[1]), "V2beta1Run")
        if request.method == "POST" and parts[0] == "runs" and len(parts) == 2:
            run_id, _, verb = parts[1].partition(":")
            if verb == "retry":
                # run.proto RetryRun: google.protobuf.Empty, which the generated
                # run_service_retry_run reads as response_type 'object'.
                return _answer(self._retry_run(request, run_id), "object")
        if parts[0] == "recurringruns":
            # recurring_run.proto: Create, List, Get, Enable, Disable, Delete.
            return self._recurring_runs(request, parts[1:])
        raise Refused(404, f"no route {request.method} {request.path}", code=5)

    def _create_pipeline(self, body: object) -> dict:
        # pipeline_server.go CreatePipeline and resource_manager.go: a display name is needed;
        # a second pipeline of one name is AlreadyExists (storage/pipeline_store.go).
        check_fields(body, "V2beta1Pipeline", "pipeline")
        if body.get("pipeline_id"):
            raise Refused(400, "pipeline_id is assigned by the server")
        if not body.get("display_name"):
            raise Refused(400, "pipeline needs a display_name")
        if any(p["display_name"] == body["display_name"] for p in self.pipelines.values()):
            raise Refused(409, f"pipeline {body['display_name']} already exists", code=6)
        name = body.get("name") or body["display_name"]
        pipeline = {**body, "name": name, "pipeline_id": self._id("pipeline"), "created_at": NOW}
        self.pipelines[pipeline["pipeline_id"]] = _wire(pipeline)
        return self.pipelines[pipeline["pipeline_id"]]

    def add_version(
        self, pipeline_id: str, name: str, spec: dict, platform: dict | None = None
    ) -> dict:
        """Store a version as an upload would (also for tests that pre-populate).

        As api_converter.go toApiPipelineVersion returns it: with its pipeline_spec (nested
        with the platform spec when there is one: api_util.go YamlStringToPipelineSpecStruct)
        and without code_source_url, which the v2beta1 API never returns.
        """
        version = {
            "pipeline_id": pipeline_id,
            "pipeline_version_id": self._id("version"),
            "display_name": name,
            "name": name,
            "created_at": NOW,
            "pipeline_spec": (
                {"pipeline_spec": spec, "platform_spec": platform} if platform else spec
            ),
        }
        self.versions[version["pipeline_version_id"]] = version
        self.specs[version["pipeline_version_id"]] = spec
        return version

    def _upload_version(self, request: Request) -> dict:
        # pipeline_upload_server.go uploadPipelineVersion: the file in the form field
        # "uploadfile" (FormFileKey), the rest in the query (name, display_name, pipelineid,
        # description, tags).
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
        spec, *rest = [doc for doc in yaml.safe_load_all(content.decode()) if doc]
        for key in ("pipelineInfo", "root", "deploymentSpec", "schemaVersion"):
            if key not in spec:
                raise Refused(400, f"the package is no pipeline spec: no {key}")
        pipeline_id = query["pipelineid"]
        # buildPipelineName: the name, else the display name, else the file's name; the
        # display name defaults to the name. One name per pipeline: AlreadyExists
        # (storage/pipeline_store.go).
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
        version = self.add_version(pipeline_id, name, spec, rest[0] if rest else None)
        version["display_name"] = query.get("display_name") or name
        version["description"] = query.get("description", "")
        if tags:
            version["tags"] = tags
        self.versions[version["pipeline_version_id"]] = _wire(version)
        return self.versions[version["pipeline_version_id"]]

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
        # run_server.go CreateRun (a display name is needed), resource_manager.go CreateRun
        # (PENDING, scheduled at its create time, the Workflow's service account,
        # run_store.go's first state_history entry), answered by api_converter.go toApiRun.
        check_fields(body, "V2beta1Run", "run")
        if not body.get("display_name"):
            raise Refused(400, "run needs a display_name")
        self._check_target(body)
        run = self._new_run(body, NOW, NOW)
        script = self.script_for(run) if self.script_for else None
        if script is not None:
            self._scripts[run["run_id"]] = script
        self._count_active()
        return run

    def _new_run(self, fields: dict, created_at: str, scheduled_at: str) -> dict:
        """Keep a new PENDING run, as the API server and a recurring run's controller make it.

        Its service account is the one asked for, else KFP's default (template.go's
        setDefaultServiceAccount, which NewWorkflow keeps for a recurring run's runs).
        """
        run = {
            **fields,
            "run_id": self._id("run"),
            "service_account": fields.get("service_account") or SERVICE_ACCOUNT,
            "storage_state": "AVAILABLE",
            "state": "PENDING",
            "state_history": [{"update_time": created_at, "state": "PENDING"}],
            "created_at": created_at,
            "scheduled_at": scheduled_at,
            "finished_at": EPOCH,
        }
        self.runs[run["run_id"]] = _wire(run)
        return self.runs[run["run_id"]]

    def _check_parameters(self, version: dict, body: dict) -> None:
        # backend/src/apiserver/template/v2_template.go, validatePipelineJobInputs: no
        # parameter the spec does not declare, each of its type, every required one given.
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
                created = self._create_recurring_run(request.body)
                return _answer(created, "V2beta1RecurringRun")
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
                listed = {"recurringRuns": found, "total_size": len(found)} if found else {}
                return _answer(listed, "V2beta1ListRecurringRunsResponse")
        elif len(rest) == 1:
            run_id, _, verb = rest[0].partition(":")
            if run_id not in self.recurring_runs:
                raise Refused(404, f"recurring run {run_id} not found", code=5)
            run = self.recurring_runs[run_id]
            if request.method == "GET" and not verb:  # GetRecurringRun
                return _answer(run, "V2beta1RecurringRun")
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
        # max concurrency 1 to 10, a robfig/cron expression, a known mode; answered by
        # toApiRecurringRun (status and mode from Enabled, max_concurrency an int64 string).
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
        }
        self.recurring_runs[run["recurring_run_id"]] = _wire(run)
        return self.recurring_runs[run["recurring_run_id"]]

    def fire_schedule(self, recurring_run_id: str, now: dt.datetime) -> list[dict]:
        """Create the runs the recurring run's controller has created by ``now``.

        As KFP 2.17.0's ScheduledWorkflow controller does for a recurring run pinned to a
        version (backend/src/crd/controller/scheduledworkflow/controller.go,
        submitNewWorkflowIfNotAlreadySubmitted -> swf.NewWorkflow): not through the API
        server, each run with the recurring run's parameters unchanged and its cron tick as
        its schedule time (util/scheduled_workflow.go, SetCannonicalLabels: the workflowEpoch
        label, which backend/src/v2/cmd/driver/main.go gives the schedule-time placeholder),
        created at ``now``. The ticks follow util/cron_schedule.go: from the last tick (or the
        recurring run's creation) the next one; with catch-up every tick up to ``now`` in
        turn, without it only the latest (earlier ones skipped). Daily crons only; each run is
        taken to end before the controller's next sync (max concurrency is not modelled).
        """
        recurring = self.recurring_runs[recurring_run_id]
        if recurring["status"] != "ENABLED":
            return []
        cron = recurring["trigger"]["cron_schedule"]["cron"]
        fires = daily_time(cron)
        if fires is None:
            raise NotImplementedError(f"the double fires daily crons only, not {cron!r}")
        at = dt.time.fromisoformat(fires)
        last = self._last_ticks.get(recurring_run_id) or dt.datetime.fromisoformat(
            recurring["created_at"].replace("Z", "+00:00")
        )

        def next_tick(after: dt.datetime) -> dt.datetime:
            tick = dt.datetime.combine(after.date(), at, tzinfo=dt.UTC)
            return tick if tick > after else tick + dt.timedelta(days=1)

        ticks = []
        tick = next_tick(last)
        while tick <= now:
            ticks.append(tick)
            tick = next_tick(tick)
        if recurring.get("no_catchup"):
            ticks = ticks[-1:]
        created = []
        for tick in ticks:
            fields = {
                "display_name": f"{recurring['display_name']}-{tick:%Y%m%d%H%M%S}",
                "recurring_run_id": recurring_run_id,
                "experiment_id": recurring.get("experiment_id"),
                "pipeline_version_reference": recurring.get("pipeline_version_reference"),
                "runtime_config": recurring.get("runtime_config"),
                "service_account": recurring.get("service_account"),
            }
            created.append(self._new_run(fields, _rfc3339(now), _rfc3339(tick)))
        if ticks:
            self._last_ticks[recurring_run_id] = ticks[-1]
        return created

    def _retry_run(self, request: Request, run_id: str) -> dict:
        # KFP 2.17.0: server/run_server.go RetryRun (wraps "Failed to retry a run"; no
        # authorization check outside multi-user mode) and resource/resource_manager.go
        # RetryRun: an unknown id fails in GetRun (storage/run_store.go GetRun:
        # NewResourceNotFoundError, NotFound); a Workflow not Failed or Error is refused by
        # common/util/workflow.go GenerateRetryExecution (NewBadRequestError, Aborted). A run
        # is FAILED exactly when its Workflow is Failed or Error (model/run.go ToV2), so here
        # every other state is refused. The messages are the server's wrapped error chains
        # (util.Wrap/Wrapf prefix pkg/errors style; UserError.GRPCStatus sends the chain).
        # Accepted, the run's Workflow is Running again: the run RUNNING, finished_at back at
        # time.Unix(0, 0), the new state appended to state_history (storage/run_store.go
        # UpdateRun), and an empty answer.
        unknown = set(request.query) - {"experiment_id"}  # RetryRunRequest's (deprecated)
        if unknown or request.body:
            raise Refused(400, f":retry takes no body, no query but experiment_id: {unknown}")
        if run_id not in self.runs:
            raise Refused(
                404,
                f"Failed to retry a run: Failed to retry run {run_id} due to error fetching the "
                f"run: Failed to fetch run {run_id}: ResourceNotFoundError: Run {run_id} not found",
                code=5,
            )
        run = self.runs[run_id]
        if self._last_state.get(run_id, run.get("state")) != "FAILED":
            raise Refused(
                409,
                f"Failed to retry a run: Failed to retry run {run_id}: BadRequestError: Workflow "
                "must be Failed/Error to retry: workflow cannot be retried",
                code=10,
            )
        run["state"] = "RUNNING"
        run["finished_at"] = EPOCH
        run["state_history"] = [
            *run.get("state_history", []),
            {"update_time": NOW, "state": "RUNNING"},
        ]
        self._gets.pop(run_id, None)
        self._last_state.pop(run_id, None)
        self._count_active()
        return {}

    def _get_run(self, run_id: str) -> dict:
        if run_id not in self.runs:
            raise Refused(404, f"run {run_id} not found", code=5)
        n = self._gets.get(run_id, 0)
        self._gets[run_id] = n + 1
        script = self._scripts.get(run_id, self.run_script)
        snapshot = script[min(n, len(script) - 1)]
        run = {**self.runs[run_id], **snapshot}
        ends = run["state"] in _ENDED and self._last_state.get(run_id) not in _ENDED
        if ends and self.on_run_end is not None:
            try:
                self.on_run_end(run)
            except Exception as exc:  # the test's hook: fail the test, still answer
                self.violations.append(f"on_run_end({run_id}) failed: {exc!r}")
        self._last_state[run_id] = run["state"]
        details = (snapshot.get("run_details") or {}).get("task_details")
        if details:
            # Every task carries its run's id (toModelTasks: the Workflow's run id label).
            run["run_details"] = {"task_details": [{"run_id": run_id, **d} for d in details]}
        return run


def daily_time(cron: str) -> str | None:
    """Return the ``HH:MM`` at which a six-field (robfig/cron) cron fires once a day, or None.

    ``@daily`` and ``@midnight`` fire at 00:00; a cron that fires at several times of day
    (``*/6`` hours, any minute) gives None.
    """
    if cron.strip() in ("@daily", "@midnight"):
        return "00:00"
    fields = cron.split()
    if len(fields) != 6 or not (fields[1].isdigit() and fields[2].isdigit()):
        return None
    return f"{int(fields[2]):02d}:{int(fields[1]):02d}"


def _rfc3339(when: dt.datetime) -> str:
    """A time as the server writes it (and the driver gives placeholders): RFC 3339, UTC."""
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _answer(answer: dict, model: str) -> dict:
    """Return an answer after checking it is one the real API could give as ``model``."""
    check_answer(answer, model, model)
    try:
        deserialize(answer, model)  # and the kfp SDK's client reads it
    except (kfp_server_api.ApiException, ValueError, TypeError) as exc:
        raise BadAnswer(f"{model}: the kfp SDK cannot read it: {exc}") from None
    return answer


def _listed(field_name: str, items: list[dict]) -> dict:
    """A List...Response: the items and their count; an empty list is left out entirely."""
    return {field_name: items, "total_size": len(items)} if items else {}


def _sorted_page(items: list[dict], query: dict[str, list[str]]) -> list[dict]:
    """Order by ``sort_by`` (``created_at desc``: the newest first) and keep one page.

    backend/src/apiserver/list/list.go: sort_by is "field" or "field desc", page_size a page.
    """
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


# -- runs' task details, as the server derives them from the run's Argo Workflow ----------
# backend/src/apiserver/server/api_converter.go at 2.17.0: toModelTasks turns every node of
# the Workflow (util/workflow.go NodeStatuses) into a task: display_name the node's display
# name, state its phase in v2 terms, create_time the Workflow's creation (for every node),
# start and end its own, child_tasks its child nodes' ids (node ids, not pod names);
# toApiPipelineTaskDetail returns no pod_name, no executor_detail and no error message.
# In the Workflow the compiler makes (backend/src/v2/compiler/argocompiler, dag.go task and
# container.go): a step is a driver pod "<task>-driver", then a DAG node "<task>" whose one
# child is its "executor" node: a pod, or, for a task with a retry policy, a Retry node above
# one pod per attempt, "executor(0)", "executor(1)"... A step in a ParallelFor has these once
# per iteration. (Argo also lists, among a node's children, the tasks that depend on it; no
# client reads them, so they are left out here.)
def node_id(name: str) -> str:
    """A node's id: the Workflow's name and a number hashed from the node's name."""
    return f"{WORKFLOW}-{zlib.crc32(name.encode())}"  # Argo uses fnv32a; any stable hash here


def _node(name: str, shown: str, state: str, when: int, children: tuple[str, ...] = ()) -> dict:
    started = dt.datetime(2026, 11, 24, 7) + dt.timedelta(minutes=when)
    ended = started + dt.timedelta(seconds=30)
    detail = {
        # storage/task_store.go: a random UUID per node, kept across reports.
        "task_id": str(uuid.uuid5(uuid.NAMESPACE_URL, name)),
        "display_name": shown,
        "create_time": NOW,
        "start_time": started.isoformat() + "Z",
        "end_time": ended.isoformat() + "Z" if state in _ENDED else ZERO_TIME,
        "state": state,
        "child_tasks": [{"pod_name": node_id(child)} for child in children],
    }
    return _wire(detail)


_ENDED = frozenset({"SUCCEEDED", "FAILED", "CANCELED", "SKIPPED"})


def task(
    name: str,
    state: str,
    when: int = 0,
    attempts: tuple[str, ...] | None = None,
    iteration: int | None = None,
) -> list[dict]:
    """One step's task details: the nodes of the step in the run's Workflow.

    Args:
        name: the step's task name in the IR.
        state: the step's state (its DAG node's).
        when: minutes after 07:00 that the step started.
        attempts: the states of the pods of a step with a retry policy, oldest first; None
            for a step without one (one pod, in ``state``).
        iteration: the ParallelFor iteration the step ran in, if any.
    """
    path = f"{WORKFLOW}.root.{'' if iteration is None else f'iteration-{iteration}.'}{name}"
    driver_state = "RUNNING" if state == "PENDING" else "SUCCEEDED"
    nodes = [
        _node(f"{path}-driver", f"{name}-driver", driver_state, when, (path,)),
        _node(path, name, state, when, (f"{path}.executor",)),
    ]
    if attempts is None:
        return [*nodes, _node(f"{path}.executor", "executor", state, when)]
    pods = tuple(f"{path}.executor({i})" for i in range(len(attempts)))
    nodes.append(_node(f"{path}.executor", "executor", state, when, pods))
    for i, attempt in enumerate(attempts):
        nodes.append(_node(f"{path}.executor({i})", f"executor({i})", attempt, when))
    return nodes


def snapshot(state: str, *tasks: list[dict]) -> dict:
    """A run as GET returns it: its state and, once its Workflow has nodes, their details.

    Beside the steps' nodes, the Workflow's own: its root node, the root DAG and the exit
    handler's DAG, each with its driver.
    """
    run: dict = {"state": state}
    if state in _ENDED:
        run["finished_at"] = NOW
    if not tasks:
        return run
    frame = "RUNNING" if state not in _ENDED else state
    nodes = [
        _node(WORKFLOW, WORKFLOW, frame, 0, (f"{WORKFLOW}.root-driver",)),
        _node(f"{WORKFLOW}.root-driver", "root-driver", "SUCCEEDED", 0, (f"{WORKFLOW}.root",)),
        _node(f"{WORKFLOW}.root", "root", frame, 0),
        _node(f"{WORKFLOW}.exit-handler-1-driver", "exit-handler-1-driver", "SUCCEEDED", 0),
        _node(f"{WORKFLOW}.exit-handler-1", "exit-handler-1", frame, 0),
    ]
    run["run_details"] = {"task_details": nodes + [n for step in tasks for n in step]}
    return run


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
            except BadAnswer as exc:  # the double's own fault: fail the test loudly
                double.violations.append(f"answer to {self.command} {url.path}: {exc}")
                status = 500
                answer = {"error": str(exc), "message": str(exc), "code": 13}
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
