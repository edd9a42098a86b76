"""The production schedule, declared in git: one recurring run in Kubeflow Pipelines.

KFP has no custom resource for recurring runs, so the daily schedule lives in a versioned
file (``manifests/overlays/prod/schedule.yaml``) and this reconciler makes KFP match it. It
finds the pipeline version the production rendering declares (the newest version when none is
named), then creates, replaces or leaves alone the one recurring run whose display name the
file gives. It owns every recurring run of that name: duplicates are deleted. Running it twice
changes nothing: when KFP already matches, it makes no write at all.

The KFP v2beta1 API has no update call for recurring runs, so a changed schedule or version is
a new recurring run, created before the old one is deleted (the schedule never disappears; the
two overlap for a moment, and publishing a day twice only replaces it). Enabling or disabling
alone is done in place.

It is the command ``burger-recs reconcile-schedule``, defined here (``command``) so that the
step base image can run it without the CLI module, which is in no image: the Argo CD PostSync
hook Job of the production overlay runs this very command, with the same options, defaults
and environment, as ``python -m burger_recs.deploy.schedule``.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import typer
import yaml

from burger_recs.deploy import DEV_HOST, HOST_ENV, RUNNER, TIMEZONE_ENV, VERSION_ENV
from burger_recs.deploy.kfp_api import KfpApi, KfpError
from burger_recs.kfp_words import VERIFIED_KFP

Echo = Callable[[str], None]
# robfig/cron v1 (KFP's parser) descriptors; anything else must have six fields.
CRON_DESCRIPTORS = frozenset(
    {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}
)
_CRON_FIELD = re.compile(r"^[0-9A-Za-z*?/,\-]+$")
_TIMEZONE = re.compile(r"^[A-Za-z0-9_+\-]+(/[A-Za-z0-9_+\-]+)*$")
# Zone names that are UTC itself (day_closes_at is a UTC time).
_UTC = frozenset({"UTC", "Etc/UTC", "Etc/UCT", "UCT", "Etc/GMT", "GMT", "Zulu", "Etc/Zulu"})
# A KFP run-time macro, such as [[ScheduledTime.2006-01-02]] or [[RunUUID]].
_MACRO = re.compile(r"\[\[.*?\]\]")
_TIME_OF_DAY = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
# Set (to 1, true...) to let the reconciler go on against an unverified KFP release.
ALLOW_KFP_ENV = "BURGER_RECS_ALLOW_KFP_VERSION"
# The pipeline parameters that decide which day a run processes (burger_recs.settings).
RUN_DATE, DAY_CLOSES_AT = "run_date", "day_closes_at"


class ScheduleError(RuntimeError):
    """The schedule file is invalid, or KFP cannot be brought to match it."""


@dataclass(frozen=True)
class Schedule:
    """The recurring run the schedule file declares.

    Attributes:
        name: display name of the recurring run; the reconciler owns every one of this name.
        pipeline: the pipeline (its display name) whose version runs.
        experiment: the experiment the recurring run and its runs belong to.
        cron: KFP cron expression: six fields, seconds first (``0 30 23 * * *``).
        timezone: the timezone ``cron`` is meant in; KFP's scheduler must use the same one.
        parameters: the pipeline's parameters for every run.
        max_concurrency: how many of its runs may run at once (KFP: 1 to 10).
        catchup: whether runs missed while the schedule was paused are started afterwards.
        enabled: whether the schedule starts runs.
    """

    name: str
    pipeline: str
    experiment: str
    cron: str
    timezone: str
    parameters: dict[str, object] = field(default_factory=dict)
    max_concurrency: int = 1
    catchup: bool = False
    enabled: bool = True


_REQUIRED = {"name": str, "pipeline": str, "experiment": str, "cron": str, "timezone": str}
_OPTIONAL = {"parameters": dict, "max_concurrency": int, "catchup": bool, "enabled": bool}


def parse_schedule(text: str, where: str = "schedule") -> Schedule:
    """Return the schedule a schedule file declares.

    Raises:
        ScheduleError: a key is missing, unknown or of the wrong type, or a value is invalid.
    """
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ScheduleError(f"{where}: not YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ScheduleError(f"{where}: expected a mapping of settings")
    unknown = sorted(set(data) - set(_REQUIRED) - set(_OPTIONAL))
    if unknown:
        raise ScheduleError(f"{where}: unknown setting(s) {', '.join(unknown)}")
    for key, kind in {**_REQUIRED, **_OPTIONAL}.items():
        if key not in data:
            if key in _REQUIRED:
                raise ScheduleError(f"{where}: missing setting {key}")
            continue
        value = data[key]
        # bool is an int in Python: max_concurrency: true is no number.
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise ScheduleError(f"{where}: {key} must be a {kind.__name__}, got {value!r}")
        if isinstance(value, str) and not value.strip():
            raise ScheduleError(f"{where}: {key} is empty")
    schedule = Schedule(**data)
    check_cron(schedule.cron, where)
    if not _TIMEZONE.match(schedule.timezone):
        raise ScheduleError(f"{where}: timezone {schedule.timezone!r} is no IANA zone name")
    if not 1 <= schedule.max_concurrency <= 10:
        raise ScheduleError(f"{where}: max_concurrency must be 1 to 10 (KFP's limits)")
    for name, value in schedule.parameters.items():
        if not isinstance(name, str) or not isinstance(value, str | int | float | bool):
            raise ScheduleError(
                f"{where}: parameter {name!r} must be a string, number or boolean, got {value!r}"
            )
    check_run_day(schedule, where)
    return schedule


def load_schedule(path: Path) -> Schedule:
    """Read and check a schedule file."""
    return parse_schedule(path.read_text(), str(path))


def check_cron(cron: str, where: str = "schedule") -> None:
    """Refuse what KFP's cron parser would read differently from a crontab line.

    KFP parses with robfig/cron v1: six fields, the first being seconds. It also takes five
    fields, as seconds to months, so a crontab line such as ``30 23 * * *`` would run every
    hour at minute 23; five fields are refused here for that reason.
    """
    if cron.strip() in CRON_DESCRIPTORS:
        return
    fields = cron.split()
    if len(fields) != 6:
        hint = (
            " (a five-field crontab line? KFP wants seconds first: "
            f"'0 {cron.strip()}' runs at the same times)"
            if len(fields) == 5
            else ""
        )
        raise ScheduleError(
            f"{where}: cron {cron!r} must have six fields: second minute hour day-of-month "
            f"month day-of-week{hint}"
        )
    bad = [f for f in fields if not _CRON_FIELD.match(f)]
    if bad:
        raise ScheduleError(f"{where}: cron {cron!r} has invalid fields {bad}")


def check_run_day(schedule: Schedule, where: str = "schedule", default: str | None = None) -> None:
    """Refuse a schedule whose runs would not each process a day of their own.

    A scheduled run has no run_date: the pipeline processes the last day closed (at
    ``day_closes_at``) by the run's schedule time (burger_recs.settings.resolve_run_date). At
    KFP 2.17 a recurring run pinned to a pipeline version embeds the Workflow
    (backend/src/apiserver/resource/resource_manager.go, CreateJob -> tmpl.ScheduledWorkflow),
    and the controller creates each run itself (backend/src/crd/controller/scheduledworkflow/
    controller.go, submitNewWorkflowIfNotAlreadySubmitted -> swf.NewWorkflow), labelled with
    its cron tick (util/scheduled_workflow.go, SetCannonicalLabels: workflowEpoch), which the
    driver gives ``{{$.pipeline_job_schedule_time_utc}}`` (backend/src/v2/cmd/driver/main.go,
    resolvePipelineJobScheduleTimeUTCFromWorkflow). Each tick is a run's own, whenever the run
    starts and also when missed ticks are caught up after a pause (util/cron_schedule.go: one
    tick after another). So any cron time works, catch-up too. What would break it is refused,
    never corrected (the file in git says what runs): a fixed run_date, a macro, a
    day_closes_at that is not a time of day, and a cron in another timezone than UTC (the
    day closes at a UTC time; a local cron would move across it twice a year).

    Args:
        schedule: the declared schedule.
        where: the file, for messages.
        default: the pipeline version's default ``day_closes_at``, for a schedule that leaves
            it out (None: not known yet, so only a value the schedule sets is checked).

    Raises:
        ScheduleError: with the reason and what to write instead.
    """
    for name, value in schedule.parameters.items():
        if isinstance(value, str) and _MACRO.search(value):
            raise ScheduleError(
                f"{where}: parameter {name} is {value!r}, a KFP macro. KFP 2.17 does not replace "
                "[[...]] macros in runs of a recurring run pinned to a pipeline version (it "
                "formats only Argo workflow parameters, kubeflow/pipelines#12494), so the step "
                f"would get the text itself. Leave {RUN_DATE} out: the pipeline takes its day "
                f"from the run's schedule time and {DAY_CLOSES_AT}."
            )
    if schedule.parameters.get(RUN_DATE):
        raise ScheduleError(
            f"{where}: {RUN_DATE} is {schedule.parameters[RUN_DATE]!r}, so every scheduled run "
            f"would process that one day. Leave it out: a scheduled run processes the last day "
            f"closed by its schedule time (see {DAY_CLOSES_AT})."
        )
    given = schedule.parameters.get(DAY_CLOSES_AT)
    if given is not None and not (isinstance(given, str) and _TIME_OF_DAY.match(given)):
        # Unquoted, YAML reads 23:30 as the number 1410 (base 60).
        raise ScheduleError(
            f'{where}: {DAY_CLOSES_AT} must be a time of day "HH:MM" (quoted), got {given!r}'
        )
    if schedule.timezone not in _UTC:
        closes = default if given is None else given
        raise ScheduleError(
            f"{where}: the cron is meant in {schedule.timezone}, but a day closes at a UTC time "
            f"({DAY_CLOSES_AT} {closes or 'of the pipeline'}), and the zone's offset from UTC "
            "may change over the year: write the cron in UTC (timezone: UTC, and KFP's "
            "cronScheduleTimezone too)."
        )


def check_kfp_version(api: KfpApi, allow_other: bool, echo: Echo) -> None:
    """Refuse a KFP other than the release this code was verified against, unless allowed.

    What the pipeline takes from KFP (docs/kfp-behaviours.md) was read in KFP's source at
    :data:`~burger_recs.kfp_words.VERIFIED_KFP`; an upgraded cluster may behave otherwise
    without any test here noticing. So the reconciler (and with it the deploy) stops until
    the behaviours are checked again and the pin moves, or ``allow_other`` says go on.

    Raises:
        ScheduleError: KFP reports another release and ``allow_other`` is off.
    """
    info = api.server_info()
    tag = str(info.get("tag_name") or "unknown")
    store = info.get("pipeline_store") or "not said"
    if tag == VERIFIED_KFP:
        echo(f"KFP {tag} (pipeline store: {store}): the release this code was verified against")
        return
    problem = (
        f"KFP reports release {tag!r}, but the pipeline relies on KFP {VERIFIED_KFP}'s "
        "behaviour (docs/kfp-behaviours.md lists each, with its upstream source)"
    )
    if not allow_other:
        raise ScheduleError(
            f"{problem}. Check those behaviours at the new release and move the pin, or run "
            f"with --allow-kfp-version ({ALLOW_KFP_ENV}=1 for the hook Job) to go on regardless."
        )
    echo(f"warning: {problem}; going on, as --allow-kfp-version says")


def check_timezone(schedule: Schedule, cluster_timezone: str | None, echo: Echo) -> None:
    """Fail unless KFP's scheduler reads the cron in the schedule's timezone.

    Args:
        schedule: the declared schedule.
        cluster_timezone: KFP's ``cronScheduleTimezone`` ("" means UTC), or None when it is
            not known (then only a note is printed).
        echo: where to print that note.
    """
    if cluster_timezone is None:
        echo(
            f"note: cannot check that KFP's scheduler uses timezone {schedule.timezone} "
            f"(set ${TIMEZONE_ENV} to its cronScheduleTimezone)"
        )
        return
    actual = cluster_timezone.strip() or "UTC"
    if actual != schedule.timezone:
        raise ScheduleError(
            f"the schedule's cron is meant in {schedule.timezone}, but KFP's scheduler reads "
            f"every cron in {actual} (ConfigMap pipeline-install-config, key "
            "cronScheduleTimezone, in KFP's namespace). Set one to the other; after changing "
            "the ConfigMap, restart deployment/ml-pipeline-scheduledworkflow."
        )


@dataclass(frozen=True)
class Outcome:
    """What the reconciler did."""

    action: str  # created | updated | unchanged (and, with dry_run, would-...)
    recurring_run_id: str | None
    version: str
    changes: tuple[str, ...] = ()
    deleted: tuple[str, ...] = ()


def desired_recurring_run(schedule: Schedule, version: dict, experiment_id: str | None) -> dict:
    """Return the ``V2beta1RecurringRun`` body the schedule asks for, on ``version``."""
    name = version.get("display_name") or version.get("name") or version["pipeline_version_id"]
    # The version's code_version tag; its codeSourceURL is not in the v2beta1 API's answer
    # (backend/src/apiserver/server/api_converter.go, toApiPipelineVersion, at 2.17.0).
    code = (version.get("tags") or {}).get("code_version")
    about = [f"pipeline_version={name}"]
    if code:
        about.append(f"code_version={code}")
    body = {
        "display_name": schedule.name,
        "description": "declared in git (manifests/overlays/prod/schedule.yaml): "
        + " ".join(about),
        "pipeline_version_reference": {
            "pipeline_id": version["pipeline_id"],
            "pipeline_version_id": version["pipeline_version_id"],
        },
        "runtime_config": {"parameters": dict(schedule.parameters)},
        # Each run's pods run as the project's runner (KFP 2.17.0 uses a run's
        # service_account, else pipeline-runner: apiserver/template/template.go,
        # setDefaultServiceAccount).
        "service_account": RUNNER,
        "trigger": {"cron_schedule": {"cron": schedule.cron}},
        "max_concurrency": str(schedule.max_concurrency),  # int64: a string in JSON
        "no_catchup": not schedule.catchup,
        "mode": "ENABLE" if schedule.enabled else "DISABLE",
    }
    if experiment_id:
        body["experiment_id"] = experiment_id
    return body


def _number(value: object) -> object:
    # The API keeps parameters as protobuf Values: every number comes back a double.
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return value


def comparable(run: dict) -> dict[str, object]:
    """Return what the reconciler compares of a recurring run, as the API shows it."""
    reference = run.get("pipeline_version_reference") or {}
    trigger = run.get("trigger") or {}
    parameters = (run.get("runtime_config") or {}).get("parameters") or {}
    status = run.get("status") or {"ENABLE": "ENABLED", "DISABLE": "DISABLED"}.get(
        run.get("mode") or "", "DISABLED"
    )
    return {
        "description": run.get("description") or "",
        "experiment": run.get("experiment_id") or "",
        "pipeline": reference.get("pipeline_id") or "",
        "pipeline version": reference.get("pipeline_version_id")
        or run.get("pipeline_version_id")
        or "",
        "parameters": {key: _number(value) for key, value in sorted(parameters.items())},
        "cron": (trigger.get("cron_schedule") or {}).get("cron") or "",
        "periodic": bool(trigger.get("periodic_schedule")),
        "max concurrency": str(run.get("max_concurrency") or "0"),
        "service account": run.get("service_account") or "",
        "catch-up": not run.get("no_catchup", False),
        "enabled": status == "ENABLED",
    }


def differences(existing: dict, desired: dict) -> list[str]:
    """Return a line per compared setting that differs, ``name: old -> new``."""
    old, new = comparable(existing), comparable(desired)
    return [f"{key}: {old[key]!r} -> {new[key]!r}" for key in new if old[key] != new[key]]


def wait_for_version(
    api: KfpApi,
    pipeline_id: str,
    name: str,
    attempts: int = 10,
    delay: float = 6.0,
    sleep: Callable[[float], None] = time.sleep,
) -> dict:
    """Return the pipeline's version named ``name``, waiting for KFP to list it.

    KFP in Kubernetes-native mode lists PipelineVersion resources through a cache, so a
    version Argo CD has just applied may take a moment to appear.

    Raises:
        ScheduleError: the version did not appear.
    """
    for attempt in range(attempts):
        found = api.find_version(pipeline_id, name)
        if found:
            return found
        if attempt + 1 < attempts:
            sleep(delay)
    raise ScheduleError(
        f"pipeline version {name} is not in KFP (asked {attempts} times). Is the "
        f"PipelineVersion applied and valid? kubectl -n kubeflow get pipelineversion {name} "
        "-o yaml (its status.conditions), and the ml-pipeline logs"
    )


def declared_parameters(pipeline_spec: dict) -> dict | None:
    """Return the input parameters a pipeline spec (IR) declares; None when it shows none."""
    spec = pipeline_spec.get(
        "pipeline_spec", pipeline_spec
    )  # the API nests the IR with a platform spec
    return ((spec.get("root") or {}).get("inputDefinitions") or {}).get("parameters")


def check_parameters(schedule: Schedule, declared: dict, version: str) -> None:
    """Refuse parameters that the pipeline version ``version`` does not declare.

    Raises:
        ScheduleError: the schedule sets a parameter the version does not have.
    """
    unknown = sorted(set(schedule.parameters) - set(declared))
    if unknown:
        raise ScheduleError(
            f"the schedule sets {', '.join(unknown)}, which the pipeline version "
            f"{version} does not declare (it has {', '.join(sorted(declared))})"
        )


def reconcile(
    api: KfpApi,
    schedule: Schedule,
    version_name: str | None = None,
    cluster_timezone: str | None = None,
    echo: Echo = print,
    dry_run: bool = False,
    sleep: Callable[[float], None] = time.sleep,
    attempts: int = 10,
    allow_other_kfp: bool = False,
) -> Outcome:
    """Make KFP's recurring runs named ``schedule.name`` one run matching the schedule.

    Args:
        api: the KFP API.
        schedule: the declared schedule.
        version_name: the pipeline version to run (the rendering's); None means the
            pipeline's most recently created version.
        cluster_timezone: KFP's cron timezone, to check against the schedule's.
        echo: where to report.
        dry_run: report what would change, change nothing.
        sleep: how to wait for a version KFP does not list yet.
        attempts: how often to look for it.
        allow_other_kfp: go on when KFP is not the verified release (:func:`check_kfp_version`).

    Raises:
        ScheduleError: KFP cannot be made to match (with the reason).
        KfpError: the API refused a request.
    """
    check_run_day(schedule)
    check_timezone(schedule, cluster_timezone, echo)
    check_kfp_version(api, allow_other_kfp, echo)
    pipeline_id = api.find_pipeline_id(schedule.pipeline)
    if pipeline_id is None:
        raise ScheduleError(
            f"KFP has no pipeline {schedule.pipeline}: is the Pipeline resource applied? "
            "kubectl -n kubeflow get pipelines.pipelines.kubeflow.org"
        )
    if version_name:
        version = wait_for_version(api, pipeline_id, version_name, attempts, sleep=sleep)
    else:
        newest = api.latest_version(pipeline_id)
        if newest is None:
            raise ScheduleError(f"pipeline {schedule.pipeline} has no version yet")
        version = newest
    shown = version.get("display_name") or version["pipeline_version_id"]
    if (version.get("tags") or {}).get("images") == "tag-only-preview":
        raise ScheduleError(
            f"pipeline version {shown} is a tag-only preview rendering (make render-prod "
            "PREVIEW=1), whose images may not exist: it is never scheduled. CI on main renders "
            "the pinned one once it has pushed the images."
        )
    declared = declared_parameters(version.get("pipeline_spec") or {})
    if declared is not None:
        check_parameters(schedule, declared, str(shown))
    declared = declared or {}
    default = (declared.get(DAY_CLOSES_AT) or {}).get("defaultValue")
    check_run_day(schedule, default=default)

    experiment = api.find_experiment(schedule.experiment)
    if experiment is None and not dry_run:
        experiment = api.create_experiment(
            schedule.experiment, "burger-recs production runs, scheduled from git"
        )
        echo(f"experiment {schedule.experiment}: created")
    experiment_id = experiment["experiment_id"] if experiment else None
    desired = desired_recurring_run(schedule, version, experiment_id)

    existing = api.find_recurring_runs(schedule.name)
    matching = [run for run in existing if not differences(run, desired)]
    would = "would be " if dry_run else ""
    if len(existing) == 1 and matching:
        run_id = existing[0]["recurring_run_id"]
        echo(f"recurring run {schedule.name} ({run_id}): up to date, on {shown}")
        return Outcome("unchanged", run_id, shown)

    if len(existing) == 1:
        changes = differences(existing[0], desired)
        if len(changes) == 1 and changes[0].startswith("enabled:"):
            run_id = existing[0]["recurring_run_id"]
            if not dry_run:
                api.set_recurring_run_enabled(run_id, schedule.enabled)
            state = "enabled" if schedule.enabled else "disabled"
            echo(f"recurring run {schedule.name} ({run_id}): {would}{state}")
            return Outcome(f"{'would-' if dry_run else ''}updated", run_id, shown, (changes[0],))

    replaced = tuple(differences(existing[0], desired)) if existing else ()
    keep = matching[0] if matching else None
    if keep is None and not dry_run:
        keep = api.create_recurring_run(desired)
    keep_id = keep["recurring_run_id"] if keep else None
    stale = [run["recurring_run_id"] for run in existing if run is not keep]
    if not dry_run:
        for run_id in stale:
            api.delete_recurring_run(run_id)
    action = "created" if not existing else "updated"
    echo(
        f"recurring run {schedule.name} ({keep_id or 'new'}): {would}{action}, on {shown}, "
        f"cron '{schedule.cron}' ({schedule.timezone})"
    )
    for change in replaced:
        echo(f"  {change}")
    for run_id in stale:
        echo(f"  {would}deleted the recurring run {run_id} it replaces")
    return Outcome(f"{'would-' if dry_run else ''}{action}", keep_id, shown, replaced, tuple(stale))


def run(
    schedule_file: Path,
    host: str,
    version_name: str | None,
    cluster_timezone: str | None,
    echo: Echo = print,
    dry_run: bool = False,
    allow_other_kfp: bool = False,
) -> Outcome:
    """Read the schedule file and reconcile KFP at ``host`` with it."""
    schedule = load_schedule(schedule_file)
    what = f"version {version_name}" if version_name else "its newest version"
    echo(f"reconciling {schedule.name}: pipeline {schedule.pipeline} ({what}) at {host}")
    return reconcile(
        KfpApi(host),
        schedule,
        version_name,
        cluster_timezone,
        echo,
        dry_run=dry_run,
        allow_other_kfp=allow_other_kfp,
    )


def command(
    schedule: Annotated[
        Path, typer.Option(help="The schedule file (production's is in git).")
    ] = Path("manifests/overlays/prod/schedule.yaml"),
    host: Annotated[str, typer.Option(envvar=HOST_ENV, help="The KFP API.")] = DEV_HOST,
    version: Annotated[
        str | None,
        typer.Option(
            envvar=VERSION_ENV,
            help="Pipeline version to schedule (default: the pipeline's newest).",
        ),
    ] = None,
    cluster_timezone: Annotated[
        str | None,
        typer.Option(
            envvar=TIMEZONE_ENV,
            help="KFP's cronScheduleTimezone, checked against the schedule's timezone "
            "(empty: UTC, KFP's default; not given: not checked).",
        ),
    ] = None,
    dry_run: Annotated[bool, typer.Option(help="Print what would change; change nothing.")] = False,
    allow_kfp_version: Annotated[
        bool,
        typer.Option(
            envvar=ALLOW_KFP_ENV,
            help=f"Go on when KFP is not release {VERIFIED_KFP}, the one this code was verified "
            "against (docs/kfp-behaviours.md); by default the reconciler stops.",
        ),
    ] = False,
) -> None:
    """Make KFP's recurring run match the schedule file (idempotent; the PostSync hook Job).

    The hook Job runs this same command as python -m burger_recs.deploy.schedule, set up by
    its environment (KFP_HOST, PIPELINE_VERSION, KFP_CRON_TIMEZONE, and
    BURGER_RECS_ALLOW_KFP_VERSION when an unverified KFP release is accepted).
    """
    if cluster_timezone is None:
        # click ignores an empty variable, but an empty cronScheduleTimezone is KFP's UTC.
        cluster_timezone = os.environ.get(TIMEZONE_ENV)
    try:
        run(
            schedule,
            host,
            version,
            cluster_timezone,
            typer.echo,
            dry_run=dry_run,
            allow_other_kfp=allow_kfp_version,
        )
    except (ScheduleError, KfpError, OSError) as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(code=1) from None


if __name__ == "__main__":
    # The hook Job, in the step base image: no console script there, and no CLI module (it is
    # in no image, so that editing it rebuilds none), only this command.
    runner = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    runner.command()(command)
    runner(prog_name="burger-recs reconcile-schedule")
