"""Fixtures for the production tests: the KFP API double, the compiled resources, a lock."""

import hashlib
import shutil

import pytest

from burger_recs.deploy import production
from components.images import image_ref
from tests.cluster.conftest import ir_text, kfp_double  # noqa: F401  (shared fixtures)


def fake_lock(registry=production.DEFAULT_PROD_REGISTRY, salt="", skip=()):
    """A lock as CI would write it for the current code, with made-up digests (tests only)."""
    images = {
        image: f"{image_ref(image, registry)}@sha256:"
        + hashlib.sha256(f"{image}{salt}".encode()).hexdigest()
        for image in production.IMAGES
        if image not in skip
    }
    return production.Lock(registry, images)


@pytest.fixture(scope="session")
def compiled_docs():
    """The pipeline compiled as Kubernetes resources (kfp SDK), once per session."""
    return production.compile_manifests()


@pytest.fixture
def overlay(tmp_path):
    """A copy of the production overlay to render into."""
    target = tmp_path / "prod"
    shutil.copytree(production.OVERLAY, target)
    return target


def write_lock(overlay, lock):
    (overlay / production.LOCK).write_text(production.lock_text(lock))
