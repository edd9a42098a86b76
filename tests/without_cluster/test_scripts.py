"""The cluster scripts' dry runs print the exact commands and run none of them; the tool
installer checks every download's SHA-256 before installing it."""

import hashlib
import io
import os
import re
import subprocess
import tarfile
from pathlib import Path

import pytest

from burger_recs.components import images
from burger_recs.components.images import image_ref
from burger_recs.deploy import DEV_DATA_URI
from tests.support.manifests import build

REPO = Path(__file__).resolve().parents[2]
MAKE = ["make", "--no-print-directory", "-s", "-o", ".venv/bin/activate"]
# Set when the tests run under `make test`: a nested make must not inherit them.
MAKE_ENV = ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")


def _clean_env(**extra):
    env = {k: v for k, v in os.environ.items() if k not in MAKE_ENV}
    return {**env, **extra}


@pytest.fixture
def no_side_effects(tmp_path):
    """PATH with stand-ins for every command that changes something; they log any call."""
    bin_dir, log = tmp_path / "fake-bin", tmp_path / "calls.log"
    bin_dir.mkdir()
    for name in ("docker", "kind", "kubectl", "kustomize", "curl", "install", "tar", "ln"):
        (bin_dir / name).write_text(f'#!/bin/sh\necho "{name} $*" >> "{log}"\nexit 1\n')
        (bin_dir / name).chmod(0o755)
    env = _clean_env(PATH=f"{bin_dir}:{os.environ['PATH']}")
    for name in ("DRY_RUN", "RUN_DATE", "PARAMS", "WAIT", "DATA", "REGISTRY", "LOCALBIN"):
        env.pop(name, None)
    yield env, tmp_path / "localbin"
    assert not log.exists(), f"a dry run ran commands:\n{log.read_text()}"
    assert not (tmp_path / "localbin").exists()


def _dry(env, localbin, target, *variables):
    result = subprocess.run(
        [*MAKE, target, "DRY_RUN=1", f"LOCALBIN={localbin}", *variables],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def _in_order(text, *expected):
    """Assert that the lines appear in this order (each one exactly, as a whole line)."""
    lines = text.splitlines()
    position = -1
    for line in expected:
        assert line in lines[position + 1 :], f"missing, or out of order: {line}\n\n{text}"
        position = lines.index(line, position + 1)


def test_make_n_shows_the_script_that_does_the_work():
    result = subprocess.run(
        ["make", "-n", "-o", ".venv/bin/activate", "dev-cluster", "submit", "dev-cluster-down"],
        cwd=REPO,
        env=_clean_env(),
        capture_output=True,
        text=True,
    )
    assert result.stdout.splitlines() == [
        "bash scripts/cluster.sh up",
        "bash scripts/cluster.sh submit",
        "bash scripts/cluster.sh down",
    ]


def test_dev_cluster_dry_run_prints_every_command_in_order(no_side_effects):
    env, localbin = no_side_effects
    out = _dry(env, localbin, "dev-cluster")
    kind, kubectl = f"{localbin}/kind-v0.29.0", f"{localbin}/kubectl-v1.33.1"
    kustomize = f"{localbin}/kustomize-v5.6.0"
    k = f"+ {kubectl} --context kind-burger-recs"
    scoped = ".local/cluster/cluster-scoped-resources.yaml"
    emulator = image_ref("gcs-emulator")
    _in_order(
        out,
        f"+ install -m 0755 TMP/kind-linux-amd64 {kind}",
        f"+ install -m 0755 TMP/kubectl {kubectl}",
        f"+ install -m 0755 TMP/kustomize {kustomize}",
        "+ docker run -d --restart=always -p 127.0.0.1:5001:5000 --network bridge "
        "--name kind-registry registry:2.8.3",
        f"+ {kind} create cluster --name burger-recs --config kind-cluster.yaml --wait 120s",
        "+ docker network connect kind kind-registry",
        "+ docker exec -i burger-recs-control-plane cp /dev/stdin "
        "/etc/containerd/certs.d/localhost:5001/hosts.toml <<'EOF'",
        '[host."http://kind-registry:5000"]',
        f"+ {kustomize} build manifests/kind > .local/cluster/kind.yaml",
        f"{k} apply --server-side --force-conflicts -f .local/cluster/kind.yaml",
        f"+ {kustomize} build manifests/cert-manager > .local/cluster/cert-manager.yaml",
        f"{k} apply --server-side --force-conflicts -f .local/cluster/cert-manager.yaml",
        f"{k} -n cert-manager wait --for=condition=Available deployment --all --timeout=5m",
        f"+ {kustomize} build manifests/kfp/cluster-scoped-resources "
        "> .local/cluster/cluster-scoped-resources.yaml",
        f"{k} diff --server-side --force-conflicts -f {scoped}",
        f"{k} apply --server-side --force-conflicts -f {scoped}",
        f"{k} wait --for condition=established --timeout=120s crd --all",
        f"{k} apply --server-side --force-conflicts -f .local/cluster/k8s-native.yaml",
        "+ bash images/python/build.sh python:3.11.14-slim-bookworm",
        "+ .venv/bin/burger-recs build-images --registry localhost:5001 --push",
        "+ .venv/bin/python -c 'from burger_recs.components.images import stage; "
        'stage("gcs-emulator")\'',
        "+ env DOCKER_BUILDKIT=0 docker build -f images/gcs-emulator/Dockerfile "
        f"--build-arg BASE_IMAGE={image_ref('base')} -t {emulator} .",
        f"+ docker push {emulator}",
        f"{k} -n kubeflow wait --for=condition=Available deployment --all --timeout=20m",
        "+ cat > .local/cluster/dev/kustomization.yaml <<'EOF'",
        "  - ../../../manifests/overlays/dev",
        f"    newName: {emulator.rsplit(':', 1)[0]}",
        f'    newTag: "{emulator.rsplit(":", 1)[1]}"',
        f"{k} apply --server-side --force-conflicts -f .local/cluster/dev.yaml",
        f"{k} -n burger-recs rollout status statefulset/postgres --timeout=5m",
        f"{k} -n burger-recs rollout status deployment/gcs-emulator --timeout=10m",
        *_deployment(k, kustomize),
        ">> dev cluster burger-recs is ready",
        "   Kubeflow UI   http://localhost:8080",
        "next: make submit   (WAIT=1 follows the run to its end; "
        "RUN_DATE=YYYY-MM-DD picks the day)",
    )


def _deployment(k: str, kustomize: str) -> tuple[str, ...]:
    """The dry run's lines that apply production's overlay, rendered for the dev images."""
    return (
        "+ cp -R manifests/overlays/prod/. .local/cluster/deploy/",
        "+ cp manifests/overlays/dev/schedule.yaml .local/cluster/deploy/schedule.yaml",
        "+ .venv/bin/burger-recs render-prod --registry localhost:5001 --preview "
        "--out .local/cluster/deploy",
        f"+ {kustomize} build .local/cluster/deploy > .local/cluster/deploy.yaml",
        f"{k} -n kubeflow delete job burger-recs-migrate burger-recs-reconcile-schedule "
        "--ignore-not-found --wait=true",
        f"{k} apply --server-side --force-conflicts -f .local/cluster/deploy.yaml",
        f"{k} -n kubeflow wait --for=condition=complete job/burger-recs-migrate --timeout=5m",
        f"{k} -n kubeflow wait --for=condition=complete job/burger-recs-reconcile-schedule "
        "--timeout=5m",
    )


def test_the_dev_deployment_is_productions_overlay_for_the_dev_images_and_schedule(tmp_path):
    """What the dry run's deploy lines make, made for real: copy, dev schedule, rendering."""
    import shutil

    from typer.testing import CliRunner

    from burger_recs.cli import app
    from burger_recs.deploy import production, schedule

    folder = tmp_path / "deploy"
    shutil.copytree(REPO / "manifests" / "overlays" / "prod", folder)
    dev_schedule = REPO / "manifests" / "overlays" / "dev" / "schedule.yaml"
    shutil.copyfile(dev_schedule, folder / "schedule.yaml")
    rendered = CliRunner().invoke(
        app, ["render-prod", "--registry", "localhost:5001", "--preview", "--out", str(folder)]
    )
    assert rendered.exit_code == 0, rendered.output
    # The committed rendering is left alone.
    objects = build(folder)
    kinds = sorted(o["kind"] for o in objects)
    assert kinds == sorted(o["kind"] for o in build(production.OVERLAY))
    (version,) = [o for o in objects if o["kind"] == "PipelineVersion"]
    executors = version["spec"]["pipelineSpec"]["deploymentSpec"]["executors"]
    assert {e["container"]["image"].rsplit(":", 1)[0] for e in executors.values()} <= {
        f"localhost:5001/burger-recs-{step.replace('_', '-')}" for step in images.STEPS
    }
    jobs = {o["metadata"]["name"]: o for o in objects if o["kind"] == "Job"}
    for job in jobs.values():
        (container,) = job["spec"]["template"]["spec"]["containers"]
        assert container["image"] == image_ref("reconciler")
    (reconcile,) = jobs[production.RECONCILER_JOB]["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e.get("value") for e in reconcile["env"]}
    assert env["PIPELINE_VERSION"] == version["metadata"]["name"]
    (config,) = [o for o in objects if o["kind"] == "ConfigMap"]
    assert config["data"]["schedule.yaml"] == dev_schedule.read_text()
    loaded = schedule.load_schedule(dev_schedule)
    assert loaded.parameters["data_uri"] == DEV_DATA_URI and not loaded.catchup


def test_the_dry_run_wrapper_overlay_builds(no_side_effects, tmp_path):
    """The overlay the dry run shows, written out, builds and sets the emulator's image."""
    env, localbin = no_side_effects
    out = _dry(env, localbin, "dev-cluster")
    text = out.split("+ cat > .local/cluster/dev/kustomization.yaml <<'EOF'\n")[1]
    wrapper = tmp_path / "repo" / ".local" / "cluster" / "dev"
    wrapper.mkdir(parents=True)
    (wrapper / "kustomization.yaml").write_text(text.split("\nEOF\n")[0] + "\n")
    (tmp_path / "repo" / "manifests").symlink_to(REPO / "manifests")
    images = [
        c["image"]
        for o in build(wrapper)
        if o["kind"] == "Deployment"
        for c in o["spec"]["template"]["spec"]["containers"]
    ]
    assert images == [image_ref("gcs-emulator")]


def test_submit_dry_run_builds_pushes_compiles_and_submits(no_side_effects):
    env, localbin = no_side_effects
    out = _dry(env, localbin, "submit", "RUN_DATE=2026-11-20", "PARAMS=k=5 epochs=3", "WAIT=1")
    _in_order(
        out,
        "+ .venv/bin/burger-recs build-images --registry localhost:5001 --push",
        *_deployment(
            f"+ {localbin}/kubectl-v1.33.1 --context kind-burger-recs",
            f"{localbin}/kustomize-v5.6.0",
        ),
        "+ .venv/bin/burger-recs compile",
        "+ .venv/bin/burger-recs submit --host http://localhost:8888 --ui http://localhost:8080 "
        f"--registry localhost:5001 --kubectl {localbin}/kubectl-v1.33.1 "
        "--kube-context kind-burger-recs --run-date 2026-11-20 --param k=5 --param epochs=3 "
        "--wait",
    )
    assert "kind-v0.29.0" not in out  # submit needs kubectl only


def test_dev_cluster_down_dry_run_deletes_the_cluster_and_the_registry(no_side_effects):
    env, localbin = no_side_effects
    out = _dry(env, localbin, "dev-cluster-down")
    _in_order(
        out,
        f"+ {localbin}/kind-v0.29.0 delete cluster --name burger-recs",
        "+ docker rm -f kind-registry",
    )


def test_the_script_takes_the_tool_versions_from_the_makefile_only():
    env = {k: v for k, v in os.environ.items() if not k.endswith("_VERSION")}
    result = subprocess.run(
        ["bash", "scripts/cluster.sh", "--dry-run", "up"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert "KIND_VERSION: is set by the Makefile" in result.stderr


# -- scripts/install-tool.sh --------------------------------------------------------------
def _sha256(data):
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def downloads(tmp_path):
    """A stand-in curl that serves files from a folder by the URL's last path segment."""
    served, bin_dir = tmp_path / "served", tmp_path / "fake-bin"
    served.mkdir()
    bin_dir.mkdir()
    (bin_dir / "curl").write_text(
        "#!/bin/sh\n"
        "while [ $# -gt 0 ]; do\n"
        "  case $1 in -o) out=$2; shift 2;; -*) shift;; *) url=$1; shift;; esac\n"
        "done\n"
        f'echo "$url" >> "{tmp_path}/urls.log"\n'
        f'cp "{served}/$(basename "$url")" "$out"\n'
    )
    (bin_dir / "curl").chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "DRY_RUN": ""}
    env.pop("REQUIRE_PINNED_CHECKSUMS", None)
    return served, env, tmp_path


def _install(env, bin_dir, *args, sums=None):
    if sums is not None:
        env = {**env, "TOOLS_SHA256": str(sums)}
    return subprocess.run(
        ["bash", "scripts/install-tool.sh", *args, str(bin_dir)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
    )


def _platform():
    machine = os.uname().machine
    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(machine, machine)
    return os.uname().sysname.lower(), arch


def test_a_download_checked_against_the_publishers_sum_is_installed_and_its_pin_printed(
    downloads,
):
    served, env, tmp = downloads
    system, arch = _platform()
    binary = b"#!/bin/sh\necho kind v9\n"
    (served / f"kind-{system}-{arch}").write_bytes(binary)
    (served / f"kind-{system}-{arch}.sha256sum").write_text(
        f"{_sha256(binary)}  kind-{system}-{arch}\n"
    )
    result = _install(env, tmp / "bin", "kind", "v9.0.0")
    assert result.returncode == 0, result.stderr
    installed = tmp / "bin" / "kind-v9.0.0"
    assert installed.read_bytes() == binary and os.access(installed, os.X_OK)
    assert os.readlink(tmp / "bin" / "kind") == "kind-v9.0.0"
    assert f"kind v9.0.0 {system}-{arch} {_sha256(binary)}" in result.stdout.splitlines()
    urls = (tmp / "urls.log").read_text().splitlines()
    assert urls[0].endswith(f"/kind/releases/download/v9.0.0/kind-{system}-{arch}")

    again = _install(env, tmp / "bin", "kind", "v9.0.0")
    assert "already in" in again.stdout
    assert len((tmp / "urls.log").read_text().splitlines()) == 2  # nothing downloaded again


def test_a_download_that_does_not_match_is_not_installed(downloads):
    served, env, tmp = downloads
    (served / "kubectl").write_bytes(b"tampered")
    (served / "kubectl.sha256").write_text(_sha256(b"the real kubectl") + "\n")
    result = _install(env, tmp / "bin", "kubectl", "v1.0.0")
    assert result.returncode != 0
    assert "checksum mismatch" in result.stderr
    assert not (tmp / "bin" / "kubectl-v1.0.0").exists()


def test_a_pinned_sum_wins_over_the_publishers(downloads):
    served, env, tmp = downloads
    system, arch = _platform()
    (served / "kubectl").write_bytes(b"replaced upstream")
    (served / "kubectl.sha256").write_text(_sha256(b"replaced upstream") + "\n")
    sums = tmp / "tools.sha256"
    sums.write_text(f"# pins\nkubectl v1.0.0 {system}-{arch} {_sha256(b'the pinned one')}\n")
    result = _install(env, tmp / "bin", "kubectl", "v1.0.0", sums=sums)
    assert result.returncode != 0 and "from scripts/tools.sha256" in result.stderr
    (served / "kubectl").write_bytes(b"the pinned one")
    result = _install(env, tmp / "bin", "kubectl", "v1.0.0", sums=sums)
    assert result.returncode == 0, result.stderr
    assert "no pinned sum yet" not in result.stdout
    assert not any(u.endswith(".sha256") for u in (tmp / "urls.log").read_text().splitlines())


def test_kustomize_is_unpacked_from_its_archive_with_the_sum_from_checksums_txt(downloads):
    served, env, tmp = downloads
    system, arch = _platform()
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        data = b"#!/bin/sh\necho kustomize\n"
        info = tarfile.TarInfo("kustomize")
        info.size, info.mode = len(data), 0o755
        tar.addfile(info, io.BytesIO(data))
    name = f"kustomize_v5.0.0_{system}_{arch}.tar.gz"
    (served / name).write_bytes(archive.getvalue())
    (served / "checksums.txt").write_text(
        f"{'0' * 64}  kustomize_v5.0.0_other_arch.tar.gz\n{_sha256(archive.getvalue())}  {name}\n"
    )
    result = _install(env, tmp / "bin", "kustomize", "v5.0.0")
    assert result.returncode == 0, result.stderr
    assert (tmp / "bin" / "kustomize-v5.0.0").read_bytes() == data


def test_pinned_checksums_can_be_required(downloads):
    _, env, tmp = downloads
    result = _install({**env, "REQUIRE_PINNED_CHECKSUMS": "1"}, tmp / "bin", "kind", "v9.0.0")
    assert result.returncode != 0 and "REQUIRE_PINNED_CHECKSUMS" in result.stderr
    assert not (tmp / "urls.log").exists()


def test_the_checksum_file_is_well_formed():
    pin = r"(kind|kubectl|kustomize) v\d+\.\d+\.\d+ (linux|darwin)-(amd64|arm64) [0-9a-f]{64}"
    for line in (REPO / "scripts" / "tools.sha256").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            assert re.fullmatch(pin, line), line
