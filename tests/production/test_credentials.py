"""Secrets never in git: no credential in what production deploys or builds its images from.

Scanned for passwords in URLs, connection-string passwords, secret-named values and private
keys (the patterns of tests/support/scan.py):

- the production overlay as kustomize builds it, the rendered files, the image lock and the
  Argo CD Application;
- the compiled IR (pipelines/compiled/) and the rendered PipelineVersion's IR;
- the image build contexts: every file Docker would send for a build of images/<image>/, as
  the repository's .dockerignore lets it through (Docker's own matching rules), which covers
  every file the Dockerfiles COPY.
"""

import fnmatch
import os
import shutil
from pathlib import Path

import pytest
import yaml

from burger_recs.components import images
from burger_recs.deploy import production
from tests.support import scan
from tests.support.manifests import build

REPO = production.REPO
ALL_IMAGES = (images.BASE, *images.STEPS, images.RECONCILER, *images.SERVICES)


def _parts(path: str) -> list[str]:
    return [p for p in path.strip("/").split("/") if p and p != "."]


def _match(pattern: list[str], path: list[str]) -> bool:
    """Docker's filepath.Match per path segment, with ** for any number of segments."""
    if not pattern:
        return not path
    if pattern[0] == "**":
        return any(_match(pattern[1:], path[i:]) for i in range(len(path) + 1))
    return bool(path) and fnmatch.fnmatchcase(path[0], pattern[0]) and _match(pattern[1:], path[1:])


def dockerignore(repo: Path) -> list[tuple[bool, list[str]]]:
    """The .dockerignore rules: (is an exception ``!``, pattern segments), in order."""
    rules = []
    for line in (repo / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        exception = line.startswith("!")
        rules.append((exception, _parts(os.path.normpath(line.lstrip("!").strip()))))
    return rules


def is_sent(rules, relative: str) -> bool:
    """Whether Docker sends this file: the last rule matching it or a parent decides."""
    path = _parts(relative)
    sent = True
    for exception, pattern in rules:
        if any(_match(pattern, path[:n]) for n in range(1, len(path) + 1)):
            sent = exception
    return sent


def build_context(repo: Path) -> list[Path]:
    """Every file of the build context (`burger-recs build-images` builds with the repository
    as it)."""
    rules = dockerignore(repo)
    exceptions = [pattern for exception, pattern in rules if exception]
    files = []
    for folder, dirs, names in os.walk(repo):
        here = Path(folder).relative_to(repo).as_posix()
        here = "" if here == "." else here

        def may_hold_sent_files(name, here=here):
            path = _parts(f"{here}/{name}")
            if is_sent(rules, "/".join(path)):
                return True
            # Excluded, but an exception may re-include something below it.
            return any(
                all(fnmatch.fnmatchcase(p, q) or q == "**" for p, q in zip(path, e, strict=False))
                for e in exceptions
            )

        dirs[:] = sorted(d for d in dirs if may_hold_sent_files(d))
        files += [Path(folder, n) for n in sorted(names) if is_sent(rules, f"{here}/{n}")]
    return files


def test_the_build_context_follows_dockerignore():
    rules = dockerignore(REPO)
    # The library reaches a build only as the modules staged for an image.
    assert is_sent(rules, ".local/build/modules/reconciler/burger_recs/deploy/schedule.py")
    assert is_sent(rules, ".local/build/modules/train/burger_recs/steps/train.py")
    assert not is_sent(rules, "src/burger_recs/steps/train.py")
    assert is_sent(rules, "requirements.lock")
    for never in (".env", "tests/conftest.py", ".git/config", "src/burger_recs/data/x.pem"):
        assert not is_sent(rules, never), never
    context = {p.relative_to(REPO).as_posix() for p in build_context(REPO)}
    copied = {
        source
        for image in ALL_IMAGES
        for source in images.copied_files(images.dockerfile(image))
        if not source.startswith(images.BUILD_ONLY)
    }
    assert copied <= context, (
        f"the Dockerfiles COPY files Docker would not send: {copied - context}"
    )
    assert not any(p.startswith((".venv/", ".git/", "tests/", "manifests/")) for p in context)


def test_no_credential_in_the_image_build_contexts():
    for image in ALL_IMAGES:  # what `make images` sends: the staged modules of every image
        images.stage(image)
    files = build_context(REPO) + sorted(images.IMAGES.glob("*/Dockerfile"))
    scanned, leaks = scan.scan_paths(files)
    assert scanned > 20
    assert leaks == {}


def test_no_credential_in_what_production_deploys():
    built = yaml.safe_dump_all(build(production.OVERLAY))
    assert scan.findings(built) == []
    files = [
        *sorted((production.OVERLAY).rglob("*")),
        production.APPLICATION,
        production.PROJECT,
        *sorted((REPO / "pipelines" / "compiled").glob("*.yaml")),
    ]
    scanned, leaks = scan.scan_paths([f for f in files if f.is_file()])
    assert scanned >= 6
    assert leaks == {}


@pytest.mark.parametrize(
    "planted",
    [
        "  db: postgresql://burger:s3cret-pw@db.internal:5432/recs\n",
        "  API_TOKEN: abc123def456\n",
    ],
)
def test_a_planted_credential_is_found_in_the_built_overlay(tmp_path, planted):
    overlay = tmp_path / "prod"
    shutil.copytree(production.OVERLAY, overlay)
    schedule = overlay / "schedule.yaml"
    schedule.write_text(schedule.read_text() + planted)
    built = yaml.safe_dump_all(build(overlay))
    assert scan.findings(built)


def test_a_planted_key_in_the_build_context_is_found(tmp_path):
    (tmp_path / ".dockerignore").write_text((REPO / ".dockerignore").read_text())
    staged = tmp_path / ".local" / "build" / "modules" / "train" / "burger_recs"
    staged.mkdir(parents=True)
    key = "-----BEGIN PRIVATE KEY-----\n" + "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC" * 3 + "\n"
    (staged / "leak.py").write_text(f'KEY = """{key}"""\n')
    (tmp_path / "notes.txt").write_text(key)  # not in the context: not sent, not reported
    context = build_context(tmp_path)
    assert [p.name for p in context] == ["leak.py"]
    _, leaks = scan.scan_paths(context)
    assert list(leaks) == [str(staged / "leak.py")]
