"""Image pull Secrets for a private registry, added when the pipeline leaves for a cluster.

The compiled IR in git names no registry credential: it stays registry-neutral. A cluster
whose registry needs one gets the Secret's name at submit or render time
(``burger-recs submit --image-pull-secret NAME``, ``burger-recs render-prod
--image-pull-secret NAME``, both also from ``$IMAGE_PULL_SECRET``): every executor of the
platform spec gets the field kfp-kubernetes writes for ``kubernetes.set_image_pull_secrets``
(kfp/kubernetes/image.py: ``imagePullSecret``, a list of ``secretName`` and
``secretNameParameter``), which KFP 2.17's driver puts in the step's pod spec
(backend/src/v2/driver/k8s.go). The rendering adds the same Secret to the reconciler Job
(``job_patch``). The Secret itself (type kubernetes.io/dockerconfigjson, namespace kubeflow)
is the cluster's, never in git. The dev cluster's registry needs none.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Sequence
from typing import Annotated

import typer
import yaml

ENV = "IMAGE_PULL_SECRET"
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")  # a Kubernetes object name
# The CLI's option of submit and render-prod (several: repeat it, or spaces in the variable).
Option = Annotated[
    list[str] | None,
    typer.Option(
        "--image-pull-secret",
        envvar=ENV,
        help="Image pull Secret (namespace kubeflow) for a private registry, added to every "
        "step (repeatable; default $IMAGE_PULL_SECRET). The dev cluster needs none.",
        show_default=False,
    ),
]


def executor_field(secrets: Sequence[str]) -> list[dict]:
    """Return an executor's ``imagePullSecret`` field, as kfp-kubernetes writes it."""
    return [
        {"secretName": name, "secretNameParameter": {"runtimeValue": {"constant": name}}}
        for name in secrets
    ]


def with_image_pull_secrets(
    pipeline_spec: dict, platform_spec: dict | None, secrets: Sequence[str]
) -> dict | None:
    """Return the platform spec with the Secrets on every executor of the pipeline spec.

    Args:
        pipeline_spec: the IR's pipeline spec (which executors there are).
        platform_spec: its platform spec, or None; not changed.
        secrets: the Secrets' names; none gives the platform spec unchanged.

    Raises:
        ValueError: a name is no Kubernetes object name.
    """
    if not secrets:
        return platform_spec
    for name in secrets:
        if not _NAME.match(name) or len(name) > 253:
            raise ValueError(f"{name!r} is no Secret name")
    spec = copy.deepcopy(platform_spec) or {}
    kubernetes = spec.setdefault("platforms", {}).setdefault("kubernetes", {})
    executors = kubernetes.setdefault("deploymentSpec", {}).setdefault("executors", {})
    for name in sorted(pipeline_spec["deploymentSpec"]["executors"]):
        config = executors.setdefault(name, {})
        known = [s["secretName"] for s in config.get("imagePullSecret", [])]
        config["imagePullSecret"] = config.get("imagePullSecret", []) + executor_field(
            [s for s in secrets if s not in known]
        )
    return spec


def ir_with_image_pull_secrets(ir_text: str, secrets: Sequence[str]) -> str:
    """Return the compiled IR (YAML text) with the Secrets on every executor."""
    if not secrets:
        return ir_text
    docs = [doc for doc in yaml.safe_load_all(ir_text) if doc]
    platform = with_image_pull_secrets(docs[0], docs[1] if len(docs) > 1 else None, secrets)
    return yaml.safe_dump_all([docs[0], platform], sort_keys=True)


def job_patch(job: str, secrets: Sequence[str]) -> dict:
    """Return a kustomize patch giving the Job ``job`` the Secrets as imagePullSecrets."""
    operation = {
        "op": "add",
        "path": "/spec/template/spec/imagePullSecrets",
        "value": [{"name": name} for name in secrets],
    }
    return {
        "target": {"group": "batch", "version": "v1", "kind": "Job", "name": job},
        "patch": yaml.safe_dump([operation], sort_keys=False),
    }
