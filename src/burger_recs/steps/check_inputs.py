"""Check inputs: the run's day, the fingerprint of the drops it will read, and the champion.

The first task of every run, never served from a cache: ingest takes the fingerprint as a
parameter, and evaluate and recommend the champion's version, so that a cache (kfp.local's,
or KFP's on a cluster) serves them again only while the day, the drops and the champion are
unchanged.
"""

from __future__ import annotations

import logging
import os

from burger_recs import db
from burger_recs.champion import current_champion
from burger_recs.logs import configure as configure_logging
from burger_recs.settings import resolve_run_date
from burger_recs.window import fingerprint

log = logging.getLogger(__name__)


def run(
    data_uri: str,
    run_date: str,
    window_days: int,
    scheduled_at: str = "",
    day_closes_at: str | None = None,
) -> tuple[str, str, str]:
    """Check inputs entry point of the pipeline step: the day, what its drops hold, the champion.

    Runs on every run, before ingest: ingest is then served from the cache only when the
    day and the drops' :func:`fingerprint` are those of an earlier run, and evaluate and
    recommend only for the same champion.

    Args:
        data_uri: the data root.
        run_date: the day to run for; empty: the day of ``scheduled_at``.
        window_days: days of orders to read, the run date included.
        scheduled_at: the run's schedule time (ISO-8601), when the orchestrator gives one.
        day_closes_at: HH:MM (UTC) at which a day closes (:func:`resolve_run_date`).

    Returns:
        The resolved run date (``YYYY-MM-DD``), so that every later step uses the same day;
        the fingerprint of the files ingest will read; the champion's version ("" when
        there is none, or no ``DATABASE_URL`` to find one in).
    """
    configure_logging("check_inputs")
    day = resolve_run_date(run_date, scheduled_at, day_closes_at)
    digest, count = fingerprint(data_uri, day, window_days)
    champion = ""
    if os.environ.get(db.DATABASE_URL_ENV):
        champion = current_champion(db.make_engine(), day)  # valid for the day only
    else:
        log.warning("check: no %s, so no champion model to fall back on", db.DATABASE_URL_ENV)
    log.info(
        "check: run date %s (run_date %r, scheduled at %r); %d files to read, fingerprint %s; "
        "champion %s",
        day,
        run_date,
        scheduled_at,
        count,
        digest[:12],
        champion or "none",
    )
    return day.isoformat(), digest, champion
