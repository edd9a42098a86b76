"""Guarantee 1: a publish killed with SIGKILL at any moment leaves the day whole.

A real publishing process (forked, with its own connections) is killed at seeded random
points before, during and after the load, and at seeded random times; after every kill the
day must be exactly the old complete version or exactly the new complete version (never a
mix, a part, a duplicate or nothing), the day nobody touched must be unchanged, the run must
be recorded if and only if the new version is there, and a rerun of the same run must then
complete the day. On SQLite and on a real PostgreSQL server.
"""

from __future__ import annotations

import random
import time

import pytest
import sqlalchemy as sa

from burger_recs.runs import RunRecord
from burger_recs.steps.publish import publish
from tests.support import figures, workers
from tests.support.database import published_day
from tests.support.workers import Stop

pytestmark = pytest.mark.slow  # 30 publishes killed and rerun, per database

TRIALS = 30  # per database
CUSTOMERS = 200  # about 1,900 rows a version: a load long enough to be hit inside
SEED = 20260328
# What each trial does, in turn; the parameters (row, delay) are drawn from the seeded RNG.
# The 21 trials at a point kill for sure; the 9 at a random time kill if the publish is
# still running by then.
PLAN = (
    "start",
    "deleted",
    "load",
    "load",
    "loaded",
    "commit",
    "committed",
    "random",
    "random",
    "random",
)
# Where the kill must leave the day: the old version before the commit, the new one after.
EXPECTED = {
    "start": "old",
    "deleted": "old",
    "load": "old",
    "loaded": "old",
    "commit": "old",
    "committed": "new",
}


def _state(engine: sa.Engine, old: int, new: int) -> str:
    """Classify the day: "old", "new", or what is wrong with it."""
    rows = published_day(engine, workers.DAY)
    keys = {(r[0], r[1]) for r in rows}
    if len(keys) != len(rows):
        return f"duplicated ({len(rows)} rows, {len(keys)} keys)"
    found = set(rows)
    if found == workers.expected_rows(old, CUSTOMERS):
        return "old"
    if found == workers.expected_rows(new, CUSTOMERS):
        return "new"
    if not rows:
        return "empty"
    versions = sorted({r[4] for r in rows})
    return f"partial ({len(rows)} rows of versions {versions})"


def _publish_in_child(url: str, version: int, stop: Stop | None = None) -> workers.Child:
    return workers.start(workers.publisher, url, version, CUSTOMERS, stop or Stop())


def _rows_of(engine: sa.Engine, day) -> list[tuple]:
    return sorted(published_day(engine, day))


def test_a_killed_publish_leaves_the_old_or_the_new_day_and_a_rerun_completes_it(engine):
    name = engine.dialect.name
    url = engine.url.render_as_string(hide_password=False)
    # A day nobody touches, and the first version of the day, published before any kill.
    untouched = workers.day_recs(99, 50)
    publish(
        engine,
        RunRecord("yesterday", workers.YESTERDAY, "published", model_version="y"),
        untouched,
        workers.MENU,
    )
    yesterday = _rows_of(engine, workers.YESTERDAY)
    engine.dispose()  # no pooled connection is inherited by the children
    first = _publish_in_child(url, 0)
    assert first.wait_for("done")[0] == "done", first.messages
    assert first.finish() == 0
    load_size = dict(m[:2] for m in first.messages if m[0] == "load-size")["load-size"]
    # A random delay reaches across a whole publish: start to commit, measured once here.
    started = time.monotonic()
    timing = _publish_in_child(url, 1)
    assert timing.finish() == 0, timing.messages
    publish_seconds = time.monotonic() - started
    rng = random.Random(f"{SEED}-{name}")

    outcomes: list[tuple] = []
    for trial in range(TRIALS):
        old, new = trial + 1, trial + 2
        kind = PLAN[trial % len(PLAN)]
        if kind == "random":
            stop, delay = Stop(), rng.uniform(0, publish_seconds * 1.2)
        elif kind == "load":
            stop, delay = Stop("load", row=rng.randint(1, load_size)), 0.0
        else:
            stop, delay = Stop(kind), 0.0
        child = _publish_in_child(url, new, stop)
        if kind == "random":
            assert child.wait_for("point")[1] == "start", child.messages
            time.sleep(delay)
        else:
            reached = child.wait_for("stopped")
            assert reached == ("stopped", kind), child.messages
        killed = child.kill()
        state = _state(engine, old, new)
        runs = workers.run_records(engine)
        recorded = workers.run_id(new) in runs
        where = next(
            (m[1] for m in reversed(child.messages) if m[0] in ("point", "stopped")), "forked"
        )
        outcomes.append((trial, kind, stop.row or round(delay, 4), where, killed, state))

        # The day is one whole version; the run is recorded exactly when the new one is in.
        assert state in ("old", "new"), outcomes[-1]
        if kind != "random":
            assert killed, outcomes[-1]
            assert state == EXPECTED[kind], outcomes[-1]
        assert recorded == (state == "new"), (outcomes[-1], runs)
        assert _rows_of(engine, workers.YESTERDAY) == yesterday
        engine.dispose()

        # The same run again (as an orchestrator's retry would) completes the day.
        rerun = _publish_in_child(url, new)
        assert rerun.finish() == 0, rerun.messages
        assert _state(engine, old, new) == "new"
        runs = workers.run_records(engine)
        assert runs[workers.run_id(new)] == (
            workers.run_id(new),
            "published",
            len(workers.expected_rows(new, CUSTOMERS)),
            workers.model_version(new),
        )
        engine.dispose()

    kills = sum(o[4] for o in outcomes)
    figures.add(
        f"crash safety ({name})",
        trials=len(outcomes),
        **{"SIGKILLs delivered": kills},
        **{"old day kept": sum(o[5] == "old" for o in outcomes)},
        **{"new day complete": sum(o[5] == "new" for o in outcomes)},
        **{"partial or duplicated": sum(o[5] not in ("old", "new") for o in outcomes)},
        **{"reruns completed": len(outcomes)},
    )
    print(f"\n{name}: {kills} of {len(outcomes)} publishes killed")
    for outcome in outcomes:
        print("  trial {:2d} {:9s} at {:<8} reached {:9s} killed {!s:5} -> {}".format(*outcome))
    assert kills >= 21
    assert {o[3] for o in outcomes if o[4]} >= set(workers.POINTS)
