"""Run records: one ``pipeline_runs`` row per run, whatever its outcome, and failure notes.

Every place that writes or reads a run's status uses :class:`RunStatus`; every place that
records a run builds a :class:`RunRecord`. A step that fails leaves a note
(:func:`noted`, ``step_failures``) from which the run's final task records which step failed
and why: KFP's own final status names neither, on a cluster or locally.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import enum
import logging
import os
import traceback
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, fields

import sqlalchemy as sa

from burger_recs import db
from burger_recs.contract import pipeline_runs, step_failures
from burger_recs.errors import ExpectedFailure
from burger_recs.evaluation import (
    BASELINE_PRECISION,
    CHALLENGER,
    CHALLENGER_VERSION,
    CHAMPION,
    MODEL_PRECISION,
    POPULARITY,
    Evaluation,
)
from burger_recs.logs import LogTail
from burger_recs.logs import configure as configure_logging
from burger_recs.version import code_version

log = logging.getLogger(__name__)
# How long a failing step tries to reach the database for its note: the failure itself must
# not wait on a database that is away.
NOTE_RETRY_SECONDS = 10.0


class RunStatus(enum.StrEnum):
    """How a run ended."""

    PUBLISHED = "published"
    """Today's model passed the gate, became the champion and served the day."""
    GATED = "gated"
    """Today's model did not pass the quality gate and did not become the champion; the day
    was served by the champion or popularity (or, with ``serve_when_gated`` off, not at all)."""
    FAILED = "failed"
    """A step failed; nothing was published."""


@dataclass
class RunRecord:
    """One row of ``pipeline_runs``.

    Attributes:
        run_id: the run's id (unique; re-recording the same id replaces the row).
        run_date: the day the run is for.
        status: how the run ended (a :class:`RunStatus` or its value).
        code_version: the code that ran.
        model_version: the model that produced the rows, if any.
        started_at: when the run started, if known.
        finished_at: when the run ended.
        metrics: evaluation figures.
        params: the run's parameters.
        rows_written: recommendation rows published.
        customers: customers with recommendations.
        message: the gate's reason or the failure's message.
        data_uri: where the input came from.
        served_by: the scorer whose rows were published (challenger, champion, popularity),
            None when none were; a ``published`` run was served by the challenger.
    """

    run_id: str
    run_date: dt.date
    status: RunStatus
    code_version: str = field(default_factory=code_version)
    model_version: str | None = None
    started_at: dt.datetime | None = None
    finished_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    metrics: dict | None = None
    params: dict | None = None
    rows_written: int = 0
    customers: int | None = None
    message: str | None = None
    data_uri: str | None = None
    served_by: str | None = None

    def __post_init__(self) -> None:
        self.status = RunStatus(self.status)  # a status outside the enum is refused here
        if self.status is RunStatus.PUBLISHED and self.served_by is None:
            self.served_by = CHALLENGER  # published: today's model served the day

    @property
    def serves(self) -> bool:
        """Whether the run's day has rows to publish: a scorer served it and nothing failed."""
        return bool(self.served_by) and self.status is not RunStatus.FAILED

    def row(self) -> dict:
        """Return the record as a ``pipeline_runs`` row (the status as plain text)."""
        return asdict(self) | {"status": self.status.value}

    @classmethod
    def from_row(cls, row: sa.Row) -> RunRecord:
        """Return the record a ``pipeline_runs`` row holds (its status as a RunStatus)."""
        found = row._mapping
        return cls(**{f.name: found[f.name] for f in fields(cls)})


def parse_time(text: str) -> dt.datetime | None:
    """Parse an ISO-8601 time; None for an empty text or an unresolved KFP placeholder."""
    if not text or text.startswith("{{"):
        return None
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def evaluated_record(
    evaluation: Evaluation,
    run_date: dt.date,
    model_version: str,
    run_id: str,
    data_uri: str,
    started_at: str = "",
) -> RunRecord:
    """Return the record of a run that reached publishing: published or gated by the gate.

    ``published``: today's model passed and serves the day; ``gated``: it did not, and the
    champion or popularity serves the day (or nobody, with ``serve_when_gated`` off). The
    record's model version is the scorer that served: today's model, the champion's
    version, or ``popularity``.

    Args:
        evaluation: the evaluate step's outcome.
        run_date: the day the run is for.
        model_version: today's serving model's version.
        run_id: the run's id.
        data_uri: the data root, recorded with the run.
        started_at: when the run started (ISO-8601), if known.
    """
    served = {
        CHALLENGER: model_version,
        CHAMPION: evaluation.champion_version,
        POPULARITY: POPULARITY,
    }
    message = evaluation.reason
    if evaluation.served_by != CHALLENGER:
        message += f"; {evaluation.serving_reason}"
    return RunRecord(
        run_id=run_id,
        run_date=run_date,
        started_at=parse_time(started_at),
        status=RunStatus.PUBLISHED if evaluation.publishable else RunStatus.GATED,
        model_version=served.get(evaluation.served_by, model_version),
        metrics=evaluation.metrics() | {CHALLENGER_VERSION: model_version},
        params=evaluation.params,
        message=message,
        data_uri=data_uri,
        served_by=evaluation.served_by or None,
    )


def served_label(served_by: str | None, model_version: str | None) -> str | None:
    """Who served a day, as every view says it: the scorer, its model version beside it.

    ``challenger (lightfm-07581f51c771)``, ``champion (lightfm-...)``, ``popularity``; None
    when nobody did (a failed run, or a gated day with ``serve_when_gated`` off), which each
    view shows its own way. The same in ``burger-recs runs``, the backfill table, the run
    index, the trend page, the run's summary and the alert.
    """
    if not served_by:
        return None
    if served_by == POPULARITY or not model_version or model_version == served_by:
        return served_by
    return f"{served_by} ({model_version})"


def record_run(engine: sa.Engine, record: RunRecord) -> None:
    """Write (or replace) one ``pipeline_runs`` row on its own."""
    db.require_schema(engine)

    def transaction() -> None:
        with engine.begin() as conn:
            db.upsert(conn, pipeline_runs, [record.row()])

    db.with_retries(transaction)


def recent_runs(engine: sa.Engine, limit: int = 20) -> list[sa.Row]:
    """Return the latest recorded pipeline runs, newest first."""
    c = pipeline_runs.c
    query = sa.select(pipeline_runs).order_by(c.finished_at.desc()).limit(limit)
    with engine.connect() as conn:
        return list(conn.execute(query))


def gated_streak(engine: sa.Engine, until: dt.date, limit: int = 400) -> int:
    """Return for how many run days in a row, up to ``until``, no model was promoted.

    The run days are those with a published or gated run, each counted by its latest one
    (failed runs served nothing); the streak ends at the newest published one.
    """
    c = pipeline_runs.c
    query = (
        sa.select(c.run_date, c.status)
        .where(
            c.run_date <= until,
            c.status.in_([RunStatus.PUBLISHED.value, RunStatus.GATED.value]),
        )
        .order_by(c.run_date.desc(), c.finished_at.desc())
        .limit(limit)
    )
    with engine.connect() as conn:
        rows = list(conn.execute(query))
    streak, seen = 0, set()
    for row in rows:
        if row.run_date in seen:
            continue  # an earlier run of a day counted already
        seen.add(row.run_date)
        if row.status != RunStatus.GATED.value:
            break
        streak += 1
    return streak


def runs_table(rows: list[sa.Row]) -> str:
    """Return ``pipeline_runs`` rows as `burger-recs runs` lists them: a header, a line each."""
    lines = [
        f"{'run id':<30}{'date':<12}{'status':<11}{'served by':<35}{'code':<20}"
        f"{'p@k model/base':<17}{'rows':>9}  finished (UTC)"
    ]
    for r in rows:
        m = r.metrics or {}
        pk = (
            f"{m[MODEL_PRECISION]:.3f}/{m[BASELINE_PRECISION]:.3f}" if MODEL_PRECISION in m else "-"
        )
        finished = r.finished_at.strftime("%Y-%m-%d %H:%M") if r.finished_at else "-"
        lines.append(
            f"{r.run_id[:29]:<30}{r.run_date!s:<12}{r.status:<11}"
            f"{served_label(r.served_by, r.model_version) or '-':<35}"
            f"{r.code_version[:19]:<20}{pk:<17}{r.rows_written:>9,}  {finished}"
        )
    return "\n".join(lines)


def find_run(engine: sa.Engine, run_id: str) -> RunRecord | None:
    """Return a run's record, or None when it is not recorded."""
    with engine.connect() as conn:
        row = conn.execute(sa.select(pipeline_runs).where(pipeline_runs.c.run_id == run_id)).first()
    return RunRecord.from_row(row) if row is not None else None


@dataclass(frozen=True)
class FailureNote:
    """What a failed step left for its run's final task.

    Attributes:
        step: the step that failed.
        message: its error, as the step said it.
        expected: whether the input or the settings caused it (not a defect in the code).
        noted_at: when the step failed.
        log_tail: the end of the step's log (and a defect's traceback), if it kept one.
    """

    step: str
    message: str
    expected: bool
    noted_at: dt.datetime
    log_tail: str | None = None


NOTES_DATABASE_URL_ENV = "BURGER_RECS_NOTES_DATABASE_URL"
"""The credential of the steps that only ever write a failure note (components/cluster.py).

On PostgreSQL its role may insert into ``step_failures`` and nothing else
(:func:`burger_recs.migrations.grant_notes`). Unset, a note goes through ``DATABASE_URL``.
"""


def note_failure(
    step: str, run_id: str, message: str, expected: bool, log_tail: str | None = None
) -> bool:
    """Leave a failure note for the run's final task.

    The database is :data:`NOTES_DATABASE_URL_ENV`'s, else ``DATABASE_URL``'s. The note is
    one upsert into ``step_failures``, the only table a notes credential may write, so the
    step checks nothing else first (not even the schema's revision).

    Never raises: the step's own failure matters more than its note. Returns whether the note
    was written.
    """
    row = {
        "run_id": run_id,
        "step": step,
        "message": message,
        "expected": expected,
        "noted_at": dt.datetime.now(dt.UTC),
        "log_tail": log_tail,
    }
    try:
        engine = db.make_engine(os.environ.get(NOTES_DATABASE_URL_ENV) or None)

        def transaction() -> None:
            with engine.begin() as conn:
                db.upsert(conn, step_failures, [row])

        db.with_retries(transaction, NOTE_RETRY_SECONDS)
    except Exception as exc:
        log.warning(
            "%s: no failure note for the run's final task (%s); it will record the run as "
            "failed without naming the step",
            step,
            type(exc).__name__,
        )
        return False
    return True


def failure_notes(engine: sa.Engine, run_id: str) -> list[FailureNote]:
    """Return the failure notes of a run, the latest first."""
    c = step_failures.c
    query = sa.select(c.step, c.message, c.expected, c.noted_at, c.log_tail)
    with engine.connect() as conn:
        rows = conn.execute(query.where(c.run_id == run_id).order_by(c.noted_at.desc())).all()
    return [FailureNote(r.step, r.message, r.expected, r.noted_at, r.log_tail) for r in rows]


def run_log(engine: sa.Engine, run_id: str) -> str | None:
    """Return what the results database keeps of a run's logs, as ``burger-recs logs`` shows it.

    The run's record (its day, status and message) and, for each step that failed, its note:
    its error and the end of its log. Read from the project's own records, so the same on every
    runner and long after a cluster deleted the run's pods and Workflow.

    Returns:
        The text, or None when the database knows nothing of the run.
    """
    record = find_run(engine, run_id)
    notes = failure_notes(engine, run_id)
    if record is None and not notes:
        return None
    lines = [f"run {run_id}"]
    if record is not None:
        lines.append(f"  {record.run_date}  {record.status}: {record.message or '-'}")
    else:
        lines.append("  no run record (its final task has not recorded it)")
    if not notes:
        lines.append("  no step failed")
    for note in reversed(notes):  # in the order they failed
        kind = "bad input or settings" if note.expected else "a defect or an outage"
        lines += [
            "",
            f"== {note.step} failed at {db.utc(note.noted_at):%Y-%m-%d %H:%M:%S} UTC ({kind})",
        ]
        lines.append(f"   {note.message}")
        if note.log_tail:
            lines += [
                "   -- the end of its log --",
                *(f"   {line}" for line in note.log_tail.splitlines()),
            ]
    return "\n".join(lines)


RUN_ID_ENV = "BURGER_RECS_RUN_ID"
"""The environment variable that hands every step its run's id, on every runner.

Through the environment, not a parameter: a per-run parameter would be part of a cacheable
task's cache key on a cluster, where the driver resolves placeholders before it computes the
key (backend/src/v2/driver/resolve.go, ``{{$.pipeline_job_uuid}}`` -> RunID; the key is
cacheutils/cache.go GenerateCacheKey: input values, outputs, image, command, no environment),
so no task would ever be served from the cache. Set on a cluster from the pod's
``pipeline/runid`` label (components/cluster.py), locally by the runner (pipelines/local_run.py).
"""


def run_key(orchestrator_run_id: str = "") -> str:
    """Return the id that keys the run's failure notes: the environment's, else the one given.

    Every task of a run, cacheable or not, sees the same :data:`RUN_ID_ENV`; the tasks that
    always run (the check, publishing, finish) also take the orchestrator's run id as a
    parameter, which stands in where the environment was not set (a bare kfp.local run).
    """
    return os.environ.get(RUN_ID_ENV) or orchestrator_run_id


@contextlib.contextmanager
def noted(step: str, orchestrator_run_id: str = "") -> Iterator[None]:
    """Run a step's body; when it fails, leave a failure note for the run's final task.

    An :class:`~burger_recs.errors.ExpectedFailure` (broken input, a bad parameter) is
    logged as its message alone and ends the step with exit status 1, without a traceback:
    the message says what is wrong and where. Any other exception is re-raised, so its
    traceback stays in the step's log.

    The note keeps the end of the step's log (:class:`~burger_recs.logs.LogTail`, and a
    defect's traceback), which ``burger-recs logs RUN`` shows after the pod is gone.

    Notes are keyed by :func:`run_key`: the run id in the step's environment
    (:data:`RUN_ID_ENV`), which no cache key includes on a cluster, so the cacheable steps
    take no per-run parameter at all.

    Args:
        step: the step's name.
        orchestrator_run_id: the orchestrator's run id, where the task takes it (the tasks
            that always run); used when the environment does not say.
    """
    key = run_key(orchestrator_run_id)
    configure_logging()
    tail = LogTail()
    logger = logging.getLogger("burger_recs")
    logger.addHandler(tail)
    try:
        yield
    except ExpectedFailure as exc:
        log.error("%s failed: %s", step, exc)
        note_failure(step, key, str(exc), expected=True, log_tail=tail.text())
        raise SystemExit(1) from None
    except Exception as exc:
        note_failure(
            step, key, f"{type(exc).__name__}: {exc}", False, tail.text(traceback.format_exc())
        )
        raise
    finally:
        logger.removeHandler(tail)
