"""Fixtures for the production tests: the compiled resources, a copy of the overlay.

The KFP API double and the compiled IR (``kfp_double``, ``ir_text``) come from
tests/conftest.py; the image locks from tests/support/prod_lock.py.
"""

import shutil

import pytest

from burger_recs.deploy import production


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
