"""Reliability tests: the figures summary, and a PostgreSQL server of their own to stop.

The fault tests stop and start a PostgreSQL server mid-publish, and create roles; they do
that to a throwaway server started here with ``scripts/test-services.sh`` (a private env
file, its own port), never to the shared one of ``tests/conftest.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.figures import render
from tests.support.services import PrivateServer, postgres_server


def pytest_terminal_summary(terminalreporter) -> None:
    """Print the reliability figures measured in this run."""

    def nodeids(category: str) -> list[str]:
        reports = terminalreporter.stats.get(category, [])
        return [r.nodeid for r in reports if getattr(r, "when", "call") == "call"]

    lines = render(nodeids("passed"), nodeids("failed"))
    if lines:
        terminalreporter.section("reliability figures")
        for line in lines:
            terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def private_postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateServer]:
    """A PostgreSQL server for this session's fault tests alone (superuser URL)."""
    with postgres_server(tmp_path_factory.mktemp("private-postgres"), private=True) as values:
        yield PrivateServer(
            values["BURGER_RECS_TEST_POSTGRES_URL"], Path(values["BURGER_RECS_TEST_POSTGRES_DIR"])
        )
