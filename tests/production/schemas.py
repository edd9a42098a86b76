"""Schemas of the custom resources production uses, for validating without a cluster.

Each is a documented subset of the resource's CRD schema, written from the CRD at the version
the project pins, with ``additionalProperties: false`` where the CRD lists its fields, so a
misspelt or invented field fails here as the API server's structural pruning would drop it:

- ``Pipeline`` and ``PipelineVersion`` (pipelines.kubeflow.org/v2beta1): Kubeflow Pipelines
  2.17.0, manifests/kustomize/base/crds/pipelines.kubeflow.org_{pipelines,pipelineversions}.yaml
  (every spec field; pipelineSpec and platformSpec are schemaless there, checked here for the
  keys the kfp SDK writes). KFP's webhook adds checks this cannot: the Pipeline named by
  spec.pipelineName must exist, and a version's spec is immutable.
- ``Application`` (argoproj.io/v1alpha1): Argo CD, manifests/crds/application-crd.yaml, only the
  fields used here: spec.project, source, destination, syncPolicy, revisionHistoryLimit.
- ``AppProject`` (argoproj.io/v1alpha1): Argo CD v3.5.1, manifests/crds/appproject-crd.yaml, only
  the fields used here: spec.description, sourceRepos, destinations (name, namespace, server),
  clusterResourceWhitelist and namespaceResourceWhitelist (group and kind required).

``validate_object`` validates any object of the overlay: these, a version's executor settings
against kfp-kubernetes' own protobuf message (what KFP's driver parses them into), and the
built-in kinds against the Kubernetes schemas of the kind node's version.
"""

import jsonschema
from google.protobuf import json_format
from kfp.kubernetes import kubernetes_executor_config_pb2

from tests.support.manifests import validate

METADATA = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": {
            "type": "string",
            "pattern": r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$",
            "maxLength": 253,
        },
        "namespace": {"type": "string"},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}
STRING_MAP = {"type": "object", "additionalProperties": {"type": "string"}}

PIPELINE = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "pipelines.kubeflow.org/v2beta1"},
        "kind": {"const": "Pipeline"},
        "metadata": METADATA,
        "spec": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "description": {"type": "string"},
                "displayName": {"type": "string"},
                "tags": STRING_MAP,
            },
        },
    },
}

PIPELINE_VERSION = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "pipelines.kubeflow.org/v2beta1"},
        "kind": {"const": "PipelineVersion"},
        "metadata": METADATA,
        "spec": {
            "type": "object",
            "additionalProperties": False,
            "required": ["pipelineSpec"],
            "properties": {
                "codeSourceURL": {"type": "string"},
                "description": {"type": "string"},
                "displayName": {"type": "string"},
                "pipelineName": {"type": "string"},
                "pipelineSpec": {
                    "type": "object",
                    "required": ["pipelineInfo", "root", "deploymentSpec", "schemaVersion"],
                },
                "pipelineSpecURI": {"type": "string"},
                "platformSpec": {"type": "object", "required": ["platforms"]},
                "tags": STRING_MAP,
                "versionName": {
                    "type": "string",
                    "maxLength": 253,
                    "pattern": r"^[a-z0-9]([a-z0-9\.\-]*[a-z0-9])?$",
                },
            },
        },
    },
}

APPLICATION = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "argoproj.io/v1alpha1"},
        "kind": {"const": "Application"},
        "metadata": METADATA,
        "spec": {
            "type": "object",
            "required": ["destination", "project"],
            "additionalProperties": False,
            "properties": {
                "project": {"type": "string"},
                "revisionHistoryLimit": {"type": "integer"},
                "source": {
                    "type": "object",
                    "required": ["repoURL"],
                    "additionalProperties": False,
                    "properties": {
                        "repoURL": {"type": "string"},
                        "targetRevision": {"type": "string"},
                        "path": {"type": "string"},
                    },
                },
                "destination": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "name": {"type": "string"},
                        "namespace": {"type": "string"},
                        "server": {"type": "string"},
                    },
                },
                "syncPolicy": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "automated": {
                            "type": "object",
                            "additionalProperties": False,
                            "properties": {
                                "allowEmpty": {"type": "boolean"},
                                "enabled": {"type": "boolean"},
                                "prune": {"type": "boolean"},
                                "selfHeal": {"type": "boolean"},
                            },
                        },
                        "syncOptions": {"type": "array", "items": {"type": "string"}},
                        "retry": {
                            "type": "object",
                            "additionalProperties": False,
                            "properties": {
                                "limit": {"type": "integer"},
                                "refresh": {"type": "boolean"},
                                "backoff": {
                                    "type": "object",
                                    "additionalProperties": False,
                                    "properties": {
                                        "duration": {"type": "string"},
                                        "factor": {"type": "integer"},
                                        "maxDuration": {"type": "string"},
                                    },
                                },
                            },
                        },
                    },
                },
            },
        },
    },
}

GROUP_KINDS = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["group", "kind"],
        "additionalProperties": False,
        "properties": {"group": {"type": "string"}, "kind": {"type": "string"}},
    },
}
APP_PROJECT = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "argoproj.io/v1alpha1"},
        "kind": {"const": "AppProject"},
        "metadata": METADATA,
        "spec": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "description": {"type": "string"},
                "sourceRepos": {"type": "array", "items": {"type": "string"}},
                "destinations": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {
                            "name": {"type": "string"},
                            "namespace": {"type": "string"},
                            "server": {"type": "string"},
                        },
                    },
                },
                "clusterResourceWhitelist": GROUP_KINDS,
                "namespaceResourceWhitelist": GROUP_KINDS,
            },
        },
    },
}

BY_KIND = {
    ("pipelines.kubeflow.org/v2beta1", "Pipeline"): PIPELINE,
    ("pipelines.kubeflow.org/v2beta1", "PipelineVersion"): PIPELINE_VERSION,
    ("argoproj.io/v1alpha1", "Application"): APPLICATION,
    ("argoproj.io/v1alpha1", "AppProject"): APP_PROJECT,
}


def validate_object(obj):
    """Validate one object of the overlay (raises a jsonschema, kubernetes-validate or
    protobuf ParseError)."""
    schema = BY_KIND.get((obj["apiVersion"], obj["kind"]))
    if schema is None:
        validate(obj)
        return
    jsonschema.validate(obj, schema)
    if obj["kind"] == "PipelineVersion":
        platform = obj["spec"].get("platformSpec", {}).get("platforms", {})
        executors = platform.get("kubernetes", {}).get("deploymentSpec", {}).get("executors", {})
        for config in executors.values():
            json_format.ParseDict(config, kubernetes_executor_config_pb2.KubernetesExecutorConfig())
