"""The dev cluster's GCS emulator: it serves the sample shop that ingest reads."""

import datetime as dt
from importlib.metadata import requires

import pytest
from packaging.requirements import Requirement

from burger_recs import sample_bucket
from burger_recs.components import images
from burger_recs.storage import DataRoot

END = dt.date(2026, 3, 30)


def test_the_emulator_serves_the_sample_shop_and_then_says_it_is_ready(tmp_path, monkeypatch):
    ready = tmp_path / "ready" / "sample-shop"
    environ = {
        "SAMPLE_BUCKET_URI": "gs://test-shop/daily/drops",
        "SAMPLE_END_DATE": END.isoformat(),
        "SAMPLE_DAYS": "5",
        "SAMPLE_CUSTOMERS": "40",
        "PORT": "0",
        "READY_FILE": str(ready),
    }
    server, shop = sample_bucket.serve(environ, host="127.0.0.1")
    try:
        port = server._api._httpd.server_address[1]
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", f"http://127.0.0.1:{port}")
        root = DataRoot("gs://test-shop/daily/drops")
        days = root.day_folders()
        assert list(days) == [END - dt.timedelta(days=n) for n in range(4, -1, -1)]
        assert {"orders.csv", "menu.csv", "customers.csv"} <= set(root.files(END - dt.timedelta(4)))
        assert root.read_bytes(END, "orders.csv").startswith(b"order_id,customer_id,item_id")
    finally:
        server.stop()
    assert ready.read_text() == f"gs://test-shop/daily/drops {END - dt.timedelta(4)}..{END} " + (
        f"({shop.files} files)\n"
    )


@pytest.mark.parametrize("uri", ["s3://shop/drops", "gs://", "gs:///drops"])
def test_only_gcs_uris_name_a_bucket(uri):
    with pytest.raises(ValueError, match="is not gs://bucket"):
        sample_bucket.split_uri(uri)


def test_the_emulator_image_copies_every_module_it_imports():
    copied = set(images.module_files(images.BASE)) | set(images.module_files("gcs-emulator"))
    needed = {
        images.module_path(m).relative_to(images.REPO).as_posix()
        for m in images.library_modules("burger_recs.sample_bucket")
    }
    assert needed <= copied, sorted(needed - copied)


def test_the_emulator_needs_nothing_beyond_the_base_images_pinned_set():
    # The image installs gcp-storage-emulator with --no-deps on top of the base's packages.
    pinned = {
        line.split("==")[0].lower().replace("_", "-")
        for line in (images.REPO / "requirements.lock").read_text().splitlines()
        if "==" in line
    }
    needs = {Requirement(r).name for r in requires("gcp-storage-emulator") or []}
    assert {n.lower().replace("_", "-") for n in needs} <= pinned
