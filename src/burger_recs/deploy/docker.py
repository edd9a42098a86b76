"""Build the step images that changed: ``python images/build.py --help``.

Every image is tagged with its content tag (components/images.py), so an image whose tag
is already present is up to date and is not rebuilt. The base is built first; each step
image is built FROM the base's exact reference. Builds use the classic builder (no BuildKit
needed) with the repository as context (.dockerignore lets only the sources through).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "src"))

from burger_recs import __version__  # noqa: E402
from burger_recs.version import git_version  # noqa: E402
from components.images import BASE, STEPS, image_ref  # noqa: E402

BUILD_DIR = REPO / ".local" / "build"
EXTRA_CA = BUILD_DIR / "extra-ca.pem"
DEFAULT_PYTHON_IMAGE = "python:3.11.14-slim-bookworm"


def _docker(*args: str, capture: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["docker", *args],
        check=False,
        capture_output=capture,
        text=True,
        env={**os.environ, "DOCKER_BUILDKIT": "0"},
    )


def present(ref: str) -> bool:
    """Tell whether the image is in the local image list."""
    return _docker("image", "inspect", ref).returncode == 0


def size_mb(ref: str) -> float:
    """Return the image's size in MB."""
    out = _docker("image", "inspect", "-f", "{{.Size}}", ref).stdout.strip()
    return int(out) / 1e6 if out.isdigit() else float("nan")


def _git(*args: str) -> str:
    result = subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True)
    return result.stdout.strip() if result.returncode == 0 else ""


def build(image: str, ref: str, build_args: dict[str, str], labels: dict[str, str]) -> float:
    """Build one image with OCI labels; return the seconds it took (SystemExit on failure)."""
    log = BUILD_DIR / f"{image}.log"
    started = time.monotonic()
    command = ["build", "-f", f"images/{image}/Dockerfile", "-t", ref]
    for key, value in build_args.items():
        command += ["--build-arg", f"{key}={value}"]
    for key, value in labels.items():
        command += ["--label", f"org.opencontainers.image.{key}={value}"]
    print(f"  building {image} (log: {log.relative_to(REPO)}) ...", flush=True)
    with log.open("w") as handle:
        result = subprocess.run(
            ["docker", *command, str(REPO)],
            stdout=handle,
            stderr=subprocess.STDOUT,
            env={**os.environ, "DOCKER_BUILDKIT": "0"},
            check=False,
        )
    if result.returncode != 0:
        tail = log.read_text(errors="replace").splitlines()[-25:]
        print("\n".join(f"    {line}" for line in tail), file=sys.stderr)
        raise SystemExit(f"error: building {image} failed; full log in {log}")
    return time.monotonic() - started


def main(argv: list[str] | None = None) -> int:
    """Build the base and the step images that are not present yet; print their references."""
    parser = argparse.ArgumentParser(
        description="Build the burger-recs images whose content tag is not present locally.",
    )
    parser.add_argument(
        "--registry",
        default=os.environ.get("REGISTRY") or "localhost:5001",
        help="registry prefix of the image references (env REGISTRY)",
    )
    parser.add_argument(
        "--python-image",
        default=os.environ.get("PYTHON_IMAGE") or DEFAULT_PYTHON_IMAGE,
        help="the Python image the base builds FROM",
    )
    parser.add_argument(
        "--extra-ca-bundle",
        default=os.environ.get("EXTRA_CA_BUNDLE") or "",
        help="a CA bundle pip must trust inside the build (env EXTRA_CA_BUNDLE);"
        " it never reaches the final images",
    )
    parser.add_argument("--push", action="store_true", help="push every image after building")
    parser.add_argument(
        "--json",
        type=Path,
        default=BUILD_DIR / "images.json",
        help="where to write the step -> image map",
    )
    args = parser.parse_args(argv)

    if shutil.which("docker") is None or _docker("version").returncode != 0:
        raise SystemExit("error: no Docker engine answers; start dockerd (see README)")
    if not present(args.python_image):
        raise SystemExit(
            f"error: the Python image {args.python_image} is not present: run `make base-image`"
        )
    BUILD_DIR.mkdir(parents=True, exist_ok=True)
    if args.extra_ca_bundle:
        shutil.copyfile(args.extra_ca_bundle, EXTRA_CA)
    else:
        EXTRA_CA.write_text("")
    labels = {
        "source": _git("config", "--get", "remote.origin.url") or "burger-recs",
        "revision": _git("rev-parse", "HEAD") or "unknown",
        "version": __version__,
    }
    code_version = git_version(REPO) or f"unknown-{__version__}"
    refs = {}
    print(f"images for code {code_version} (registry {args.registry}):")
    for image in (BASE, *STEPS):
        ref = image_ref(image, args.registry)
        refs[image] = ref
        if present(ref):
            status = "unchanged"
        else:
            if image == BASE:
                build_args, base = {"PYTHON_IMAGE": args.python_image}, args.python_image
            else:
                build_args = {
                    "BASE_IMAGE": refs[BASE],
                    "CODE_VERSION": code_version,
                    "IMAGE_REF": ref,
                }
                base = refs[BASE]
            image_labels = {**labels, "title": f"burger-recs-{image}", "base.name": base}
            status = f"built in {build(image, ref, build_args, image_labels):.0f}s"
        if args.push:
            if _docker("push", ref).returncode != 0:
                raise SystemExit(f"error: pushing {ref} failed")
            status += ", pushed"
        print(f"  {image:<10} {ref}  {size_mb(ref):,.0f} MB  ({status})", flush=True)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({s: refs[s] for s in STEPS}, indent=2) + "\n")
    shown = args.json.relative_to(REPO) if args.json.is_relative_to(REPO) else args.json
    print(f"step image map: {shown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
