"""Processes the reliability tests start, kill and watch: a publisher and a reader.

Both run in forked child processes (``multiprocessing`` with the fork start method), so each
is a real process with its own database connections that the parent can SIGKILL at any
moment, and starting one costs milliseconds rather than the seconds of a fresh interpreter.

The publisher publishes one *version* of the day (:func:`day_recs`) through the real
:func:`burger_recs.steps.publish.publish`. It reports its progress through a pipe at named
points and, when asked to, stops at one of them (blocking forever) so that the parent kills it
exactly there:

=========== ====================================================================
start       the engine is made, nothing is written yet
deleted     the day's old rows are deleted (inside the transaction)
load        the N-th row of the load is written (COPY row on PostgreSQL, SQLite
            progress tick inside the executemany)
loaded      every new row is written, the menu and the run record are next
commit      COMMIT is about to be sent
committed   publish() returned: the transaction is committed
=========== ====================================================================
"""

from __future__ import annotations

import datetime as dt
import functools
import multiprocessing
import os
import signal
import time
import traceback
from dataclasses import dataclass, field
from multiprocessing.connection import Connection

import pandas as pd
import sqlalchemy as sa

from burger_recs import db
from burger_recs.contract import pipeline_runs

CONTEXT = multiprocessing.get_context("fork")
DAY = dt.date(2026, 3, 28)  # the day republished again and again
YESTERDAY = dt.date(2026, 3, 27)  # a day nobody touches: it must never change
K = 10
ITEMS = [f"i{n:02d}" for n in range(24)]
MENU = pd.DataFrame(
    {
        "item_id": ITEMS,
        "name": [f"Combo {i}" for i in ITEMS],
        "ingredients": ["beef patty;cheddar;pickles"] * len(ITEMS),
        "price": [8.0 + n / 4 for n in range(len(ITEMS))],
    }
)
POINTS = ("start", "deleted", "load", "loaded", "commit", "committed")
# How long the parent waits for a child to reach a point or to finish before failing the
# test; a deadline against hangs, not a measured duration.
DEADLINE = 120.0


def model_version(version: int) -> str:
    return f"model-v{version}"


def run_id(version: int) -> str:
    return f"run-v{version}"


def day_recs(version: int, customers: int) -> pd.DataFrame:
    """The top-K of one version of the day: every row differs from every other version's.

    Each version leaves out a different tenth of the customers (never the first ten, whom
    the readers ask for), so rows left over from an older version (a lost DELETE) show as
    extra customers, and it ranks the items differently for everyone.
    """
    rows = [
        {
            "customer_id": f"c{n:05d}",
            "rank": rank,
            "item_id": ITEMS[(n + 5 * version + rank) % len(ITEMS)],
            "score": 1.0 - rank / 100 + version / 1000,
        }
        for n in range(customers)
        if n < 10 or (n + version) % 10
        for rank in range(1, K + 1)
    ]
    return pd.DataFrame(rows)


@functools.cache
def expected_rows(version: int, customers: int) -> frozenset[tuple]:
    """The day's rows as the database must hold them once ``version`` is published."""
    frame = day_recs(version, customers)
    return frozenset(
        (c, int(r), i, float(s), model_version(version))
        for c, r, i, s in frame.itertuples(index=False)
    )


def run_records(engine: sa.Engine) -> dict[str, tuple]:
    c = pipeline_runs.c
    query = sa.select(c.run_id, c.status, c.rows_written, c.model_version)
    with engine.connect() as conn:
        return {row.run_id: tuple(row) for row in conn.execute(query)}


def record(version: int, customers: int) -> object:
    from burger_recs.runs import RunRecord

    return RunRecord(
        run_id=run_id(version),
        run_date=DAY,
        status="published",
        code_version="code-test",
        model_version=model_version(version),
        params={"k": K, "customers": customers},
    )


# ---------------------------------------------------------------------------------------------
# The publisher
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Stop:
    """Where the publisher stops for the parent to kill it (point None: never stops).

    Attributes:
        point: one of POINTS, or None.
        row: for ``load``: the row (PostgreSQL) or progress tick (SQLite) to stop at.
        hold: instead of stopping, wait at the point until the shared counter ``reads``
            (the readers', or one the parent bumps) has grown by ``hold``, then go on.
    """

    point: str | None = None
    row: int = 0
    hold: int = 0


@dataclass
class _Probe:
    channel: Connection
    stop: Stop
    reads: object = None  # a shared multiprocessing.Value, for Stop.hold
    load_size: int = 0
    loaded: bool = False

    def point(self, name: str) -> None:
        self.channel.send(("point", name))
        if self.stop.point != name:
            return
        if self.stop.hold:
            hold, self.stop = self.stop.hold, Stop()  # once: a retry goes straight through
            _hold(self, hold)
            return
        self.channel.send(("stopped", name))
        while True:  # wait for SIGKILL
            signal.pause()

    def row_written(self) -> None:
        self.load_size += 1
        if self.stop.point == "load" and self.load_size == self.stop.row:
            self.point("load")


def _instrument(engine: sa.Engine, probe: _Probe) -> None:
    """Hook the probe's points into this (child) process's publish code."""
    import psycopg

    from burger_recs import db

    @sa.event.listens_for(engine, "after_cursor_execute")
    def _after(_conn, _cursor, statement, *_args) -> None:
        if statement.lstrip().upper().startswith("DELETE FROM"):
            probe.point("deleted")

    @sa.event.listens_for(engine, "commit")
    def _commit(_conn) -> None:
        if probe.loaded:  # not the commit of creating the tables: the day's
            probe.point("commit")

    real_write_row = psycopg.Copy.write_row

    def write_row(self, row) -> None:
        real_write_row(self, row)
        probe.row_written()

    psycopg.Copy.write_row = write_row
    real_load = db.load_rows

    def load(conn: sa.Connection, table: sa.Table, rows: pd.DataFrame) -> None:
        sqlite = conn.engine.dialect.name == "sqlite"
        if sqlite:
            # A tick every 100 SQLite VM instructions: points inside the one executemany.
            conn.connection.driver_connection.set_progress_handler(
                lambda: probe.row_written() or 0, 100
            )
        real_load(conn, table, rows)
        if sqlite:
            conn.connection.driver_connection.set_progress_handler(None, 0)
        probe.loaded = True
        probe.channel.send(("load-size", probe.load_size))
        probe.point("loaded")

    db.load_rows = load


def _hold(probe: _Probe, hold: int) -> None:
    """Wait (the transaction open) until the shared counter has grown by ``hold``."""
    start = probe.reads.value
    probe.channel.send(("holding", start))
    deadline = time.monotonic() + DEADLINE
    while probe.reads.value < start + hold:
        if time.monotonic() > deadline:
            raise TimeoutError("the readers did not read while the transaction was open")
        time.sleep(0.001)
    probe.channel.send(("held", probe.reads.value - start))


def publisher(
    url: str,
    version: int,
    customers: int,
    stop: Stop,
    channel: Connection,
    reads: object = None,
    retry_seconds: float = 5.0,
) -> None:
    """Child process: publish ``version`` of the day, reporting points and maybe stopping."""
    os.environ[db.RETRY_SECONDS_ENV] = str(retry_seconds)
    try:
        from burger_recs.steps.publish import publish

        engine = db.make_engine(url)
        probe = _Probe(channel, stop, reads)
        _instrument(engine, probe)
        _report_retries(channel)
        probe.point("start")
        publish(engine, record(version, customers), day_recs(version, customers), MENU)
        probe.point("committed")
        channel.send(("done", probe.load_size))
    except BaseException as exc:
        channel.send(("error", f"{type(exc).__name__}: {exc}", traceback.format_exc()))
        raise


def _report_retries(channel: Connection) -> None:
    """Tell the parent each time the retry policy backs off (the database went away)."""
    import logging

    class Retries(logging.Handler):
        def emit(self, entry: logging.LogRecord) -> None:
            channel.send(("retry", entry.getMessage()))

    logger = logging.getLogger("burger_recs.db")
    logger.addHandler(Retries(logging.WARNING))
    logger.setLevel(logging.WARNING)


@dataclass
class Child:
    """A started child process and the parent's end of its pipe."""

    process: multiprocessing.Process
    channel: Connection
    messages: list[tuple] = field(default_factory=list)

    def wait_for(self, *kinds: str, deadline: float = DEADLINE) -> tuple:
        """Read messages until one of ``kinds`` (or an error, or the end) arrives."""
        end = time.monotonic() + deadline
        while True:
            left = end - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no {'/'.join(kinds)} from the child; got {self.messages}")
            if not self.channel.poll(min(left, 0.5)):
                if not self.process.is_alive() and not self.channel.poll():
                    return ("exited", self.process.exitcode)
                continue
            try:
                message = self.channel.recv()
            except EOFError:
                self.process.join(deadline)
                return ("exited", self.process.exitcode)
            self.messages.append(message)
            if message[0] in kinds or message[0] == "error":
                return message

    def kill(self) -> bool:
        """SIGKILL the child; return True when it was still running (a real kill)."""
        self.process.kill()
        self.process.join(DEADLINE)
        self._drain()
        return self.process.exitcode == -signal.SIGKILL

    def _drain(self) -> None:
        while self.channel.poll():
            try:
                self.messages.append(self.channel.recv())
            except EOFError:
                break

    def finish(self) -> int:
        """Wait for the child to end; return its exit code."""
        self.process.join(DEADLINE)
        if self.process.exitcode is None:
            self.process.kill()
            raise TimeoutError(f"the child did not finish; messages: {self.messages}")
        self._drain()
        return self.process.exitcode


def start(target, *args, **kwargs) -> Child:
    """Fork a child running ``target(*args, channel=..., **kwargs)``."""
    parent_end, child_end = CONTEXT.Pipe()
    process = CONTEXT.Process(target=target, args=args, kwargs={**kwargs, "channel": child_end})
    process.start()
    child_end.close()
    return Child(process, parent_end)


# ---------------------------------------------------------------------------------------------
# The reader
# ---------------------------------------------------------------------------------------------
def reader(
    url: str,
    customers: list[str],
    customer_count: int,
    stop_event: object,
    reads: object,
    channel: Connection,
) -> None:
    """Child process: read customers' recommendations in a loop until told to stop.

    Every read must be a complete top-K of one published version, exactly as published
    (:func:`day_recs`). Reports how many reads it made, which versions it saw, and every
    incomplete read or error.
    """
    engine = db.make_engine(url)
    expected: dict[int, dict[str, list[str]]] = {}

    def top_k(version: int, customer: str) -> list[str] | None:
        if version not in expected:
            frame = day_recs(version, customer_count).sort_values(["customer_id", "rank"])
            expected[version] = frame.groupby("customer_id")["item_id"].apply(list).to_dict()
        return expected[version].get(customer)

    count, errors, incomplete, seen = 0, [], [], {}
    n = 0
    while not stop_event.is_set():
        customer = customers[n % len(customers)]
        n += 1
        try:
            day, rows = db.customer_recommendations(engine, customer)
        except Exception as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
            continue
        versions = {r.model_version for r in rows}
        version = int(next(iter(versions)).removeprefix("model-v")) if len(versions) == 1 else -1
        items = [r.item_id for r in rows]
        ok = (
            day == DAY
            and [r.rank for r in rows] == list(range(1, K + 1))
            and version >= 0
            and items == top_k(version, customer)
        )
        if ok:
            seen[version] = seen.get(version, 0) + 1
        else:
            incomplete.append((customer, str(day), [tuple(r) for r in rows][:3], len(rows)))
        count += 1
        with reads.get_lock():
            reads.value += 1
    channel.send(("reads", count, seen, errors[:5], len(errors), incomplete[:5], len(incomplete)))
