"""Run records: one ``pipeline_runs`` row per run, whatever its outcome.

Every place that writes or reads a run's status uses :class:`RunStatus`; every place that
records a run builds a :class:`RunRecord`.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import asdict, dataclass, field

import sqlalchemy as sa

from burger_recs import db
from burger_recs.contract import pipeline_runs
from burger_recs.evaluation import Evaluation
from burger_recs.version import code_version


class RunStatus(enum.StrEnum):
    """How a run ended."""

    PUBLISHED = "published"
    """The day's recommendations were published."""
    GATED = "gated"
    """The model did not pass the quality gate; the published days stay as they were."""
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

    def __post_init__(self) -> None:
        self.status = RunStatus(self.status)  # a status outside the enum is refused here

    def row(self) -> dict:
        """Return the record as a ``pipeline_runs`` row (the status as plain text)."""
        return asdict(self) | {"status": self.status.value}


def evaluated_record(
    evaluation: Evaluation,
    run_date: dt.date,
    model_version: str,
    run_id: str,
    data_uri: str,
    started_at: str = "",
) -> RunRecord:
    """Return the record of a run that reached publishing: published or gated by the gate.

    Args:
        evaluation: the evaluate step's outcome.
        run_date: the day the run is for.
        model_version: the serving model's version.
        run_id: the run's id.
        data_uri: the data root, recorded with the run.
        started_at: when the run started (ISO-8601), if known.
    """
    return RunRecord(
        run_id=run_id,
        run_date=run_date,
        started_at=dt.datetime.fromisoformat(started_at) if started_at else None,
        status=RunStatus.PUBLISHED if evaluation.publishable else RunStatus.GATED,
        model_version=model_version,
        metrics=evaluation.metrics(),
        params=evaluation.params,
        message=evaluation.reason,
        data_uri=data_uri,
    )


def record_run(engine: sa.Engine, record: RunRecord) -> None:
    """Write (or replace) one ``pipeline_runs`` row on its own."""
    db.ensure_schema(engine)

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
