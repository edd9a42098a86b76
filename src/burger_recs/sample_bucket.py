"""A GCS emulator holding a generated sample shop: the dev cluster's data root.

The dev cluster has no Google Cloud Storage, so its ``gcs-emulator`` Deployment runs this
module (image ``images/gcs-emulator``): it starts gcp-storage-emulator in memory, generates
the sample shop (:func:`burger_recs.generate.generate_data`) into ``gs://<bucket>/<prefix>``
and then writes a ready file (the Deployment's readiness probe) naming the data root and its
days. A restarted pod generates the same files again (same seed, same end date).

Configured by environment variables (the dev overlay's ``sample-shop`` ConfigMap):
``SAMPLE_BUCKET_URI`` (default ``gs://burger-shop/drops``), ``SAMPLE_END_DATE`` (YYYY-MM-DD;
empty: today, UTC), ``SAMPLE_DAYS``, ``SAMPLE_CUSTOMERS``, ``SAMPLE_SEED``, ``PORT`` (9023)
and ``READY_FILE``.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import tempfile
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from burger_recs.generate import generate_data

log = logging.getLogger(__name__)

DEFAULT_URI = "gs://burger-shop/drops"
DEFAULT_PORT = 9023


@dataclass(frozen=True)
class SampleShop:
    """What the emulator serves: where, and which days."""

    uri: str
    first_date: dt.date
    last_date: dt.date
    files: int

    def describe(self) -> str:
        """One line for the ready file and the logs."""
        return f"{self.uri} {self.first_date}..{self.last_date} ({self.files} files)"


def split_uri(uri: str) -> tuple[str, str]:
    """Split ``gs://bucket/prefix`` into bucket and prefix (without slashes at the ends)."""
    if not uri.startswith("gs://") or not uri[len("gs://") :].split("/", 1)[0]:
        raise ValueError(f"{uri!r} is not gs://bucket[/prefix]")
    bucket, _, prefix = uri[len("gs://") :].partition("/")
    return bucket, prefix.strip("/")


def start_emulator(host: str, port: int, bucket: str) -> tuple[Any, str]:
    """Start an in-memory gcp-storage-emulator holding an empty ``bucket``.

    Returns:
        The server (``stop()`` ends it) and its URL, e.g. ``http://127.0.0.1:9023``.
    """
    from gcp_storage_emulator.server import create_server

    server = create_server(host, port, in_memory=True, default_bucket=bucket)
    server.start()
    # The emulator keeps its HTTP server private; ask it for the port (port 0 picks one).
    bound_port = server._api._httpd.server_address[1]
    return server, f"http://{'127.0.0.1' if host in ('', '0.0.0.0') else host}:{bound_port}"  # noqa: S104


def fill(
    url: str,
    uri: str,
    end_date: dt.date,
    days: int,
    customers: int,
    seed: int = 42,
) -> SampleShop:
    """Generate the sample shop and upload it to ``uri`` on the emulator at ``url``."""
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    bucket_name, prefix = split_uri(uri)
    client = storage.Client(
        project="dev",
        credentials=AnonymousCredentials(),
        client_options={"api_endpoint": url},
    )
    bucket = client.bucket(bucket_name)
    with tempfile.TemporaryDirectory() as tmp:
        summary = generate_data(
            Path(tmp), customers=customers, days=days, seed=seed, end_date=end_date
        )
        paths = sorted(p for p in Path(tmp).rglob("*") if p.is_file())
        for path in paths:
            key = "/".join(filter(None, [prefix, path.relative_to(tmp).as_posix()]))
            bucket.blob(key).upload_from_filename(str(path))
    return SampleShop(uri, summary.first_date, summary.last_date, len(paths))


def _env_date(environ: Mapping[str, str], name: str) -> dt.date:
    text = environ.get(name, "").strip()
    return dt.date.fromisoformat(text) if text else dt.datetime.now(dt.UTC).date()


def serve(environ: Mapping[str, str], host: str = "0.0.0.0") -> tuple[Any, SampleShop]:  # noqa: S104
    """Start the emulator, fill it with the sample shop, then write the ready file.

    Args:
        environ: the settings (see the module's docstring), usually ``os.environ``.
        host: the address to listen on.

    Returns:
        The running server and what it serves.
    """
    uri = environ.get("SAMPLE_BUCKET_URI") or DEFAULT_URI
    ready = Path(environ.get("READY_FILE") or "/tmp/ready/sample-shop")  # noqa: S108
    ready.unlink(missing_ok=True)
    port = int(environ.get("PORT") or DEFAULT_PORT)
    server, url = start_emulator(host, port, split_uri(uri)[0])
    log.info("GCS emulator listening on %s; generating the sample shop", url)
    shop = fill(
        url,
        uri,
        end_date=_env_date(environ, "SAMPLE_END_DATE"),
        days=int(environ.get("SAMPLE_DAYS") or 60),
        customers=int(environ.get("SAMPLE_CUSTOMERS") or 2000),
        seed=int(environ.get("SAMPLE_SEED") or 42),
    )
    ready.parent.mkdir(parents=True, exist_ok=True)
    ready.write_text(shop.describe() + "\n")
    log.info("serving %s", shop.describe())
    return server, shop


def main() -> None:
    """Serve the sample shop until the process is stopped (the container's entry point)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    server, _ = serve(os.environ)
    try:
        threading.Event().wait()
    finally:
        server.stop()


if __name__ == "__main__":
    main()
