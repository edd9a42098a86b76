"""burger_recs.deploy.docker: which CA bundle pip trusts inside an image build."""

from __future__ import annotations

import pytest

from burger_recs.deploy import docker


def test_without_a_flag_the_hosts_system_bundle_is_trusted(tmp_path, monkeypatch):
    system = tmp_path / "ca-certificates.crt"
    system.write_text("-----BEGIN CERTIFICATE-----\n")
    monkeypatch.setattr(docker, "SYSTEM_CA_BUNDLES", (tmp_path / "absent.pem", system))
    assert docker.build_ca_bundle(None) == system
    assert docker.build_ca_bundle("") == system


def test_a_named_bundle_wins_and_none_turns_it_off(tmp_path, monkeypatch):
    named = tmp_path / "proxy.pem"
    named.write_text("-----BEGIN CERTIFICATE-----\n")
    monkeypatch.setattr(docker, "SYSTEM_CA_BUNDLES", (tmp_path / "system.pem",))
    assert docker.build_ca_bundle(str(named)) == named
    assert docker.build_ca_bundle("none") is None
    assert docker.build_ca_bundle(None) is None  # a host without a system bundle
    with pytest.raises(docker.BuildError, match="no such file"):
        docker.build_ca_bundle(str(tmp_path / "missing.pem"))
