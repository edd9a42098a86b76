"""Pushing the images to the production registry and recording their digests (CI on main).

``make push-prod-images`` (``burger-recs push-prod-images``) runs :func:`push`; the lock it
writes, ``manifests/overlays/prod/images.lock.json``, is what ``make render-prod`` pins the
rendering's images by (:mod:`burger_recs.deploy.production`).
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

from burger_recs.components.images import image_ref
from burger_recs.deploy.docker import BuildError, build_images, docker_cli
from burger_recs.deploy.production import (
    IMAGES,
    LOCK,
    OVERLAY,
    Lock,
    RenderError,
    lock_text,
    show,
    split_ref,
)


def repo_digest(ref: str, repo_digests: list[str]) -> str:
    """Return ``ref@sha256:...`` from an image's RepoDigests, for the ref's repository.

    Raises:
        RenderError: the image has no digest in that repository (it was never pushed there).
    """
    repository, _ = split_ref(ref)
    for entry in repo_digests:
        name, _, digest = entry.partition("@")
        if name == repository and re.fullmatch(r"sha256:[0-9a-f]{64}", digest):
            return f"{ref}@{digest}"
    raise RenderError(f"{ref} has no digest in {repository}: was it pushed?")


def push(
    registry: str,
    overlay: Path = OVERLAY,
    docker: Callable[..., subprocess.CompletedProcess] = docker_cli,
    build: Callable[[str], object] | None = None,
    echo: Callable[[str], None] = print,
) -> Lock:
    """Push every image of the current code to ``registry`` and record the digests.

    An image whose content tag is already in the registry is pulled, not rebuilt: a content
    tag keeps its digest (a rebuild would differ in its labels). Then ``build`` (default:
    ``docker.build_images`` with ``push``) builds what is missing and pushes all, and the
    lock is rewritten.

    Raises:
        RenderError: building, pushing or inspecting an image failed.
    """
    for image in IMAGES:
        ref = image_ref(image, registry)
        pulled = docker("pull", "--quiet", ref).returncode == 0
        echo(f"  {image:<10} {ref}: {'in the registry' if pulled else 'new, to build'}")
    try:
        if build is None:
            build_images(registry, push=True, echo=echo)
        else:
            build(registry)
    except BuildError as exc:
        raise RenderError(f"building or pushing the images failed: {exc}") from None
    images = {}
    for image in IMAGES:
        ref = image_ref(image, registry)
        out = docker("image", "inspect", "--format", "{{json .RepoDigests}}", ref)
        if out.returncode != 0:
            raise RenderError(f"docker image inspect {ref}: {out.stderr.strip()}")
        images[image] = repo_digest(ref, json.loads(out.stdout or "[]") or [])
    lock = Lock(registry, images)
    (overlay / LOCK).write_text(lock_text(lock))
    echo(f"recorded {len(images)} digests in {show(overlay / LOCK)}")
    return lock
