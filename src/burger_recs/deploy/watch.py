"""The watchdog: an alert when a day has no run record by the time it should have one.

Every alert about a run comes from the run's final task. When no run happens at all (the
recurring run disabled or deleted, the schedule's reconciler or an Argo CD sync failing, a pod
Pending for ever, KFP down) nothing alerts, and customers silently keep an old day's lists.
This check runs outside the pipeline (in production the CronJob ``burger-recs-watchdog``): it
looks for the expected day's row in ``pipeline_runs`` (published, gated or failed: any run that
reached its final task) and, when there is none, alerts through the same webhook as the final
task (:mod:`burger_recs.alerts`).

The expected day is the one a scheduled run processes (:func:`burger_recs.settings.
resolve_run_date`): the last day closed, at the schedule's ``day_closes_at``, by ``due_after``
before now. It is the command ``burger-recs watch-day``, defined here (``command``) so that the
CronJob runs it as ``python -m burger_recs.deploy.watch`` in the reconciler's image.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import sqlalchemy as sa
import typer

from burger_recs import alerts, db
from burger_recs.contract import pipeline_runs
from burger_recs.deploy.schedule import DAY_CLOSES_AT, ScheduleError, load_schedule
from burger_recs.settings import DEFAULTS, resolve_run_date
from burger_recs.version import code_version

log = logging.getLogger(__name__)

MISSING = "missing"
"""The alert's status for a day without any run record."""


@dataclass(frozen=True)
class DayCheck:
    """What the watchdog found for one day.

    Attributes:
        day: the day that should have a record.
        due: when it was due (UTC).
        statuses: the statuses of its recorded runs (empty: none recorded).
    """

    day: dt.date
    due: dt.datetime
    statuses: tuple[str, ...]

    @property
    def missing(self) -> bool:
        """Whether no run of the day reached its final task."""
        return not self.statuses


def expected_day(now: dt.datetime, due_after: dt.timedelta, day_closes_at: str) -> dt.date:
    """Return the day that should have a record by ``now``: the last closed by now - due_after."""
    return resolve_run_date("", (now - due_after).isoformat(), day_closes_at)


def check_day(
    engine: sa.Engine, now: dt.datetime, due_after: dt.timedelta, day_closes_at: str
) -> DayCheck:
    """Return what ``pipeline_runs`` holds for the day that should be recorded by ``now``."""
    day = expected_day(now, due_after, day_closes_at)
    c = pipeline_runs.c
    with engine.connect() as conn:
        found = conn.execute(sa.select(c.status).where(c.run_date == day)).scalars().all()
    return DayCheck(day, now.astimezone(dt.UTC), tuple(sorted(set(found))))


def missing_alert(check: DayCheck, due_after: dt.timedelta) -> alerts.Alert:
    """Return the alert for a day without a record: what is wrong, and where to look."""
    hours = due_after.total_seconds() / 3600
    return alerts.Alert(
        run_id="none",
        run_date=check.day.isoformat(),
        status=MISSING,
        step=None,
        message=(
            f"no run recorded for {check.day} by {check.due:%Y-%m-%d %H:%M} UTC ({hours:g} h "
            "after the day closed): the scheduled run did not start or did not reach its final "
            "task. Look at the recurring run (Kubeflow UI, Recurring runs), the reconciler's "
            "log (kubectl -n kubeflow logs job/burger-recs-reconcile-schedule), the Argo CD "
            "sync, and pods that never started (kubectl -n kubeflow get pods)."
        ),
        code_version=code_version(),
    )


def _unchecked_alert(now: dt.datetime, problem: str) -> alerts.Alert:
    return alerts.Alert(
        run_id="none",
        run_date=now.date().isoformat(),
        status="unchecked",
        step=None,
        message=problem,
        code_version=code_version(),
    )


def watch(
    engine: sa.Engine,
    now: dt.datetime,
    due_after: dt.timedelta,
    day_closes_at: str,
    send: Callable[[alerts.Alert], bool] = alerts.send,
) -> DayCheck:
    """Check the expected day; alert (through ``send``) when it has no record."""
    check = check_day(engine, now, due_after, day_closes_at)
    if check.missing:
        log.error("watchdog: no run recorded for %s", check.day)
        send(missing_alert(check, due_after))
    else:
        log.info("watchdog: %s recorded (%s)", check.day, ", ".join(check.statuses))
    return check


def command(
    schedule: Annotated[
        Path, typer.Option(help="The schedule file, for day_closes_at (production's is in git).")
    ] = Path("manifests/overlays/prod/schedule.yaml"),
    due_after: Annotated[
        float,
        typer.Option(
            min=0.5, help="Hours after a day closes by which its run must have been recorded."
        ),
    ] = 4.0,
    # The CLI's shared --database-url (cli/common.py DatabaseOption), word for word: this
    # module runs in the reconciler's image, which holds no CLI module (a test compares them).
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url",
            help="SQLAlchemy URL of the results database. Default: $DATABASE_URL, else "
            "sqlite:///.local/recs.db. Prefer the environment variable for URLs with passwords.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Alert when the day that should be done has no run record (exit 1), else say which it is.

    The CronJob burger-recs-watchdog runs this same command as python -m
    burger_recs.deploy.watch, with DATABASE_URL and ALERT_WEBHOOK_URL from their Secrets.
    """
    now = dt.datetime.now(dt.UTC)
    try:
        closes = str(load_schedule(schedule).parameters.get(DAY_CLOSES_AT, DEFAULTS.day_closes_at))
        # Reads only: the watchdog needs no right to change the database, and changes nothing.
        found = watch(db.make_engine(database_url), now, dt.timedelta(hours=due_after), closes)
    except (ScheduleError, OSError, sa.exc.SQLAlchemyError, ValueError) as exc:
        problem = f"the watchdog could not check: {type(exc).__name__}: {exc}"
        typer.secho(f"error: {problem}", fg=typer.colors.RED, err=True)
        alerts.send(_unchecked_alert(now, problem))  # not knowing is worth an alert too
        raise typer.Exit(code=2) from None
    if found.missing:
        typer.secho(
            f"{found.day}: no run recorded by {found.due:%Y-%m-%d %H:%M} UTC; alert sent",
            fg=typer.colors.RED,
            err=True,
        )
        raise typer.Exit(code=1)
    typer.echo(f"{found.day}: recorded ({', '.join(found.statuses)})")


if __name__ == "__main__":
    # The CronJob, in the reconciler's image: no console script there, only this command.
    runner = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    runner.command()(command)
    runner(prog_name="burger-recs watch-day")
