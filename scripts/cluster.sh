#!/usr/bin/env bash
# The local dev cluster and submitting the pipeline to it; the Makefile's Cluster targets
# (`make dev-cluster`, `make submit`, `make dev-cluster-down`, `make tools`) call it.
# Run with --help.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: scripts/cluster.sh [--dry-run] up|submit|down|tools

  up      create or update the dev cluster; idempotent, says what it changed:
          1. a registry container on 127.0.0.1:5001 joined to the kind network, announced
             through the local-registry-hosting ConfigMap (kind's local-registry recipe);
          2. the kind cluster of kind-cluster.yaml;
          3. cert-manager (manifests/cert-manager), then Kubeflow Pipelines standalone in
             Kubernetes-native mode, as production runs it, from manifests/kfp
             (cluster-scoped resources, then env k8s-native), waiting until every
             deployment is available;
          4. the step images and the GCS emulator image, pushed to the registry;
          5. the dev overlay (manifests/overlays/dev): PostgreSQL, the GCS emulator with a
             sample shop, the steps' Secrets;
          6. production's overlay as Argo CD syncs it, rendered for these images: the
             pipeline as Pipeline and PipelineVersion resources, the database's migration
             Job, the schedule's reconciler on the dev schedule (overlays/dev/schedule.yaml);
             then where to look and what to run next.
  submit  build and push the images that changed, apply production's overlay again (6.),
          then start a run of the version it applied (burger-recs submit finds it by
          its content's name)
  down    delete the kind cluster and the registry container (images stay)
  tools   install the pinned kind, kubectl and kustomize into LOCALBIN

Options:
  -n, --dry-run   print the commands instead of running them (also DRY_RUN=1)
  -h, --help      show this help

Environment (the Makefile sets these):
  KIND_VERSION, KUBECTL_VERSION, KUSTOMIZE_VERSION   the pinned tools (required)
  LOCALBIN          where the tools are installed (default bin)
  REGISTRY          the image registry prefix (default localhost:5001)
  PYTHON_IMAGE      the Python image the base image builds FROM
  RUN_DATE, DATA, PARAMS, WAIT   submit: the day, the data root, NAME=VALUE pipeline
                    parameters, and WAIT=1 to follow the run to its end
  KFP_WAIT          how long `up` waits for Kubeflow Pipelines (default 20m)
USAGE
}

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

# shellcheck source=scripts/lib/common.sh
source "$ROOT/scripts/lib/common.sh"

command=""
while (($#)); do
  case $1 in
    -h | --help)
      usage
      exit 0
      ;;
    -n | --dry-run) DRY=1 ;;
    up | submit | down | tools)
      [[ -z $command ]] || die "only one command may be given (see --help)"
      command=$1
      ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
  shift
done
[[ -n $command ]] || die "no command given (see --help)"
export DRY_RUN=$DRY # the scripts called below print instead of acting, too

: "${KIND_VERSION:?is set by the Makefile: run make dev-cluster}"
: "${KUBECTL_VERSION:?is set by the Makefile: run make dev-cluster}"
: "${KUSTOMIZE_VERSION:?is set by the Makefile: run make dev-cluster}"
LOCALBIN=${LOCALBIN:-bin}
KIND="$LOCALBIN/kind-$KIND_VERSION"
KUBECTL="$LOCALBIN/kubectl-$KUBECTL_VERSION"
KUSTOMIZE="$LOCALBIN/kustomize-$KUSTOMIZE_VERSION"
VENV_BIN=${VENV_BIN:-.venv/bin}
PYTHON="$VENV_BIN/python"
BURGER="$VENV_BIN/burger-recs"

CLUSTER=$(sed -n 's/^name: *//p' kind-cluster.yaml)
CONTEXT="kind-$CLUSTER"
REGISTRY_NAME=kind-registry
REGISTRY_PORT=5001
REGISTRY_IMAGE=registry:2.8.3
REGISTRY=${REGISTRY:-localhost:$REGISTRY_PORT}
PYTHON_IMAGE=${PYTHON_IMAGE:-python:3.11.14-slim-bookworm}
KFP_VERSION=$(sed -n 's/.*?ref=//p' manifests/kfp/k8s-native/kustomization.yaml)
CERT_MANAGER_VERSION=$(sed -n 's|.*/download/\([^/]*\)/.*|\1|p' manifests/cert-manager/kustomization.yaml)
KFP_WAIT=${KFP_WAIT:-20m}
# The host ports kind-cluster.yaml maps to the Kubeflow UI and the KFP API.
UI_URL=http://localhost:8080
API_URL=http://localhost:8888
DEV_NAMESPACE=burger-recs
STATE=.local/cluster # what was applied, for a look afterwards
CHANGED=0


# quiet CMD...: run it without its output, or print it in a dry run.
quiet() {
  if ((DRY)); then
    printf '+ %s\n' "$(quote "$@")"
  else
    "$@" >/dev/null
  fi
}

# run_to FILE CMD...: run CMD with its output in FILE, or print that in a dry run.
run_to() {
  local file=$1
  shift
  if ((DRY)); then
    printf '+ %s > %s\n' "$(quote "$@")" "$(quote "$file")"
  else
    "$@" >"$file"
  fi
}


kc() { run "$KUBECTL" --context "$CONTEXT" "$@"; }

# ensure_tools [NAME...]: install the pinned tools that are missing (default: all three).
ensure_tools() {
  local name version
  (($#)) || set -- kind kubectl kustomize
  for name in "$@"; do
    case $name in
      kind) version=$KIND_VERSION ;;
      kubectl) version=$KUBECTL_VERSION ;;
      kustomize) version=$KUSTOMIZE_VERSION ;;
    esac
    if [[ ! -x $LOCALBIN/$name-$version ]]; then
      bash scripts/install-tool.sh "$name" "$version" "$LOCALBIN"
    fi
  done
}

need_docker() {
  ((DRY)) && return 0
  command -v docker >/dev/null || die "docker is not installed (the dev cluster runs in Docker)"
  docker info >/dev/null 2>&1 ||
    die "the Docker engine does not answer (is it running? may you use it?)"
}

# --- 1. the registry ------------------------------------------------------------------
start_registry() {
  local running=""
  if ((DRY)); then
    echo "# if the container $REGISTRY_NAME runs already: nothing to do"
  else
    running=$(docker inspect -f '{{.State.Running}}' "$REGISTRY_NAME" 2>/dev/null || true)
  fi
  case $running in
    true) say "registry $REGISTRY_NAME (127.0.0.1:$REGISTRY_PORT): already running" ;;
    false)
      say "registry $REGISTRY_NAME: starting the stopped container"
      quiet docker start "$REGISTRY_NAME"
      CHANGED=$((CHANGED + 1))
      ;;
    *)
      say "registry $REGISTRY_NAME: starting it on 127.0.0.1:$REGISTRY_PORT"
      run docker run -d --restart=always -p "127.0.0.1:$REGISTRY_PORT:5000" --network bridge \
        --name "$REGISTRY_NAME" "$REGISTRY_IMAGE"
      CHANGED=$((CHANGED + 1))
      ;;
  esac
}

cluster_exists() {
  ((DRY)) && return 1
  "$KIND" get clusters 2>/dev/null | grep -qx "$CLUSTER"
}

# --- 2. the kind cluster --------------------------------------------------------------
create_cluster() {
  ((DRY)) && echo "# if \`$KIND get clusters\` lists $CLUSTER: only refresh its kubeconfig entry"
  if cluster_exists; then
    say "kind cluster $CLUSTER: already exists"
    quiet "$KIND" export kubeconfig --name "$CLUSTER"
  else
    say "kind cluster $CLUSTER: creating it (kind-cluster.yaml)"
    run "$KIND" create cluster --name "$CLUSTER" --config kind-cluster.yaml --wait 120s
    CHANGED=$((CHANGED + 1))
  fi
}

# Join the registry to the kind network and tell each node's containerd that
# localhost:5001 is that container (kind's local-registry recipe).
connect_registry() {
  local network="" node nodes hosts_dir="/etc/containerd/certs.d/localhost:$REGISTRY_PORT"
  local hosts_toml
  hosts_toml="[host.\"http://$REGISTRY_NAME:5000\"]"
  if ((DRY)); then
    echo "# if the container $REGISTRY_NAME is not on the network kind yet:"
  else
    network=$(docker inspect -f '{{json .NetworkSettings.Networks.kind}}' "$REGISTRY_NAME")
  fi
  if [[ $network == null || $DRY == 1 ]]; then
    run docker network connect kind "$REGISTRY_NAME"
    ((DRY)) || CHANGED=$((CHANGED + 1))
  fi
  if ((DRY)); then
    echo "# for each node of \`$KIND get nodes --name $CLUSTER\`, e.g. $CLUSTER-control-plane:"
    nodes="$CLUSTER-control-plane"
  else
    nodes=$("$KIND" get nodes --name "$CLUSTER")
  fi
  for node in $nodes; do
    if ((!DRY)) && [[ $(docker exec "$node" cat "$hosts_dir/hosts.toml" 2>/dev/null) == "$hosts_toml" ]]; then
      continue
    fi
    run docker exec "$node" mkdir -p "$hosts_dir"
    if ((DRY)); then
      printf "+ docker exec -i %s cp /dev/stdin %s <<'EOF'\n%s\nEOF\n" "$node" \
        "$(quote "$hosts_dir/hosts.toml")" "$hosts_toml"
    else
      printf '%s\n' "$hosts_toml" | docker exec -i "$node" cp /dev/stdin "$hosts_dir/hosts.toml"
      CHANGED=$((CHANGED + 1))
    fi
  done
  say "registry $REGISTRY_NAME: nodes pull localhost:$REGISTRY_PORT/... from it"
}

# apply DIR WHAT: build a kustomization into $STATE and apply it server-side, unless the
# cluster already holds exactly that (kubectl diff finds no difference).
apply() {
  local dir=$1 what=$2 built status=0
  built="$STATE/$(basename "$dir").yaml"
  run_to "$built" "$KUSTOMIZE" build "$dir"
  if ((DRY)); then
    kc diff --server-side --force-conflicts -f "$built"
    echo "# if that finds no difference: skip the apply"
  else
    "$KUBECTL" --context "$CONTEXT" diff --server-side --force-conflicts -f "$built" \
      >/dev/null 2>&1 || status=$?
    if ((status == 0)); then
      say "$what: unchanged"
      return 0
    fi
  fi
  say "$what: applying $dir"
  kc apply --server-side --force-conflicts -f "$built"
  CHANGED=$((CHANGED + 1))
}

# explain NAMESPACE: what is not ready there, with the failing pods' events and logs.
explain() {
  local ns=$1 pod
  ((DRY)) && return 0
  echo "--- not ready in namespace $ns:" >&2
  "$KUBECTL" --context "$CONTEXT" -n "$ns" get deployments,statefulsets,pods >&2 || true
  for pod in $("$KUBECTL" --context "$CONTEXT" -n "$ns" get pods -o jsonpath='{range .items[*]}{.metadata.name}{" "}{.status.phase}{" "}{.status.containerStatuses[*].ready}{"\n"}{end}' |
    awk '$2 != "Succeeded" && ($2 != "Running" || / false/) { print $1 }'); do
    echo "--- pod $pod: events" >&2
    "$KUBECTL" --context "$CONTEXT" -n "$ns" describe pod "$pod" | sed -n '/^Events:/,$p' |
      tail -n 15 >&2 || true
    echo "--- pod $pod: last log lines" >&2
    "$KUBECTL" --context "$CONTEXT" -n "$ns" logs "$pod" --all-containers --tail=30 >&2 || true
  done
}

# --- 3. Kubeflow Pipelines ------------------------------------------------------------
install_kfp() {
  # KFP's webhooks need their certificate from cert-manager: it comes first, and must be up.
  apply manifests/cert-manager "cert-manager $CERT_MANAGER_VERSION"
  quiet "$KUBECTL" --context "$CONTEXT" wait --for condition=established --timeout=120s crd --all
  if ! kc -n cert-manager wait --for=condition=Available deployment --all --timeout=5m; then
    explain cert-manager
    die "cert-manager did not become available within 5m (see above);" \
      "\`make dev-cluster\` again waits again"
  fi
  apply manifests/kfp/cluster-scoped-resources \
    "Kubeflow Pipelines $KFP_VERSION, cluster-scoped resources"
  quiet "$KUBECTL" --context "$CONTEXT" wait --for condition=established --timeout=120s crd --all
  apply manifests/kfp/k8s-native "Kubeflow Pipelines $KFP_VERSION, Kubernetes-native mode"
}

wait_kfp() {
  say "waiting for every Kubeflow Pipelines deployment to be available (at most $KFP_WAIT)"
  if ! kc -n kubeflow wait --for=condition=Available deployment --all --timeout="$KFP_WAIT"; then
    explain kubeflow
    die "Kubeflow Pipelines did not become available within $KFP_WAIT (see above);" \
      "\`make dev-cluster\` again waits again"
  fi
}

# --- 4. images ------------------------------------------------------------------------
step_images() {
  run bash images/python/build.sh "$PYTHON_IMAGE" # pulls the Python image, else builds it
  run "$BURGER" build-images --registry "$REGISTRY" --push
}

emulator_image() {
  local refs base_ref ref
  refs=$("$PYTHON" -c 'import sys
from burger_recs.components.images import image_ref
print(image_ref("base", sys.argv[1]), image_ref("gcs-emulator", sys.argv[1]))' "$REGISTRY")
  base_ref=${refs% *}
  ref=${refs#* }
  EMULATOR_IMAGE=$ref
  if ((DRY)); then
    echo "# if the image $ref is present already: skip the build"
  elif docker image inspect "$ref" >/dev/null 2>&1; then
    say "GCS emulator image $ref: unchanged"
    quiet docker push "$ref"
    return 0
  fi
  say "GCS emulator image: building $ref (log: .local/build/gcs-emulator.log)"
  run mkdir -p .local/build
  # Its modules, from the import graph (burger_recs.components.images.stage).
  run "$PYTHON" -c 'from burger_recs.components.images import stage; stage("gcs-emulator")'
  if ((DRY)); then
    run env DOCKER_BUILDKIT=0 docker build -f images/gcs-emulator/Dockerfile \
      --build-arg "BASE_IMAGE=$base_ref" -t "$ref" .
  elif ! env DOCKER_BUILDKIT=0 docker build -f images/gcs-emulator/Dockerfile \
    --build-arg "BASE_IMAGE=$base_ref" -t "$ref" . >.local/build/gcs-emulator.log 2>&1; then
    tail -n 25 .local/build/gcs-emulator.log >&2
    die "building the GCS emulator image failed; full log in .local/build/gcs-emulator.log"
  fi
  quiet docker push "$ref"
  CHANGED=$((CHANGED + 1))
}

# --- 5. the dev overlay ---------------------------------------------------------------
dev_overlay() {
  local name=${EMULATOR_IMAGE%:*} tag=${EMULATOR_IMAGE##*:}
  run mkdir -p "$STATE/dev"
  # The overlay plus the emulator image's content tag, which changes with its code.
  write_file "$STATE/dev/kustomization.yaml" <<EOF
# Written by scripts/cluster.sh: manifests/overlays/dev with the GCS emulator image built now.
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - ../../../manifests/overlays/dev
images:
  - name: burger-recs-gcs-emulator
    newName: $name
    newTag: "$tag"
EOF
  apply "$STATE/dev" "dev overlay (PostgreSQL, GCS emulator, the steps' Secrets)"
  say "waiting for PostgreSQL and the GCS emulator with its sample shop"
  if ! kc -n "$DEV_NAMESPACE" rollout status statefulset/postgres --timeout=5m ||
    ! kc -n "$DEV_NAMESPACE" rollout status deployment/gcs-emulator --timeout=10m; then
    explain "$DEV_NAMESPACE"
    die "the dev overlay did not become ready (see above)"
  fi
}

# --- 6. production's overlay ----------------------------------------------------------
# What Argo CD syncs in production, applied here as GitOps would: the overlay, rendered for
# the images built now (Pipeline and PipelineVersion resources, named by their content), with
# the dev schedule (manifests/overlays/dev/schedule.yaml). Its Jobs run as they would after a
# sync: the database's migration (burger-recs-migrate, the tables' one owner) to completion,
# then the schedule's reconciler (burger-recs-reconcile-schedule), which points the dev
# cluster's recurring run at this version.
deploy() {
  local dir="$STATE/deploy" job
  run rm -rf "$dir"
  run mkdir -p "$dir"
  run cp -R manifests/overlays/prod/. "$dir/"
  run cp manifests/overlays/dev/schedule.yaml "$dir/schedule.yaml"
  run "$BURGER" render-prod --registry "$REGISTRY" --preview --out "$dir"
  run_to "$STATE/deploy.yaml" "$KUSTOMIZE" build "$dir"
  # A Job's template cannot change: the previous run of each goes first, as Argo CD's
  # BeforeHookCreation policy does.
  kc -n kubeflow delete job burger-recs-migrate burger-recs-reconcile-schedule \
    --ignore-not-found --wait=true
  say "applying production's overlay (pipeline version, migration, schedule, watchdog)"
  kc apply --server-side --force-conflicts -f "$STATE/deploy.yaml"
  for job in burger-recs-migrate burger-recs-reconcile-schedule; do
    if ! kc -n kubeflow wait --for=condition=complete "job/$job" --timeout=5m; then
      kc -n kubeflow logs "job/$job" --tail=30 >&2 || true
      die "the Job $job did not complete (log above)"
    fi
  done
}

summary() {
  local data="gs://burger-shop/drops (sample shop)"
  if ((!DRY)); then
    data=$("$KUBECTL" --context "$CONTEXT" -n "$DEV_NAMESPACE" exec deploy/gcs-emulator -- \
      cat /tmp/ready/sample-shop 2>/dev/null || echo "$data")
  fi
  echo
  if ((CHANGED == 0 && !DRY)); then
    say "dev cluster $CLUSTER: nothing to change, it was up to date"
  else
    say "dev cluster $CLUSTER is ready"
  fi
  cat <<EOF
   Kubeflow UI   $UI_URL
   KFP API       $API_URL
   registry      localhost:$REGISTRY_PORT (container $REGISTRY_NAME)
   sample data   $data
   database      postgres.$DEV_NAMESPACE.svc:5432/burger_recs; from here:
                 $KUBECTL --context $CONTEXT -n $DEV_NAMESPACE port-forward svc/postgres 5432
   kubectl       $KUBECTL --context $CONTEXT get pods -A
next: make submit   (WAIT=1 follows the run to its end; RUN_DATE=YYYY-MM-DD picks the day)
EOF
}

up() {
  say "dev cluster $CLUSTER: kind $KIND_VERSION, Kubeflow Pipelines $KFP_VERSION, registry localhost:$REGISTRY_PORT"
  ensure_tools
  need_docker
  run mkdir -p "$STATE"
  start_registry
  create_cluster
  connect_registry
  apply manifests/kind "local registry announcement (ConfigMap local-registry-hosting)"
  install_kfp
  # The images build while the cluster pulls Kubeflow Pipelines.
  step_images
  emulator_image
  wait_kfp
  dev_overlay
  deploy
  summary
}

down() {
  ensure_tools kind
  need_docker
  ((DRY)) && echo "# if \`$KIND get clusters\` lists $CLUSTER:"
  if cluster_exists || ((DRY)); then
    say "kind cluster $CLUSTER: deleting it"
    run "$KIND" delete cluster --name "$CLUSTER"
  else
    say "kind cluster $CLUSTER: does not exist, nothing to delete"
  fi
  ((DRY)) && echo "# if the container $REGISTRY_NAME exists:"
  if ((DRY)) || docker inspect "$REGISTRY_NAME" >/dev/null 2>&1; then
    say "registry $REGISTRY_NAME: removing the container"
    quiet docker rm -f "$REGISTRY_NAME"
  else
    say "registry $REGISTRY_NAME: does not exist, nothing to remove"
  fi
  say "the images stay in the Docker engine: docker image ls '$REGISTRY/*'"
}

submit() {
  local args params param
  ensure_tools kubectl # for the logs of a failed step
  need_docker
  if ((DRY)); then
    echo "# first: the KFP API answers on ${API_URL#http://}, else stop (run make dev-cluster)"
  elif ! (exec 3<>"/dev/tcp/127.0.0.1/${API_URL##*:}") 2>/dev/null; then
    die "no Kubeflow Pipelines API answers at $API_URL: run \`make dev-cluster\` first"
  fi
  step_images
  deploy
  run "$BURGER" compile
  args=(submit --host "$API_URL" --ui "$UI_URL" --registry "$REGISTRY"
    --kubectl "$KUBECTL" --kube-context "$CONTEXT")
  [[ -z ${RUN_DATE:-} ]] || args+=(--run-date "$RUN_DATE")
  [[ -z ${DATA:-} ]] || args+=(--data "$DATA")
  read -r -a params <<<"${PARAMS:-}"
  for param in "${params[@]}"; do
    args+=(--param "$param")
  done
  truthy "${WAIT:-}" && args+=(--wait)
  run "$BURGER" "${args[@]}"
}

case $command in
  up) up ;;
  submit) submit ;;
  down) down ;;
  tools) ensure_tools ;;
esac
