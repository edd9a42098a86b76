"""Kubeflow Pipelines and deployment: every ``burger-recs`` command that leaves this machine.

- ``kfp_api``: the one client of the KFP API (the kfp SDK's ``kfp.Client``), and the name a
  pipeline version gets from its content;
- ``submit``: ``burger-recs submit``, upload the pipeline and start or follow a run;
- ``schedule``: ``burger-recs reconcile-schedule``, production's recurring run from git;
- ``production``: ``burger-recs render-prod`` and ``push-prod-images``;
- ``pull_secrets``: a private registry's image pull Secret, added at submit or render time;
- ``docker``: ``burger-recs build-images``, and every docker CLI call.

This file holds only where things are. The CLI imports it when it starts, and the step base
image copies it for the reconciler Job, so it imports nothing.
"""

# Where a standalone KFP keeps pipelines and runs the steps' pods: the default. Production's
# is its overlay's namespace (manifests/overlays/prod/kustomization.yaml, read by the
# rendering); the commands that look at a cluster's pods take KFP_NAMESPACE (multi-user
# Kubeflow runs pipelines in profile namespaces: docs/production.md).
NAMESPACE = "kubeflow"
NAMESPACE_ENV = "KFP_NAMESPACE"
# The service account every run the project starts names (overlays/prod/runner: the least RBAC
# KFP's driver and launcher need), instead of KFP's default pipeline-runner.
RUNNER = "burger-recs-runner"
# The dev cluster: the host ports kind-cluster.yaml maps to the KFP API and UI, and the data
# root of its GCS emulator's sample shop (manifests/overlays/dev).
DEV_HOST = "http://localhost:8888"
DEV_UI = "http://localhost:8080"
DEV_DATA_URI = "gs://burger-shop/drops"
# The KFP API inside a cluster, seen from a pod (the reconciler Job).
IN_CLUSTER_HOST = f"http://ml-pipeline.{NAMESPACE}.svc.cluster.local:8888"
# The environment the commands read (the reconciler Job sets them).
HOST_ENV = "KFP_HOST"
VERSION_ENV = "PIPELINE_VERSION"
# KFP's scheduler reads every cron in one timezone: the ConfigMap pipeline-install-config,
# key cronScheduleTimezone (the controller's env CRON_SCHEDULE_TIMEZONE; empty means UTC).
TIMEZONE_ENV = "KFP_CRON_TIMEZONE"
# The images: the Python image the base builds FROM, and production's registry.
DEFAULT_PYTHON_IMAGE = "python:3.11.14-slim-bookworm"
DEFAULT_PROD_REGISTRY = "registry.example.com/burger-recs"
