"""Guarantee 3 (storage): GCS transient errors are retried by the client's retry policy.

A fault-injecting HTTP proxy sits between the storage client and the GCS emulator
(``STORAGE_EMULATOR_HOST`` points at the proxy). Chosen by a seeded RNG, the first attempt of
many requests (listings and downloads) fails with 429, 500, 502, 503 or 504, or with the
connection dropped without an answer; every later attempt goes through. Ingesting a drop
through the proxy must give exactly what ingesting it directly gives, every failed request
must have been tried again, and a permanent error (403) must fail at once.
"""

from __future__ import annotations

import http.client
import http.server
import random
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pandas as pd
import pytest
from google.api_core.exceptions import Forbidden

from burger_recs.steps.ingest import ingest
from tests.support import figures
from tests.support.drops import RUN_DATE, WINDOW_DAYS, write_base

SEED = 20260304
TRANSIENT = (429, 500, 502, 503, 504, "drop")


@dataclass
class Faults:
    """Which requests fail: the first attempt of a seeded choice of them, and for good."""

    rng: random.Random
    share: float = 0.6
    forbidden: str = ""  # a path part whose requests always get 403
    plan: dict[str, object] = field(default_factory=dict)
    attempts: Counter = field(default_factory=Counter)
    injected: Counter = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def decide(self, key: str) -> object:
        """Return the fault for this attempt of a request (None: let it through)."""
        with self.lock:
            self.attempts[key] += 1
            if self.forbidden and self.forbidden in key:
                return 403
            if key not in self.plan:
                pick = self.rng.random() < self.share
                self.plan[key] = self.rng.choice(TRANSIENT) if pick else None
            fault = self.plan[key] if self.attempts[key] == 1 else None
            if fault is not None:
                self.injected[str(fault)] += 1
            return fault


def _proxy(upstream: str, faults: Faults) -> http.server.ThreadingHTTPServer:
    target = urlsplit(upstream)

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_args) -> None:
            pass

        def _forward(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            fault = faults.decide(f"{self.command} {self.path}")
            if fault == "drop":
                self.close_connection = True
                self.connection.shutdown(2)  # no answer at all
                return
            if fault is not None:
                payload = b'{"error": {"code": %d, "message": "injected"}}' % fault
                self.send_response(fault)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                return
            upstream_conn = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
            headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
            upstream_conn.request(self.command, self.path, body=body or None, headers=headers)
            answer = upstream_conn.getresponse()
            data = answer.read()
            self.send_response(answer.status)
            for key, value in answer.getheaders():
                if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            upstream_conn.close()

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _forward

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.handle_error = lambda *_args: None  # dropped connections are the point
    return server


@pytest.fixture
def faulty_gcs(gcs_emulator, tmp_path, monkeypatch) -> Iterator[tuple[str, Faults, list[float]]]:
    """The base drop in a bucket, a faulty proxy in front of the emulator, instant backoff."""
    write_base(tmp_path / "drop")
    gcs_emulator.create_bucket("shop")
    gcs_emulator.upload_tree(tmp_path / "drop", "shop", "daily")
    faults = Faults(random.Random(SEED))
    server = _proxy(gcs_emulator.host, faults)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    # The retry policy's backoff (google.api_core sleeps with time.sleep), made instant.
    waits: list[float] = []
    try:
        with monkeypatch.context() as patched:
            patched.setattr(time, "sleep", waits.append)
            patched.setenv("STORAGE_EMULATOR_HOST", f"http://127.0.0.1:{server.server_port}")
            yield str(tmp_path / "drop"), faults, waits
    finally:
        server.shutdown()
        server.server_close()


def _frames(drop) -> dict[str, pd.DataFrame]:
    frames = {"orders": drop.orders, "menu": drop.menu, "customers": drop.customers}
    # The file names differ (a path and a gs:// URI); the rows and their lines must not.
    return {k: f.assign(_file=f["_file"].str.split("/date=").str[1]) for k, f in frames.items()}


def test_transient_gcs_errors_are_retried_and_the_drop_reads_the_same(faulty_gcs):
    local, faults, waits = faulty_gcs
    through_faults = ingest("gs://shop/daily", RUN_DATE, WINDOW_DAYS)
    direct = ingest(local, RUN_DATE, WINDOW_DAYS)

    assert through_faults.violations == direct.violations == []
    assert through_faults.days == direct.days
    for name, frame in _frames(direct).items():
        pd.testing.assert_frame_equal(_frames(through_faults)[name], frame, obj=name)
    failed = [key for key, fault in faults.plan.items() if fault is not None]
    kinds = {key.split("?")[0].split("/")[1] for key in failed}  # listings and downloads
    assert len(failed) >= 5 and kinds >= {"storage", "download"}, faults.plan
    for key in failed:
        assert faults.attempts[key] >= 2, key  # failed once, asked again, went through
    # One backoff of the client's retry policy per injected fault.
    assert len(waits) == sum(faults.injected.values()) == len(failed)
    figures.add(
        "GCS faults",
        requests=len(faults.plan),
        **{"transient faults injected": sum(faults.injected.values())},
        **{"retried and read": len(failed)},
        lost=0,
    )


def test_a_permanent_gcs_error_fails_at_once(faulty_gcs):
    _, faults, waits = faulty_gcs
    faults.share = 0.0
    faults.forbidden = "menu.csv"
    with pytest.raises(Forbidden, match="403"):
        ingest("gs://shop/daily", RUN_DATE, WINDOW_DAYS)
    forbidden = [key for key in faults.attempts if "menu.csv" in key]
    assert forbidden and all(faults.attempts[key] == 1 for key in forbidden), faults.attempts
    assert waits == []


def test_the_proxy_injects_what_it_says(faulty_gcs, tmp_path: Path):
    """The faults are real: without the client's retries the first failure would surface."""
    from google.cloud import storage

    _, faults, _ = faulty_gcs
    faults.share = 1.0
    client = storage.Client(project="test")
    bucket = client.bucket("shop")
    with pytest.raises(Exception) as failure:
        bucket.blob("daily/date=2026-03-01/orders.csv").download_as_bytes(retry=None)
    assert faults.injected, failure.value
