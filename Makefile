# burger-recs: every command a user needs. `make help` lists them.
SHELL := bash
.SHELLFLAGS := -o pipefail -ec
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
BURGER := $(BIN)/burger-recs

# Pass-through options of `burger-recs run` (empty means the command's default).
DATA ?=
RUN_DATE ?=
DATABASE_URL ?=
PARAMS ?=
RUN_OPTS = $(if $(DATA),--data '$(DATA)') $(if $(RUN_DATE),--run-date $(RUN_DATE)) \
           $(foreach p,$(PARAMS),--param $(p)) $(if $(filter 1 true yes,$(NO_CACHE)),--no-cache)
export DATABASE_URL

##@ General
.PHONY: help
help: ## Show this help
	@awk 'BEGIN {FS = ":.*##"; printf "Usage: make \033[36m<target>\033[0m [VAR=value]\n"} \
	  /^[a-zA-Z_0-9-]+:.*?##/ { printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2 } \
	  /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) }' $(MAKEFILE_LIST)
	@printf "\nVariables: DATA=<folder|gs://...> RUN_DATE=YYYY-MM-DD DATABASE_URL=<sqlalchemy url> PARAMS='k=5 epochs=30'\n"
	@printf "          NO_CACHE=1 (make run, run-docker: run every step, none from the cache)\n"
	@printf "Cluster: WAIT=1 (make submit follows the run) DRY_RUN=1 (print the commands, run none)\n"

##@ Development
$(BIN)/activate: pyproject.toml requirements.in requirements.lock requirements-dev.lock
	@echo ">> creating $(VENV) with $(PYTHON)"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@# pip 23.x still builds setup.py-only sdists the legacy way, which lightfm 1.17 needs.
	$(BIN)/pip install -q -c requirements.lock pip setuptools wheel numpy scipy cython
	$(BIN)/pip install -q -c requirements.lock --no-build-isolation lightfm
	$(BIN)/pip install -q -c requirements.lock -c requirements-dev.lock -e '.[dev]'
	@touch $(BIN)/activate
	@echo ">> $(VENV) is ready: source $(BIN)/activate"

.PHONY: venv
venv: $(BIN)/activate ## Create the virtual environment .venv and install the project

.PHONY: lock
lock: venv ## Rewrite requirements.lock (runtime) and requirements-dev.lock from .venv
	$(BIN)/python scripts/lock.py

.PHONY: lint
lint: venv ## Run ruff (lint and format check), mypy and the import contract (lint-imports)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

.PHONY: test
test: lint ## Run make lint, then the test suite (PostgreSQL: BURGER_RECS_TEST_POSTGRES_URL or a started server)
	$(BIN)/python -m pytest -q $(if $(filter true,$(CI)),--durations=20) $(PYTEST_ARGS)

# Unit and component tests on SQLite: no PostgreSQL, no GCS emulator, no linters, no
# kfp.local runs or compiles, no Docker (the markers in pyproject.toml), on every core
# (pytest-xdist). Under a minute.
FAST_MARKERS = not slow and not postgres and not gcs and not lint and not docker and not e2e and not browser

.PHONY: test-fast
test-fast: venv ## Run the quick tests only: unit and component tests on SQLite (under a minute)
	$(BIN)/python -m pytest -q -n auto -m '$(FAST_MARKERS)' tests/unit tests/components $(PYTEST_ARGS)

# `make run` and `make run-docker` compile first when anything the IR is made of changed (the
# components, the pipeline, and the files the images are built from, which make the content
# tags), so the IR they run pins the current code.
IR := pipelines/compiled/daily_recommendations.yaml
IR_SOURCES := $(shell find src images -name '*.py' -o -name Dockerfile \
                -o -name '*.sh' 2>/dev/null) requirements.in requirements.lock pyproject.toml
$(IR): $(IR_SOURCES) | $(BIN)/activate
	$(BURGER) compile

.PHONY: compile
compile: venv ## Compile the pipeline into pipelines/compiled/ (checked in; commit it)
	$(BURGER) compile

##@ Running
.PHONY: data
data: venv ## (Re)generate the sample data set (60 days up to today) in .local/sample-data
	$(BURGER) generate-data --force

.PHONY: run
run: venv $(IR) ## Run the daily pipeline for RUN_DATE (default today) on one machine, no containers
	$(BURGER) run $(RUN_OPTS)

.PHONY: runs
runs: venv ## List the recorded pipeline runs
	$(BURGER) runs

.PHONY: recs
recs: venv ## Show a customer's recommendations: make recs CUSTOMER=c0000042 [RUN_DATE=...]
	@test -n "$(CUSTOMER)" || { echo "usage: make recs CUSTOMER=<id> [RUN_DATE=YYYY-MM-DD]"; exit 2; }
	$(BURGER) recs --customer '$(CUSTOMER)' $(if $(RUN_DATE),--date $(RUN_DATE))

##@ Model quality
# MovieLens 100k is never copied into the repository (its licence forbids redistribution).
DATASET ?= ../shared/datasets/ml-100k

.PHONY: quality
quality: venv ## Pipeline vs published figures on MovieLens 100k: make quality DATASET=<ml-100k folder>
	@test -f '$(DATASET)/ua.base' || { echo "usage: make quality DATASET=<folder holding MovieLens 100k: ua.base, ua.test, u.item, u.genre, u.user>"; exit 2; }
	$(BURGER) quality '$(DATASET)'

##@ Containers
REGISTRY ?= localhost:5001
PYTHON_IMAGE ?= python:3.11.14-slim-bookworm
EXTRA_CA_BUNDLE ?=
export REGISTRY PYTHON_IMAGE EXTRA_CA_BUNDLE

.PHONY: base-image
base-image: ## Provide the Python base image: pull PYTHON_IMAGE, else build it from Debian packages
	bash images/python/build.sh "$(PYTHON_IMAGE)"

.PHONY: images
images: venv base-image ## Build the step images that changed (content tags); pip trusts the system CA bundle
	$(BURGER) build-images

.PHONY: bench-loop
bench-loop: venv ## Time the edit -> result loop, cached and not, embedded and in containers
	$(BIN)/python scripts/bench_loop.py $(BENCH_LOOP_OPTS)

.PHONY: test-containers
test-containers: venv ## Run the container tests (needs Docker and `make images`)
	$(BIN)/python -m pytest -q -m docker tests/containers $(PYTEST_ARGS)

.PHONY: run-docker
run-docker: images $(IR) ## Run the same compiled pipeline with every step in its own image
	$(BURGER) run --runner docker $(RUN_OPTS)

##@ Cluster
# `make dev-cluster && make submit`: the pipeline on a local kind cluster with Kubeflow
# Pipelines, inspected in the Kubeflow UI (docs/dev-cluster.md). scripts/cluster.sh does the
# work; DRY_RUN=1 prints its commands and changes nothing.
#
# Tools are pinned here and downloaded into ./bin when missing (kubebuilder's LOCALBIN
# pattern). Their SHA-256 sums belong in scripts/tools.sha256, the one place for them. For a
# download whose sum is not recorded there yet, scripts/install-tool.sh verifies it against
# the checksum file its publisher ships beside it and prints the line to add
# (REQUIRE_PINNED_CHECKSUMS=1 refuses it instead).
LOCALBIN ?= bin
KIND_VERSION ?= v0.29.0
KUBECTL_VERSION ?= v1.33.1
KUSTOMIZE_VERSION ?= v5.6.0
WAIT ?=
DRY_RUN ?=
export LOCALBIN KIND_VERSION KUBECTL_VERSION KUSTOMIZE_VERSION DATA RUN_DATE PARAMS WAIT DRY_RUN
CLUSTER_SH = bash scripts/cluster.sh

.PHONY: tools
tools: ## Install the pinned kind, kubectl and kustomize into ./bin (checksums verified)
	$(CLUSTER_SH) tools

.PHONY: dev-cluster
dev-cluster: venv ## Create or update the kind cluster: registry, Kubeflow Pipelines, PostgreSQL, GCS emulator
	$(CLUSTER_SH) up

.PHONY: submit
submit: venv ## Push changed images, upload the pipeline version, run RUN_DATE (WAIT=1 follows it)
	$(CLUSTER_SH) submit

.PHONY: dev-cluster-down
dev-cluster-down: ## Delete the kind cluster and the local registry (images stay)
	$(CLUSTER_SH) down

##@ Production
# GitOps (docs/production.md): Argo CD deploys manifests/overlays/prod from main. CI on main
# runs push-prod-images (images to PROD_REGISTRY, their digests into
# manifests/overlays/prod/images.lock.json), then render-prod, and commits. CHECK=1 compares
# and writes nothing (a test in `make test` does the same); PREVIEW=1 allows tag-only images
# for a look before CI has pushed them (never scheduled: the reconciler refuses such a version).
PROD_REGISTRY ?= registry.example.com/burger-recs
CHECK ?=
PREVIEW ?=
COMMIT ?=
# A private registry's image pull Secret (namespace kubeflow), added to every step and to the
# reconciler Job of the rendering; in CI the repository variable IMAGE_PULL_SECRET. None: the
# rendering names none (the compiled IR in git never does).
IMAGE_PULL_SECRET ?=

.PHONY: render-prod
render-prod: venv ## Render the pipeline into manifests/overlays/prod/rendered (CHECK=1 compares, PREVIEW=1)
	$(BURGER) render-prod --registry '$(PROD_REGISTRY)' $(if $(CHECK),--check) \
	  $(if $(PREVIEW),--preview) $(if $(COMMIT),--commit '$(COMMIT)') \
	  $(if $(IMAGE_PULL_SECRET),--image-pull-secret '$(IMAGE_PULL_SECRET)')

.PHONY: push-prod-images
push-prod-images: venv base-image ## Build and push the images to PROD_REGISTRY, record their digests (CI)
	$(BURGER) push-prod-images --registry '$(PROD_REGISTRY)'

##@ Benchmarks
SCALE ?= 100000

.PHONY: bench
bench: venv ## Steps vs raw baselines at SCALE customers x 1,000 items (docs/benchmarks.md); SCALE=1000000 takes about 40 min
	$(BIN)/python scripts/bench.py --scale $(SCALE) $(BENCH_OPTS)

##@ Housekeeping
.PHONY: clean
clean: ## Remove local runs, data and the SQLite database (keeps .venv)
	rm -rf .local
