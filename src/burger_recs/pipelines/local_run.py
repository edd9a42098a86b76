"""Run the compiled pipeline on this machine with kfp.local, keeping logs and artifacts.

Each run gets ``<root>/runs/<run-id>/`` with ``run.log`` (everything the steps printed),
``artifacts/`` (kfp.local's pipeline root) and copies of the report and the validation report
at the top, so that a person finds them without knowing KFP's folder layout.
"""

from __future__ import annotations

import builtins
import contextlib
import datetime as dt
import io
import json
import logging
import os
import re
import secrets
import shutil
import warnings
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TextIO
from unittest import mock

import sqlalchemy as sa
import yaml

from burger_recs import db
from burger_recs.pipelines.compile import retarget_images
from burger_recs.pipelines.run_index import refresh_index
from burger_recs.pipelines.run_records import RUN_START
from burger_recs.runs import RUN_ID_ENV, RunRecord, RunStatus, find_run

log = logging.getLogger(__name__)

RUNNERS = ("subprocess", "docker")
# Parameters the run command sets itself; --param may not override them.
RESERVED_PARAMS = ("data_uri", "run_date", "run_id")
_IR_TYPES = {"NUMBER_INTEGER": int, "NUMBER_DOUBLE": float, "BOOLEAN": bool, "STRING": str}


class RunFailed(RuntimeError):
    """The pipeline run failed; the message says which step and why."""

    def __init__(self, message: str, result: LocalRun) -> None:
        super().__init__(message)
        self.result = result


@dataclass
class LocalRun:
    """Where one local run keeps everything, and how it ended.

    Attributes:
        run_id: the run's id, also its folder name.
        folder: the run's folder.
        status: published, gated or failed; None while it runs.
        record: the run's record, as its final task wrote it (None when it wrote none).
        message: the failure's message, for failed runs.
    """

    run_id: str
    folder: Path
    status: RunStatus | None = None
    record: RunRecord | None = None
    message: str = ""
    cached: dict[str, dict] = field(default_factory=dict)
    """The tasks kfp.local's cache served, with the outputs it served (as stored)."""

    @property
    def log_file(self) -> Path:
        """The run's log."""
        return self.folder / "run.log"

    @property
    def artifacts(self) -> Path:
        """kfp.local's pipeline root for this run."""
        return self.folder / "artifacts"

    def artifact(self, task: str, output: str) -> Path | None:
        """Return the path of a task's output artifact, if it exists.

        A task that ran wrote it under this run's artifacts; a task the cache served points
        to the artifact of the earlier run that computed it.
        """
        found = sorted(self.artifacts.glob(f"*/{task}/{output}"))
        if found:
            return found[-1]
        served = self.cached.get(task, {}).get(output)
        if isinstance(served, dict) and served.get("uri"):
            path = Path(str(served["uri"]).removeprefix("file://"))
            return path if path.exists() else None
        return None

    @property
    def cached_tasks(self) -> list[str]:
        """The tasks the cache served, in the order they were served."""
        return list(self.cached)


@dataclass(frozen=True)
class RunStart:
    """How a local run was started, beside its arguments, so that it can be resumed.

    Attributes:
        pipeline: the compiled pipeline's file name.
        runner: subprocess or docker.
        registry: docker: the registry prefix of the step images, if not the compiled one.
        database: the results database, its password redacted (never stored), a SQLite
            file's path absolute.
        cache: whether the run used the cache.
    """

    pipeline: str
    runner: str
    registry: str | None
    database: str
    cache: bool = True


@dataclass(frozen=True)
class EarlierRun:
    """A local run as its folder keeps it: what :func:`earlier_run` returns."""

    run_id: str
    folder: Path
    arguments: dict[str, object]
    started: RunStart


def earlier_run(root: Path, run_id: str) -> EarlierRun:
    """Return how the local run ``run_id`` under ``root`` was started.

    Raises:
        FileNotFoundError: there is no such run folder, or it lacks its arguments (a run of
            an older version, or not started by ``burger-recs run``).
    """
    folder = root / "runs" / run_id
    arguments_file, start_file = folder / "arguments.json", folder / RUN_START
    if not folder.is_dir():
        known = sorted(p.name for p in (root / "runs").glob("*") if p.is_dir())[-3:]
        hint = f"; the latest are {', '.join(known)}" if known else ""
        raise FileNotFoundError(f"no local run {run_id} in {root / 'runs'}{hint}")
    for needed in (arguments_file, start_file):
        if not needed.is_file():
            raise FileNotFoundError(
                f"run {run_id} cannot be resumed: {needed} is missing (a run started by "
                "an older version); start the day again with burger-recs run"
            )
    arguments = json.loads(arguments_file.read_text())
    started = RunStart(**json.loads(start_file.read_text()))
    return EarlierRun(run_id, folder, arguments, started)


def new_run_id(now: dt.datetime | None = None) -> str:
    """Return a fresh, sortable run id such as ``20261124-081502-3fa1``."""
    now = now or dt.datetime.now(dt.UTC)
    return f"{now:%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"


def pipeline_parameters(pipeline_file: Path) -> dict[str, tuple[type, object]]:
    """Return the compiled pipeline's parameters: name -> (type, default or None)."""
    # The first document is the pipeline spec; a second one holds the platform (Kubernetes)
    # settings.
    spec = next(yaml.safe_load_all(pipeline_file.read_text()))
    params = spec["root"]["inputDefinitions"]["parameters"]
    return {
        name: (_IR_TYPES[p["parameterType"]], p.get("defaultValue")) for name, p in params.items()
    }


def parse_params(pairs: list[str], pipeline_file: Path) -> dict[str, object]:
    """Turn ``NAME=VALUE`` strings into typed pipeline arguments.

    Raises:
        ValueError: a pair is malformed, names no parameter, or its value has the wrong type.
    """
    known = pipeline_parameters(pipeline_file)
    settable = sorted(set(known) - set(RESERVED_PARAMS))
    result: dict[str, object] = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        name = name.strip()
        if not sep:
            raise ValueError(f"--param {pair!r}: expected NAME=VALUE")
        if name in RESERVED_PARAMS:
            raise ValueError(f"--param {name}: set it with --{name.replace('_', '-')} instead")
        if name not in known:
            raise ValueError(f"--param {name}: no such parameter; known: {', '.join(settable)}")
        kind = known[name][0]
        try:
            result[name] = _convert(text.strip(), kind)
        except ValueError:
            raise ValueError(f"--param {name}={text}: expected {kind.__name__}") from None
    return result


def _convert(text: str, kind: type) -> object:
    if kind is bool:
        lowered = text.lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise ValueError(text)
    return kind(text)


_ANSI = re.compile(r"\x1b\[[0-9;]*m")
# Console lines worth a person's attention; the run log keeps every line.
_PROGRESS = re.compile(
    r"Executing task|finished with status|Running pipeline| cache hit |"
    r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (INFO|WARNING|ERROR) "
)


class _Console(io.TextIOBase):
    """Everything to the run log; progress lines and errors to the console.

    A step's traceback stays in the run log: the console shows the exception's own line and
    where the traceback is. A step that stopped on an expected failure (broken input, a bad
    parameter) logged its message as an ERROR line, which the console shows alone.
    """

    def __init__(self, log: TextIO, console: TextIO | None, log_path: Path | None = None) -> None:
        self.log, self.console = log, console
        self.log_path = log_path
        self.pending = ""
        self.in_traceback = False

    def write(self, text: str) -> int:
        self.log.write(text)
        if self.console is not None:
            self.pending += text
            *lines, self.pending = self.pending.split("\n")
            for line in lines:
                self._line(line)
        return len(text)

    def _line(self, line: str) -> None:
        if self.console is None:
            return
        plain = _ANSI.sub("", line)
        if plain.lstrip().startswith("Traceback"):
            self.in_traceback = True
            return
        if self.in_traceback:
            if not plain.strip() or plain[:1].isspace():  # the frames and their code lines
                return
            self.in_traceback = False  # the exception's own line ends the traceback
            where = f" (traceback in {self.log_path})" if self.log_path else ""
            self.console.write(f"{line}{where}\n")
            return
        if _PROGRESS.search(line):
            self.console.write(line + "\n")

    def flush(self) -> None:
        self.log.flush()
        if self.console is not None:
            self.console.flush()


@contextlib.contextmanager
def _teed(log_file: Path, verbose: bool, quiet: bool) -> Iterator[None]:
    import sys

    with log_file.open("a") as handle:
        if verbose and not quiet:
            stream: io.TextIOBase = _Tee(handle, sys.stdout)
        else:
            stream = _Console(handle, None if quiet else sys.stdout, log_file)
        # kfp.local logs some lines (a task skipped after a failure) through the root logger
        # outside its own logging context, which makes logging add a root handler bound to
        # the stream of the moment: this run's. The handlers are put back as they were, so
        # that a later run in the same process never writes into this run's closed log.
        # Likewise builtins.print: kfp.local indents its tasks' output by swapping print
        # (kfp/local/logging_utils.py, indented_print), and tasks that run in parallel threads
        # (a ParallelFor) restore each other's swap, which can leave print indented for good.
        root_handlers, printer = logging.root.handlers[:], builtins.print
        root_level = logging.root.level
        # kfp.local logs a cache hit at INFO through the root logger but outside its own
        # logging context (kfp/local/orchestrator/task_executor.py at 2.17.0), where the root
        # logger's level drops it: this handler takes those lines into the run, in the format
        # of kfp.local's own lines.
        served = logging.StreamHandler(stream)
        served.setFormatter(_KfpFormatter("%(asctime)s - %(levelname)s - %(message)s"))
        served.addFilter(lambda record: f"kfp{os.sep}local" in record.pathname)
        logging.root.addHandler(served)
        logging.root.setLevel(min(root_level or logging.WARNING, logging.INFO))
        try:
            with contextlib.redirect_stdout(stream), contextlib.redirect_stderr(stream):
                yield
        finally:
            logging.root.handlers[:] = root_handlers
            logging.root.setLevel(root_level)
            builtins.print = printer
        stream.flush()


class _KfpFormatter(logging.Formatter):
    """kfp.local's time format, ``HH:MM:SS.mmm`` (kfp/local/logging_utils.py)."""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return dt.datetime.fromtimestamp(record.created).strftime("%H:%M:%S.%f")[:-3]


class _Tee(io.TextIOBase):
    """A text stream that writes to several streams."""

    def __init__(self, *streams: TextIO) -> None:
        self.streams = streams

    def write(self, text: str) -> int:
        for stream in self.streams:
            stream.write(text)
        return len(text)

    def flush(self) -> None:
        for stream in self.streams:
            stream.flush()


# Environment variables handed on to step containers when set here.
PASSED_ENV = (
    "STORAGE_EMULATOR_HOST",
    "BURGER_RECS_DB_RETRY_SECONDS",
    "GOOGLE_CLOUD_PROJECT",
    # Set on some machines because older OpenBLAS builds misbehave on their processors.
    "OPENBLAS_CORETYPE",
    "OPENBLAS_L2_SIZE",
    "BURGER_RECS_DB_SCHEMA",
    # The final task's alert webhook (a secret URL) and the UI address for its links.
    "ALERT_WEBHOOK_URL",
    "KUBEFLOW_UI_URL",
)


def docker_options(data_uri: str, database_url: str) -> dict:
    """Return DockerRunner options that let step containers see what the host run sees.

    Containers run as the invoking user (kfp.local bind-mounts the pipeline root at the same
    path, owned by that user), on the host network (so a database or GCS emulator on
    localhost is reachable), with a read-only root filesystem and a tmpfs /tmp as in a pod,
    the data folder mounted read-only and a SQLite database's folder read-write, both at the
    same paths as on the host.
    """
    from docker.types import Mount

    mounts = []
    if not data_uri.startswith("gs://"):
        mounts.append(Mount(data_uri, data_uri, type="bind", read_only=True))
    url = sa.make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database:
        folder = str(Path(url.database).resolve().parent)
        Path(folder).mkdir(parents=True, exist_ok=True)
        mounts.append(Mount(folder, folder, type="bind"))
    environment = {db.DATABASE_URL_ENV: database_url}
    environment |= {name: os.environ[name] for name in PASSED_ENV if name in os.environ}
    return {
        "user": f"{os.getuid()}:{os.getgid()}",
        "environment": environment,
        "mounts": mounts,
        "network_mode": "host",
        "read_only": True,
        "tmpfs": {"/tmp": "rw,nosuid,nodev,size=512m"},  # noqa: S108 - the container's own
    }


def run_pipeline(
    pipeline_file: Path,
    arguments: dict[str, object],
    database_url: str,
    root: Path,
    runner: str = "subprocess",
    run_id: str | None = None,
    quiet: bool = False,
    verbose: bool = False,
    runner_options: dict | None = None,
    registry: str | None = None,
    cache: bool = True,
) -> LocalRun:
    """Run the compiled pipeline with kfp.local and return where its results are.

    With ``cache``, kfp.local serves a task from ``<root>/cache`` when an earlier run ran
    the same component in the same image with the same arguments (input artifacts by URI and
    metadata; kfp/local/cache.py at 2.17.0): the content tags of the images pin the code, the
    parameters are arguments, ingest's include the drops' fingerprint, and a served task
    hands the earlier run's artifacts on, so that the next task hits in turn. The publishing
    steps and the final task never come from the cache (components/cluster.py). A compiled
    pipeline that pins older code than this checkout turns the cache off for the run.

    Args:
        pipeline_file: the compiled pipeline (KFP IR YAML).
        arguments: the pipeline arguments (``data_uri`` at least); ``run_id`` is added.
        database_url: the results database; handed to the steps as ``DATABASE_URL``.
        root: the local folder that holds ``runs/``.
        runner: ``subprocess`` (this Python environment) or ``docker`` (the step images).
        run_id: the run's id (default: a fresh one).
        quiet: write step output to the run log only, not to the console.
        verbose: show every line the steps print (default: progress lines and errors).
        runner_options: extra options for the runner (docker: ``containers.run`` options).
        registry: run the step images from this registry prefix instead of the compiled one.
        cache: serve unchanged steps from kfp.local's cache (``<root>/cache``).

    Raises:
        RunFailed: a step failed; the run is recorded as ``failed`` in the database.
        burger_recs.db.SchemaUnavailable: the database's tables cannot be migrated.
    """
    import kfp.local
    from kfp import components

    from burger_recs.migrations import migrate

    if runner not in RUNNERS:
        raise ValueError(f"runner must be one of {', '.join(RUNNERS)}, got {runner!r}")
    # The schema is the migrations', applied here, once, by the runner: no step alters a
    # table (on a cluster the deploy's burger-recs-migrate Job does this).
    database_url = db.absolute(database_url)  # the run's folder names the same file anywhere
    engine = db.make_engine(database_url)
    migrate(engine)
    engine.dispose()
    result = LocalRun(run_id or new_run_id(), root / "runs" / (run_id or ""))
    result.folder = root / "runs" / result.run_id
    result.artifacts.mkdir(parents=True, exist_ok=True)
    os.environ[db.DATABASE_URL_ENV] = database_url
    # Every step's run id, as a cluster hands it to each pod (burger_recs.runs.RUN_ID_ENV):
    # kfp.local keys its cache on the IR's own container env only, not on the process's
    # (SubprocessRunner) nor the DockerRunner's ``environment`` (kfp/local/orchestrator/
    # task_executor.py, kfp 2.17.0), so the cache serves a step whatever run it is for.
    # Set for this run only (below), so that nothing after it sees a finished run's id.
    run_env = {RUN_ID_ENV: result.run_id}
    if runner == "subprocess":
        local_runner = kfp.local.SubprocessRunner(use_venv=False)
    else:
        options = docker_options(str(arguments["data_uri"]), database_url)
        options["environment"] |= run_env
        local_runner = kfp.local.DockerRunner(**(options | (runner_options or {})))
    ir_text = pipeline_file.read_text()
    if cache and (stale := stale_images(ir_text)):
        log.warning(
            "%s pins older code than this checkout (%s): the cache is off for this run; "
            "`burger-recs compile` (which make run does first) brings it up to date",
            pipeline_file.name,
            ", ".join(stale),
        )
        cache = False
    kfp.local.init(
        runner=local_runner,
        pipeline_root=str(result.artifacts.resolve()),
        raise_on_error=True,
        enable_caching=cache,
        cache_root=str(cache_folder(root).resolve()),
    )
    if registry:
        ir_text = retarget_images(ir_text, registry)
    run_file = result.folder / pipeline_file.name
    run_file.write_text(with_local_times(ir_text, dt.datetime.now(dt.UTC)))
    pipeline = components.load_component_from_file(str(run_file))
    arguments = {**arguments, "run_id": result.run_id}
    (result.folder / "arguments.json").write_text(json.dumps(arguments, indent=2, default=str))
    how = RunStart(pipeline_file.name, runner, registry, db.redact(database_url), cache)
    (result.folder / RUN_START).write_text(json.dumps(asdict(how), indent=2))
    try:
        with (
            _teed(result.log_file, verbose, quiet),
            warnings.catch_warnings(),
            mock.patch.dict(os.environ, run_env),
        ):
            # Step images are not named "python"; kfp.local's warning about it is noise here.
            warnings.filterwarnings("ignore", message=".*non-Python base image.*")
            # So is its warning that the cluster settings (CPU/memory requests) do nothing here.
            warnings.filterwarnings("ignore", message=".*no effect in the current local runner.*")
            pipeline(**arguments)
    except Exception as exc:
        # The pipeline's final task recorded the run (failed, naming the step): show it.
        _served(result, cache_folder(root))
        _collect(result)
        _read_record(result, database_url)
        result.status = RunStatus.FAILED
        recorded = (result.record and result.record.message) or "no run record was written"
        result.message = f"{_ANSI.sub('', str(exc))}\n{recorded}"
        refresh_index(root, database_url)  # .local/runs/index.html; never fails the run
        raise RunFailed(result.message, result) from exc
    _served(result, cache_folder(root))
    _collect(result)
    _read_record(result, database_url)
    refresh_index(root, database_url)
    return result


# KFP's time placeholders. kfp 2.17.0's local runner cannot resolve them: it takes every
# {{$...}} it does not know for an input or output path and fails
# (kfp/local/placeholder_utils.py, resolve_io_placeholders). On a cluster the driver resolves
# them (backend/src/v2/driver/resolve.go at 2.17.0); for a run that is not scheduled both are
# the run's create time (backend/src/v2/cmd/driver/main.go, resolvePipelineJobTimes).
TIME_PLACEHOLDERS = ("{{$.pipeline_job_create_time_utc}}", "{{$.pipeline_job_schedule_time_utc}}")


def with_local_times(ir_text: str, started: dt.datetime) -> str:
    """Return the IR with KFP's time placeholders set as a cluster sets them for a manual run.

    That is the run's start (its create time), ISO-8601 in UTC, for both the create time and
    the schedule time.
    """
    when = started.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    for placeholder in TIME_PLACEHOLDERS:
        ir_text = ir_text.replace(placeholder, when)
    return ir_text


def cache_folder(root: Path) -> Path:
    """Return where kfp.local keeps the cache entries of the local runs under ``root``."""
    return root / "cache"


def stale_images(ir_text: str) -> list[str]:
    """Return the steps whose image in the compiled IR is not the current code's.

    The content tag of a step's image is the hash of the code it runs
    (components/images.py); an IR compiled before an edit still names the old tag, and its
    cache entries would serve the old code's results. Empty when the repository's
    ``components`` package is not there to say (an installed package runs its own IR).
    """
    try:
        from burger_recs.components.images import STEPS, content_tag
    except ImportError:
        return []
    named = set(re.findall(r"/burger-recs-([\w-]+):(\w+)", ir_text))
    return sorted({step for step, tag in named if step in STEPS and tag != content_tag(step)})


# kfp.local logs a task its cache served as "Task <name> cache hit (key=<12 hex>); skipping
# execution." (kfp/local/orchestrator/task_executor.py at 2.17.0) and keeps the served
# outputs in <cache_root>/<key>.json (kfp/local/cache.py).
_CACHE_HIT = re.compile(r"Task '?([\w.-]+)'? cache hit \(key=([0-9a-f]+)\)")


def _served(result: LocalRun, cache_root: Path) -> None:
    """Take the tasks the cache served, and the outputs it served, from the run's log."""
    if not result.log_file.exists():
        return
    for task, key in _CACHE_HIT.findall(_ANSI.sub("", result.log_file.read_text())):
        outputs: dict = {}
        for entry in sorted(cache_root.glob(f"{key}*.json"))[:1]:
            with contextlib.suppress(OSError, ValueError):
                outputs = json.loads(entry.read_text())
        result.cached[task] = outputs


def _read_record(result: LocalRun, database_url: str) -> None:
    """Take the run's record, as the pipeline's final task wrote it, into ``result``."""
    found = None
    with contextlib.suppress(Exception):  # an unreachable database: the run said so itself
        found = find_run(db.make_engine(database_url), result.run_id)
    if found is not None:
        result.record = found
        result.status = found.status


def _collect(result: LocalRun) -> None:
    """Copy the reports to the top of the run folder under readable names."""
    for task, output, name in (
        ("evaluate", "report", "report.html"),
        ("validate", "report", "validation.md"),
        ("publish", "trends", "trends.html"),
        ("commit", "trends", "trends.html"),
    ):
        path = result.artifact(task, output)
        if path is not None and path.is_file():
            shutil.copyfile(path, result.folder / name)
