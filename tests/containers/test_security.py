"""Guarantee 6 (containers): non-root, a read-only root filesystem, no credential in images.

- Every image runs as a non-root user that cannot change the code, and works with a
  read-only root filesystem when only /tmp is writable (a tmpfs, as a pod's emptyDir).
- The compiled pipeline runs through kfp.local's DockerRunner with every step container
  read-only, non-root and a tmpfs /tmp, against PostgreSQL with a password in DATABASE_URL;
  the run log, its artifacts and the database hold no credential afterwards.
- No image carries a credential in its environment, labels, history (build arguments
  included) or files.

Needs a Docker engine and the images of `make images`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
import sqlalchemy as sa

from burger_recs.components.images import BASE, REPO, STEPS, image_modules, image_ref
from burger_recs.contract import metadata, recommendations
from burger_recs.pipelines.compile import compiled_pipeline
from burger_recs.pipelines.local_run import run_pipeline
from tests.support import scan
from tests.support.pipeline import day_arguments

pytestmark = pytest.mark.docker

IMAGES = (BASE, *STEPS)
USER = "10001:10001"
RUN_ID = "read-only-run"
TMPFS = {"/tmp": "rw,nosuid,nodev,size=512m"}  # the one writable path
EROFS, EACCES = 30, 13
SCANNER = REPO / "tests" / "support" / "scan.py"
# Run inside a container: which paths take a new file, and which modules import.
PROBE = """
import importlib, json, os, sys, tempfile
writable = {}
for path in ("/", "/opt/app", "/opt/app/burger_recs", "/opt/venv", "/etc", "/tmp"):
    try:
        fd, name = tempfile.mkstemp(dir=path)
        os.close(fd)
        os.unlink(name)
        writable[path] = 0
    except OSError as exc:
        writable[path] = exc.errno
for module in sys.argv[1:]:
    importlib.import_module(module)
if "matplotlib.pyplot" in sys.argv[1:]:
    import matplotlib.pyplot as plt
    plt.figure().savefig("/tmp/probe.png")
print(json.dumps({"uid": os.getuid(), "gid": os.getgid(), "writable": writable}))
"""
# Run inside a container: files under the given folders that hold a credential.
FILE_SCAN = """
import json, os, sys
sys.path.insert(0, "/scan")
import scan
everything, keys_only = sys.argv[1].split(","), sys.argv[2].split(",")
scanned, found = 0, {}
for roots, full in ((everything, True), (keys_only, False)):
    for root in filter(None, roots):
        for folder, _, files in os.walk(root):
            for name in files:
                path = os.path.join(folder, name)
                if os.path.islink(path) or os.path.getsize(path) > 5_000_000:
                    continue
                try:
                    with open(path, "rb") as handle:
                        text = handle.read().decode("latin-1")
                except OSError:
                    continue
                scanned += 1
                hits = scan.findings(text) if full else scan.PRIVATE_KEY.findall(text)
                if hits:
                    found[path] = hits[:3]
print(json.dumps({"scanned": scanned, "found": found}))
"""


def _docker(*args: str) -> str:
    done = subprocess.run(["docker", *args], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _probe(image: str, *modules: str, read_only: bool = True) -> dict:
    flags = ["--read-only", "--tmpfs", f"/tmp:{TMPFS['/tmp']}"] if read_only else []
    out = _docker(
        "run",
        "--rm",
        "--network",
        "none",
        *flags,
        "--entrypoint",
        "python",
        image_ref(image),
        "-c",
        PROBE,
        *modules,
    )
    return json.loads(out.strip().splitlines()[-1])


def _modules(image: str) -> list[str]:
    if image == BASE:  # every module the base holds (the import graph's)
        return list(image_modules(BASE))
    extra = ["burger_recs.report", "matplotlib.pyplot"] if image == "evaluate" else []
    return [f"burger_recs.steps.{image}", *extra]


@pytest.mark.parametrize("image", IMAGES)
def test_an_image_runs_as_non_root_on_a_read_only_root_filesystem(image):
    found = _probe(image, *_modules(image))
    assert (found["uid"], found["gid"]) == (10001, 10001)
    assert found["writable"] == {
        "/": EROFS,
        "/opt/app": EROFS,
        "/opt/app/burger_recs": EROFS,
        "/opt/venv": EROFS,
        "/etc": EROFS,
        "/tmp": 0,
    }
    # Without --read-only the user still cannot change the code or the environment.
    found = _probe(image, read_only=False)
    assert found["uid"] == 10001
    assert {p: found["writable"][p] for p in ("/opt/app/burger_recs", "/opt/venv", "/etc")} == {
        "/opt/app/burger_recs": EACCES,
        "/opt/venv": EACCES,
        "/etc": EACCES,
    }


@pytest.fixture
def world_readable(shop_data):
    """A folder the containers' user can use: a copy of the shop and a run root it owns."""
    base = Path(tempfile.mkdtemp(prefix="burger-recs-security-"))
    try:
        base.chmod(0o755)
        data = base / "data"
        shutil.copytree(shop_data, data)
        for path in [data, *data.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        root = base / "root"
        # run_pipeline keeps this folder; the step containers create everything inside it.
        artifacts = root / "runs" / RUN_ID / "artifacts"
        artifacts.mkdir(parents=True)
        if os.geteuid() == 0:
            os.chown(artifacts, 10001, 10001)
        else:
            artifacts.chmod(0o777)
        yield data, root
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_the_pipeline_runs_in_read_only_non_root_containers(
    world_readable, pg_engine, postgres_url, monkeypatch
):
    import docker.models.containers

    data, root = world_readable
    started: list[dict] = []
    real_run = docker.models.containers.ContainerCollection.run

    def spy(self, image, command=None, **kwargs):
        started.append({"image": image, **kwargs})
        return real_run(self, image, command, **kwargs)

    monkeypatch.setattr(docker.models.containers.ContainerCollection, "run", spy)
    monkeypatch.setenv("DATABASE_URL", postgres_url)  # run_pipeline sets it; put back after
    password = sa.make_url(postgres_url).password
    assert password
    arguments = day_arguments(data, quality_margin=-1.0)
    result = run_pipeline(
        compiled_pipeline(),
        arguments,
        postgres_url,
        root,
        runner="docker",
        run_id=RUN_ID,
        quiet=True,
        runner_options={"read_only": True, "tmpfs": TMPFS, "user": USER},
    )

    assert result.status == "published"
    one_shard = [step for step in STEPS if step != "commit"]  # commit: the sharded publish
    tasks = one_shard
    assert sorted(s["image"] for s in started) == sorted(image_ref(step) for step in tasks)
    for options in started:
        assert (options["read_only"], options["tmpfs"], options["user"]) == (True, TMPFS, USER)
    with pg_engine.connect() as conn:
        rows = conn.execute(sa.select(sa.func.count()).select_from(recommendations)).scalar()
    assert rows == result.record.rows_written > 0

    scanned, leaks = scan.scan_paths([root / "runs"], [password])
    assert scanned > 10
    assert leaks == {}
    with pg_engine.connect() as conn:
        for table in metadata.sorted_tables:
            for row in conn.execute(sa.select(table)).mappings():
                text = json.dumps(dict(row), default=str)
                assert scan.findings(text, [password]) == [], (table.name, text[:200])


@pytest.mark.parametrize("image", IMAGES)
def test_an_image_holds_no_credential(image, tmp_path):
    ref = image_ref(image)
    config = json.loads(_docker("image", "inspect", ref))[0]["Config"]
    metadata_text = json.dumps(
        {k: config.get(k) for k in ("Env", "Labels", "Cmd", "Entrypoint", "User")}
    )
    assert scan.findings(metadata_text) == []
    history = _docker("history", "--no-trunc", "--format", "{{.CreatedBy}}", ref)
    assert scan.findings(history) == []

    # The files: all patterns in the code, private keys everywhere else that matters; the
    # step images add only /opt/app to the base, which is searched whole.
    planted = tmp_path / "planted"
    planted.mkdir()
    (planted / "id_rsa").write_text(
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA3Tz2mr7SZiAMfQyuvBjM9Oi6kz1yRrB2yqk\n"
    )
    planted.chmod(0o755)
    (planted / "id_rsa").chmod(0o644)
    keys_only = "/opt,/etc,/root,/home,/usr/local,/srv,/var" if image == BASE else "/etc,/root"
    out = _docker(
        "run",
        "--rm",
        "--network",
        "none",
        "--read-only",
        "--tmpfs",
        "/tmp",
        "-v",
        f"{SCANNER}:/scan/scan.py:ro",
        "-v",
        f"{planted}:/planted:ro",
        "--entrypoint",
        "python",
        ref,
        "-c",
        FILE_SCAN,
        "/opt/app,/planted",
        keys_only,
    )
    result = json.loads(out.strip().splitlines()[-1])
    assert list(result["found"]) == ["/planted/id_rsa"]  # the scan finds what is there
    assert result["scanned"] > (20_000 if image == BASE else 20)
