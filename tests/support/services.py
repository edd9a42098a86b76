"""The services some tests need: PostgreSQL, the GCS emulator, a Docker engine.

PostgreSQL comes from ``BURGER_RECS_TEST_POSTGRES_URL`` (``scripts/test-services.sh start``
writes one) or, when the server binaries are installed (in CI: installed if missing), from a
throwaway server that ``scripts/test-services.sh`` starts. Without either the tests that need
it are skipped, except in CI (``CI=true``), where they fail. The fixtures that start the
servers are in ``tests/conftest.py`` and ``tests/reliability/conftest.py``.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import pytest
from google.cloud import storage

REPO = Path(__file__).resolve().parents[2]
SERVICES_SCRIPT = REPO / "scripts" / "test-services.sh"
PG_BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))
POSTGRES_URL_ENV = "BURGER_RECS_TEST_POSTGRES_URL"


def in_ci() -> bool:
    """Tell whether this is a CI run (``CI=true``), where every test must run."""
    return os.environ.get("CI", "").lower() == "true"


def skip_or_fail(message: str, ci_message: str | None = None) -> NoReturn:
    """Skip the test, or fail it in CI, where nothing may be skipped for want of a service."""
    if in_ci():
        pytest.fail(ci_message or message, pytrace=False)
    pytest.skip(message)


# ---------------------------------------------------------------------------------------------
# PostgreSQL
# ---------------------------------------------------------------------------------------------
def postgres_unavailable(reason: str, *, private: bool = False) -> NoReturn:
    """Skip the test, or fail it in CI, where the PostgreSQL tests must run."""
    if private:
        skip_or_fail(
            f"no private PostgreSQL: {reason}",
            f"the fault tests need PostgreSQL in CI but {reason}",
        )
    skip_or_fail(
        f"no PostgreSQL: {reason} (set {POSTGRES_URL_ENV} to run these tests)",
        f"PostgreSQL is needed in CI but {reason}. Run `scripts/test-services.sh start` "
        f'and export {POSTGRES_URL_ENV} (`eval "$(scripts/test-services.sh env)"`).',
    )


def cannot_start_postgres() -> str | None:
    """Say why no PostgreSQL server can be started here (None: one can)."""
    # In CI the script installs the binaries when they are missing (apt-get postgresql-15).
    if not (PG_BIN / "initdb").is_file() and not in_ci():
        return f"no PostgreSQL binaries in {PG_BIN}"
    if os.geteuid() == 0 and not shutil.which("runuser"):
        return "running as root, and there is no runuser to start it as postgres"
    return None


def services(
    command: str, env_file: Path, *, ignore_pgport: bool = False
) -> subprocess.CompletedProcess[str]:
    """Run scripts/test-services.sh COMMAND for the server recorded in ``env_file``.

    With ``ignore_pgport`` the script picks a free port even where ``PGPORT`` names one, so a
    second server never reaches for the port of the first.
    """
    env = {**os.environ, "BURGER_RECS_TEST_SERVICES_ENV": str(env_file), "PG_BIN": str(PG_BIN)}
    if ignore_pgport:
        env.pop("PGPORT", None)
    return subprocess.run(
        ["bash", str(SERVICES_SCRIPT), command],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=900,  # apt-get may install PostgreSQL first (CI only)
    )


@contextlib.contextmanager
def postgres_server(folder: Path, *, private: bool = False) -> Iterator[dict[str, str]]:
    """Start a throwaway PostgreSQL server, yield the values it wrote, stop it afterwards.

    The env file is private to ``folder``, so that a server started by hand is neither reused
    nor stopped. A ``private`` server gets a port of its own even where ``PGPORT`` is set.
    """
    problem = cannot_start_postgres()
    if problem:
        postgres_unavailable(problem, private=private)
    env_file = folder / "test-services.env"
    try:
        started = services("start", env_file, ignore_pgport=private)
        if started.returncode != 0:
            which = "the private PostgreSQL" if private else "the server"
            postgres_unavailable(
                f"{which} did not start:\n{started.stderr.strip()}", private=private
            )
        yield dict(line.split("=", 1) for line in env_file.read_text().splitlines())
    finally:
        services("stop", env_file, ignore_pgport=private)


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


# ---------------------------------------------------------------------------------------------
# The GCS emulator and Docker
# ---------------------------------------------------------------------------------------------
@dataclass
class GcsEmulator:
    """A GCS emulator that ``STORAGE_EMULATOR_HOST`` points to, with a client for it."""

    host: str
    client: storage.Client

    def create_bucket(self, name: str) -> storage.Bucket:
        """Create an empty bucket."""
        return self.client.create_bucket(name)

    def upload_tree(self, folder: Path, bucket: str, prefix: str = "") -> list[str]:
        """Upload every file under ``folder`` to ``gs://bucket/prefix/...``; return the keys."""
        target = self.client.bucket(bucket)
        keys = []
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            key = "/".join(filter(None, [prefix.strip("/"), path.relative_to(folder).as_posix()]))
            target.blob(key).upload_from_filename(str(path))
            keys.append(key)
        return keys


def docker_problem(images: dict[str, str]) -> str | None:
    """Say why the container tests cannot run (None: Docker answers, every image is there).

    Args:
        images: image references by name (step), each of which must be built.
    """
    if shutil.which("docker") is None:
        return "no docker client"
    if subprocess.run(["docker", "info"], capture_output=True).returncode != 0:
        return "no Docker engine answers"
    missing = [
        name
        for name, ref in images.items()
        if subprocess.run(["docker", "image", "inspect", ref], capture_output=True).returncode != 0
    ]
    if missing:
        return f"images not built (run `make images`): {', '.join(missing)}"
    return None
