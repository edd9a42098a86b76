"""Build the images that changed (``burger-recs build-images``), and every docker CLI call.

Every image is tagged with its content tag (components/images.py), so an image whose tag is
already present is up to date and is not rebuilt. The base is built first; each step image is
built FROM the base's exact reference. Builds use the classic builder (no BuildKit needed)
with the repository as context (.dockerignore lets only the sources through).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from burger_recs import __version__
from burger_recs.components.images import (
    BASE,
    DEFAULT_REGISTRY,
    RECONCILER,
    REPO,
    STEPS,
    dockerfile,
    image_name,
    image_ref,
    stage,
)
from burger_recs.deploy import DEFAULT_PYTHON_IMAGE
from burger_recs.version import git_version

BUILD_DIR = REPO / ".local" / "build"
EXTRA_CA = BUILD_DIR / "extra-ca.pem"
# The host's system trust stores (Debian/Ubuntu, Fedora/RHEL, Alpine and macOS), of which the
# first that exists is pip's extra CA bundle inside the build unless one is named: behind a
# TLS-intercepting proxy, its CA is installed there, and images build without a flag.
SYSTEM_CA_BUNDLES = (
    Path("/etc/ssl/certs/ca-certificates.crt"),
    Path("/etc/pki/tls/certs/ca-bundle.crt"),
    Path("/etc/ssl/cert.pem"),
)
NO_CA_BUNDLE = "none"


def build_ca_bundle(named: str | None) -> Path | None:
    """Return the CA bundle pip trusts inside the build.

    Args:
        named: a bundle's path; empty or None: the host's system bundle, when there is one;
            ``none``: no extra bundle.

    Raises:
        BuildError: the named bundle does not exist.
    """
    if named == NO_CA_BUNDLE:
        return None
    if named:
        path = Path(named)
        if not path.is_file():
            raise BuildError(f"extra CA bundle {named}: no such file")
        return path
    return next((path for path in SYSTEM_CA_BUNDLES if path.is_file()), None)


IMAGE_MAP = BUILD_DIR / "images.json"
# The classic builder: no BuildKit (or buildx) needed where the engine lacks it.
_ENV = {"DOCKER_BUILDKIT": "0"}


class BuildError(RuntimeError):
    """An image cannot be built or pushed (with the reason and where to look)."""


def docker_cli(*args: str) -> subprocess.CompletedProcess:
    """Run ``docker ARGS``; return its exit status and captured output (text)."""
    return subprocess.run(
        ["docker", *args], capture_output=True, text=True, check=False, env={**os.environ, **_ENV}
    )


def present(ref: str) -> bool:
    """Tell whether the image is in the local image list."""
    return docker_cli("image", "inspect", ref).returncode == 0


def size_mb(ref: str) -> float:
    """Return the image's size in MB."""
    out = docker_cli("image", "inspect", "-f", "{{.Size}}", ref).stdout.strip()
    return int(out) / 1e6 if out.isdigit() else float("nan")


def _git(*args: str) -> str:
    result = subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True)
    return result.stdout.strip() if result.returncode == 0 else ""


def build_image(
    image: str,
    ref: str,
    build_args: dict[str, str],
    labels: dict[str, str],
    echo: Callable[[str], None],
) -> float:
    """Build one image with OCI labels; return the seconds it took.

    Raises:
        BuildError: the build failed (the message ends with its log's last lines).
    """
    log = BUILD_DIR / f"{image}.log"
    started = time.monotonic()
    stage(image)  # the modules the image holds, from the import graph
    recipe = dockerfile(image).relative_to(REPO).as_posix()
    command = ["docker", "build", "-f", recipe, "-t", ref, "--build-arg", f"IMAGE={image}"]
    for key, value in build_args.items():
        command += ["--build-arg", f"{key}={value}"]
    for key, value in labels.items():
        command += ["--label", f"org.opencontainers.image.{key}={value}"]
    echo(f"  building {image} (log: {log.relative_to(REPO)}) ...")
    with log.open("w") as handle:
        result = subprocess.run(
            [*command, str(REPO)],
            stdout=handle,
            stderr=subprocess.STDOUT,
            env={**os.environ, **_ENV},
            check=False,
        )
    if result.returncode != 0:
        tail = log.read_text(errors="replace").splitlines()[-25:]
        raise BuildError(
            f"building {image} failed; full log in {log}:\n"
            + "\n".join(f"    {line}" for line in tail)
        )
    return time.monotonic() - started


def build_images(
    registry: str = DEFAULT_REGISTRY,
    python_image: str = DEFAULT_PYTHON_IMAGE,
    extra_ca_bundle: str | None = None,
    push: bool = False,
    image_map: Path = IMAGE_MAP,
    echo: Callable[[str], None] = print,
) -> dict[str, str]:
    """Build the base, step and reconciler images not present yet; print their references.

    Args:
        registry: registry prefix of the image references.
        python_image: the Python image the base builds FROM (``make base-image`` provides it).
        extra_ca_bundle: a CA bundle pip must trust inside the build (a TLS proxy's); empty
            or None: the host's system bundle (:func:`build_ca_bundle`); ``none``: no bundle.
            It is used in a builder stage only and never reaches the final images.
        push: push every image after building.
        image_map: where to write the step -> image map (JSON).
        echo: where to report.

    Returns:
        Each image (``base``, the steps and the reconciler) -> its reference.

    Raises:
        BuildError: no Docker engine, no Python image, or a build or push failed.
    """
    if shutil.which("docker") is None or docker_cli("version").returncode != 0:
        raise BuildError("no Docker engine answers; start dockerd (docs/containers.md)")
    if not present(python_image):
        raise BuildError(f"the Python image {python_image} is not present: run `make base-image`")
    BUILD_DIR.mkdir(parents=True, exist_ok=True)
    bundle = build_ca_bundle(extra_ca_bundle)
    if bundle is not None:
        shutil.copyfile(bundle, EXTRA_CA)
        echo(f"pip inside the build trusts {bundle} (never copied into an image)")
    else:
        EXTRA_CA.write_text("")
    labels = {
        "source": _git("config", "--get", "remote.origin.url") or "burger-recs",
        "revision": _git("rev-parse", "HEAD") or "unknown",
        "version": __version__,
    }
    code_version = git_version(REPO) or f"unknown-{__version__}"
    refs: dict[str, str] = {}
    echo(f"images for code {code_version} (registry {registry}):")
    for image in (BASE, *STEPS, RECONCILER):
        ref = image_ref(image, registry)
        refs[image] = ref
        if present(ref):
            status = "unchanged"
        else:
            if image == BASE:
                build_args, base = {"PYTHON_IMAGE": python_image}, python_image
            else:
                build_args = {
                    "BASE_IMAGE": refs[BASE],
                    "CODE_VERSION": code_version,
                    "IMAGE_REF": ref,
                }
                base = refs[BASE]
            image_labels = {**labels, "title": image_name(image), "base.name": base}
            status = f"built in {build_image(image, ref, build_args, image_labels, echo):.0f}s"
        if push:
            pushed = docker_cli("push", ref)
            if pushed.returncode != 0:
                raise BuildError(f"pushing {ref} failed: {pushed.stderr.strip()[-500:]}")
            status += ", pushed"
        echo(f"  {image:<12} {ref}  {size_mb(ref):,.0f} MB  ({status})")
    image_map.parent.mkdir(parents=True, exist_ok=True)
    image_map.write_text(json.dumps({s: refs[s] for s in STEPS}, indent=2) + "\n")
    shown = image_map.relative_to(REPO) if image_map.is_relative_to(REPO) else image_map
    echo(f"step image map: {shown}")
    return refs
