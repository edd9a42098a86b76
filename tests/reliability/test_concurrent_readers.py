"""Guarantee 2: readers are never disturbed while a day is republished.

Reader processes ask for customers' recommendations in a loop while another process
republishes the day again and again. Each republish holds its transaction open (old rows
deleted, new rows loaded, not committed) until the readers have read several times, so the
reads provably overlap the write; one republish is SIGKILLed at that moment. Every read must
be a complete top-k of one published version, exactly as published, and no read may fail.
"""

from __future__ import annotations

import time

import pytest

from burger_recs.steps.publish import publish
from tests.support import figures, workers
from tests.support.workers import CONTEXT, DEADLINE, Stop

pytestmark = pytest.mark.slow  # reader and publisher processes, republishing for seconds

READERS = 3
REPUBLISHES = 6
KILLED = 4  # this republish is killed while its transaction is open
CUSTOMERS = 200
HOLD = 4 * READERS  # reads each republish waits for while its transaction is open


def _wait_for_reads(reads, at_least: int) -> None:
    deadline = time.monotonic() + DEADLINE
    while reads.value < at_least:
        assert time.monotonic() < deadline, "the readers stopped reading"
        time.sleep(0.005)


def test_readers_get_a_complete_top_k_while_the_day_is_republished(engine):
    name = engine.dialect.name
    url = engine.url.render_as_string(hide_password=False)
    publish(engine, workers.record(0, CUSTOMERS), workers.day_recs(0, CUSTOMERS), workers.MENU)
    engine.dispose()
    stop, reads = CONTEXT.Event(), CONTEXT.Value("q", 0)
    # The first ten customers are in every version; each reader asks for its own ones.
    readers = []
    for i in range(READERS):
        mine = [f"c{n:05d}" for n in range(i, 10, READERS)]
        readers.append(workers.start(workers.reader, url, mine, CUSTOMERS, stop, reads))
    during = 0
    try:
        _wait_for_reads(reads, READERS)
        for version in range(1, REPUBLISHES + 1):
            if version == KILLED:
                child = workers.start(workers.publisher, url, version, CUSTOMERS, Stop("loaded"))
                assert child.wait_for("stopped") == ("stopped", "loaded"), child.messages
                before = reads.value
                _wait_for_reads(reads, before + HOLD)
                during += reads.value - before
                assert child.kill()
                continue
            child = workers.start(
                workers.publisher, url, version, CUSTOMERS, Stop("loaded", hold=HOLD), reads=reads
            )
            held = child.wait_for("held")
            assert held[0] == "held", child.messages
            during += held[1]
            assert child.finish() == 0, child.messages
        _wait_for_reads(reads, reads.value + HOLD)  # the last version is read too
    finally:
        stop.set()
    results = []
    for reader in readers:
        message = reader.wait_for("reads")
        assert reader.finish() == 0, reader.messages
        results.append(message)

    total = sum(r[1] for r in results)
    seen: dict[int, int] = {}
    for r in results:
        for version, count in r[2].items():
            seen[version] = seen.get(version, 0) + count
    errors = sum(r[4] for r in results)
    incomplete = sum(r[6] for r in results)
    figures.add(
        f"concurrent readers ({name})",
        reads=total,
        **{"reads while a publish was open": during},
        republishes=REPUBLISHES,
        **{"killed mid-transaction": 1},
        errors=errors,
        lost=incomplete,
    )
    assert errors == 0, [r[3] for r in results]
    assert incomplete == 0, [r[5] for r in results]
    assert total >= during >= REPUBLISHES * HOLD
    # Reads saw the first and the last version, and never the killed one's rows.
    assert {0, REPUBLISHES} <= set(seen), seen
    assert KILLED not in seen, seen
