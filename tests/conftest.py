"""Shared fixtures: SQLite and PostgreSQL engines, a throwaway PostgreSQL, a GCS emulator.

PostgreSQL comes from ``BURGER_RECS_TEST_POSTGRES_URL`` (``scripts/test-services.sh start``
writes one) or, when the server binaries are installed (in CI: installed if missing), from a
throwaway server that ``scripts/test-services.sh`` starts for the session. Without either the
PostgreSQL tests are skipped, except in CI (``CI=true``), where they fail.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from gcp_storage_emulator.server import create_server
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage

from burger_recs.contract import metadata
from burger_recs.db import make_engine

REPO = Path(__file__).resolve().parents[1]
SERVICES_SCRIPT = REPO / "scripts" / "test-services.sh"
PG_BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))
POSTGRES_URL_ENV = "BURGER_RECS_TEST_POSTGRES_URL"


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def _postgres_unavailable(reason: str) -> None:
    """Skip the test, or fail it in CI, where the PostgreSQL tests must run."""
    if _in_ci():
        pytest.fail(
            f"PostgreSQL is needed in CI but {reason}. Run `scripts/test-services.sh start` "
            f'and export {POSTGRES_URL_ENV} (`eval "$(scripts/test-services.sh env)"`).',
            pytrace=False,
        )
    pytest.skip(f"no PostgreSQL: {reason} (set {POSTGRES_URL_ENV} to run these tests)")


def _services(
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


@pytest.fixture(scope="session")
def postgres_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of a PostgreSQL test database: given, or of a server started for the session."""
    url = os.environ.get(POSTGRES_URL_ENV)
    if url:
        yield url
        return
    # In CI the script installs the binaries when they are missing (apt-get postgresql-15).
    if not (PG_BIN / "initdb").is_file() and not _in_ci():
        _postgres_unavailable(f"no PostgreSQL binaries in {PG_BIN} and no {POSTGRES_URL_ENV}")
    if os.geteuid() == 0 and not shutil.which("runuser"):
        _postgres_unavailable("running as root, and there is no runuser to start it as postgres")
    # A private env file, so that a server started by hand is neither reused nor stopped.
    env_file = tmp_path_factory.mktemp("postgres") / "test-services.env"
    try:
        started = _services("start", env_file)
        if started.returncode != 0:
            _postgres_unavailable(f"the server did not start:\n{started.stderr.strip()}")
        values = dict(line.split("=", 1) for line in env_file.read_text().splitlines())
        yield values[POSTGRES_URL_ENV]
    finally:
        _services("stop", env_file)


@pytest.fixture
def pg_engine(postgres_url: str) -> Iterator[sa.Engine]:
    """An engine on the test PostgreSQL database, with the project's tables dropped."""
    engine = make_engine(postgres_url)
    metadata.drop_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[sa.Engine]:
    """An engine on a new SQLite file."""
    engine = make_engine(f"sqlite:///{tmp_path / 'recs.db'}")
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest) -> sa.Engine:
    """An empty results database: SQLite, then PostgreSQL."""
    return request.getfixturevalue("sqlite_engine" if request.param == "sqlite" else "pg_engine")


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


@pytest.fixture(scope="session")
def _gcs_server() -> Iterator[tuple[Any, str]]:
    """An in-memory gcp-storage-emulator server on a free port of 127.0.0.1, and its URL."""
    server = create_server("127.0.0.1", 0, in_memory=True)
    server.start()
    try:
        # Bound to port 0; the emulator keeps its HTTP server private, so ask it for the port.
        host, port = server._api._httpd.server_address[:2]
        yield server, f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def gcs_emulator(_gcs_server, monkeypatch: pytest.MonkeyPatch) -> GcsEmulator:
    """An empty GCS emulator, with STORAGE_EMULATOR_HOST pointing to it during the test."""
    server, url = _gcs_server
    server.wipe()
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", url)
    client = storage.Client(project="test", credentials=AnonymousCredentials())
    return GcsEmulator(url, client)
