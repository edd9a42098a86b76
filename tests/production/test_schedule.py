"""The schedule's reconciler against the local double of the KFP v2beta1 API.

The double (tests/support/kfp_double.py) checks every request as the real API reads it,
recurring runs included (cron, concurrency, parameters against the version's pipeline); the
last test shows it accepts what the kfp SDK's own client sends for recurring runs.
"""

import dataclasses
import datetime as dt
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import warnings
from importlib.metadata import version

import pytest
import yaml
from typer.testing import CliRunner

from burger_recs.cli import app
from burger_recs.components import images
from burger_recs.deploy import production
from burger_recs.deploy import schedule as reconciler
from burger_recs.deploy.kfp_api import KfpApi, KfpError
from burger_recs.deploy.schedule import Schedule, ScheduleError, parse_schedule
from burger_recs.kfp_words import VERIFIED_KFP
from burger_recs.settings import resolve_run_date
from tests.support.kfp_double import daily_time, raw_request

API = "/apis/v2beta1"
SCHEDULE_FILE = production.OVERLAY / "schedule.yaml"
SCHEDULE = Schedule(
    name="burger-recs-daily",
    pipeline="burger-recs-daily",
    experiment="burger-recs-production",
    cron="0 30 23 * * *",
    timezone="UTC",
    parameters={"data_uri": "gs://shop-drops/daily", "day_closes_at": "23:30"},
    catchup=True,
)


class Sleeps:
    """Stands in for time.sleep: records, never waits; may run something on each call."""

    def __init__(self, then=None):
        self.calls = []
        self.then = then

    def __call__(self, seconds):
        self.calls.append(seconds)
        if self.then:
            self.then(len(self.calls))


@pytest.fixture
def kfp(kfp_double, ir_text):
    """The double with the pipeline and two versions of it, v1 older than v2."""
    spec = next(yaml.safe_load_all(ir_text))
    pipeline = kfp_double._create_pipeline({"display_name": "burger-recs-daily"})
    for name, code in (
        ("burger-recs-daily-v1", "111111111111"),
        ("burger-recs-daily-v2", "2" * 12),
    ):
        version = kfp_double.add_version(pipeline["pipeline_id"], name, spec)
        version["tags"] = {"code_version": code, "images": "pinned"}
    kfp_double.spec = spec
    return kfp_double


def _version_id(kfp, name):
    (found,) = [v for v in kfp.versions.values() if v["display_name"] == name]
    return found["pipeline_version_id"]


def _reconcile(kfp, schedule=SCHEDULE, version="burger-recs-daily-v2", **kwargs):
    lines = []
    kwargs.setdefault("sleep", Sleeps())
    outcome = reconciler.reconcile(KfpApi(kfp.url), schedule, version, echo=lines.append, **kwargs)
    return outcome, lines


def _request_body(run):
    """A recurring run as KFP shows it, less what the server sets: a body to create it with."""
    server = ("recurring_run_id", "status", "created_at", "updated_at", "namespace")
    return {k: v for k, v in run.items() if k not in server}


def _writes(kfp):
    return [r for r in kfp.requests if r.method in ("POST", "DELETE")]


def test_creates_the_recurring_run_when_there_is_none(kfp):
    outcome, lines = _reconcile(kfp, cluster_timezone="UTC")
    assert outcome.action == "created"
    (run,) = kfp.recurring_runs.values()
    assert run["recurring_run_id"] == outcome.recurring_run_id
    assert run["display_name"] == "burger-recs-daily"
    assert run["trigger"] == {"cron_schedule": {"cron": "0 30 23 * * *"}}
    assert run["runtime_config"]["parameters"] == SCHEDULE.parameters
    # Catch-up on: no_catchup false, which the server leaves out (proto3 JSON, a default).
    assert run["max_concurrency"] == "1" and run.get("no_catchup", False) is False
    # Its runs' pods run as the project's least-privilege runner (overlays/prod/runner).
    assert run["service_account"] == "burger-recs-runner"
    assert run["status"] == "ENABLED"
    assert run["pipeline_version_reference"]["pipeline_version_id"] == _version_id(
        kfp, "burger-recs-daily-v2"
    )
    (experiment,) = kfp.experiments.values()
    assert experiment["display_name"] == "burger-recs-production"
    assert run["experiment_id"] == experiment["experiment_id"]
    # Which code it runs, on the recurring run itself.
    assert "pipeline_version=burger-recs-daily-v2" in run["description"]
    assert "code_version=222222222222" in run["description"]
    assert "created, on burger-recs-daily-v2" in "\n".join(lines)


def test_running_it_again_changes_nothing(kfp):
    _reconcile(kfp)
    writes = len(_writes(kfp))
    before = {k: dict(v) for k, v in kfp.recurring_runs.items()}
    outcome, lines = _reconcile(kfp)
    assert outcome.action == "unchanged"
    assert len(_writes(kfp)) == writes  # no write at all
    assert kfp.recurring_runs == before
    assert "up to date" in lines[-1]


def test_a_new_version_replaces_the_recurring_run_new_first(kfp):
    first, _ = _reconcile(kfp, version="burger-recs-daily-v1")
    kfp.requests.clear()
    outcome, lines = _reconcile(kfp, version="burger-recs-daily-v2")
    assert outcome.action == "updated"
    assert outcome.deleted == (first.recurring_run_id,)
    (run,) = kfp.recurring_runs.values()
    assert run["recurring_run_id"] == outcome.recurring_run_id != first.recurring_run_id
    assert run["pipeline_version_reference"]["pipeline_version_id"] == _version_id(
        kfp, "burger-recs-daily-v2"
    )
    # Created before the old one is deleted: the schedule never disappears.
    writes = [(r.method, r.path) for r in _writes(kfp)]
    assert writes == [
        ("POST", f"{API}/recurringruns"),
        ("DELETE", f"{API}/recurringruns/{first.recurring_run_id}"),
    ]
    assert any(line.strip().startswith("pipeline version:") for line in lines)


def test_a_revert_moves_the_recurring_run_back_and_no_version_is_ever_deleted(kfp):
    """Rollback is a revert: the sync applies the earlier rendering, whose version Argo CD
    never pruned (production.KEEP), and the reconciler points the schedule back at it."""
    _reconcile(kfp, version="burger-recs-daily-v1")
    _reconcile(kfp, version="burger-recs-daily-v2")
    outcome, _ = _reconcile(kfp, version="burger-recs-daily-v1")
    assert outcome.action == "updated"
    (run,) = kfp.recurring_runs.values()
    assert run["pipeline_version_reference"]["pipeline_version_id"] == _version_id(
        kfp, "burger-recs-daily-v1"
    )
    assert {v["display_name"] for v in kfp.versions.values()} == {
        "burger-recs-daily-v1",
        "burger-recs-daily-v2",
    }
    assert not [r for r in _writes(kfp) if r.method == "DELETE" and "/pipelines/" in r.path]


@pytest.mark.parametrize(
    ("change", "shown"),
    [
        ({"cron": "0 30 23 * * 1-5"}, "cron"),
        ({"parameters": {**SCHEDULE.parameters, "k": 5}}, "parameters"),
        ({"max_concurrency": 2}, "max concurrency"),
        ({"experiment": "another-experiment"}, "experiment"),
    ],
)
def test_a_changed_schedule_replaces_the_recurring_run(kfp, change, shown):
    _reconcile(kfp)
    outcome, _ = _reconcile(kfp, dataclasses.replace(SCHEDULE, **change))
    assert outcome.action == "updated"
    assert [c.split(":")[0] for c in outcome.changes] == [shown]
    (run,) = kfp.recurring_runs.values()
    assert run["recurring_run_id"] == outcome.recurring_run_id
    assert _reconcile(kfp, dataclasses.replace(SCHEDULE, **change))[0].action == "unchanged"


def test_disabling_and_enabling_happen_in_place(kfp):
    created, _ = _reconcile(kfp)
    outcome, _ = _reconcile(kfp, dataclasses.replace(SCHEDULE, enabled=False))
    assert outcome.action == "updated"
    (run,) = kfp.recurring_runs.values()
    assert run["recurring_run_id"] == created.recurring_run_id
    assert run["status"] == "DISABLED"
    assert kfp.calls("POST", f"{API}/recurringruns/{created.recurring_run_id}:disable")
    assert _reconcile(kfp, dataclasses.replace(SCHEDULE, enabled=False))[0].action == "unchanged"
    _reconcile(kfp)
    assert kfp.recurring_runs[created.recurring_run_id]["status"] == "ENABLED"


def test_duplicates_of_its_name_are_deleted_and_a_matching_one_kept(kfp):
    api = KfpApi(kfp.url)
    created, _ = _reconcile(kfp)
    matching = dict(kfp.recurring_runs[created.recurring_run_id])
    body = _request_body(matching)
    api.create_recurring_run({**body, "trigger": {"cron_schedule": {"cron": "0 0 1 * * *"}}})
    kfp.requests.clear()
    outcome, _ = _reconcile(kfp)
    assert outcome.action == "updated"
    assert list(kfp.recurring_runs) == [created.recurring_run_id]
    assert [r.method for r in _writes(kfp)] == ["DELETE"]  # nothing created


def test_without_a_version_name_the_newest_version_is_scheduled(kfp):
    outcome, _ = _reconcile(kfp, version=None)
    assert outcome.version == "burger-recs-daily-v2"
    (request,) = [r for r in kfp.calls("GET") if "sort_by" in r.query]
    assert request.query["sort_by"] == ["created_at desc"]


def test_a_version_kfp_does_not_list_yet_is_waited_for(kfp):
    pipeline_id = next(iter(kfp.pipelines))

    def appear(calls):
        if calls == 2:
            kfp.add_version(pipeline_id, "burger-recs-daily-v3", kfp.spec)

    sleeps = Sleeps(then=appear)
    outcome, _ = _reconcile(kfp, version="burger-recs-daily-v3", sleep=sleeps)
    assert outcome.version == "burger-recs-daily-v3"
    assert len(sleeps.calls) == 2

    sleeps = Sleeps()
    with pytest.raises(ScheduleError, match="burger-recs-daily-v9 is not in KFP"):
        _reconcile(kfp, version="burger-recs-daily-v9", sleep=sleeps, attempts=4)
    assert len(sleeps.calls) == 3
    assert len(kfp.recurring_runs) == 1


def test_an_unverified_kfp_release_is_refused_unless_allowed(kfp):
    """The double answers healthz as KFP 2.17.0's API server does (main.go newHealthzResponse):
    the release tag its image was built with; another release stops the reconciler."""
    assert version("kfp") == VERIFIED_KFP  # the pin of the SDK is the release verified
    kfp.healthz = {**kfp.healthz, "tag_name": "2.18.0"}
    with pytest.raises(ScheduleError, match=r"KFP reports release '2\.18\.0'.*--allow-kfp-version"):
        _reconcile(kfp)
    assert _writes(kfp) == []
    outcome, lines = _reconcile(kfp, allow_other_kfp=True)
    assert outcome.action == "created"
    assert any(line.startswith("warning: KFP reports release '2.18.0'") for line in lines)
    # A build without TAG_NAME says "unknown": not verified either.
    kfp.healthz = {**kfp.healthz, "tag_name": "unknown"}
    with pytest.raises(ScheduleError, match="release 'unknown'"):
        _reconcile(kfp)


def test_the_command_stops_on_an_unverified_kfp_and_goes_on_when_told(kfp, monkeypatch):
    kfp.healthz = {**kfp.healthz, "tag_name": "2.18.0"}
    command = ["reconcile-schedule", "--host", kfp.url, "--version", "burger-recs-daily-v2"]
    refused = CliRunner().invoke(app, command)
    assert refused.exit_code == 1 and "KFP reports release '2.18.0'" in refused.output
    monkeypatch.setenv(reconciler.ALLOW_KFP_ENV, "1")  # as the hook Job would be told
    allowed = CliRunner().invoke(app, command)
    assert allowed.exit_code == 0, allowed.output
    assert "warning: KFP reports release '2.18.0'" in allowed.output


def test_refuses_before_any_write(kfp):
    for kwargs, error in (
        ({"cluster_timezone": "Europe/Berlin"}, "reads every cron in Europe/Berlin"),
        ({"schedule": dataclasses.replace(SCHEDULE, pipeline="nope")}, "no pipeline nope"),
        ({"schedule": dataclasses.replace(SCHEDULE, parameters={"kk": 1})}, "kk, which"),
    ):
        with pytest.raises(ScheduleError, match=error):
            _reconcile(kfp, **kwargs)
    # A tag-only preview rendering is never scheduled (its images may not exist).
    kfp.versions[_version_id(kfp, "burger-recs-daily-v2")]["tags"]["images"] = "tag-only-preview"
    with pytest.raises(ScheduleError, match="tag-only preview"):
        _reconcile(kfp)
    assert _writes(kfp) == []
    # KFP's own default, an empty cronScheduleTimezone, is UTC.
    assert _reconcile(kfp, version="burger-recs-daily-v1", cluster_timezone="")[0].action == (
        "created"
    )


def test_a_dry_run_changes_nothing(kfp):
    outcome, lines = _reconcile(kfp, dry_run=True)
    assert outcome.action == "would-created"
    assert _writes(kfp) == [] and kfp.recurring_runs == {}
    assert "would be created" in "\n".join(lines)


def test_the_double_refuses_what_the_server_refuses(kfp):
    api = KfpApi(kfp.url)
    _reconcile(kfp)
    (run,) = kfp.recurring_runs.values()
    body = _request_body(run)
    for change, error in (
        ({"max_concurrency": "11"}, "at most 10"),
        ({"trigger": {"cron_schedule": {"cron": "0 30 23"}}}, "cron is not a supported"),
        ({"runtime_config": {"parameters": {"run_date": "x"}}}, "missing parameter data_uri"),
        ({"mode": "ON"}, "mode is invalid"),
        ({"cron": "0 0 * * * *"}, "unknown field"),
    ):
        # The double refuses the body as the server would (sent by hand: the SDK's models
        # cannot carry an unknown field or mode) ...
        status, answer = raw_request(kfp, "POST", "/recurringruns", {**body, **change})
        assert status == 400 and re.search(error, answer["message"]), answer
        # ... and our client fails on it too: refused by the double, or before sending.
        with pytest.raises(KfpError, match=f"{error}|no other field|mode ENABLE"):
            api.create_recurring_run({**body, **change})
    kfp.violations.clear()  # refused on purpose


# -- the schedule file --------------------------------------------------------------------
def test_the_schedule_file_is_valid_and_fits_the_pipeline(kfp):
    schedule = reconciler.load_schedule(SCHEDULE_FILE)
    assert schedule == SCHEDULE
    declared = kfp.spec["root"]["inputDefinitions"]["parameters"]
    assert set(schedule.parameters) <= set(declared)
    # The double checks the parameters' types and that every required one is given.
    outcome, _ = _reconcile(kfp, schedule)
    assert outcome.action == "created"


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("cron: '30 23 * * *'", r"six fields.*'0 30 23 \* \* \*' runs at the same times"),
        ("cron: '0 30 23 * * * *'", "six fields"),
        ("cron: '0 30 23 * * ;'", "invalid fields"),
        ("max_concurrency: 11", "1 to 10"),
        ("max_concurrency: true", "must be a int"),
        ("catchup: 'no'", "must be a bool"),
        ("timezone: 'Europe Berlin'", "no IANA zone name"),
        ("parameters: {k: [1]}", "parameter 'k'"),
        ("every: day", "unknown setting"),
        ("name: ''", "name is empty"),
    ],
)
def test_the_schedule_file_is_checked(text, error):
    base = yaml.safe_load(SCHEDULE_FILE.read_text())
    changed = {**base, **yaml.safe_load(text)}
    with pytest.raises(ScheduleError, match=error):
        parse_schedule(yaml.safe_dump(changed))
    del base["cron"]
    with pytest.raises(ScheduleError, match="missing setting cron"):
        parse_schedule(yaml.safe_dump(base))
    midnight = {**base, "cron": "@daily", "parameters": {"day_closes_at": "00:00"}}
    assert parse_schedule(yaml.safe_dump(midnight)).cron == "@daily"


# -- the day a scheduled run processes -------------------------------------------------
def _root_source(spec, task_name, parameter):
    """Where a task's input parameter comes from, followed up to the pipeline's own inputs."""
    owner = {}  # component -> (the DAG holding the task that runs it, that task)
    dags = {"root": spec["root"]["dag"]}
    dags |= {name: c["dag"] for name, c in spec["components"].items() if "dag" in c}
    for dag_name, dag in dags.items():
        for task in dag["tasks"].values():
            owner[task["componentRef"]["name"]] = (dag_name, task)
    (dag_name,) = [name for name, dag in dags.items() if task_name in dag["tasks"]]
    source = dags[dag_name]["tasks"][task_name]["inputs"]["parameters"][parameter]
    while "componentInputParameter" in source and dag_name != "root":
        dag_name, task = owner[dag_name]
        source = task["inputs"]["parameters"][source["componentInputParameter"]]
    return source


def test_the_steps_take_the_day_from_the_schedule_time_and_day_closes_at(ir_text):
    """The IR: the check (which picks the day) and finish (which records it) take scheduled_at
    from KFP's schedule-time placeholder and day_closes_at and run_date from the parameters."""
    spec = next(yaml.safe_load_all(ir_text))
    placeholder = {"runtimeValue": {"constant": "{{$.pipeline_job_schedule_time_utc}}"}}
    for task in ("check-inputs", "finish"):
        assert _root_source(spec, task, "scheduled_at") == placeholder
        assert _root_source(spec, task, "day_closes_at") == {
            "componentInputParameter": "day_closes_at"
        }
        assert _root_source(spec, task, "run_date") == {"componentInputParameter": "run_date"}


def _scheduled_days(kfp, now):
    """The days the runs the controller creates by ``now`` process, in the order created.

    Each run's schedule time is what the driver gives the placeholder (the double's
    fire_schedule follows the controller), and the day is our own resolve_run_date's, with
    the recurring run's parameters as the controller passes them on.
    """
    (recurring,) = kfp.recurring_runs.values()
    runs = kfp.fire_schedule(recurring["recurring_run_id"], now)
    parameters = recurring["runtime_config"]["parameters"]
    assert all(run["runtime_config"]["parameters"] == parameters for run in runs)
    assert "run_date" not in parameters
    return [
        resolve_run_date("", run["scheduled_at"], parameters.get("day_closes_at")) for run in runs
    ]


@pytest.mark.parametrize(
    ("cron", "closes", "first_day"),
    [
        # The committed schedule: the shop's day closes at 23:30 and the cron fires then.
        ("0 30 23 * * *", "23:30", dt.date(2026, 11, 24)),
        # The day closes at midnight (the default): a run at 23:30 processes the day before,
        # and so does one just after midnight, in the small hours or in the morning.
        ("0 30 23 * * *", "00:00", dt.date(2026, 11, 23)),
        ("0 10 0 * * *", "00:00", dt.date(2026, 11, 24)),
        ("0 0 2 * * *", "00:00", dt.date(2026, 11, 24)),
        ("0 0 6 * * *", "00:00", dt.date(2026, 11, 24)),
        ("0 0 6 * * *", "23:30", dt.date(2026, 11, 24)),
    ],
)
def test_a_scheduled_run_processes_the_last_day_closed_by_its_tick_at_any_cron_time(
    kfp, cron, closes, first_day
):
    """Created 2026-11-24 07:00 UTC (the double's clock); each tick's run processes the day
    that tick closed, however late it starts, and a pause with catch-up gives every missed
    tick its own run and day."""
    schedule = dataclasses.replace(
        SCHEDULE,
        cron=cron,
        catchup=True,
        parameters={**SCHEDULE.parameters, "day_closes_at": closes},
    )
    _reconcile(kfp, schedule)
    created = dt.datetime(2026, 11, 24, 7, 0, tzinfo=dt.UTC)
    first_tick = created.replace(hour=int(cron.split()[2]), minute=int(cron.split()[1]))
    first_tick += dt.timedelta(days=1) if first_tick <= created else dt.timedelta(0)
    # The first tick's run, started five hours late: the same day.
    assert _scheduled_days(kfp, first_tick + dt.timedelta(hours=5)) == [first_day]
    # Three ticks missed (the controller was down); caught up one tick after another.
    caught_up = _scheduled_days(kfp, first_tick + dt.timedelta(days=3, minutes=1))
    assert caught_up == [first_day + dt.timedelta(days=n) for n in (1, 2, 3)]


def test_without_catch_up_a_pause_skips_to_the_latest_tick(kfp):
    _reconcile(kfp, dataclasses.replace(SCHEDULE, catchup=False))
    assert _scheduled_days(kfp, dt.datetime(2026, 11, 27, 23, 31, tzinfo=dt.UTC)) == [
        dt.date(2026, 11, 27)
    ]


def test_a_backfill_run_processes_its_run_date_whenever_it_runs():
    assert resolve_run_date("2026-11-20", "2026-11-25T09:00:00Z", "23:30") == dt.date(2026, 11, 20)


@pytest.mark.parametrize(
    ("change", "error"),
    [
        (
            {"parameters": {"run_date": "[[ScheduledTime.2006-01-02]]"}},
            r"KFP macro.*does not replace.*pinned to a pipeline version.*12494",
        ),
        ({"parameters": {"data_uri": "gs://x/[[RunUUID]]"}}, "parameter data_uri.*KFP macro"),
        ({"parameters": {"run_date": "2026-11-24"}}, "every scheduled run would process"),
        ({"parameters": {"day_closes_at": "23:30:00"}}, "must be a time of day"),
        ({"parameters": {"day_closes_at": 1410}}, r"\"HH:MM\" \(quoted\), got 1410"),
        ({"timezone": "Europe/Berlin"}, "a day closes at a UTC time"),
    ],
)
def test_a_schedule_whose_runs_would_miss_their_day_is_refused(kfp, change, error):
    base = yaml.safe_load(SCHEDULE_FILE.read_text())
    if "parameters" in change:
        change = {"parameters": {**base["parameters"], **change["parameters"]}}
    with pytest.raises(ScheduleError, match=error):
        parse_schedule(yaml.safe_dump({**base, **change}))
    # The reconciler refuses the same, given a Schedule directly, before any request.
    with pytest.raises(ScheduleError, match=error):
        _reconcile(kfp, dataclasses.replace(SCHEDULE, **change))
    assert kfp.requests == []


def test_day_closes_at_left_out_is_the_versions_default_at_any_cron_time(kfp):
    parameters = {"data_uri": "gs://shop-drops/daily"}
    outcome, _ = _reconcile(kfp, dataclasses.replace(SCHEDULE, parameters=parameters))
    assert outcome.action == "created"
    # The version's default closes a day at midnight: the 23:30 tick processes the day before.
    version_default = kfp.spec["root"]["inputDefinitions"]["parameters"]["day_closes_at"]
    assert version_default["defaultValue"] == "00:00"
    assert _scheduled_days(kfp, dt.datetime(2026, 11, 24, 23, 31, tzinfo=dt.UTC)) == [
        dt.date(2026, 11, 23)
    ]
    assert daily_time("0 30 */6 * * *") is None
    assert daily_time("0 5 7 * * 1-5") == "07:05"


def test_a_recurring_run_without_the_files_catch_up_is_replaced(kfp):
    api = KfpApi(kfp.url)
    created, _ = _reconcile(kfp)
    run = dict(kfp.recurring_runs[created.recurring_run_id])
    body = _request_body(run)
    api.delete_recurring_run(created.recurring_run_id)
    api.create_recurring_run({**body, "no_catchup": True})  # made by hand, catch-up off
    outcome, _ = _reconcile(kfp)
    assert outcome.action == "updated"
    assert outcome.changes == ("catch-up: False -> True",)
    (run,) = kfp.recurring_runs.values()
    assert run.get("no_catchup", False) is False


# -- the command, by hand and as the hook Job runs it -------------------------------------
def test_the_command_by_hand_and_configured_by_the_jobs_environment_reconciles(kfp):
    result = CliRunner().invoke(
        app,
        [
            "reconcile-schedule",
            "--schedule",
            str(SCHEDULE_FILE),
            "--host",
            kfp.url,
            "--version",
            "burger-recs-daily-v1",
            "--cluster-timezone",
            "UTC",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "created, on burger-recs-daily-v1" in result.output
    # As the hook Job runs it: the same command, configured by its environment.
    env = {
        "KFP_HOST": kfp.url,
        "PIPELINE_VERSION": "burger-recs-daily-v2",
        "KFP_CRON_TIMEZONE": "UTC",
    }
    command = ["reconcile-schedule", "--schedule", str(SCHEDULE_FILE)]
    first = CliRunner().invoke(app, command, env=env)
    again = CliRunner().invoke(app, command, env=env)
    assert first.exit_code == again.exit_code == 0, first.output + again.output
    out = first.stdout + again.stdout
    assert "updated, on burger-recs-daily-v2" in out and "up to date" in out
    assert len(kfp.recurring_runs) == 1
    failed = CliRunner().invoke(app, command, env={**env, "KFP_CRON_TIMEZONE": "America/New_York"})
    assert failed.exit_code == 1
    assert "error: the schedule's cron is meant in UTC" in failed.stderr


def _reconciler_image_app(target):
    """Lay out what the reconciler's image holds in /opt/app (its PYTHONPATH) in target: the
    base's modules and its own, staged as `make images` stages them."""
    for image in (images.BASE, images.RECONCILER):
        shutil.copytree(images.stage(image, target.parent / "build"), target, dirs_exist_ok=True)
    return target


def test_the_job_runs_its_command_with_only_the_reconciler_images_modules(kfp, tmp_path):
    """The Job's command and environment, with nothing importable but its image's.

    ``python -S`` skips site-packages' .pth files, so the editable install of this repository
    is not on the path: only the reconciler image's modules and the installed packages are.
    """
    job = yaml.safe_load((production.OVERLAY / "reconcile-schedule-job.yaml").read_text())
    (container,) = job["spec"]["template"]["spec"]["containers"]
    (mount,) = [m for m in container["volumeMounts"] if m["name"] == "schedule"]
    folder = tmp_path / "schedule"
    folder.mkdir()
    shutil.copyfile(SCHEDULE_FILE, folder / "schedule.yaml")
    python, *command = container["command"]
    assert python == "python"
    args = [arg.replace(mount["mountPath"], str(folder)) for arg in container["args"]]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert set(env) == {"KFP_HOST", "PIPELINE_VERSION", "KFP_CRON_TIMEZONE"}
    env |= {
        "KFP_HOST": kfp.url,
        "PIPELINE_VERSION": "burger-recs-daily-v2",
        "KFP_CRON_TIMEZONE": "",  # the ConfigMap's key may be empty: KFP's UTC
        "HOME": str(tmp_path),
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": os.pathsep.join(
            [str(_reconciler_image_app(tmp_path / "opt-app")), sysconfig.get_paths()["purelib"]]
        ),
    }
    result = subprocess.run(
        [sys.executable, "-S", *command, *args],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "created, on burger-recs-daily-v2" in result.stdout
    assert "cannot check" not in result.stdout  # an empty timezone was checked, as UTC
    (run,) = kfp.recurring_runs.values()
    assert run["display_name"] == SCHEDULE.name


def test_the_job_runs_the_command_itself():
    """The CLI's reconcile-schedule is the function the Job runs: one set of options,
    defaults and environment variables."""
    (registered,) = [c for c in app.registered_commands if c.name == "reconcile-schedule"]
    assert registered.callback is reconciler.command


def test_the_reconciler_image_holds_the_reconciler_and_everything_it_imports():
    held = set(images.module_files(images.BASE)) | set(images.module_files(images.RECONCILER))
    modules = images.library_modules("burger_recs.deploy.schedule")
    assert "burger_recs.deploy.kfp_api" in modules
    assert "burger_recs.cli" not in modules  # in no image: editing it rebuilds none
    needed = {images.module_path(m).relative_to(images.REPO).as_posix() for m in modules}
    assert needed <= held, sorted(needed - held)
    # ... and no step image holds it: editing the reconciler retags its image alone.
    assert not any("/deploy/" in f for f in images.module_files(images.BASE))


# -- the double agrees with the kfp SDK ---------------------------------------------------
def test_the_double_accepts_what_the_kfp_sdk_sends_for_recurring_runs(kfp, monkeypatch, tmp_path):
    import kfp as sdk

    monkeypatch.setenv("HOME", str(tmp_path))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        client = sdk.Client(host=kfp.url)
    experiment = client.create_experiment("sdk-experiment")
    version_id = _version_id(kfp, "burger-recs-daily-v1")
    created = client.create_recurring_run(
        experiment.experiment_id,
        "sdk-recurring",
        cron_expression="0 0 6 * * *",
        max_concurrency=1,
        no_catchup=True,
        params={"data_uri": "gs://x/y"},
        pipeline_id=next(iter(kfp.pipelines)),
        version_id=version_id,
    )
    listed = client.list_recurring_runs(
        filter='{"predicates": [{"operation": "EQUALS", "key": "display_name", '
        '"stringValue": "sdk-recurring"}]}'
    )
    assert [r.recurring_run_id for r in listed.recurring_runs] == [created.recurring_run_id]
    assert listed.recurring_runs[0].trigger.cron_schedule.cron == "0 0 6 * * *"
    client.disable_recurring_run(created.recurring_run_id)
    assert kfp.recurring_runs[created.recurring_run_id]["status"] == "DISABLED"
    sdk_body = kfp.calls("POST", f"{API}/recurringruns")[-1].body

    _reconcile(kfp)
    ours = kfp.calls("POST", f"{API}/recurringruns")[-1].body
    # The same fields wherever the SDK sends one (it sends empty ones we leave out).
    assert {k for k, v in sdk_body.items() if v is not None} - {"service_account"} <= set(ours)
    assert sdk_body["trigger"].keys() == ours["trigger"].keys()
    client.delete_recurring_run(created.recurring_run_id)
    assert created.recurring_run_id not in kfp.recurring_runs
