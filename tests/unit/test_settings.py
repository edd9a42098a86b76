"""burger_recs.settings: the run's defaults, written once, and the run's day."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
from types import SimpleNamespace

import pytest
import yaml

from burger_recs import scoring, settings
from burger_recs.components.images import REPO
from burger_recs.errors import BadSettings
from burger_recs.pipelines.compile import compiled_pipeline


def test_the_defaults_are_one_frozen_object_with_the_train_parameters_inside() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.DEFAULTS.k = 5  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.DEFAULTS.train.epochs = 5  # type: ignore[misc]


def _documented_parameters() -> dict[str, str]:
    """The parameter table of docs/data.md: name -> default, as written there."""
    text = (REPO / "docs" / "data.md").read_text().split("## Pipeline parameters", 1)[1]
    return dict(re.findall(r"^\| `(\w+)` \| `?([^`|]+?)`? \|", text, re.M))


def test_the_documented_parameters_are_the_compiled_pipelines_with_its_defaults() -> None:
    """One declaration per parameter: docs/data.md follows the IR, which follows settings."""
    spec = next(yaml.safe_load_all(compiled_pipeline().read_text()))
    declared = spec["root"]["inputDefinitions"]["parameters"]
    documented = _documented_parameters()
    assert set(documented) == set(declared)
    for name, parameter in declared.items():
        if "defaultValue" not in parameter:
            assert documented[name] == "(required)", name
            continue
        value = parameter["defaultValue"]
        if parameter["parameterType"] == "NUMBER_INTEGER":
            value = int(value)  # the IR keeps every number as a double
        shown = json.dumps(value) if isinstance(value, bool) or value == "" else str(value)
        assert documented[name] == shown, (name, documented[name], value)


def test_every_setting_is_a_pipeline_parameter_with_its_default() -> None:
    """A new setting is one edit: the pipeline declares it from settings, or this fails."""
    spec = next(yaml.safe_load_all(compiled_pipeline().read_text()))
    declared = spec["root"]["inputDefinitions"]["parameters"]
    run = {
        f.name: getattr(settings.DEFAULTS, f.name) for f in dataclasses.fields(settings.RunSettings)
    }
    train = {
        f.name: getattr(settings.DEFAULTS.train, f.name)
        for f in dataclasses.fields(settings.TrainParams)
    }
    checks = {
        f.name: getattr(settings.DEFAULTS.day_check, f.name)
        for f in dataclasses.fields(settings.DayCheckSettings)
    }
    nested = {"train", "day_check"}
    expected = {k: v for k, v in (run | train | checks).items() if k not in nested}
    not_parameters = {"item_alpha", "user_alpha"}  # fixed: too small to tune per run
    not_parameters |= {"history_days", "min_history"}  # how much history: the shop's, not a day's
    for name in not_parameters:
        del expected[name]
    per_run = {"data_uri", "run_date", "run_id"}  # the day's, not a setting
    assert set(declared) - per_run == set(expected)
    for name, default in expected.items():
        assert declared[name]["defaultValue"] == default, name


def test_train_params_reject_bad_values_naming_them() -> None:
    with pytest.raises(ValueError, match="loss must be one of") as err:
        settings.TrainParams(loss="hinge", epochs=0)
    assert "epochs must be at least 1" in str(err.value)


def test_run_settings_refuse_what_no_run_could_use_in_the_steps_words() -> None:
    with pytest.raises(BadSettings) as err:
        settings.RunSettings(k=0, window_days=7, holdout_days=7, shards=0, day_closes_at="25:00")
    problems = str(err.value).split("; ")
    assert problems[:3] == [
        "k must be at least 1, got 0",
        "holdout_days must be between 1 and window_days - 1 = 6, got 7",
        "shards must be at least 1, got 0",
    ]
    assert problems[3].startswith("day_closes_at '25:00' is not a time of day")
    # The steps give the very same words for the same values (one function each).
    with pytest.raises(BadSettings, match=re.escape(problems[2])):
        scoring.check_shard(0, 0)
    with pytest.raises(BadSettings, match="window_days must be at least 1, got 0"):
        settings.RunSettings(window_days=0)
    assert settings.RunSettings(k=1, window_days=2, holdout_days=1).holdout_days == 1


def test_a_local_run_without_a_day_is_for_today_in_utc() -> None:
    before = dt.datetime.now(dt.UTC).date()
    resolved = settings.today()
    after = dt.datetime.now(dt.UTC).date()
    assert resolved in (before, after)
    assert isinstance(resolved, dt.date)


def test_an_empty_run_date_is_the_utc_day_not_the_local_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    utc_now = dt.datetime(2026, 3, 4, 23, 30, tzinfo=dt.UTC)
    local_now = dt.datetime(2026, 3, 5, 1, 30)  # a clock two hours ahead of UTC

    class Clock(dt.datetime):
        @classmethod
        def now(cls, tz=None):
            return utc_now.astimezone(tz) if tz else local_now

    class Calendar(dt.date):
        @classmethod
        def today(cls):
            return local_now.date()

    fake = SimpleNamespace(
        datetime=Clock, date=Calendar, time=dt.time, UTC=dt.UTC, timedelta=dt.timedelta
    )
    monkeypatch.setattr(settings, "dt", fake)
    assert settings.today() == dt.date(2026, 3, 4)
    # Without a schedule time, the last day closed by now (UTC): midnight closes, so the 3rd.
    assert settings.resolve_run_date("") == dt.date(2026, 3, 3)


def test_a_run_date_is_parsed() -> None:
    assert settings.resolve_run_date("2026-03-04") == dt.date(2026, 3, 4)


@pytest.mark.parametrize("text", ["2026-02-30", "04/03/2026", "yesterday", "2026-3-4x"])
def test_a_bad_run_date_is_a_value_error_naming_it(text: str) -> None:
    with pytest.raises(ValueError, match=f"run_date '{text}' is not a date") as error:
        settings.resolve_run_date(text)
    assert error.value.__cause__ is None


# ---------------------------------------------------------------------------------------------
# The day of a run without run_date: its schedule time, with the day closing at day_closes_at
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("scheduled_at", "closes", "day"),
    [
        # KFP's driver fills {{$.pipeline_job_schedule_time_utc}} with RFC 3339 UTC times:
        # the last day closed by that time. At midnight (00:00) the 4th closes at 5th 00:00.
        ("2026-03-04T23:30:00Z", "00:00", dt.date(2026, 3, 3)),
        ("2026-03-05T00:00:00Z", "00:00", dt.date(2026, 3, 4)),
        ("2026-03-05T00:10:00Z", "00:00", dt.date(2026, 3, 4)),
        ("2026-03-05T02:00:00Z", "00:00", dt.date(2026, 3, 4)),
        ("2026-03-05T06:00:00Z", "00:00", dt.date(2026, 3, 4)),
        # Closing at 23:30, the 4th has closed at 23:30 that day.
        ("2026-03-04T23:29:59Z", "23:30", dt.date(2026, 3, 3)),
        ("2026-03-04T23:30:00Z", "23:30", dt.date(2026, 3, 4)),
        ("2026-03-05T02:10:00Z", "23:30", dt.date(2026, 3, 4)),
        ("2026-03-05T23:30:00Z", "23:30", dt.date(2026, 3, 5)),
        ("2026-03-05T01:00:00+02:00", "00:00", dt.date(2026, 3, 3)),  # 4th 23:00 UTC
    ],
)
def test_a_run_without_run_date_processes_the_last_day_closed_by_its_schedule_time(
    scheduled_at, closes, day
):
    assert settings.resolve_run_date("", scheduled_at, closes) == day


def test_an_explicit_run_date_wins_over_the_schedule_time() -> None:
    assert settings.resolve_run_date("2026-01-02", "2026-03-04T23:30:00Z", "23:30") == dt.date(
        2026, 1, 2
    )


def test_an_unresolved_placeholder_is_now(monkeypatch: pytest.MonkeyPatch) -> None:
    before = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)  # the last day closed
    day = settings.resolve_run_date("", "{{$.pipeline_job_schedule_time_utc}}", "00:00")
    assert day in (before, dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1))


@pytest.mark.parametrize(
    ("scheduled_at", "closes", "wrong"),
    [("yesterday", "00:00", "scheduled_at 'yesterday'"), ("", "23h30", "day_closes_at '23h30'")],
)
def test_bad_schedule_settings_are_named(scheduled_at, closes, wrong) -> None:
    with pytest.raises(settings.BadSettings, match=wrong):
        settings.resolve_run_date("", scheduled_at, closes)
