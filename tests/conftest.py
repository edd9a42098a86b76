"""Shared fixtures: SQLite and PostgreSQL engines, a throwaway PostgreSQL, a GCS emulator,
the generated shop the pipeline runs use, the compiled IR and the KFP API double (the
without-cluster and production tests); and the markers a test gets from its fixtures.

PostgreSQL comes from ``BURGER_RECS_TEST_POSTGRES_URL`` or from a server started for the
session (tests/support/services.py). Every test that reaches a PostgreSQL fixture is marked
``postgres``, and every test that uses the GCS emulator ``gcs``, so that ``make test-fast``
(``-m "not postgres and not gcs ..."``) never starts either server.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from gcp_storage_emulator.server import create_server
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage

from burger_recs.db import make_engine
from burger_recs.generate import generate_data
from burger_recs.migrations import migrate
from burger_recs.pipelines.compile import compiled_pipeline
from tests.support.database import drop_tables
from tests.support.kfp_double import KfpDouble
from tests.support.pipeline import RUN_DATE, SHOP
from tests.support.services import POSTGRES_URL_ENV, GcsEmulator, postgres_server

# Fixtures that start (or connect to) a server, and the marker their tests get.
SERVICE_MARKERS = {
    "postgres_url": "postgres",
    "pg_engine": "postgres",
    "private_postgres": "postgres",
    "_gcs_server": "gcs",
}


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test that reaches a server fixture, directly or through other fixtures."""
    for item in items:
        for fixture in getattr(item, "fixturenames", ()):
            marker = SERVICE_MARKERS.get(fixture)
            if marker and marker not in {m.name for m in item.iter_markers()}:
                item.add_marker(marker)


@pytest.fixture
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Make retry backoff instant (tenacity's, google.api_core's) and record the waits asked for."""
    waits: list[float] = []
    # tenacity binds its default sleep (which calls time.sleep) when it is imported.
    monkeypatch.setattr(time, "sleep", waits.append)
    return waits


@pytest.fixture(scope="session")
def postgres_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of a PostgreSQL test database: given, or of a server started for the session."""
    url = os.environ.get(POSTGRES_URL_ENV)
    if url:
        yield url
        return
    with postgres_server(tmp_path_factory.mktemp("postgres")) as values:
        yield values[POSTGRES_URL_ENV]


@pytest.fixture
def pg_engine(postgres_url: str) -> Iterator[sa.Engine]:
    """An engine on the test PostgreSQL database, its tables dropped and migrated anew."""
    engine = make_engine(postgres_url)
    drop_tables(engine)
    migrate(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[sa.Engine]:
    """An engine on a new SQLite file, migrated."""
    engine = make_engine(f"sqlite:///{tmp_path / 'recs.db'}")
    migrate(engine)
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest) -> sa.Engine:
    """An empty, migrated results database: SQLite, then PostgreSQL."""
    return request.getfixturevalue("sqlite_engine" if request.param == "sqlite" else "pg_engine")


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


@pytest.fixture(scope="session")
def shop_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated data root ending at RUN_DATE (tests/support/pipeline.py), for pipeline runs."""
    root = tmp_path_factory.mktemp("shop")
    generate_data(root, end_date=RUN_DATE, **SHOP)
    return root


@pytest.fixture(scope="session")
def ir_text() -> str:
    """The checked-in compiled pipeline."""
    return compiled_pipeline().read_text()


@pytest.fixture
def kfp_double() -> Iterator[KfpDouble]:
    """A running KFP API double; the test fails if any request broke the API's contract."""
    double = KfpDouble().start()
    yield double
    double.stop()
    assert double.violations == [], "requests the real KFP API would refuse"
