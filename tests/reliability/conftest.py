"""Reliability tests: the figures summary, and a PostgreSQL server of their own to stop.

The fault tests stop and start a PostgreSQL server mid-publish, and create roles; they do
that to a throwaway server started here with ``scripts/test-services.sh`` (a private env
file, its own port), never to the shared one of ``tests/conftest.py``.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import PG_BIN, _in_ci, _services
from tests.reliability.figures import render


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


@dataclass
class PrivateServer:
    """A throwaway PostgreSQL server that a test may stop and start."""

    url: str
    folder: Path

    def _pg_ctl(self, *args: str, check: bool = True) -> int:
        command = [str(PG_BIN / "pg_ctl"), "-D", str(self.folder / "data"), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, check=check, capture_output=True, text=True, timeout=120)
        return done.returncode

    def running(self) -> bool:
        """Tell whether the server is up."""
        return self._pg_ctl("status", check=False) == 0

    def start_if_stopped(self) -> None:
        """Start the server unless it runs (after a test that failed while it was down)."""
        if not self.running():
            self.start()

    def stop(self) -> None:
        """Stop the server (fast: open sessions are ended) and wait until it is down."""
        self._pg_ctl("-m", "fast", "-w", "stop")

    def start(self) -> None:
        """Start the server again with the options it ran with, and wait until it is up."""
        opts = shlex.split((self.folder / "data" / "postmaster.opts").read_text())
        # postmaster.opts: the server binary, then its arguments ("-D" "<data>" "-c" ...).
        args, skip = [], False
        for word in opts[1:]:
            if skip:
                skip = False
            elif word == "-D":
                skip = True
            else:
                args.append(word)
        self._pg_ctl("-l", str(self.folder / "postgres.log"), "-w", "-o", shlex.join(args), "start")


@pytest.fixture(scope="session")
def private_postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateServer]:
    """A PostgreSQL server for this session's fault tests alone (superuser URL)."""
    problem = None
    if not (PG_BIN / "initdb").is_file() and not _in_ci():
        problem = f"no PostgreSQL binaries in {PG_BIN}"
    elif os.geteuid() == 0 and not shutil.which("runuser"):
        problem = "running as root, and there is no runuser to start it as postgres"
    if problem:
        if _in_ci():
            pytest.fail(f"the fault tests need PostgreSQL in CI but {problem}", pytrace=False)
        pytest.skip(f"no private PostgreSQL: {problem}")
    env_file = tmp_path_factory.mktemp("private-postgres") / "test-services.env"
    try:
        started = _services("start", env_file, ignore_pgport=True)
        if started.returncode != 0:
            message = f"the private PostgreSQL did not start:\n{started.stderr.strip()}"
            if _in_ci():
                pytest.fail(message, pytrace=False)
            pytest.skip(message)
        values = dict(line.split("=", 1) for line in env_file.read_text().splitlines())
        yield PrivateServer(
            values["BURGER_RECS_TEST_POSTGRES_URL"], Path(values["BURGER_RECS_TEST_POSTGRES_DIR"])
        )
    finally:
        _services("stop", env_file, ignore_pgport=True)
