"""The one client of the Kubeflow Pipelines v2beta1 API: the kfp SDK's ``kfp.Client``.

``burger-recs submit``, the production schedule's reconciler (and any later cluster command)
talk to KFP only through ``KfpApi``. Each call is the SDK's own method where it has one;
where a method cannot set a field this project needs, the SDK's generated service call that
the method wraps (``kfp.Client.runs``, ``.pipelines``, ``.pipeline_uploads``, the
``kfp_server_api`` models), with the reason beside it. No request is hand-written.

Written against the SDK installed here, kfp 2.17.0:
``.venv/lib/python3.11/site-packages/kfp/client/client.py``. What each call sends, from there:

- ``kfp.Client(host=...)``: with a host, no kube config is read (``_load_config`` returns
  before it); it reads ``~/.config/kfp/context.json`` if present, then asks
  ``GET /apis/v2beta1/healthz`` whether KFP is multi-user (unless that file names a
  namespace). So the client is made on the first call, never by ``KfpApi()`` itself.
- ``get_pipeline_id``: ``GET /pipelines?filter=<display_name EQUALS>``;
  ``list_pipeline_versions``: ``GET /pipelines/{id}/versions`` (page_size 10 and empty
  page_token and sort_by unless given); ``get_experiment(experiment_name=)``:
  ``GET /experiments?filter=...``; ``create_experiment``: that lookup, then
  ``POST /experiments``; ``get_run``: ``GET /runs/{id}``; ``list_recurring_runs``:
  ``GET /recurringruns``; ``create_recurring_run``: ``POST /recurringruns``;
  ``enable_/disable_recurring_run``: ``POST /recurringruns/{id}:enable|:disable``;
  ``delete_recurring_run``: ``DELETE /recurringruns/{id}``.
- kfp.Client has no ``retry_run`` (its terminate, archive and delete methods wrap the
  generated ``RunServiceApi``, this one it does not): ``retry_run`` here calls the generated
  ``run_service_retry_run`` (kfp_server_api/api/run_service_api.py), ``POST
  /runs/{id}:retry``, no body, answered with an empty object.
- Some methods print a link to stdout (``Experiment details: ...``); the commands print
  their own, so that output is dropped.
- No method takes a request timeout, so none is set: a request to a KFP that accepts the
  connection and never answers waits (the reconciler Job's activeDeadlineSeconds bounds it;
  ``submit`` is interrupted by hand).

Answers are returned as the API's JSON (field names as on the wire, times as ISO strings),
which is what the reconciler compares and what the tests' double stores.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    import kfp

T = TypeVar("T")
# Filter predicates as kfp.Client sends them: Predicate.Operation EQUALS is 1
# (kfp/client/client.py, _FILTER_OPERATIONS).
_EQUALS = 1
# Recurring runs asked for per page (KFP caps a page at 200).
_PAGE = 100


class KfpError(RuntimeError):
    """The KFP API refused a request or could not be reached."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def name_filter(name: str) -> str:
    """Return the list filter for a display name, byte for byte as kfp.Client builds it."""
    predicate = {"operation": _EQUALS, "key": "display_name", "stringValue": name}
    return json.dumps({"predicates": [predicate]})


def version_name(pipeline_name: str, pipeline_spec: dict, platform_spec: dict | None) -> str:
    """Return a pipeline version's name: its pipeline's name and a hash of its content.

    The one naming rule of ``burger-recs submit`` and the production rendering: the same
    pipeline and platform spec give the same name, any change (code, images, parameters)
    another one.

    Args:
        pipeline_name: the pipeline's name.
        pipeline_spec: the IR's pipeline spec.
        platform_spec: its platform spec (Secrets, retries, pull policy), or None.
    """
    content = {"pipelineSpec": pipeline_spec, "platformSpec": platform_spec}
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"))
    return f"{pipeline_name}-{hashlib.sha256(canonical.encode()).hexdigest()[:12]}"


class KfpApi:
    """The calls of the KFP API that this project makes, through one ``kfp.Client``."""

    def __init__(self, host: str) -> None:
        self.host = host.rstrip("/")
        self._client: kfp.Client | None = None
        self._serializer: Any = None

    # -- plumbing ------------------------------------------------------------------------
    def _connect(self) -> kfp.Client:
        import kfp
        import kfp_server_api

        with warnings.catch_warnings():
            # "This client only works with Kubeflow Pipeline v2.0.0-beta.2 and later": it does.
            warnings.simplefilter("ignore", FutureWarning)
            client = kfp.Client(host=self.host)
        self._serializer = kfp_server_api.ApiClient()
        return client

    def _call(self, what: str, call: Callable[[kfp.Client], T]) -> T:
        """Run one SDK call; turn its failures into a KfpError that says what failed."""
        import kfp_server_api
        import urllib3

        try:
            with contextlib.redirect_stdout(io.StringIO()):
                if self._client is None:
                    self._client = self._connect()
                return call(self._client)
        except kfp_server_api.ApiException as exc:
            if not exc.status:  # the generated client's TLS failures
                raise KfpError(f"cannot reach the KFP API at {self.host}: {exc.reason}") from None
            raise KfpError(f"{what}: HTTP {exc.status}: {_detail(exc)}", exc.status) from None
        except (urllib3.exceptions.HTTPError, TimeoutError) as exc:
            raise KfpError(f"cannot reach the KFP API at {self.host}: {exc}") from None
        except ValueError as exc:  # the SDK's own checks, e.g. two pipelines of one name
            raise KfpError(f"{what}: {exc}") from None

    def _json(self, model: object) -> dict:
        """Return an SDK model as the API's JSON (wire field names, ISO times)."""
        return self._serializer.sanitize_for_serialization(model) or {}

    # -- the server ----------------------------------------------------------------------
    def server_info(self) -> dict:
        """Return what KFP says of itself: ``tag_name``, ``commit_sha``, ``pipeline_store``...

        KFP 2.17.0 answers /apis/v2beta1/healthz with its release tag (the image's TAG_NAME,
        set when upstream builds a release), commit, multi-user mode and pipeline store
        (backend/src/apiserver/main.go, newHealthzResponse); the generated model keeps only
        the last two, so the answer is read as it came.
        """

        def get(client: kfp.Client) -> dict:
            answer = client._healthz_api.healthz_service_get_healthz(_preload_content=False)
            return dict(json.loads(answer.data or b"{}"))

        return self._call("get KFP's healthz", get)

    # -- pipelines and versions ----------------------------------------------------------
    def find_pipeline_id(self, name: str) -> str | None:
        """Return the id of the pipeline whose display name is ``name``, or None."""
        return self._call(f"find pipeline {name}", lambda c: c.get_pipeline_id(name))

    def create_pipeline(self, name: str, description: str) -> str:
        """Create a pipeline without versions; return its id."""
        import kfp_server_api

        # kfp.Client has no call for this: its upload_pipeline also uploads a first version,
        # named after the pipeline, where every version here is named by its content.
        body = kfp_server_api.V2beta1Pipeline(name=name, display_name=name, description=description)
        created = self._call(
            f"create pipeline {name}",
            lambda c: c.pipelines.pipeline_service_create_pipeline(pipeline=body),
        )
        return created.pipeline_id

    def find_version(self, pipeline_id: str, name: str) -> dict | None:
        """Return the pipeline's version whose display name is ``name``, or None."""
        found = self._call(
            f"find pipeline version {name}",
            lambda c: c.list_pipeline_versions(pipeline_id, filter=name_filter(name)),
        )
        return self._json(found.pipeline_versions[0]) if found.pipeline_versions else None

    def latest_version(self, pipeline_id: str) -> dict | None:
        """Return the pipeline's most recently created version, or None."""
        found = self._call(
            f"list the versions of pipeline {pipeline_id}",
            lambda c: c.list_pipeline_versions(pipeline_id, page_size=1, sort_by="created_at desc"),
        )
        return self._json(found.pipeline_versions[0]) if found.pipeline_versions else None

    def upload_version(
        self, pipeline_id: str, name: str, package: str, description: str, tags: dict[str, str]
    ) -> dict:
        """Upload a compiled pipeline (IR YAML) as a new version of the pipeline."""
        with tempfile.TemporaryDirectory() as folder:
            # The server tells the package's format by the file name's extension.
            path = Path(folder) / f"{name}.yaml"
            path.write_text(package)
            # kfp.Client.upload_pipeline_version sends neither tags (the code version that
            # first uploaded it) nor display_name; the generated upload call it wraps does.
            uploaded = self._call(
                f"upload pipeline version {name}",
                lambda c: c.pipeline_uploads.upload_pipeline_version(
                    str(path),
                    name=name,
                    display_name=name,
                    pipelineid=pipeline_id,
                    description=description,
                    tags=json.dumps(tags, sort_keys=True),
                ),
            )
        return self._json(uploaded)

    # -- experiments and runs ------------------------------------------------------------
    def find_experiment(self, name: str) -> dict | None:
        """Return the experiment whose display name is ``name``, or None."""
        import kfp_server_api

        def find(client: kfp.Client) -> kfp_server_api.V2beta1Experiment | None:
            try:
                return client.get_experiment(experiment_name=name)
            except ValueError as exc:
                if str(exc).startswith("No experiment is found"):
                    return None
                raise

        found = self._call(f"find experiment {name}", find)
        return self._json(found) if found else None

    def create_experiment(self, name: str, description: str) -> dict:
        """Create an experiment (the SDK returns an existing one of the same name)."""
        created = self._call(
            f"create experiment {name}",
            lambda c: c.create_experiment(name, description=description),
        )
        return self._json(created)

    def create_run(
        self,
        name: str,
        description: str,
        experiment_id: str | None,
        version: dict,
        parameters: dict[str, object],
        service_account: str | None = None,
    ) -> dict:
        """Start a run of a pipeline version; return the created run.

        Args:
            name: the run's display name.
            description: its description (v2beta1 runs have no labels: this carries them).
            experiment_id: the experiment it belongs to (None: KFP's default one).
            version: the version to run: its ``pipeline_id`` and ``pipeline_version_id``.
            parameters: the pipeline's parameters.
            service_account: what its pods run as (None: KFP's default, pipeline-runner).
        """
        import kfp_server_api

        # kfp.Client.run_pipeline cannot set a run's description; the generated create call
        # it wraps takes the whole V2beta1Run.
        run = kfp_server_api.V2beta1Run(
            display_name=name,
            description=description,
            experiment_id=experiment_id,
            pipeline_version_reference=kfp_server_api.V2beta1PipelineVersionReference(
                pipeline_id=version["pipeline_id"],
                pipeline_version_id=version["pipeline_version_id"],
            ),
            runtime_config=kfp_server_api.V2beta1RuntimeConfig(parameters=parameters),
            service_account=service_account,
        )
        created = self._call(f"start run {name}", lambda c: c.runs.run_service_create_run(run))
        return self._json(created)

    def get_run(self, run_id: str) -> dict:
        """Return a run with its state and its tasks' details."""
        return self._json(self._call(f"get run {run_id}", lambda c: c.get_run(run_id)))

    def retry_run(self, run_id: str) -> None:
        """Ask KFP to run a failed run again: its failed steps, keeping those that succeeded.

        What KFP 2.17.0 does (kubeflow/pipelines at 2.17.0): backend/src/apiserver/server/
        run_server.go RetryRun answers an empty message once resource/resource_manager.go
        RetryRun has put the run's Argo Workflow back to Running (its failed pods deleted,
        its succeeded nodes kept: common/util/workflow.go GenerateRetryExecution) and set the
        run RUNNING, its finished_at cleared. It refuses an unknown run id (NotFound, HTTP 404,
        "... Run <id> not found") and a run whose Workflow is not Failed or Error, e.g. one that
        succeeded or is still running (Aborted, HTTP 409, "... Workflow must be Failed/Error
        to retry ..."); the server's message says which.

        Raises:
            KfpError: the API refused (``status`` 404, 409...) or could not be reached.
        """
        # kfp.Client 2.17.0 has no retry_run method: the generated call
        # (kfp_server_api/api/run_service_api.py, run_service_retry_run), as its
        # terminate_run wraps run_service_terminate_run.
        self._call(f"retry run {run_id}", lambda c: c.runs.run_service_retry_run(run_id))

    # -- recurring runs ------------------------------------------------------------------
    def find_recurring_runs(self, name: str) -> list[dict]:
        """Return every recurring run whose display name is ``name``, in any experiment."""
        runs: list[dict] = []
        token = ""

        def page(client: kfp.Client) -> Any:
            return client.list_recurring_runs(
                page_token=token, page_size=_PAGE, filter=name_filter(name)
            )

        while True:
            found = self._call(f"list recurring runs {name}", page)
            runs += [self._json(run) for run in found.recurring_runs or []]
            token = found.next_page_token
            if not token:
                return runs

    def create_recurring_run(self, body: dict) -> dict:
        """Create a recurring run from a ``V2beta1RecurringRun`` in the API's JSON.

        The body is what the reconciler compares with KFP's: a cron trigger, a pipeline
        version reference, parameters, concurrency, catch-up, mode, experiment, service account.

        Raises:
            KfpError: the API refused it (a body kfp.Client cannot send is refused here).
        """
        cron = ((body.get("trigger") or {}).get("cron_schedule") or {}).get("cron")
        reference = body.get("pipeline_version_reference") or {}
        mode = body.get("mode", "ENABLE")
        unknown = sorted(set(body) - _RECURRING_RUN_FIELDS)
        if not cron or not reference or mode not in ("ENABLE", "DISABLE") or unknown:
            raise KfpError(
                "a recurring run here needs a cron trigger, a pipeline version reference and "
                f"mode ENABLE or DISABLE, and no other field than {sorted(_RECURRING_RUN_FIELDS)}"
                f" (got mode {mode!r}{', and ' + ', '.join(unknown) if unknown else ''})"
            )
        created = self._call(
            f"create recurring run {body.get('display_name')}",
            lambda c: c.create_recurring_run(
                body.get("experiment_id"),
                body.get("display_name"),
                description=body.get("description"),
                cron_expression=cron,
                max_concurrency=int(body.get("max_concurrency") or 1),
                no_catchup=body.get("no_catchup"),
                params=(body.get("runtime_config") or {}).get("parameters") or {},
                pipeline_id=reference.get("pipeline_id"),
                version_id=reference.get("pipeline_version_id"),
                enabled=mode == "ENABLE",
                service_account=body.get("service_account"),
            ),
        )
        return self._json(created)

    def delete_recurring_run(self, recurring_run_id: str) -> None:
        """Delete a recurring run; its past runs stay."""
        self._call(
            f"delete recurring run {recurring_run_id}",
            lambda c: c.delete_recurring_run(recurring_run_id),
        )

    def set_recurring_run_enabled(self, recurring_run_id: str, enabled: bool) -> None:
        """Enable or disable a recurring run in place."""
        verb = "enable" if enabled else "disable"
        self._call(
            f"{verb} recurring run {recurring_run_id}",
            lambda c: getattr(c, f"{verb}_recurring_run")(recurring_run_id),
        )


# The fields of a V2beta1RecurringRun that create_recurring_run passes on to
# kfp.Client.create_recurring_run, which has a parameter for each: any other is refused
# rather than dropped.
_RECURRING_RUN_FIELDS = frozenset(
    {
        "display_name",
        "description",
        "experiment_id",
        "pipeline_version_reference",
        "runtime_config",
        "service_account",
        "trigger",
        "max_concurrency",
        "no_catchup",
        "mode",
    }
)


def _detail(exc: Any) -> str:
    """Return the message of a refused request: the API's error message, or its body."""
    body = exc.body.decode(errors="replace") if isinstance(exc.body, bytes) else exc.body
    try:
        answer = json.loads(body or "")
        message = answer.get("message") or answer.get("error_message") or answer.get("error")
    except (ValueError, AttributeError):
        message = None
    return str(message or body or exc.reason)[:500]
